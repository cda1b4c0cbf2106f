"""What every screen shows, computed once by the room's recorder: the live snapshot.

Operators must see one and the same room, so no dashboard computes a number: the recorder
folds the sources into its metrics and alert engine, and several times a second builds a
`Snapshot` (the values, rates, chart, channels, funnel and targets of the metrics the panels
show, source health, every active alert) and publishes it in the room. Dashboards read it
when it changes and render it; restarting a dashboard cannot change a figure.

Times in a snapshot are absolute (epoch seconds on the recorder's clock), so a screen shows
"firing for 2m" from its own clock and the snapshot's `since_at`, not a duration that went
stale on the way. The chart is carried at up to CHART_POINTS points whatever the window, and
each screen bins it to its own width; its peak is the busiest single second, not the top of
a bin.

What a number means is decided here too, once for every screen: each metric's `level` (ok,
warn or crit) against its bounds, which come from the config's `warn` / `crit` or, failing
those, from the alert rules that compare the metric with a number (`value(error_rate) > 5%`
in a critical rule makes 5% the metric's crit bound); and the unit of each alert's value
(`warroom.format.value_unit`), so "visits up 1,140%" is not shown as "visits up 11.4".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from warroom import format as fmt
from warroom.alerts import Ack, AlertEngine, AlertView, Silence
from warroom.config import TICKET_METRICS, Config, builtin_metrics, resolve_panels
from warroom.expr import parse
from warroom.expr.tree import Call, Compare, Logic, Metric, Node, Num
from warroom.metrics import MetricsStore
from warroom.notify.view import DeliveriesView
from warroom.sources import SourceHealth

VERSION = 2
PACE_WINDOW = 60.0
"""Seconds behind a "12/s" figure: long enough not to jitter on slow metrics."""
CHART_POINTS = 600
TOP_CHANNELS = 5


@dataclass(frozen=True, slots=True)
class MetricView:
    name: str
    title: str
    unit: str
    kind: str
    """count, sum, last (a gauge) or ratio."""
    value: float | None
    """The headline: total since launch, a gauge's last value, or a ratio."""
    rate: float | None = None
    """Per second over PACE_WINDOW, for counts and sums."""
    level: str = ""
    """ok, warn or crit against the metric's bounds; "" when it has none or no value."""

    @property
    def is_level(self) -> bool:
        """A gauge or a ratio: its value is a level, not a running total with a pace."""
        return self.kind in ("last", "ratio")


