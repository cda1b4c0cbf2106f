"""Number, unit, time and chart formatting for panels and exports (pure, no Textual).

One metric has one unit, and it is written the same way wherever it appears: the live
panels, the alert table and its history, the incident log and the retrospective. So the
decisions live here:

- `with_unit(value, unit, currency)`: "%" for ratios and relative changes (12.3%, +1,140%),
  "ms" and "s" for durations (152 ms, 4.2 s, 2m15s), "currency" with the launch's currency
  (€1.2k, 1.2k EUR), "/s" and "/min" for a value that is a rate in that unit; a bare count
  otherwise (12, 1.2k, 3.4M).
- a value between 0 and 1 (in its unit) keeps two significant digits rather than a fixed
  number of decimals: a 0.034 error ratio or a 0.4 ms latency must not read as "0.0".
- a column of rates uses one rate unit (`rate_unit` picks it for the whole column), so
  "12/s" and "30/min" never sit in one column.
- `value_unit` says what unit an alert rule's value is in, from its expression: the value of
  `change(visits, 2m, 10m) > 200%` is a relative change (shown as a percentage), of
  `absent(orders, 2m)` an age in seconds, of `rate(requests, 1m) > 5` a rate per second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from warroom.expr.tree import Arith, Call, Compare, Logic, Metric, Neg, Node, Not, Num
from warroom.model import format_duration

SPARK = "▁▂▃▄▅▆▇█"
BAR_FULL, BAR_EMPTY = "█", "░"
NO_DATA = "-"
RATE_UNITS = ("/s", "/min")
DURATION_UNITS = ("ms", "s")


def _small(value: float) -> bool:
    return 0 < abs(value) < 1


def compact(value: float | None, decimals: int = 1) -> str:
    """12, 1.2k, 3.4M, 0.034; '-' for no data."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if _small(value):
        return f"{value:.2g}"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for limit, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if value >= limit:
            return f"{sign}{value / scale:.{decimals}f}{suffix}"
    if value >= 100 or value == int(value):
        return f"{sign}{value:,.0f}"
    return f"{sign}{value:.{decimals}f}"


def percent(value: float | None, decimals: int = 1) -> str:
    """12.3%, 0.34%, 1,140%; '-' for no data."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if _small(value * 100):
        return f"{value * 100:.2g}%"
    if abs(value) >= 1:  # 209%, 1,140%: past a doubling the decimals say nothing
        return f"{value * 100:,.0f}%"
    return f"{value * 100:.{decimals}f}%"


def seconds(value: float) -> str:
    """0.004 s, 4.25 s, 12.3 s under a minute; 2m15s, 3h07m above."""
    if _small(value):
        return f"{value:.2g} s"
    if abs(value) < 10:
        return f"{value:.2f} s"
    if abs(value) < 60:
        return f"{value:.1f} s"
    return ("-" if value < 0 else "") + format_duration(value)


def money(value: float | None, currency: str = "") -> str:
    """€1.2k with a one-character symbol, 1.2k EUR with a code, 1.2k without a currency."""
    text = compact(value)
    if value is None or text == NO_DATA or not currency:
        return text
    if len(currency) == 1:
        return f"-{currency}{text[1:]}" if text.startswith("-") else f"{currency}{text}"
    return f"{text} {currency}"


def rate(per_second: float | None, unit: str = "/s", currency: str | None = None) -> str:
    """A per-second rate in `unit` ("/s" or "/min"): 12.3/s, 0.5/min; of money when a
    `currency` is given ("" for none): €3.1/s."""
    if per_second is None or not math.isfinite(per_second):
        return NO_DATA
    value = per_second * 60 if unit == "/min" else per_second
    return f"{compact(value) if currency is None else money(value, currency)}{unit}"


def rate_unit(per_seconds: Iterable[float | None]) -> str:
    """The one rate unit for a column of rates: per second when any of them reaches one a
    second, else per minute (4.5/min reads better than 0.075/s)."""
    busiest = max((abs(v) for v in per_seconds if v is not None and math.isfinite(v)), default=0.0)
    return "/s" if busiest >= 1 else "/min"


def pace(per_second: float | None) -> str:
    """A single rate as people say it: 12.3/s when busy, 4.5/min when slow. In a column of
    rates use `rate` with the column's `rate_unit` instead."""
    if per_second is None or not math.isfinite(per_second):
        return NO_DATA
    return rate(per_second, "/s" if per_second >= 1 or per_second == 0 else "/min")


