"""Compiling a checked tree once into closures over a MetricsStore, with three-valued logic."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from warroom.expr.parser import parse
from warroom.expr.tree import (
    _COMPARE,
    Arith,
    Call,
    Compare,
    Logic,
    Metric,
    Neg,
    Node,
    Not,
    Num,
    Number,
    Truth,
)

# --------------------------------------------------------------------------- compiling

_MISSING = object()


class Compiled:
    """A condition bound to a metrics store: call it for True, False or NO_DATA (None).

    `value` is the number the condition looked at on the last call: the left side of its
    first comparison (or the age in a leading `absent`), for summaries and the panel.
    """

    __slots__ = ("text", "node", "check", "slot", "value_metric")

    def __init__(
        self, text: str, node: Node, check: Callable[[], Truth], slot: list[Number], value_metric: str | None
    ) -> None:
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