@dataclass(frozen=True, slots=True)
class ChartView:
    metric: str
    window: float
    step: float
    """Seconds per point."""
    values: list[float | None]
    """Oldest first: per-second rate over each step (a gauge: its value)."""
    peak: float | None = None
    """The highest single second in the window (a gauge: its highest value)."""
    peak_at: float | None = None
    """When that second was."""
    unit: str = "/s"
    """What the values are in: a rate per second, or a gauge's own unit."""

    def binned(self, width: int) -> list[float | None]:
        """The values averaged into `width` bins (or as they are, when they fit)."""
        values = self.values
        if width <= 0:
            return []
        if len(values) <= width:
            return list(values)
        out: list[float | None] = []
        for n in range(width):
            part = [v for v in values[n * len(values) // width : (n + 1) * len(values) // width] if v is not None]
            out.append(sum(part) / len(part) if part else None)
        return out


@dataclass(frozen=True, slots=True)
class ChannelRow:
    label: str
    value: float
    converted: float | None = None
    """The converting metric's total for this label (orders from this channel)."""


@dataclass(frozen=True, slots=True)
class ChannelsView:
    metric: str
    total: float
    rows: list[ChannelRow]
    converted_title: str | None = None


@dataclass(frozen=True, slots=True)
class TargetView:
    metric: str
    label: str
    target: float
    actual: float
    progress: float
    rate_per_s: float | None
    eta_seconds: float | None

    @property
    def reached(self) -> bool:
        return self.actual >= self.target


@dataclass(frozen=True, slots=True)
class SourceView:
    name: str
    kind: str
    target: str
    state: str
    reason: str
    since: float
    last_record_at: float | None
    records: int
    bad: int
    reconnects: int


@dataclass(frozen=True, slots=True)
class QueueView:
    """The support queue's figures, for the Support tab's badge and the header."""

    open: int
    unassigned: int
    breaches: int


@dataclass(frozen=True, slots=True)
class Attendee:
    operator: str
    host: str
    since: float
    pid: int = 0

    @property
    def who(self) -> str:
        return f"{self.operator}@{self.host}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    seq: int
    at: float
    launch_at: float | None
    metrics: dict[str, MetricView] = field(default_factory=dict)
    chart: ChartView | None = None
    channels: ChannelsView | None = None
    funnel: list[str] = field(default_factory=list)
    targets: list[TargetView] = field(default_factory=list)
    sources: list[SourceView] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    """Active alerts, in display order (firing by severity, pending, no data, acked,
    silenced, resolved)."""
    rules: int = 0
    rejected_tickets: int = 0
    recorder: Attendee | None = None
    online: list[Attendee] = field(default_factory=list)
    """Operators whose dashboards are attached."""
    deliveries: DeliveriesView | None = None
    """Notifications: each receiver's last delivery and failures, and the inhibited alerts
    (None when no receiver is configured)."""
    queue: QueueView | None = None
    alert_units: dict[str, str] = field(default_factory=dict)
    """Each rule's value unit, for its history (see warroom.format.value_unit)."""
    currency: str = ""
    version: int = VERSION

    def metric(self, name: str) -> MetricView | None:
        return self.metrics.get(name)


# --------------------------------------------------------------------------- building


def build(
    config: Config,
    metrics: MetricsStore,
    alerts: AlertEngine,
    health: Sequence[SourceHealth],
    rejects: Mapping[str, int],
    *,
    now: float,
    seq: int = 0,
    rejected_tickets: int = 0,
    recorder: Attendee | None = None,
    online: Sequence[Attendee] = (),
    deliveries: DeliveriesView | None = None,
) -> Snapshot:
    """The snapshot of the recorder's state at `now` (pure: reads, never changes state)."""
    traffic, conversion = resolve_panels(config)
    names = [*traffic.metrics, *conversion.metrics, *conversion.funnel, *(t.metric for t in config.targets)]
    if traffic.chart:
        names.append(traffic.chart)
    converted = converted_by_channel(config)
    meaning = _meaning(config)
    return Snapshot(
        seq=seq,
        at=now,
        launch_at=metrics.launch_at,
        metrics={
            name: metric_view(metrics, name, meaning.bounds.get(name))
            for name in dict.fromkeys(names)
            if metrics.has(name)
        },
        chart=chart_view(metrics, traffic.chart, config.ui.chart_window) if traffic.chart else None,
        channels=channels_view(metrics, traffic.channels, converted) if traffic.channels else None,
        funnel=list(conversion.funnel),
        targets=[
            TargetView(t.metric, t.label, t.target, t.actual, t.progress, t.rate_per_s, t.eta_seconds)
            for t in metrics.targets()
        ],
        sources=[
            SourceView(
                h.name,
                h.kind,
                h.target,
                h.state.value,
                h.reason,
                h.since,
                h.last_record_at,
                h.records,
                h.bad_records + rejects.get(h.name, 0),
                h.reconnects,
            )
            for h in health
        ],
        alerts=[meaning.alert(view) for view in alerts.alerts(now)],
        rules=len(alerts.rule_names()),
        rejected_tickets=rejected_tickets,
        recorder=recorder,
        online=list(online),
        deliveries=deliveries,
        queue=queue_view(metrics),
        alert_units=dict(meaning.units),
        currency=config.launch.currency,
    )


def metric_view(metrics: MetricsStore, name: str, bounds: Bounds | None = None) -> MetricView:
    kind = "ratio" if name in metrics.ratios else metrics.series[name].config.kind
    rate = None if kind in ("last", "ratio") else metrics.rate(name, PACE_WINDOW)
    value = metrics.value(name)
    return MetricView(
        name,
        metrics.title(name),
        metrics.unit(name),
        kind,
        value,
        rate,
        bounds.level(value) if bounds is not None else "",
    )


def chart_view(metrics: MetricsStore, name: str, window: float) -> ChartView | None:
    if not metrics.has(name) or name in metrics.ratios:
        return None
    points = max(1, min(CHART_POINTS, int(window)))
    # The peak from single seconds where the rings still hold them: a bin's mean hides it.
    per_second = metrics.chart(name, window, int(window)) if window <= 3 * 3600 else []
    peak_index = max(
        (i for i, v in enumerate(per_second) if v is not None), key=lambda i: per_second[i] or 0.0, default=None
    )
    peak = per_second[peak_index] if peak_index is not None else None
    end = float(int(metrics.clock()))
    peak_at = end - window + peak_index if peak_index is not None else None  # bins are [end - window, end)
    unit = metrics.unit(name) if metrics.is_gauge(name) else "/s"
    return ChartView(name, window, window / points, metrics.chart(name, window, points), peak, peak_at, unit)


def queue_view(metrics: MetricsStore) -> QueueView | None:
    if not all(metrics.has(name) for name in TICKET_METRICS[:3]):
        return None
    open_, unassigned, breaches = (int(metrics.value(name) or 0) for name in TICKET_METRICS[:3])
    return QueueView(open_, unassigned, breaches)


# --------------------------------------------------------------------------- what numbers mean

Bound = tuple[str, float]


@dataclass(frozen=True, slots=True)
class Bounds:
    """A metric's warn and crit bounds, each (">" | ">=" | "<" | "<=", value)."""

    warn: Bound | None = None
    crit: Bound | None = None

    def level(self, value: float | None) -> str:
        if value is None or value != value:  # no data (or NaN) has no level
            return ""
        if self.crit is not None and _past(value, self.crit):
            return "crit"
        if self.warn is not None and _past(value, self.warn):
            return "warn"
        return "ok"


def _past(value: float, bound: Bound) -> bool:
    op, limit = bound
    return {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[op]


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a config says about its numbers: bounds per metric, the unit of each rule's
    value, and the words around it."""

    bounds: dict[str, Bounds]
    units: dict[str, str]
    summaries: dict[str, str]
    currency: str

    def alert(self, view: AlertView) -> AlertView:
        """The engine's view with its value in the rule's unit, in the summary too."""
        unit = self.units.get(view.name, "")
        text = fmt.with_unit(view.value, unit, self.currency)
        summary = self.summaries.get(view.name)
        return dataclasses.replace(
            view, value_text=text, summary=summary.replace("{value}", text) if summary else view.summary
        )


_meaning_of: tuple[Config, Meaning] | None = None


def _meaning(config: Config) -> Meaning:
    """`meaning(config)`, computed once per config (build runs several times a second)."""
    global _meaning_of
    if _meaning_of is None or _meaning_of[0] is not config:
        _meaning_of = (config, meaning(config))
    return _meaning_of[1]


def meaning(config: Config) -> Meaning:
    units = {m.name: m.unit for m in [*config.metrics, *builtin_metrics()]} | {r.name: r.unit for r in config.ratios}
    rule_units, bounds = {}, {}
    from_rules: dict[str, dict[str, Bound]] = {}
    for rule in config.alerts:
        node = parse(rule.expr)
        rule_units[rule.name] = fmt.value_unit(node, lambda name: units.get(name, ""))
        level = {"critical": "crit", "warning": "warn"}.get(rule.severity)
        if level is not None:
            for metric, bound in _compared(node):
                known = from_rules.setdefault(metric, {})
                known[level] = _looser(known.get(level), bound)
    configured = [(m.name, m.warn, m.crit) for m in config.metrics] + [(r.name, r.warn, r.crit) for r in config.ratios]
    for name, warn, crit in configured:
        derived = from_rules.pop(name, {})
        warn, crit = warn or derived.get("warn"), crit or derived.get("crit")
        if warn or crit:
            bounds[name] = Bounds(warn, crit)
    for name, derived in from_rules.items():  # the support queue's figures
        bounds[name] = Bounds(derived.get("warn"), derived.get("crit"))
    summaries = {rule.name: rule.summary for rule in config.alerts if rule.summary}
    return Meaning(bounds, rule_units, summaries, config.launch.currency)


_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}


def _compared(node: Node) -> list[tuple[str, Bound]]:
    """(metric, bound) for each `metric <op> number` the condition requires (under `and`,
    not under `or` or `not`: those do not say the metric alone is bad)."""
    if isinstance(node, Logic) and node.op == "and":
        return [found for item in node.items for found in _compared(item)]
    if not isinstance(node, Compare) or node.op not in _FLIP:
        return []
    left, right, op = node.left, node.right, node.op
    if isinstance(left, Num):
        left, right, op = right, left, _FLIP[op]
    name = _headline(left)
    return [(name, (op, right.value))] if name is not None and isinstance(right, Num) else []


def _headline(node: Node) -> str | None:
    """The metric whose headline value `node` is (`error_rate`, `value(error_rate)`)."""
    if isinstance(node, Metric):
        return node.name
    if isinstance(node, Call) and node.func == "value":
        return node.metric
    return None


def _looser(old: Bound | None, new: Bound) -> Bound:
    """Of two bounds at one level, the one passed first (several rules can read a metric)."""
    if old is None:
        return new
    if old[0][0] != new[0][0]:
        return old  # one rule says high is bad, another low: the first one's
    return min(old, new, key=lambda b: b[1]) if new[0][0] == ">" else max(old, new, key=lambda b: b[1])


def channels_view(metrics: MetricsStore, name: str, converted: str | None) -> ChannelsView | None:
    if not metrics.has(name):
        return None
    everything = metrics.top_labels(name, 10_000)
    rows = [
        ChannelRow(label, value, metrics.label_total(converted, label) if converted else None)
        for label, value in everything[:TOP_CHANNELS]
    ]
    return ChannelsView(name, sum(v for _, v in everything), rows, metrics.title(converted) if converted else None)


def converted_by_channel(config: Config) -> str | None:
    """The funnel's last step, when it is split the same way as the channel metric."""
    traffic, conversion = resolve_panels(config)
    if not traffic.channels or not conversion.funnel:
        return None
    split = {m.name: m.split_by for m in config.metrics}
    last = conversion.funnel[-1]
    same_split = split.get(last) and split.get(last) == split.get(traffic.channels)
    return last if last != traffic.channels and same_split else None


# --------------------------------------------------------------------------- the wire format


def encode(snapshot: Snapshot) -> bytes:
    """JSON (orjson serialises the dataclasses); NaN and infinities become null."""
    return orjson.dumps(snapshot, option=orjson.OPT_NON_STR_KEYS)


def decode(body: bytes) -> Snapshot:
    """The snapshot `encode` wrote; ValueError for anything else (a newer format included)."""
    try:
        data = orjson.loads(body)
        if data.get("version") != VERSION:
            raise ValueError(f"snapshot format {data.get('version')!r}; this warroom reads {VERSION}")
        return Snapshot(
            seq=int(data["seq"]),
            at=float(data["at"]),
            launch_at=data["launch_at"],
            metrics={name: MetricView(**m) for name, m in data["metrics"].items()},
            chart=ChartView(**data["chart"]) if data.get("chart") else None,
            channels=_channels(data["channels"]) if data.get("channels") else None,
            funnel=list(data["funnel"]),
            targets=[TargetView(**t) for t in data["targets"]],
            sources=[SourceView(**s) for s in data["sources"]],
            alerts=[_alert(a) for a in data["alerts"]],
            rules=int(data["rules"]),
            rejected_tickets=int(data["rejected_tickets"]),
            recorder=Attendee(**data["recorder"]) if data.get("recorder") else None,
            online=[Attendee(**a) for a in data["online"]],
            deliveries=DeliveriesView.from_json(data["deliveries"]) if data.get("deliveries") else None,
            queue=QueueView(**data["queue"]) if data.get("queue") else None,
            alert_units=dict(data["alert_units"]),
            currency=str(data["currency"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a warroom snapshot: {exc}") from None


def _channels(data: dict[str, Any]) -> ChannelsView:
    return ChannelsView(
        data["metric"], data["total"], [ChannelRow(**r) for r in data["rows"]], data.get("converted_title")
    )


def _alert(data: dict[str, Any]) -> AlertView:
    ack = data.get("ack")
    silence = data.get("silence")
    return AlertView(
        **{
            **data,
            "labels": dict(data["labels"]),
            "ack": Ack(**ack) if ack else None,
            "silence": Silence(**{**silence, "matchers": tuple(tuple(m) for m in silence["matchers"])})
            if silence
            else None,
        }
    )
