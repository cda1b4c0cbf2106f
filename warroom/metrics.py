"""Live metrics in bounded memory: per-second and per-minute rings, totals, ratios, targets.

Records are never kept. Each metric folds its points into two fixed rings of buckets (one
second wide for the last hour, one minute wide for the last day) plus running totals, so
memory is the same after ten records or ten million. A bucket remembers which period it
holds, so a slot left over from an earlier lap of the ring reads as empty rather than as old
data, and a point older than the ring still counts in the totals.

Queries take the clock's `now` and look at *completed* seconds, so a rate does not dip every
time a new second starts. Every query answers `None` for "no data" (an unknown metric, an
empty window, a ratio over zero); callers show that as "-" and the alert engine as no data,
never as 0.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from warroom.config import MetricConfig, RatioConfig, TargetConfig

SECONDS_KEPT = 3600
MINUTES_KEPT = 24 * 60
Bucket = tuple[str, int, int, float, int, float]
"""(metric, width in seconds, period number, sum, count, last value): one ring slot."""
MAX_LABELS = 50  # per split metric; later labels are folded into OTHER_LABEL
OTHER_LABEL = "other"


class Ring:
    """`size` buckets of `width` seconds, indexed by period number modulo size."""

    __slots__ = ("width", "size", "sums", "counts", "lasts", "periods")

    def __init__(self, size: int, width: int) -> None:
        self.width = width
        self.size = size
        self.sums = array("d", bytes(8 * size))
        self.counts = array("q", bytes(8 * size))
        self.lasts = array("d", bytes(8 * size))
        self.periods = array("q", [-1]) * size

    def add(self, t: float, total: float, count: int, last: float) -> None:
        period = int(t // self.width)
        index = period % self.size
        held = self.periods[index]
        if held != period:
            if period < held:
                return  # older than everything the ring still holds
            self.periods[index] = period
            self.sums[index] = 0.0
            self.counts[index] = 0
        self.sums[index] += total
        self.counts[index] += count
        self.lasts[index] = last

    def get(self, period: int) -> tuple[float, int, float] | None:
        """(sum, count, last) of one period, if the ring still holds it."""
        index = period % self.size
        if self.periods[index] != period:
            return None
        return self.sums[index], self.counts[index], self.lasts[index]

    def put(self, period: int, total: float, count: int, last: float) -> None:
        """Set one period's bucket as another process recorded it (a restore)."""
        index = period % self.size
        if period < self.periods[index]:
            return
        self.periods[index] = period
        self.sums[index] = total
        self.counts[index] = count
        self.lasts[index] = last

    def covers(self, start: float, now: float) -> bool:
        return start >= (now // self.width - self.size + 1) * self.width

    def aggregate(self, start: float, end: float) -> tuple[float, int]:
        """Sum and count over the whole periods in [start, end). Only the last `size`
        periods can be held, so no more are looked at, however long ago `start` is (a launch
        eleven months ago costs no more than one an hour ago)."""
        stop = int(end // self.width)
        first = max(int(start // self.width), stop - self.size)
        total, count = 0.0, 0
        periods, size = self.periods, self.size
        for period in range(first, stop):
            index = period % size
            if periods[index] == period:
                total += self.sums[index]
                count += self.counts[index]
        return total, count

    def bins(self, end: float, span: float, count: int, mode: str) -> list[float | None]:
        """`count` values over [end - span, end): per bin the sum, or the last value seen."""
        values: list[float | None] = []
        width = span / count
        start = end - span
        carry: float | None = None
        periods, size = self.periods, self.size
        for n in range(count):
            lo = int((start + n * width) // self.width)
            hi = max(lo + 1, int((start + (n + 1) * width) // self.width))
            total, seen, last = 0.0, 0, None
            for period in range(lo, hi):
                index = period % size
                if periods[index] == period and self.counts[index]:
                    total += self.sums[index]
                    seen += self.counts[index]
                    last = self.lasts[index]
            if mode == "last":
                carry = last if last is not None else carry
                values.append(carry)
            else:
                values.append(total if seen or n else 0.0)
        return values


class Series:
    """One metric's state: totals, last value, rings, and a bounded breakdown by label."""

    __slots__ = (
        "config",
        "total",
        "total_since_launch",
        "count",
        "last",
        "last_ts",
        "updated_at",
        "seconds",
        "minutes",
        "labels",
    )

    def __init__(self, config: MetricConfig) -> None:
        self.config = config
        self.total = 0.0
        self.total_since_launch = 0.0
        self.count = 0
        self.last: float | None = None
        self.last_ts: float | None = None  # record time of `last`
        self.updated_at: float | None = None  # arrival time of the latest point
        self.seconds = Ring(SECONDS_KEPT, 1)
        self.minutes = Ring(MINUTES_KEPT, 60)
        self.labels: dict[str, float] = {}


@dataclass(frozen=True)
class TargetStatus:
    metric: str
    label: str
    target: float
    actual: float
    progress: float  # 0..1+, actual / target
    rate_per_s: float | None  # current pace over the projection window
    eta_seconds: float | None  # at the current pace; 0 when reached, None when not moving

    @property
    def reached(self) -> bool:
        return self.actual >= self.target


class MetricsStore:
    """All metrics of one room; fed by the pipeline, read by panels and the alert engine."""

    def __init__(
        self,
        metrics: Iterable[MetricConfig] = (),
        ratios: Iterable[RatioConfig] = (),
        targets: Iterable[TargetConfig] = (),
        clock: Callable[[], float] = time.time,
        projection_window: float = 300.0,
    ) -> None:
        self.series: dict[str, Series] = {m.name: Series(m) for m in metrics}
        self.ratios: dict[str, RatioConfig] = {r.name: r for r in ratios}
        self.targets_config = list(targets)
        self.clock = clock
        self.projection_window = projection_window
        self.launch_at: float | None = None
        self._dirty: set[tuple[str, int]] = set()
        """(metric, second) folded into since the last checkpoint."""

    # ------------------------------------------------------------------ writing

    def add(
        self,
        name: str,
        ts: float,
        total: float = 1.0,
        count: int = 1,
        last: float | None = None,
        label: str | None = None,
        now: float | None = None,
    ) -> None:
        """Fold `count` points with sum `total` at record time `ts` into metric `name`.

        The pipeline pre-aggregates a batch per (metric, second, label) and calls this once
        per group; `last` is the latest single value of the group (for gauges).
        """
        series = self.series[name]
        if last is None:
            last = total
        if not math.isfinite(total) or not math.isfinite(last):
            return  # NaN/inf would poison every sum after it; the pipeline counts these
        series.total += total
        if self.launch_at is None or ts >= self.launch_at:
            series.total_since_launch += total
        series.count += count
        if series.last_ts is None or ts >= series.last_ts:
            series.last, series.last_ts = last, ts
        series.updated_at = self.clock() if now is None else now
        series.seconds.add(ts, total, count, last)
        series.minutes.add(ts, total, count, last)
        self._dirty.add((name, int(ts // 1)))
        if label is not None:
            labels = series.labels
            if label not in labels and len(labels) >= MAX_LABELS:
                label = OTHER_LABEL
            labels[label] = labels.get(label, 0.0) + total

    # ------------------------------------------------------------------ checkpoint and restore

    def checkpoint(self) -> tuple[dict[str, dict[str, Any]], list[Bucket]]:
        """What changed since the last checkpoint, for the room: each touched metric's running
        state, and its touched per-second and per-minute buckets as they are now (whole
        values, so writing them again is harmless). Clears the list of changes."""
        dirty, self._dirty = self._dirty, set()
        states: dict[str, dict[str, Any]] = {}
        buckets: list[Bucket] = []
        minutes: set[tuple[str, int]] = set()
        for name, second in dirty:
            series = self.series[name]
            if name not in states:
                states[name] = {
                    "total": series.total,
                    "total_since_launch": series.total_since_launch,
                    "count": series.count,
                    "last": series.last,
                    "last_ts": series.last_ts,
                    "updated_at": series.updated_at,
                    "labels": dict(series.labels),
                }
            held = series.seconds.get(second)
            if held is not None:
                buckets.append((name, 1, second, *held))
            minutes.add((name, second // 60))
        for name, minute in minutes:
            held = self.series[name].minutes.get(minute)
            if held is not None:
                buckets.append((name, 60, minute, *held))
        return states, buckets

    def restore(self, states: Mapping[str, Mapping[str, Any]], buckets: Iterable[Bucket]) -> None:
        """Carry on from what another process checkpointed (see `checkpoint`): the same
        totals, labels and last values, and the buckets the rings still hold. Metrics no
        longer in the config are skipped."""
        for name, state in states.items():
            series = self.series.get(name)
            if series is None:
                continue
            series.total = float(state.get("total") or 0.0)
            series.total_since_launch = float(state.get("total_since_launch") or 0.0)
            series.count = int(state.get("count") or 0)
            series.last, series.last_ts = state.get("last"), state.get("last_ts")
            series.updated_at = state.get("updated_at")
            series.labels = {str(k): float(v) for k, v in (state.get("labels") or {}).items()}
        for name, width, period, total, count, last in buckets:
            series = self.series.get(name)
            if series is not None:
                (series.seconds if width == 1 else series.minutes).put(period, total, count, last)

    def set_launch(self, launch_at: float | None) -> None:
        """Start counting "since launch" totals from `launch_at` (recomputed from the rings)."""
        self.launch_at = launch_at
        now = self.clock()
        for series in self.series.values():
            if launch_at is None:
                series.total_since_launch = series.total
            else:
                series.total_since_launch = self._sum(series, launch_at, now + 1)[0]

    # ------------------------------------------------------------------ reading

    def names(self) -> list[str]:
        return list(self.series) + list(self.ratios)

    def has(self, name: str) -> bool:
        return name in self.series or name in self.ratios

    def title(self, name: str) -> str:
        if name in self.series:
            return self.series[name].config.title
        if name in self.ratios:
            return self.ratios[name].title
        return name

    def unit(self, name: str) -> str:
        if name in self.series:
            return self.series[name].config.unit
        if name in self.ratios:
            return self.ratios[name].unit
        return ""

    def is_gauge(self, name: str) -> bool:
        series = self.series.get(name)
        return series is not None and series.config.kind == "last"

    def value(self, name: str) -> float | None:
        """The headline number: total since launch (before it, since start), a gauge's last
        value, or a ratio."""
        if name in self.ratios:
            return self.ratio(name)
        series = self.series.get(name)
        if series is None or series.count == 0:
            return None
        if series.config.kind == "last":
            return series.last
        # Before T0 the warm-up is what there is to watch; from T0 on, totals start afresh.
        launched = self.launch_at is not None and self.clock() >= self.launch_at
        return series.total_since_launch if launched else series.total

    def window_sum(self, name: str, window: float, offset: float = 0.0) -> float | None:
        """Sum of points over the `window` seconds that ended `offset` seconds ago."""
        series = self.series.get(name)
        if series is None or series.count == 0:
            return None
        end = self._now_second() - offset
        return self._sum(series, end - window, end)[0]

    def rate(self, name: str, window: float = 60.0, offset: float = 0.0) -> float | None:
        """Per-second rate over a trailing window (counts and sums), or a gauge's mean."""
        series = self.series.get(name)
        if series is None or series.count == 0 or window <= 0:
            return None
        end = self._now_second() - offset
        total, count = self._sum(series, end - window, end)
        if series.config.kind == "last":
            return total / count if count else None
        return total / window

    def window_mean(self, name: str, window: float, offset: float = 0.0) -> float | None:
        """Mean value of the points in the window (latency and other per-record values)."""
        series = self.series.get(name)
        if series is None or series.count == 0:
            return None
        end = self._now_second() - offset
        total, count = self._sum(series, end - window, end)
        return total / count if count else None

    def ratio(self, name: str, offset: float = 0.0) -> float | None:
        config = self.ratios.get(name)
        if config is None:
            return None
        if config.window is None and offset == 0.0:
            num, den = self.value(config.numerator), self.value(config.denominator)
        else:
            window = config.window or 300.0
            num = self.window_sum(config.numerator, window, offset)
            den = self.window_sum(config.denominator, window, offset)
        if num is None or not den:
            return None  # no denominator: no data, not a ratio of zero
        return num / den

    def age(self, name: str) -> float | None:
        """Seconds since the metric (or any input of a ratio) last received a point."""
        if name in self.ratios:
            config = self.ratios[name]
            ages = [self.age(config.numerator), self.age(config.denominator)]
            known = [a for a in ages if a is not None]
            return min(known) if known else None
        series = self.series.get(name)
        if series is None or series.updated_at is None:
            return None
        return max(0.0, self.clock() - series.updated_at)

    def chart(self, name: str, span: float, bins: int) -> list[float | None]:
        """`bins` values over the last `span` seconds: per-second rate, or a gauge's value."""
        series = self.series.get(name)
        if series is None or bins <= 0:
            return []
        end = self._now_second()
        ring = series.seconds if series.seconds.covers(end - span, end) else series.minutes
        mode = "last" if series.config.kind == "last" else "sum"
        values = ring.bins(end, span, bins, mode)
        if mode == "sum":
            per_bin = span / bins
            return [v / per_bin if v is not None else None for v in values]
        return values

    def top_labels(self, name: str, limit: int = 5) -> list[tuple[str, float]]:
        series = self.series.get(name)
        if series is None:
            return []
        return sorted(series.labels.items(), key=lambda item: item[1], reverse=True)[:limit]

    def label_total(self, name: str, label: str) -> float:
        series = self.series.get(name)
        return series.labels.get(label, 0.0) if series else 0.0

    def targets(self) -> list[TargetStatus]:
        out = []
        for target in self.targets_config:
            actual = self.value(target.metric) or 0.0
            pace = self._pace(target.metric)
            if actual >= target.value:
                eta: float | None = 0.0
            elif pace and pace > 0:
                eta = (target.value - actual) / pace
            else:
                eta = None
            out.append(
                TargetStatus(
                    metric=target.metric,
                    label=target.label or self.title(target.metric),
                    target=target.value,
                    actual=actual,
                    progress=actual / target.value,
                    rate_per_s=pace,
                    eta_seconds=eta,
                )
            )
        return out

    # ------------------------------------------------------------------ internals

    def _pace(self, name: str) -> float | None:
        if name in self.series and not self.is_gauge(name):
            return self.rate(name, self.projection_window)
        return None  # a ratio or gauge has no meaningful pace toward a target

    def _now_second(self) -> float:
        return float(int(self.clock()))

    @staticmethod
    def _sum(series: Series, start: float, end: float) -> tuple[float, int]:
        seconds = series.seconds
        if seconds.covers(start, end):
            return seconds.aggregate(start, end)
        return series.minutes.aggregate(start, end)
