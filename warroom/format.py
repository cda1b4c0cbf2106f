"""Number, time and chart formatting for panels and exports (pure, no Textual).

A value between 0 and 1 (in its unit) is shown with two significant digits rather than a
fixed number of decimals: a 0.034 error ratio or a 0.4 ms latency must not read as "0.0".
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from warroom.model import format_duration

SPARK = "▁▂▃▄▅▆▇█"
BAR_FULL, BAR_EMPTY = "█", "░"
NO_DATA = "-"


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
    """12.3%, 0.34%; '-' for no data."""
    if value is None or not math.isfinite(value):
        return NO_DATA
    if _small(value * 100):
        return f"{value * 100:.2g}%"
    return f"{value * 100:.{decimals}f}%"


def with_unit(value: float | None, unit: str) -> str:
    if unit == "%":
        return percent(value)
    if value is None:
        return NO_DATA
    if _small(value) and unit in ("ms", "s"):
        return f"{value:.2g} {unit}"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    return compact(value)


def pace(per_second: float | None) -> str:
    """A rate as people say it: 12.3/s when busy, 4.5/min when slow."""
    if per_second is None or not math.isfinite(per_second):
        return NO_DATA
    if per_second >= 1 or per_second == 0:
        return f"{compact(per_second)}/s"
    return f"{compact(per_second * 60)}/min"


def bar(fraction: float | None, width: int) -> str:
    if width <= 0:
        return ""
    if fraction is None or not math.isfinite(fraction):
        return BAR_EMPTY * width
    filled = max(0, min(width, round(fraction * width)))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def sparkline(values: list[float | None], height: int = 1) -> list[str]:
    """Rows of block characters (top row first) scaled to the largest value."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    top = max(present) if present else 0.0
    levels = len(SPARK) * height
    rows = [[" "] * len(values) for _ in range(height)]
    for x, value in enumerate(values):
        if value is None or not math.isfinite(value) or top <= 0:
            continue
        level = max(1, round(value / top * levels)) if value > 0 else 0
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
    minutes, seconds = divmod(rest, 60)
    return f"T{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"


def clock_time(ts: float, utc: bool = False) -> str:
    moment = datetime.fromtimestamp(ts, timezone.utc) if utc else datetime.fromtimestamp(ts)
    return moment.strftime("%H:%M:%S")


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return format_duration(seconds)