def with_unit(value: float | None, unit: str, currency: str = "") -> str:
    """`value` in its metric's unit; see the module docstring."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if unit == "%":
        return percent(value)
    if unit == "ms":
        return f"{value:.2g} ms" if _small(value) else f"{value:,.0f} ms"
    if unit == "s":
        return seconds(value)
    if unit == "currency":
        return money(value, currency)
    if unit in RATE_UNITS:  # already in that unit (the value of a per_min() rule is per minute)
        return f"{compact(value)}{unit}"
    return compact(value)


def value_unit(node: Node, unit_of: Callable[[str], str]) -> str:
    """The unit of the value an alert rule shows (see the module docstring).

    The value is the one the engine reports: the left side of the condition's first
    comparison, or the age in a leading `absent()`, in the order the condition is written.
    `unit_of(metric)` is a metric's own unit ("" for plain counts)."""
    for part in _in_order(node):
        if isinstance(part, Compare):
            return _number_unit(part.left, unit_of)
        if isinstance(part, Call) and part.func == "absent":
            return "s"
    return ""


def _in_order(node: Node) -> Iterable[Node]:
    """Conditions in the order the engine compiles them: first comparison or absent() wins."""
    yield node
    if isinstance(node, Logic):
        for item in node.items:
            yield from _in_order(item)
    elif isinstance(node, Not):
        yield from _in_order(node.operand)


def _number_unit(node: Node, unit_of: Callable[[str], str]) -> str:
    if isinstance(node, Metric):
        return unit_of(node.name)
    if isinstance(node, Neg):
        return _number_unit(node.operand, unit_of)
    if isinstance(node, Arith):
        terms = [node.first, *(term for _, term in node.rest)]
        units = {_number_unit(term, unit_of) for term in terms if not isinstance(term, Num)}  # 100 takes any unit
        additive = all(op in "+-" for op, _ in node.rest)
        return units.pop() if additive and len(units) == 1 else ""
    if isinstance(node, Call):
        if node.func in ("value", "avg", "sum"):
            return unit_of(node.metric)
        return {"rate": "/s", "per_min": "/min", "change": "%", "age": "s", "absent": "s"}.get(node.func, "")
    return ""


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is at least
    `value`: a chart's scale reads 25k, not 23,817."""
    if value <= 0 or not math.isfinite(value):
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def axis(value: float) -> str:
    """A scale label, at most five cells for any `nice_ceiling` value: 25k, 1.5M, 0.004."""
    text = compact(value)
    for suffix in ("k", "M", "G"):
        text = text.replace(f".0{suffix}", suffix)
    return text


def bar(fraction: float | None, width: int) -> str:
    if width <= 0:
        return ""
    if fraction is None or not math.isfinite(fraction):
        return BAR_EMPTY * width
    filled = max(0, min(width, round(fraction * width)))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def sparkline(values: list[float | None], height: int = 1, top: float | None = None) -> list[str]:
    """Rows of block characters (top row first), scaled so that `top` (default: the
    largest value) fills the whole height."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if top is None:
        top = max(present) if present else 0.0
    levels = len(SPARK) * height
    rows = [[" "] * len(values) for _ in range(height)]
    for x, value in enumerate(values):
        if value is None or not math.isfinite(value) or top <= 0:
            continue
        level = min(levels, max(1, round(value / top * levels))) if value > 0 else 0
        for row in range(height):
            fill = level - (height - 1 - row) * len(SPARK)
            if fill >= len(SPARK):
                rows[row][x] = SPARK[-1]
            elif fill > 0:
                rows[row][x] = SPARK[fill - 1]
    return ["".join(r) for r in rows]


def launch_clock(now: float, launch_at: float | None) -> str:
    """T-00:04:12 before the launch, T+01:02:03 after; 'not launched' without a time."""
    if launch_at is None:
        return "not launched"
    delta = now - launch_at
    sign = "+" if delta >= 0 else "-"
    total = int(abs(delta))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"T{sign}{hours:02d}:{minutes:02d}:{secs:02d}"


def shift(seconds_moved: float) -> str:
    """A move of the launch clock as people say it: +2m54s later, -30s earlier."""
    sign = "+" if seconds_moved >= 0 else "-"
    return sign + format_duration(abs(seconds_moved))


def clock_time(ts: float, utc: bool = False) -> str:
    moment = datetime.fromtimestamp(ts, UTC) if utc else datetime.fromtimestamp(ts)
    return moment.strftime("%H:%M:%S")


def ago(seconds_since: float | None) -> str:
    if seconds_since is None:
        return "never"
    return format_duration(seconds_since)
