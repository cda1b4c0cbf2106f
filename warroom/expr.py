"""Alert conditions: a small, safe expression language compiled to closures.

A condition such as `per_min(orders, 5m) < 10 and not absent(orders, 5m)` is read by a
hand-written tokenizer and recursive-descent parser (never `eval`), type-checked (a rule must
be a condition; `and` takes conditions, `>` takes numbers) and compiled once into nested
closures over a MetricsStore, so a clock tick costs a few function calls per rule.

Reference (durations: 250ms, 30s, 5m, 2h, 1d; a bare number is seconds):

    name                      headline value: total since launch, gauge's last, or ratio
    value(name)               the same, written out
    rate(name, 1m[, ago])     per second over the window (a gauge: its mean in the window)
    per_min(name, 5m[, ago])  rate * 60
    sum(name, 10m[, ago])     sum of the points in the window
    avg(name, 5m[, ago])      mean of the points in the window (latency and other values)
    change(name, 1m, 10m)     relative change of rate(name, 1m) against the 1m window that
                              ended 10m ago: 3.0 (= 300%) means four times the rate
    absent(name, 5m)          true when the metric has had no point for 5m, or never had one
    age(name)                 seconds since the metric's last point
    ago                       the window then ends that long before now

    numbers 12, 0.5, 1e3, 5% (= 0.05), 1k, 2.5M, 1G     arithmetic + - * /, parentheses
    comparisons < <= > >= == !=     logic and, or, not (comparisons do not chain)

No data. Every query answers None when it has nothing to say (an unknown metric, an empty
gauge window, a ratio over zero). Conditions use three-valued logic:

- arithmetic with None is None; division by zero is None; a result that is NaN or infinite
  is None, so a 0/0 ratio or an overflow can never fire an alert;
- a comparison with None on either side is NO_DATA (never true or false);
- `false and NO_DATA` is false, `true or NO_DATA` is true; otherwise NO_DATA wins over the
  remaining truth value; `not NO_DATA` is NO_DATA;
- `absent` and `age` are the exceptions: they are about missing data, so `absent` is
  always true or false.

The alert engine shows a NO_DATA result as "no data" and never fires on it.

Counters and gaps. Metrics are sums of increments folded into per-second buckets, never
cumulative counters read from a source, so a counter reset upstream cannot make a window sum
or rate negative; there is nothing to clamp. A counter window with no points sums to 0
(nothing happened, which is what `per_min(orders, 5m) < 10` is for); whether that zero is
real or the feed died is the engine's stale-source check, and `absent`. An average or gauge
over an empty window is None (no data).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator
from typing import Any

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_WINDOW = 86400.0  # the metrics store keeps a day of minute buckets
NO_DATA = None  # the third truth value; also "no number" for numeric expressions

Truth = bool | None
Number = float | None


class ExprError(ValueError):
    """A condition that cannot be parsed; `position` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at column {position + 1}")
        self.message = message
        self.position = position

    def describe(self, text: str) -> str:
        """One line for a config error: the message, the column and the text around it."""
        start = max(0, self.position - 25)
        snippet = text[start : self.position + 25].replace("\n", " ")
        prefix = "..." if start else ""
        suffix = "..." if self.position + 25 < len(text) else ""
        return f"{self.message} at column {self.position + 1}: {prefix}{snippet}{suffix}"


# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?P<suffix>%|[A-Za-z_]\w*)?
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|,)
    """,
    re.VERBOSE | re.ASCII,
)
_HINTS = {"=": "use == to compare", "&": "use and", "|": "use or", "!": "use not or !="}
_SCALE = {"": 1.0, "%": 0.01, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_DURATION = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
KEYWORDS = {"and", "or", "not"}


class Token:
    __slots__ = ("kind", "text", "pos", "number", "suffix")

    def __init__(self, kind: str, text: str, pos: int, number: float = 0.0, suffix: str = "") -> None:
        self.kind = kind  # "num", "name", "op", "end"
        self.text = text
        self.pos = pos
        self.number = number
        self.suffix = suffix


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    tokens: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = _HINTS.get(char)
            raise ExprError(f"unexpected character {char!r}" + (f" ({hint})" if hint else ""), pos)
        kind = match.lastgroup if match.lastgroup != "suffix" else "num"
        if kind == "num":
            number = float(match.group("num"))
            if not math.isfinite(number):
                raise ExprError("number too large", pos)
            tokens.append(Token("num", match.group(), pos, number, match.group("suffix") or ""))
        elif kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", end))
    return tokens


# --------------------------------------------------------------------------- syntax tree


class Node:
    """A node of a parsed condition. `kind` is "num" or "bool"."""

    kind = "num"
    pos = 0

    def children(self) -> Iterator[Node]:
        return iter(())

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class Num(Node):
    def __init__(self, value: float, pos: int) -> None:
        self.value, self.pos = value, pos

    def __str__(self) -> str:
        return repr(self.value)


class Metric(Node):
    """A bare metric name: its headline value."""

    def __init__(self, name: str, pos: int) -> None:
        self.name, self.pos = name, pos

    def __str__(self) -> str:
        return self.name


class Call(Node):
    def __init__(self, func: str, metric: str, args: tuple[float, ...], pos: int) -> None:
        self.func, self.metric, self.args, self.pos = func, metric, args, pos
        self.kind = "bool" if func == "absent" else "num"

    def __str__(self) -> str:
        return f"{self.func}({', '.join([self.metric] + [f'{a!r}s' for a in self.args])})"


class Neg(Node):
    def __init__(self, operand: Node, pos: int) -> None:
        self.operand, self.pos = operand, pos

    def children(self) -> Iterator[Node]:
        yield self.operand

    def __str__(self) -> str:
        return f"(-{self.operand})"


class Arith(Node):
    """`first op term op term ...` for one precedence level (+ - or * /), left to right."""

    def __init__(self, first: Node, rest: list[tuple[str, Node]], pos: int) -> None:
        self.first, self.rest, self.pos = first, rest, pos

    def children(self) -> Iterator[Node]:
        yield self.first
        for _, node in self.rest:
            yield node

    def __str__(self) -> str:
        return "(" + str(self.first) + "".join(f" {op} {node}" for op, node in self.rest) + ")"


class Compare(Node):
    kind = "bool"

    def __init__(self, op: str, left: Node, right: Node, pos: int) -> None:
        self.op, self.left, self.right, self.pos = op, left, right, pos

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


class Logic(Node):
    """`and` / `or` over two or more conditions (flattened, so long chains stay shallow)."""

    kind = "bool"

    def __init__(self, op: str, items: list[Node], pos: int) -> None:
        self.op, self.items, self.pos = op, items, pos

    def children(self) -> Iterator[Node]:
        return iter(self.items)

    def __str__(self) -> str:
        return "(" + f" {self.op} ".join(str(item) for item in self.items) + ")"


class Not(Node):
    kind = "bool"

    def __init__(self, operand: Node, pos: int) -> None:
        self.operand, self.pos = operand, pos

    def children(self) -> Iterator[Node]:
        yield self.operand

    def __str__(self) -> str:
        return f"(not {self.operand})"


# name -> (required durations, optional durations)
FUNCTIONS: dict[str, tuple[int, int]] = {
    "value": (0, 0),
    "age": (0, 0),
    "rate": (1, 1),
    "per_min": (1, 1),
    "sum": (1, 1),
    "avg": (1, 1),
    "change": (2, 0),
    "absent": (1, 0),
}


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
            raise ExprError(f"unexpected {self.describe(self.token)} after a complete expression",
                            self.token.pos)
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
                raise ExprError(f"expected ')' to close the '(' at column {token.pos + 1}, "
                                f"found {self.describe(self.token)}", self.token.pos)
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
            raise ExprError(f"expected a duration such as 30s, 5m or 1h, found {self.describe(token)}",
                            token.pos)
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
            raise ExprError(f"{token.text} is a duration; durations go in function arguments such as "
                            "rate(visits, 5m) (for millions write M)", token.pos)
        raise ExprError(f"unknown number suffix {suffix!r} (use %, k, M or G)", token.pos)


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}


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
        elif isinstance(current, Call):
            if absence or current.func not in ("absent", "age"):
                names.add(current.metric)
        stack.extend(current.children())
    return names


# --------------------------------------------------------------------------- compiling

_MISSING = object()


class Compiled:
    """A condition bound to a metrics store: call it for True, False or NO_DATA (None).

    `value` is the number the condition looked at on the last call: the left side of its
    first comparison (or the age in a leading `absent`), for summaries and the panel.
    """

    __slots__ = ("text", "node", "check", "slot", "value_metric")

    def __init__(self, text: str, node: Node, check: Callable[[], Truth], slot: list[Number],
                 value_metric: str | None) -> None:
        self.text = text
        self.node = node
        self.check = check
        self.slot = slot
        self.value_metric = value_metric

    def __call__(self) -> Truth:
        return self.check()

    @property
    def value(self) -> Number:
        return self.slot[0]


def compile_expr(text_or_node: str | Node, metrics: Any, cache: dict | None = None) -> Compiled:
    """Compile a condition against `metrics` (a MetricsStore or anything with its queries).

    `cache`, when given, memoises each query by its arguments; the caller clears it once per
    tick, so rules that read the same window pay for it once.
    """
    node = parse(text_or_node) if isinstance(text_or_node, str) else text_or_node
    compiler = _Compiler(metrics, cache)
    check = compiler.compile(node)
    return Compiled(str(text_or_node), node, check, compiler.slot, compiler.value_metric)


class _Compiler:
    def __init__(self, metrics: Any, cache: dict | None) -> None:
        self.metrics = metrics
        self.cache = cache
        self.slot: list[Number] = [None]
        self.claimed = False  # has the value slot been given to the leftmost comparison?
        self.value_metric: str | None = None

    def compile(self, node: Node) -> Callable[[], Any]:
        method = getattr(self, "c_" + type(node).__name__)
        return method(node)

    def c_Num(self, node: Num) -> Callable[[], Number]:
        value = node.value
        return lambda: value

    def c_Metric(self, node: Metric) -> Callable[[], Number]:
        return self.query(self.metrics.value, node.name)

    def c_Call(self, node: Call) -> Callable[[], Any]:
        m, name, args = self.metrics, node.metric, node.args
        func = node.func
        if func == "value":
            return self.query(m.value, name)
        if func == "age":
            return self.query(m.age, name)
        if func == "rate":
            return self.query(m.rate, name, *args)
        if func == "sum":
            return self.query(m.window_sum, name, *args)
        if func == "avg":
            return self.query(m.window_mean, name, *args)
        if func == "per_min":
            rate = self.query(m.rate, name, *args)

            def per_min() -> Number:
                value = rate()
                return None if value is None else value * 60.0

            return per_min
        if func == "change":
            window, ago = args
            now = self.query(m.rate, name, window)
            then = self.query(m.rate, name, window, ago)

            def change() -> Number:
                before = then()
                if not before:  # None, or zero: a relative change from nothing is no data
                    return None
                current = now()
                return None if current is None else (current - before) / before

            return change
        if func == "absent":
            duration = args[0]
            age = self.query(m.age, name)
            slot = self.claim(None)  # its value is an age in seconds, not in the metric's unit
            if slot is None:
                def absent() -> bool:
                    seen = age()
                    return seen is None or seen >= duration
            else:
                def absent() -> bool:
                    seen = age()
                    slot[0] = seen
                    return seen is None or seen >= duration
            return absent
        raise AssertionError(func)  # the parser admits only FUNCTIONS

    def query(self, method: Callable[..., Number], *args: Any) -> Callable[[], Number]:
        cache = self.cache
        isfinite = math.isfinite
        if cache is None:
            def run() -> Number:
                value = method(*args)
                return value if value is None or isfinite(value) else None
            return run
        key = (method.__name__,) + args

        def cached() -> Number:
            value = cache.get(key, _MISSING)
            if value is _MISSING:
                value = method(*args)
                if value is not None and not isfinite(value):
                    value = None
                cache[key] = value
            return value

        return cached

    def claim(self, metric: str | None) -> list[Number] | None:
        if self.claimed:
            return None
        self.claimed = True
        self.value_metric = metric
        return self.slot

    def c_Neg(self, node: Neg) -> Callable[[], Number]:
        operand = self.compile(node.operand)

        def neg() -> Number:
            value = operand()
            return None if value is None else -value

        return neg

    def c_Arith(self, node: Arith) -> Callable[[], Number]:
        first = self.compile(node.first)
        rest = [(op, self.compile(term)) for op, term in node.rest]
        isfinite = math.isfinite

        def arith() -> Number:
            total = first()
            if total is None:
                return None
            for op, term in rest:
                value = term()
                if value is None:
                    return None
                if op == "+":
                    total += value
                elif op == "-":
                    total -= value
                elif op == "*":
                    total *= value
                elif value == 0:
                    return None  # division by zero: no data, never infinity
                else:
                    total /= value
            return total if isfinite(total) else None

        return arith

    def c_Compare(self, node: Compare) -> Callable[[], Truth]:
        slot = self.claim(_headline_metric(node.left))
        left = self.compile(node.left)
        right = self.compile(node.right)
        compare = _COMPARE[node.op]
        if slot is None:
            def check() -> Truth:
                a = left()
                if a is None:
                    return None
                b = right()
                return None if b is None else compare(a, b)
        else:
            def check() -> Truth:
                a = left()
                slot[0] = a
                if a is None:
                    return None
                b = right()
                return None if b is None else compare(a, b)
        return check

    def c_Logic(self, node: Logic) -> Callable[[], Truth]:
        items = [self.compile(item) for item in node.items]
        if node.op == "and":
            def check() -> Truth:
                unknown = False
                for item in items:
                    result = item()
                    if result is False:
                        return False
                    if result is None:
                        unknown = True
                return None if unknown else True
        else:
            def check() -> Truth:
                unknown = False
                for item in items:
                    result = item()
                    if result is True:
                        return True
                    if result is None:
                        unknown = True
                return None if unknown else False
        return check

    def c_Not(self, node: Not) -> Callable[[], Truth]:
        operand = self.compile(node.operand)

        def check() -> Truth:
            result = operand()
            return None if result is None else not result

        return check


def _headline_metric(node: Node) -> str | None:
    """The metric whose unit a comparison's left side is in: a bare metric, value() or avg()."""
    if isinstance(node, Metric):
        return node.name
    if isinstance(node, Call) and node.func in ("value", "avg"):
        return node.metric
    return None
