"""The recursive-descent parser: text to a checked syntax tree, or an ExprError with a column."""

from __future__ import annotations

from collections.abc import Callable

from warroom.expr.tree import (
    _COMPARE,
    _DURATION,
    _SCALE,
    FUNCTIONS,
    KEYWORDS,
    MAX_DEPTH,
    MAX_WINDOW,
    Arith,
    Call,
    Compare,
    ExprError,
    Logic,
    Metric,
    Neg,
    Node,
    Not,
    Num,
    Token,
    tokenize,
)

# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, text: str) -> bool:
        token = self.token
        return token.kind in ("op", "name") and token.text == text

    @staticmethod
    def describe(token: Token) -> str:
        return "the end" if token.kind == "end" else repr(token.text)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression is nested more than {MAX_DEPTH} levels deep", pos)

    # condition := or
    def parse(self) -> Node:
        if self.token.kind == "end":
            raise ExprError("empty expression", 0)
        node = self.or_()
        if self.token.kind != "end":
            raise ExprError(f"unexpected {self.describe(self.token)} after a complete expression", self.token.pos)
        self.need(node, "bool", "the expression must be a condition, such as error_rate > 0.05")
        return node

    def need(self, node: Node, kind: str, message: str) -> None:
        if node.kind != kind:
            raise ExprError(message, node.pos)

    def or_(self) -> Node:
        return self.logic("or", self.and_)

    def and_(self) -> Node:
        return self.logic("and", self.not_)

    def logic(self, op: str, operand: Callable[[], Node]) -> Node:
        first = operand()
        if not self.at(op):
            return first
        items = [first]
        while self.at(op):
            self.advance()
            items.append(operand())
        for item in items:
            self.need(item, "bool", f"'{op}' joins conditions; this is a number (compare it with > or <)")
        return Logic(op, items, first.pos)

    def not_(self) -> Node:
        if self.at("not"):
            token = self.advance()
            self.enter(token.pos)
            operand = self.not_()
            self.depth -= 1
            self.need(operand, "bool", "'not' takes a condition; this is a number")
            return Not(operand, token.pos)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        token = self.token
        if token.kind == "op" and token.text in _COMPARE:
            self.advance()
            right = self.additive()
            self.need(left, "num", f"{token.text!r} compares numbers; the left side is a condition")
            self.need(right, "num", f"{token.text!r} compares numbers; the right side is a condition")
            after = self.token
            if after.kind == "op" and after.text in _COMPARE:
                raise ExprError("comparisons do not chain; join them with and", after.pos)
            return Compare(token.text, left, right, left.pos)
        return left

    def additive(self) -> Node:
        return self.arith(("+", "-"), self.term)

    def term(self) -> Node:
        return self.arith(("*", "/"), self.unary)

    def arith(self, ops: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest: list[tuple[str, Node]] = []
        while self.token.kind == "op" and self.token.text in ops:
            op = self.advance().text
            rest.append((op, operand()))
        if not rest:
            return first
        for node in [first] + [node for _, node in rest]:
            self.need(node, "num", "arithmetic takes numbers; this is a condition")
        return Arith(first, rest, first.pos)

    def unary(self) -> Node:
        if self.at("-") or self.at("+"):
            token = self.advance()
            self.enter(token.pos)
            operand = self.unary()
            self.depth -= 1
            self.need(operand, "num", "a sign goes before a number; this is a condition")
            return Neg(operand, token.pos) if token.text == "-" else operand
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind == "num":
            self.advance()
            return Num(self.number(token), token.pos)
        if self.at("("):
            self.advance()
            self.enter(token.pos)
            node = self.or_()
            self.depth -= 1
            if not self.at(")"):
                raise ExprError(
                    f"expected ')' to close the '(' at column {token.pos + 1}, found {self.describe(self.token)}",
                    self.token.pos,
                )
            self.advance()
            return node
        if token.kind == "name" and token.text not in KEYWORDS:
            self.advance()
            if self.at("("):
                return self.call(token)
            return Metric(token.text, token.pos)
        raise ExprError(f"expected a number, a metric or '(', found {self.describe(token)}", token.pos)

    def call(self, name: Token) -> Node:
        func = name.text
        if func not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(f"unknown function {func!r} (known: {known})", name.pos)
        required, optional = FUNCTIONS[func]
        self.enter(name.pos)
        self.advance()  # (
        metric = self.token
        if metric.kind != "name" or metric.text in KEYWORDS:
            raise ExprError(f"{func}() takes a metric name first, found {self.describe(metric)}", metric.pos)
        self.advance()
        args: list[float] = []
        while self.at(","):
            self.advance()
            if len(args) == required + optional:
                break
            args.append(self.duration())
        if len(args) < required or len(args) > required + optional or not self.at(")"):
            raise ExprError(f"{func}() takes {_signature(func)}", self.token.pos)
        self.advance()
        self.depth -= 1
        self.check_windows(func, args, name.pos)
        return Call(func, metric.text, tuple(args), name.pos)

    def duration(self) -> float:
        token = self.token
        if token.kind != "num" or token.suffix not in _DURATION:
            raise ExprError(f"expected a duration such as 30s, 5m or 1h, found {self.describe(token)}", token.pos)
        self.advance()
        return token.number * _DURATION[token.suffix]

    @staticmethod
    def check_windows(func: str, args: list[float], pos: int) -> None:
        if not args:
            return
        if args[0] < 1.0:
            raise ExprError(f"{func}() needs a window of at least 1s", pos)
        if len(args) > 1 and args[1] <= 0:
            raise ExprError(f"{func}() needs a positive time ago", pos)
        if sum(args) > MAX_WINDOW:
            raise ExprError(f"{func}() looks further back than the 24h the metrics keep", pos)

    @staticmethod
    def number(token: Token) -> float:
        suffix = token.suffix
        if suffix in _SCALE:
            return token.number * _SCALE[suffix]
        if suffix in _DURATION:
            raise ExprError(
                f"{token.text} is a duration; durations go in function arguments such as "
                "rate(visits, 5m) (for millions write M)",
                token.pos,
            )
        raise ExprError(f"unknown number suffix {suffix!r} (use %, k, M or G)", token.pos)


def _signature(func: str) -> str:
    return {
        "value": "(metric)",
        "age": "(metric)",
        "change": "(metric, window, ago), e.g. change(visits, 1m, 10m)",
        "absent": "(metric, duration), e.g. absent(orders, 5m)",
    }.get(func, f"(metric, window[, ago]), e.g. {func}(visits, 5m)")


def parse(text: str) -> Node:
    """Parse a condition; ExprError (with the position) when it is not one."""
    if not isinstance(text, str):
        raise ExprError("expression must be text", 0)
    return _Parser(text).parse()


def referenced_metrics(node: Node, absence: bool = True) -> set[str]:
    """Metric names a condition reads; with absence=False, leave out absent() and age()."""
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Metric):
            names.add(current.name)
        elif isinstance(current, Call) and (absence or current.func not in ("absent", "age")):
            names.add(current.metric)
        stack.extend(current.children())
    return names
