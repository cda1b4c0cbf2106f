"""The retrospective as data: built once from the room store, then rendered three ways.

`build` only reads the store, and everything after it is pure: the Markdown, HTML and JSON
renderers get the same `Retrospective`, so the three documents cannot disagree about a
figure. Times stay UTC epoch seconds here; renderers choose how to show them.

Where figures come from:

- goals: the store writes each metric's headline value every history interval (a running
  total since launch, a gauge's last value or a ratio), so the last point at or before the
  end of the range *is* the total, and the first point at or over a target is when the
  target was reached.
- a metric whose history never goes down is taken as a running total; its chart and its
  peak rate are the increase per minute (over a trailing minute of history).
- incidents: one episode per alert from its pending/firing to its resolution, read from the
  alert events; acks, silences and their notes, and log entries linked to the alert, are
  attached to the episode they fall in.

A launch can log a million entries, so the log is never held whole: the timeline, lessons
and actions are `LogSelection`s that read the store each time a renderer iterates them, and
the Markdown and HTML timelines show a `TimelineDigest` by default: the notable entries in
full (starred ones, then operators' decisions, lessons and actions, alerts and notes, at
most TIMELINE_LIMIT) and the rest counted per hour and kind. The retrospective is therefore
rendered while its store is open.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from warroom.store import AlertEvent, ChecklistItem, LogEntry, RoomStore
from warroom.tickets import PRIORITIES, Ticket, TicketMetrics, summarize

RATE_WINDOW = 60.0  # seconds of history a peak rate is measured over
TIMELINE_LIMIT = 1000  # entries listed in full in the default Markdown and HTML timeline
# Kinds listed in full in that timeline (after starred entries), the first kept first when
# there are more than TIMELINE_LIMIT; the others (tickets, checklist, sources) are counted.
LISTED_KINDS = ("launch", "decision", "lesson", "action", "alert", "note")
HOUR = 3600


class LogSelection:
    """Log entries read from the store each time they are iterated, never held all at once;
    `len()` is their number (counted once, when the retrospective is built)."""

    __slots__ = ("_read", "_count")

    def __init__(self, read: Callable[[], Iterable[LogEntry]], count: int) -> None:
        self._read = read
        self._count = count

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._read())

    def __len__(self) -> int:
        return self._count


@dataclass(frozen=True, slots=True)
class TimelineDigest:
    """The default Markdown and HTML timeline: notable entries in full, the rest counted."""

    listed: list[LogEntry]
    counts: list[tuple[float, str, int]]
    """(hour, kind, entries not listed) for every hour and kind with any, oldest first."""
    limit: int

    @property
    def unlisted(self) -> int:
        return sum(n for _, _, n in self.counts)

    def by_hour(self) -> tuple[list[str], dict[float, dict[str, int]]]:
        """The kinds counted (sorted), and per hour the entries of each kind in it."""
        hours: dict[float, dict[str, int]] = {}
        for hour, kind, n in self.counts:
            hours.setdefault(hour, {})[kind] = n
        return sorted({kind for _, kind, _ in self.counts}), hours


@dataclass(frozen=True, slots=True)
class Target:
    """A goal from the config: reach `value` of `metric`."""

    metric: str
    value: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class Goal:
    metric: str
    label: str
    target: float
    actual: float | None
    reached_at: float | None

    @property
    def fraction(self) -> float | None:
        return None if self.actual is None or self.target == 0 else self.actual / self.target

    @property
    def met(self) -> bool:
        return self.actual is not None and self.actual >= self.target


@dataclass(frozen=True, slots=True)
class MetricSummary:
    name: str
    label: str
    unit: str
    cumulative: bool
    """True when the history never goes down: a running total, charted as a rate."""
    points: list[tuple[float, float]]
    """History within the range, oldest first."""
    final: float | None
    peak: float | None
    peak_at: float | None
    peak_rate: float | None
    """Running totals: the highest increase per minute over a trailing minute."""
    peak_rate_at: float | None


@dataclass(frozen=True, slots=True)
class AlertPeriod:
    rule: str
    severity: str
    start: float
    end: float
    ongoing: bool
    """Still firing at the end of the range (`end` is then the range's end)."""


@dataclass(slots=True)
class Incident:
    rule: str
    severity: str
    started_at: float
    """The first pending (or firing) event of the episode."""
    fired_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    resolved_at: float | None = None
    peak_value: float | None = None
    runbook: str | None = None
    notes: list[tuple[float, str, str]] = field(default_factory=list)
    """(time, who, text) from acks, silences and log entries linked to the alert."""
    events: list[AlertEvent] = field(default_factory=list)

    @property
    def time_to_ack(self) -> float | None:
        if self.fired_at is None or self.acked_at is None:
            return None
        return max(0.0, self.acked_at - self.fired_at)

    @property
    def time_to_resolve(self) -> float | None:
        if self.fired_at is None or self.resolved_at is None:
            return None
        return self.resolved_at - self.fired_at


@dataclass(frozen=True, slots=True)
class Breach:
    ticket_id: str
    kind: str  # "respond" or "resolve"
    due: float
    priority: str
    subject: str


@dataclass(frozen=True, slots=True)
class Support:
    tickets: list[Ticket]
    figures: TicketMetrics
    by_category: list[tuple[str, int]]
    by_priority: list[tuple[str, int]]
    breaches: list[Breach]


@dataclass(frozen=True, slots=True)
class ChecklistRow:
    item: ChecklistItem
    due_at: float | None
    status: str
    """done | late (done after its due time) | skipped (not done, due before the end) | open"""


@dataclass(frozen=True, slots=True)
class Retrospective:
    schema_version = 1
    launch_name: str
    launch_at: float | None
    launch_set_by: str | None
    start: float
    end: float
    generated_at: float
    operators: list[str]
    starred_only: bool
    goals: list[Goal]
    metrics: list[MetricSummary]
    alert_periods: list[AlertPeriod]
    incidents: list[Incident]
    alert_events: list[AlertEvent]
    support: Support
    checklist: list[ChecklistRow]
    timeline: LogSelection
    """The log in the range (only starred entries with starred_only); JSON lists it whole."""
    digest: TimelineDigest | None
    """What Markdown and HTML show of the timeline; None: every entry (full_timeline)."""
    lessons: LogSelection
    actions: LogSelection
    unowned_actions: int
    questions: list[str]

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    def metric(self, name: str) -> MetricSummary | None:
        return next((m for m in self.metrics if m.name == name), None)


def build(
    store: RoomStore,
    start: float | None = None,
    end: float | None = None,
    *,
    starred_only: bool = False,
    targets: Iterable[Target | Sequence] | None = None,
    labels: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    now: float | None = None,
    full_timeline: bool = False,
    timeline_limit: int = TIMELINE_LIMIT,
) -> Retrospective:
    """Read what the retrospective needs from the store; the log is read again, in batches,
    when it is rendered, so render before closing the store.

    Range defaults: from the launch time (else the first log entry) to the last log entry or
    metric point, whichever is later. `labels` and `units` (metric -> text, e.g. from the
    config) only change how metrics are named and shown. `full_timeline`: Markdown and HTML
    list every entry instead of the digest (at most `timeline_limit` notable entries)."""
    labels, units = labels or {}, units or {}
    goals_wanted = [t if isinstance(t, Target) else Target(*t) for t in (targets or ())]
    launch = store.launch()
    names = store.metric_names()
    history = {name: store.metric_history(name, None, end) for name in names}
    if start is None:
        start = launch.at
    if start is None:
        earliest = next(iter(store.iter_log_entries(None, end)), None)
        start = earliest.ts if earliest else min((h[0][0] for h in history.values() if h), default=None)
    if end is None:
        last = store.recent(1)
        candidates = [h[-1][0] for h in history.values() if h] + ([last[0].ts] if last else [])
        end = max(candidates, default=None)
    now = time.time() if now is None else now
    start = now if start is None else float(start)
    end = max(start, now if end is None else float(end))

    events = store.alert_events(None, end)
    first = list(dict.fromkeys(t.metric for t in goals_wanted if t.metric in history))
    metrics = [
        _summarize_metric(n, labels.get(n, "") or n, units.get(n, ""), history[n], start)
        for n in first + [n for n in names if n not in first]
    ]  # the goals' metrics first
    notes = store.iter_log_entries(start, end, alert_notes=True)
    incidents = [i for i in _episodes(events, notes) if _overlaps(i, start, end)]
    periods = _periods(incidents, end)
    goals = [_goal(t, history.get(t.metric, []), labels) for t in goals_wanted]
    support = _support(store.tickets(), start, end)
    checklist = _checklist(store.checklist(), launch.at, end)
    retro = Retrospective(
        launch_name=launch.name,
        launch_at=launch.at,
        launch_set_by=launch.set_by,
        start=start,
        end=end,
        generated_at=now,
        operators=store.operators(),
        starred_only=starred_only,
        goals=goals,
        metrics=metrics,
        alert_periods=periods,
        incidents=incidents,
        alert_events=[e for e in events if e.ts >= start],
        support=support,
        checklist=checklist,
        timeline=_selection(store, start, end, starred_only=starred_only),
        digest=None if full_timeline else _digest(store, start, end, starred_only, timeline_limit),
        lessons=_selection(store, start, end, ["lesson"]),
        actions=_selection(store, start, end, ["action"]),
        unowned_actions=store.count_log_entries(start, end, ["action"], owner_missing=True),
        questions=[],
    )
    retro.questions.extend(_questions(retro))
    return retro


def _selection(
    store: RoomStore, start: float, end: float, kinds: list[str] | None = None, starred_only: bool = False
) -> LogSelection:
    return LogSelection(
        lambda: store.iter_log_entries(start, end, kinds, starred_only),
        store.count_log_entries(start, end, kinds, starred_only),
    )


def _digest(store: RoomStore, start: float, end: float, starred_only: bool, limit: int) -> TimelineDigest:
    """The notable entries, and every other entry of the timeline counted per hour and kind."""
    listed = store.notable_log_entries(start, end, LISTED_KINDS, limit, starred_only)
    shown = Counter((int(e.ts / HOUR) * HOUR, e.kind) for e in listed)  # the store's hours
    counts = [
        (hour, kind, n - shown[(int(hour), kind)])
        for hour, kind, n in store.log_counts_by_hour(start, end, starred_only)
    ]
    return TimelineDigest(listed, [c for c in counts if c[2] > 0], limit)


# ---------------------------------------------------------------------- metrics and goals


def _summarize_metric(
    name: str, label: str, unit: str, history: list[tuple[float, float]], start: float
) -> MetricSummary:
    points = [p for p in history if p[0] >= start]
    cumulative = len(points) >= 2 and all(b[1] >= a[1] for a, b in itertools.pairwise(points))
    peak = max(points, key=lambda p: p[1]) if points else None
    rate, rate_at = _peak_rate(points) if cumulative else (None, None)
    return MetricSummary(
        name=name,
        label=label,
        unit=unit,
        cumulative=cumulative,
        points=points,
        final=points[-1][1] if points else None,
        peak=peak[1] if peak else None,
        peak_at=peak[0] if peak else None,
        peak_rate=rate,
        peak_rate_at=rate_at,
    )


def _peak_rate(points: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """Highest increase per minute, each measured from the newest point at least a minute
    older (or the oldest point, while there is less than a minute of history)."""
    best: tuple[float | None, float | None] = (None, None)
    i = 0
    for j in range(1, len(points)):
        t_j, v_j = points[j]
        while i + 1 < j and points[i + 1][0] <= t_j - RATE_WINDOW:
            i += 1
        t_i, v_i = points[i]
        if t_j > t_i:
            rate = (v_j - v_i) / (t_j - t_i) * 60.0
            if best[0] is None or rate > best[0]:
                best = (rate, t_j)
    return best


def _goal(target: Target, history: list[tuple[float, float]], labels: Mapping[str, str]) -> Goal:
    reached = next((ts for ts, value in history if value >= target.value), None)
    return Goal(
        metric=target.metric,
        label=target.label or labels.get(target.metric, "") or target.metric,
        target=float(target.value),
        actual=history[-1][1] if history else None,
        reached_at=reached,
    )


# ---------------------------------------------------------------------- alerts


def _episodes(events: list[AlertEvent], entries: Iterable[LogEntry]) -> list[Incident]:
    """Alert episodes that fired, oldest first. A pending that never fired is dropped."""
    open_: dict[str, Incident] = {}
    done: list[Incident] = []
    for event in events:
        current = open_.get(event.rule)
        # an episode starts at a pending (which replaces one that never fired) or a bare firing
        starts = current is None or (event.event == "pending" and current.fired_at is None)
        if starts and event.event in ("pending", "firing"):
            current = open_[event.rule] = Incident(event.rule, event.severity, event.ts)
        if current is None:
            continue  # an ack or resolution of an episode before the store's history
        current.events.append(event)
        if event.value is not None and (current.peak_value is None or event.value > current.peak_value):
            current.peak_value = event.value
        if event.event == "firing" and current.fired_at is None:
            current.fired_at, current.severity = event.ts, event.severity
        elif event.event == "acked" and current.acked_at is None:
            current.acked_at, current.acked_by = event.ts, event.operator
        elif event.event == "resolved":
            current.resolved_at = event.ts
            del open_[event.rule]
            if current.fired_at is not None:
                done.append(current)
        if event.event in ("acked", "silenced", "unsilenced") and event.note:
            current.notes.append((event.ts, event.operator or "", f"{event.event}: {event.note}"))
    done.extend(i for i in open_.values() if i.fired_at is not None)
    done.sort(key=lambda i: (i.fired_at, i.rule))
    for entry in entries:  # operators' notes linked to an alert join the episode they fall in
        if entry.alert is None or entry.kind == "alert":
            continue
        for incident in done:
            if (
                entry.alert == incident.rule
                and incident.started_at <= entry.ts
                and (incident.resolved_at is None or entry.ts <= incident.resolved_at + RATE_WINDOW * 30)
            ):
                incident.notes.append((entry.ts, entry.author, entry.text))
                break
    for incident in done:
        incident.notes.sort(key=lambda n: n[0])
        incident.runbook = next((text for _, _, text in incident.notes if "runbook" in text.lower()), None)
    return done


def _overlaps(incident: Incident, start: float, end: float) -> bool:
    return incident.started_at <= end and (incident.resolved_at is None or incident.resolved_at >= start)


def _periods(incidents: list[Incident], end: float) -> list[AlertPeriod]:
    return [
        AlertPeriod(
            i.rule, i.severity, i.fired_at, min(end, i.resolved_at or end), i.resolved_at is None or i.resolved_at > end
        )
        for i in incidents
        if i.fired_at is not None
    ]


# ---------------------------------------------------------------------- support, checklist


def _support(tickets: list[Ticket], start: float, end: float) -> Support:
    """Tickets open at some time in the range: opened by its end, not solved before its start."""
    chosen = [t for t in tickets if t.opened_at <= end and (t.solved_at is None or t.solved_at >= start)]
    categories = Counter(t.category or "(none)" for t in chosen)
    priorities = Counter(t.priority for t in chosen)
    breaches = sorted(
        (
            Breach(t.id, kind, due, t.priority, t.subject)
            for t in chosen
            for kind, due in (("respond", t.respond_breached_at), ("resolve", t.resolve_breached_at))
            if due is not None
        ),
        key=lambda b: (b.due, b.ticket_id),
    )
    return Support(
        tickets=chosen,
        figures=summarize(chosen),
        by_category=sorted(categories.items(), key=lambda kv: (-kv[1], kv[0])),
        by_priority=[(p, priorities[p]) for p in PRIORITIES if priorities[p]],
        breaches=breaches,
    )


def _checklist(items: list[ChecklistItem], launch_at: float | None, end: float) -> list[ChecklistRow]:
    rows = []
    for item in items:
        due = item.due_at(launch_at)
        if item.done_at is not None:
            status = "late" if due is not None and item.done_at > due else "done"
        else:
            status = "skipped" if due is None or due <= end else "open"
        rows.append(ChecklistRow(item, due, status))
    return rows


# ---------------------------------------------------------------------- questions


def _questions(retro: Retrospective) -> list[str]:
    """Plain-text questions the meeting should answer (renderers escape them)."""
    out = []
    for goal in retro.goals:
        if goal.actual is None:
            out.append(f"{goal.label}: no history was recorded; did we measure it?")
        elif goal.met:
            out.append(
                f"{goal.label}: the goal of {goal.target:g} was met ({goal.actual:g}); "
                "what got us there, and should the next target be higher?"
            )
        else:
            out.append(
                f"{goal.label}: reached {goal.actual:g} of {goal.target:g} "
                f"({goal.fraction:.0%}); why did we fall short?"
            )
    for rule, n in Counter(i.rule for i in retro.incidents).items():
        times = "once" if n == 1 else f"{n} times"
        out.append(
            f"Alert {rule} fired {times}: what was the cause, was it caught early enough, "
            "and what prevents it next time?"
        )
    slow = [i for i in retro.incidents if i.fired_at is not None and i.acked_at is None]
    if slow:
        out.append(f"{len(slow)} alert(s) were never acknowledged: who was watching, and is the rule useful?")
    breaches = retro.support.breaches
    if breaches:
        out.append(f"{len(breaches)} support SLA target(s) were missed: were we short of people, or of answers?")
    late = [r for r in retro.checklist if r.status in ("late", "skipped")]
    if late:
        out.append(f"{len(late)} checklist item(s) were late or skipped: was the plan realistic?")
    if retro.unowned_actions:
        out.append(f"{retro.unowned_actions} action item(s) have no owner: who takes them?")
    out.append("What should we change in the plan, the alerts or the dashboard before the next launch?")
    return out
