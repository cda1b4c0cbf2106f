"""The alert engine: rules from config.toml, evaluated on a clock tick, with a lifecycle.

Each rule's condition is parsed and compiled once (warroom.expr) and called on every tick
(1 s). The lifecycle follows Prometheus where it can:

    inactive --true--> pending --true for `for`--> firing --false for keep_firing_for--> resolved
    (for = 0 goes straight to firing; resolved is shown for `resolved_for`, then inactive,
    or back to pending/firing if the condition returns)

plus two flags an operator sets: acknowledged (who, when, a note; cleared when the alert
resolves or goes inactive) and silenced (by a Silence: a matcher on the rule name, severity
and labels with globs, an end time and a required comment; it expires by itself).

No data (a condition that evaluates to NO_DATA, or a metric it reads whose source is stale):

- an inactive, pending or resolved rule moves to the "nodata" state. A pending rule starts
  over: we cannot claim the condition held through a gap, so `for` counts again from the
  first true tick after the data returns.
- a firing rule stays firing, flagged no_data: an alert is resolved only by data showing
  the condition clear, never by the data disappearing (that is how a dead feed would hide a
  live incident). The keep_firing_for countdown restarts once data returns.
- a rule never fires on no data. Metrics read only by absent() and age() do not make a rule
  "no data" when their source is stale: those rules exist to notice exactly that.

Every change is a Transition, returned by evaluate() (the caller writes them to the room
store) and kept in a bounded in-memory history. Resolved -> inactive is a display expiry
and is not reported.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from warroom.config import AlertRuleConfig
from warroom.expr import Compiled, ExprError, compile_expr, parse, referenced_metrics
from warroom.expr.tree import Node
from warroom.format import value_unit, with_unit

if TYPE_CHECKING:
    from warroom.metrics import MetricsStore

log = logging.getLogger(__name__)

INACTIVE, PENDING, FIRING, RESOLVED, NODATA = "inactive", "pending", "firing", "resolved", "nodata"
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Transition:
    """One entry of the alert history: a state change, or an ack / silence event."""

    ts: float
    rule: str
    from_state: str
    to_state: str
    event: str  # pending, firing, resolved, inactive, nodata, acked, silenced, unsilenced
    severity: str
    value: float | None = None
    operator: str = ""
    note: str = ""
    episode: int = 0


@dataclass(frozen=True, slots=True)
class Ack:
    operator: str
    at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes matching alerts until `until`: no bell, listed last; their state still moves."""

    id: str
    matchers: tuple[tuple[str, str], ...]  # (key, glob); key is name, severity or a label
    until: float
    comment: str
    operator: str
    created_at: float

    def matches(self, rule: AlertRuleConfig) -> bool:
        for key, pattern in self.matchers:
            if key == "name":
                actual: str | None = rule.name
            elif key == "severity":
                actual = rule.severity
            else:
                actual = rule.labels.get(key)
            if actual is None or not fnmatch.fnmatchcase(actual, pattern):
                return False
        return True

    def describe(self) -> str:
        return ",".join(f"{key}={pattern}" for key, pattern in self.matchers)


def parse_matcher(matcher: str | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """`high_*`, `severity=warning`, `name=high_errors, team=web` -> ((key, glob), ...).

    A bare word matches the rule name; several matchers (comma or space separated) must all
    match.
    """
    if isinstance(matcher, Mapping):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in matcher.items()]
    else:
        pairs = []
        for part in matcher.replace(",", " ").split():
            key, sep, value = part.partition("=")
            pairs.append((key.strip(), value.strip()) if sep else ("name", key.strip()))
    if not pairs or any(not key or not value for key, value in pairs):
        raise ValueError("a silence needs a matcher such as high_errors, name=high_*, severity=warning")
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class AlertView:
    """A snapshot of one alert for the panel."""

    name: str
    state: str
    since: float  # seconds in this state
    value: float | None
    value_text: str
    summary: str
    runbook: str
    severity: str
    labels: Mapping[str, str]
    expr: str
    no_data: bool
    ack: Ack | None
    silence: Silence | None
    since_at: float = 0.0
    """When it entered this state (epoch seconds)."""
    episode: int = 0


@dataclass(frozen=True, slots=True)
class RuleState:
    """What a recorder keeps of one rule so that another can carry on (see `restore`)."""

    rule: str
    state: str
    since: float
    clear_since: float | None
    no_data: bool
    value: float | None
    value_text: str
    severity: str
    episode: int


@dataclass(slots=True)
class _Rule:
    config: AlertRuleConfig
    compiled: Compiled
    stale_names: tuple[str, ...]  # metric (and ratio input) names whose staleness means no data
    unit: str
    state: str = INACTIVE
    since: float = 0.0
    clear_since: float | None = None  # firing, condition observed clear since then
    no_data: bool = False
    value: float | None = None
    ack: Ack | None = None
    silence: Silence | None = None
    episode: int = 0
    """Counts the rule's active periods: an ack belongs to one of them."""


