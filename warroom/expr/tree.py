"""Tokens and the syntax tree of alert conditions, with the limits every input is held to."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator

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
            tokens.append(Token(kind or "", match.group(), pos))
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


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
