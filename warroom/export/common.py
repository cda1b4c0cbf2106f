"""Formatting shared by the renderers: times, durations, numbers, escaping, chart buckets.

Every piece of text that came from a source or an operator passes through `safe` (one
inert line: terminal escapes, control characters, bidirectional controls and invisible format
characters shown as symbols, zero-width characters removed, see textsafe) and then through
the escaping of the target format (`md` here, html.escape in html.py). Our own
numbers and labels need no escaping, which keeps the raw Markdown readable.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING

from warroom.export.retro import LISTED_KINDS
from warroom.format import compact, percent
from warroom.textsafe import clean

if TYPE_CHECKING:
    from warroom.export.retro import MetricSummary, Retrospective, TimelineDigest

NO_VALUE = "-"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&])")


def safe(text: object) -> str:
    """One inert line of source text (no format-specific escaping yet)."""
    return clean("" if text is None else text)


def md(text: object) -> str:
    """Source text for Markdown: inert, with every character that has meaning backslash-
    escaped (so `# x`, `<script>`, `[a](b)` and `| a |` stay literal, also inside tables)."""
    return _MD_SPECIAL.sub(r"\\\1", safe(text))


def code_safe(text: object) -> str:
    """Source text for inside a fenced code block, where escapes do not work: no backticks."""
    return safe(text).replace("`", "'")


def local_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def when(ts: float | None) -> str:
    """Local date and time with the UTC offset: 2026-11-25 16:30:01 +0100."""
    if ts is None:
        return NO_VALUE
    return local_dt(ts).strftime("%Y-%m-%d %H:%M:%S %z")


def clock(ts: float | None) -> str:
    """Local time of day, HH:MM:SS (of the whole second: a time is never rounded up)."""
    if ts is None:
        return NO_VALUE
    # time.localtime is a few times cheaper than a datetime, and a long timeline calls this
    # once a row.
    return time.strftime("%H:%M:%S", time.localtime(math.floor(ts)))


def hms(seconds: float | None) -> str:
    """A duration to the second: 0:04:12, 26:03:00; '-' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return NO_VALUE
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


def offset(ts: float | None, launch_at: float | None) -> str:
    """T+0:12:05 relative to the launch; '' without a launch time."""
    if ts is None or launch_at is None:
        return ""
    delta = ts - launch_at
    return ("T+" if delta >= 0 else "T-") + hms(abs(delta))


def number(value: float | None, unit: str = "") -> str:
    """A metric value: 1,234 / 12.3k / 0.431 / 43.1% (with unit '%') / 152 ms."""
    if value is None or not math.isfinite(value):
        return NO_VALUE
    if unit == "%":
        return percent(value)
    text = f"{value:.3g}" if 0 < abs(value) < 1 else compact(value)
    return f"{text} ms" if unit == "ms" else text


def fraction(value: float | None) -> str:
    return percent(value, 1)


def bucketize(
    points: list[tuple[float, float]], start: float, end: float, width: int, cumulative: bool
) -> list[float | None]:
    """`width` columns over [start, end]; None where there is no data.

    A running total becomes its increase per minute in each column, read from the total
    interpolated at the column edges (so columns narrower than the history interval do not
    alternate between nothing and double). Any other metric gives the highest value in each
    column, holding the last value across columns shorter than three history intervals."""
    if width <= 0 or end <= start or not points:
        return [None] * max(width, 0)
    span = (end - start) / width
    if cumulative:
        return _rates(points, start, span, width)
    columns: list[float | None] = [None] * width
    for ts, value in points:
        col = int((ts - start) / span)
        if 0 <= col <= width and (columns[min(col, width - 1)] is None or value > columns[min(col, width - 1)]):  # type: ignore[operator]
            columns[min(col, width - 1)] = value
    gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    hold = 3 * gaps[len(gaps) // 2] if gaps else 0.0
    last_seen: float | None = None
    for col in range(width):
        col_start, col_end = start + col * span, start + (col + 1) * span
        if columns[col] is not None:
            last_seen = col_end
        elif (
            last_seen is not None
            and col_end - last_seen <= hold
            and col_start < points[-1][0]
            and col > 0
            and columns[col - 1] is not None
        ):
            columns[col] = columns[col - 1]
    return columns


def _rates(points: list[tuple[float, float]], start: float, span: float, width: int) -> list[float | None]:
    times = [p[0] for p in points]
    first, last = times[0], times[-1]

    def total(ts: float) -> float:
        i = bisect.bisect_left(times, ts)
        if i < len(times) and times[i] == ts:
            return points[i][1]
        (t0, v0), (t1, v1) = points[i - 1], points[i]
        return v0 + (v1 - v0) * (ts - t0) / (t1 - t0)

    columns: list[float | None] = [None] * width
    for col in range(width):
        lo, hi = max(first, start + col * span), min(last, start + (col + 1) * span)
        if hi > lo:
            columns[col] = max(0.0, total(hi) - total(lo)) / (hi - lo) * 60.0
    return columns


def chart_title(summary: MetricSummary) -> str:
    return f"{summary.label} per minute" if summary.cumulative else summary.label


def listing_note(r: Retrospective, digest: TimelineDigest) -> str:
    """Why the timeline does not list every entry, and where they all are (plain text)."""
    return (
        f"{len(digest.listed):,} of {len(r.timeline):,} entries are listed (starred first, then "
        f"{', '.join(LISTED_KINDS[:-1])} and {LISTED_KINDS[-1]} entries; at most {digest.limit:,}). "
        f"The other {digest.unlisted:,} are counted per hour below; the JSON export, and an "
        "export with the full timeline, list every entry."
    )