class AlertEngine:
    """Evaluates compiled rules against a MetricsStore; pure Python, no UI."""

    def __init__(
        self,
        rules: Iterable[AlertRuleConfig],
        metrics: MetricsStore,
        clock: Callable[[], float] = time.time,
        stale: Callable[[str], bool] | None = None,
        resolved_for: float = 300.0,
        history_size: int = 1000,
    ) -> None:
        self.metrics = metrics
        self.clock = clock
        self.stale = stale
        self.resolved_for = resolved_for
        self._cache: dict = {}
        self._history: deque[Transition] = deque(maxlen=history_size)
        self._outbox: list[Transition] = []  # operator events, handed out by the next evaluate()
        self._silences: dict[str, Silence] = {}
        self._rules: dict[str, _Rule] = {}
        problems: list[str] = []
        start = clock()
        for config in rules:
            if config.name in self._rules:
                problems.append(f"alert rule {config.name!r}: duplicate rule name")
                continue
            try:
                node = parse(config.expr)
            except ExprError as exc:
                problems.append(f"alert rule {config.name!r}: {exc.describe(config.expr)}")
                continue
            unknown = sorted(n for n in referenced_metrics(node) if not metrics.has(n))
            if unknown:
                known = ", ".join(sorted(metrics.names())) or "none defined"
                problems.append(
                    f"alert rule {config.name!r}: unknown metric {', '.join(repr(n) for n in unknown)} (known: {known})"
                )
                continue
            compiled = compile_expr(node, metrics, self._cache)
            compiled.text = config.expr
            unit = value_unit(node, metrics.unit)  # as every screen shows it (change() in %)
            self._rules[config.name] = _Rule(config, compiled, self._stale_names(node), unit, since=start)
        if problems:
            raise ValueError("; ".join(problems))

    def _stale_names(self, node: Node) -> tuple[str, ...]:
        names: set[str] = set()
        ratios = getattr(self.metrics, "ratios", {})
        for name in referenced_metrics(node, absence=False):
            names.add(name)
            if name in ratios:
                names.update((ratios[name].numerator, ratios[name].denominator))
        return tuple(sorted(names))

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, now: float | None = None) -> list[Transition]:
        """Run every rule once; the transitions since the last call, oldest first.

        Acks, silences and unsilences made between ticks are included (they are in the
        history at once), so the caller has one place to collect everything for the log.
        """
        now = self.clock() if now is None else now
        out: list[Transition] = []
        if self._outbox:
            self._outbox, operator_events = [], self._outbox
        else:
            operator_events = []
        self._expire_silences(now, out)
        self._cache.clear()
        stale = self.stale
        for rule in self._rules.values():
            if stale is not None and any(stale(name) for name in rule.stale_names):
                result = None
                rule.value = None
            else:
                try:
                    result = rule.compiled()
                except Exception:  # one broken rule must not stop the others; it shows no data
                    log.exception("alert rule %s failed to evaluate", rule.config.name)
                    result = None
                rule.value = rule.compiled.value
            self._step(rule, result, now, out)
        self._history.extend(out)
        return operator_events + out if operator_events else out

    def _step(self, rule: _Rule, result: bool | None, now: float, out: list[Transition]) -> None:
        state = rule.state
        if result is None:
            rule.clear_since = None
            if state == FIRING:
                if not rule.no_data:
                    rule.no_data = True
                    self._emit(out, rule, now, FIRING, FIRING, NODATA, note="no data; still firing")
            elif state != NODATA:
                self._move(out, rule, now, NODATA)
            return
        rule.no_data = False
        config = rule.config
        if result:
            rule.clear_since = None
            if state in (INACTIVE, RESOLVED, NODATA):
                self._move(out, rule, now, FIRING if config.for_ <= 0 else PENDING)
            elif state == PENDING and now - rule.since >= config.for_:
                self._move(out, rule, now, FIRING)
            return
        if state in (PENDING, NODATA):
            self._move(out, rule, now, INACTIVE)
        elif state == FIRING:
            if rule.clear_since is None:
                rule.clear_since = now
            if now - rule.clear_since >= config.keep_firing_for:
                self._move(out, rule, now, RESOLVED)
        elif state == RESOLVED and now - rule.since >= self.resolved_for:
            rule.state, rule.since = INACTIVE, now  # display expiry, not reported

    def _move(self, out: list[Transition], rule: _Rule, now: float, to: str) -> None:
        previous = rule.state
        if to in (INACTIVE, RESOLVED) or previous == NODATA:
            rule.ack = None
        if to in (PENDING, FIRING) and previous in (INACTIVE, RESOLVED, NODATA):
            rule.episode += 1
        rule.state, rule.since = to, now
        rule.clear_since = None
        self._emit(out, rule, now, previous, to, to)

    def _emit(
        self,
        out: list[Transition],
        rule: _Rule,
        now: float,
        from_state: str,
        to_state: str,
        event: str,
        operator: str = "",
        note: str = "",
    ) -> None:
        out.append(
            Transition(
                now,
                rule.config.name,
                from_state,
                to_state,
                event,
                rule.config.severity,
                rule.value,
                operator,
                note,
                rule.episode,
            )
        )

    # ------------------------------------------------------------------ operators

    def ack(self, rule: str, operator: str, note: str = "", now: float | None = None) -> Transition:
        """Acknowledge a pending, firing or no-data alert; cleared when it resolves."""
        target = self._get(rule)
        if target.state not in (PENDING, FIRING, NODATA):
            raise ValueError(f"alert {rule!r} is {target.state}; only an active alert can be acknowledged")
        if not operator.strip():
            raise ValueError("an acknowledgement needs the operator's name")
        now = self.clock() if now is None else now
        target.ack = Ack(operator, now, note)
        transition = Transition(
            now,
            rule,
            target.state,
            target.state,
            "acked",
            target.config.severity,
            target.value,
            operator,
            note,
            target.episode,
        )
        self._record([transition])
        return transition

    def silence(
        self, matcher: str | Mapping[str, str], duration_s: float, comment: str, operator: str, now: float | None = None
    ) -> Silence:
        """Silence the alerts matching `matcher` for `duration_s`; ValueError if it matches no rule."""
        matchers = parse_matcher(matcher)
        if not comment.strip():
            raise ValueError("a silence needs a comment saying why")
        if not operator.strip():
            raise ValueError("a silence needs the operator's name")
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError("a silence needs a positive duration")
        now = self.clock() if now is None else now
        silence = Silence(uuid.uuid4().hex[:8], matchers, now + duration_s, comment.strip(), operator, now)
        if not any(silence.matches(r.config) for r in self._rules.values()):
            raise ValueError(f"silence {silence.describe()} matches no alert rule")
        self._silences[silence.id] = silence
        self._record(self._refresh_silences(now, operator, comment.strip()))
        return silence

    def unsilence(self, silence_id: str, operator: str, now: float | None = None) -> list[Transition]:
        """End a silence early; the transitions of the rules it no longer mutes."""
        if self._silences.pop(silence_id, None) is None:
            raise ValueError(f"no active silence {silence_id!r}")
        now = self.clock() if now is None else now
        out = self._refresh_silences(now, operator, "silence removed")
        self._record(out)
        return out

    # ------------------------------------------------------------------ shared with others

    def adopt_ack(self, rule: str, operator: str, at: float, note: str = "", episode: int | None = None) -> bool:
        """Take on an acknowledgement an operator made in the room; no transition (it is
        logged). Only an active alert not yet acknowledged takes it, and only in the episode
        it was made in (when `episode` is given), so an ack never outlives its episode."""
        target = self._rules.get(rule)
        if target is None or target.ack is not None or target.state not in (PENDING, FIRING, NODATA):
            return False
        if episode is not None and episode != target.episode:
            return False
        target.ack = Ack(operator, at, note)
        return True

    def adopt_silence(self, silence: Silence, now: float | None = None) -> None:
        """Take on a silence another operator made (its transitions repeat theirs)."""
        if silence.id in self._silences or silence.until <= (self.clock() if now is None else now):
            return
        self._silences[silence.id] = silence
        now = self.clock() if now is None else now
        self._record(self._refresh_silences(now, silence.operator, silence.comment))

    def drop_silence(self, silence_id: str, now: float | None = None, operator: str = "") -> None:
        """An operator ended this silence early."""
        silence = self._silences.pop(silence_id, None)
        if silence is not None:
            now = self.clock() if now is None else now
            self._record(self._refresh_silences(now, operator, "silence removed"))

    def _record(self, transitions: list[Transition]) -> None:
        self._history.extend(transitions)
        self._outbox.extend(transitions)

    def silences(self) -> list[Silence]:
        return sorted(self._silences.values(), key=lambda s: s.until)

    def _expire_silences(self, now: float, out: list[Transition]) -> None:
        expired = [s.id for s in self._silences.values() if s.until <= now]
        if expired:
            for silence_id in expired:
                del self._silences[silence_id]
            out.extend(self._refresh_silences(now, "", "silence expired"))

    def _refresh_silences(self, now: float, operator: str, note: str) -> list[Transition]:
        out: list[Transition] = []
        active = list(self._silences.values())
        for rule in self._rules.values():
            silence = next((s for s in active if s.matches(rule.config)), None)
            was = rule.silence
            rule.silence = silence
            if (was is None) == (silence is None):
                continue
            event = "silenced" if silence is not None else "unsilenced"
            text = silence.comment if silence is not None else note
            self._emit(out, rule, now, rule.state, rule.state, event, operator, text)
        return out

    # ------------------------------------------------------------------ reading

    def _get(self, name: str) -> _Rule:
        try:
            return self._rules[name]
        except KeyError:
            raise ValueError(f"no alert rule {name!r}") from None

    def state(self, name: str) -> str:
        return self._get(name).state

    def format_value(self, rule: str, value: float | None) -> str:
        """`value` as the panel shows it for this rule (with its metric's unit)."""
        return format_value(value, self._get(rule).unit)

    def rule_names(self) -> list[str]:
        return list(self._rules)

    def alerts(self, now: float | None = None, include_inactive: bool = False) -> list[AlertView]:
        """Active alerts for the panel: firing by severity, pending, no data, acked, silenced, resolved."""
        now = self.clock() if now is None else now
        views = []
        for rule in self._rules.values():
            if rule.state == INACTIVE and not include_inactive:
                continue
            config = rule.config
            text = format_value(rule.value, rule.unit)
            summary = config.summary.replace("{value}", text) if config.summary else config.expr
            views.append(
                AlertView(
                    name=config.name,
                    state=rule.state,
                    since=max(0.0, now - rule.since),
                    value=rule.value,
                    value_text=text,
                    summary=summary,
                    runbook=config.runbook,
                    severity=config.severity,
                    labels=dict(config.labels),
                    expr=config.expr,
                    no_data=rule.no_data or rule.state == NODATA,
                    ack=rule.ack,
                    silence=rule.silence,
                    since_at=rule.since,
                    episode=rule.episode,
                )
            )
        views.sort(key=lambda v: (_group(v), SEVERITY_RANK[v.severity], -v.since, v.name))
        return views

    # ------------------------------------------------------------------ carried between recorders

    def rule_states(self) -> list[RuleState]:
        """Every rule's state, for the room (a recorder that takes over calls `restore`)."""
        return [
            RuleState(
                name,
                r.state,
                r.since,
                r.clear_since,
                r.no_data,
                r.value,
                format_value(r.value, r.unit),
                r.config.severity,
                r.episode,
            )
            for name, r in self._rules.items()
        ]

    def restore(
        self,
        states: Iterable[RuleState],
        acks: Iterable[tuple[str, Ack, int]] = (),
        silences: Iterable[Silence] = (),
        now: float | None = None,
    ) -> None:
        """Carry on from another recorder: the same states, episodes and `for` timers, the
        acks of the current episodes and the active silences, without a transition (they
        were all logged when they happened)."""
        now = self.clock() if now is None else now
        for saved in states:
            rule = self._rules.get(saved.rule)
            if rule is None:
                continue  # a rule no longer in the config
            rule.state, rule.since, rule.clear_since = saved.state, saved.since, saved.clear_since
            rule.no_data, rule.value, rule.episode = saved.no_data, saved.value, saved.episode
        for name, ack, episode in acks:
            rule = self._rules.get(name)
            if rule is not None and rule.episode == episode and rule.state in (PENDING, FIRING, NODATA):
                rule.ack = ack
        for silence in silences:
            if silence.until > now:
                self._silences[silence.id] = silence
        self._refresh_silences(now, "", "")  # marks the rules, emits nothing kept

    def history(self, limit: int | None = None) -> list[Transition]:
        """The most recent transitions, newest first."""
        items = list(reversed(self._history))
        return items if limit is None else items[: max(0, limit)]

    def newly_firing_critical(self, transitions: Iterable[Transition]) -> list[Transition]:
        """Critical alerts that started firing in these transitions and are not silenced.

        A transition to firing happens once per alert episode, so ringing the bell for these
        rings it once, not on every tick.
        """
        return [
            t
            for t in transitions
            if t.event == FIRING
            and t.severity == "critical"
            and t.rule in self._rules
            and self._rules[t.rule].silence is None
        ]


def _group(view: AlertView) -> int:
    if view.silence is not None:
        return 4
    if view.ack is not None:
        return 3
    return {FIRING: 0, PENDING: 1, NODATA: 2, RESOLVED: 5}.get(view.state, 6)


def format_value(value: float | None, unit: str = "") -> str:
    """The panels' formatting (warroom.format), keeping 3 significant digits below 1."""
    if value is not None and unit in ("", "currency") and math.isfinite(value) and 0 < abs(value) < 1:
        return f"{value:.3g}"
    return with_unit(value, unit)
