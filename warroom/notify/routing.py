"""Which alerts go to whom, and when: routes, groups, repeats, escalation, inhibition.

Pure and driven by the recorder's tick: `Notifier.evaluate(now, alerts)` compares the
alerts' states with what each group last told its receiver and returns the notifications
due now, with the group states to keep. It works from states, not from transitions, as
Alertmanager does: a recorder that takes over restores the group states from the room and
carries on from the alerts as they are, so it neither repeats a message nor misses one.

- **Routes** are tried in order; the first whose matcher (the silence matcher: name,
  severity, labels, globs) matches takes the alert, or each matching one up to the first
  without `continue`.
- **Groups**: a route's alerts with the same values of its `group_by` labels make one
  group and one message. A new group waits `group_wait` for the rest of the storm; after a
  message, further changes (an alert firing or resolving) wait until `group_interval` has
  passed since it. Every message lists the group's alerts as they are.
- **Repeat**: while an alert the receiver was told of still fires, unacknowledged,
  unsilenced and not inhibited, the group is sent again every `repeat_interval` (not queued
  behind a message of the group that is still undelivered: the repeat clock restarts).
- **Escalation**: each step of a route is a group of its own whose alerts are those that
  have fired for `after` without an acknowledgement; it is sent at once, to the step's
  receiver, repeated like the route's own group and told of their resolution.
- **Resolution** is told to every receiver that was told of the firing (even while the
  alert is silenced: a silence stops the noise, not the news that it is over).
- **Inhibition**: an alert matching a rule's target, while an alert matching its source
  fires (with equal values of the `equal` labels), is neither notified nor repeated; it is
  reported in `inhibited` for the screen and logged once per episode.
- An Alertmanager receiver is kept informed instead: its groups are posted again every
  `resend` while their alerts fire, acknowledged or not, since Alertmanager resolves an
  alert it stops hearing of.

SLA breaches are events, not states: `breaches()` routes each one at once, by the labels
name=sla_breach, severity (critical for urgent tickets), priority and breach.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field

from warroom.alerts import FIRING, AlertView
from warroom.notify.config import SLA_EVENT, NotifyConfig, ReceiverConfig, RouteConfig
from warroom.notify.message import AlertItem, Notification

ALERTMANAGER_RESEND = 60.0
INHIBITED_KEY = "inhibited"
"""The state row that remembers which episodes' inhibition was logged."""


@dataclass
class GroupState:
    """What one group told its receiver, kept in the room between recorders."""

    key: str
    receiver: str
    labels: dict[str, str]
    notified: dict[str, int] = field(default_factory=dict)
    """rule -> episode the receiver was told is firing."""
    changed_at: float | None = None
    """When the first change not yet sent was seen."""
    sent_at: float | None = None
    seq: int = 0
    """Messages made so far: the next message's id ends in seq + 1."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, body: str) -> GroupState:
        return cls(**json.loads(body))


@dataclass
class Outcome:
    notifications: list[tuple[str, Notification]] = field(default_factory=list)
    """(group key, notification) of the messages due."""
    states: dict[str, str] = field(default_factory=dict)
    """state key -> JSON body, for the groups (and the inhibition memory) that changed."""
    logs: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(severity, text, alert) for the incident log."""
    inhibited: dict[str, str] = field(default_factory=dict)
    """rule -> the firing rule that inhibits it, for every active rule that is inhibited."""


@dataclass(frozen=True, slots=True)
class Breach:
    """An SLA target missed, as routes see it."""

    ticket_id: str
    kind: str  # respond or resolve
    due: float
    priority: str
    subject: str = ""
    category: str = ""


def labels_of(view: AlertView) -> dict[str, str]:
    """What matchers and group_by see of an alert: its name, severity and labels."""
    return {**view.labels, "name": view.name, "alertname": view.name, "severity": view.severity}


def matches(matchers: Iterable[tuple[str, str]], labels: Mapping[str, str]) -> bool:
    for key, pattern in matchers:
        actual = labels.get(key)
        if actual is None or not fnmatch.fnmatchcase(actual, pattern):
            return False
    return True


@dataclass(frozen=True)
class _Group:
    """One route's (or escalation step's) group as seen this tick."""

    key: str
    route: RouteConfig
    step: int
    """0: the route's own receiver; n: its n-th escalation step."""
    receiver: ReceiverConfig
    labels: dict[str, str]


class Notifier:
    """See the module docstring. `restore(states)` first when taking over a room."""

    def __init__(self, config: NotifyConfig, launch: str) -> None:
        self.config = config
        self.launch = launch
        self.routes = [(route, route.matchers()) for route in config.routes]
        self.inhibit = [(rule.sources(), rule.targets(), rule.equal) for rule in config.inhibit]
        self.groups: dict[str, GroupState] = {}
        self.inhibition_logged: dict[str, int] = {}
        self._receivers = {r.name: r for r in config.receivers}
        self._known: dict[tuple[int, int, tuple[str, ...]], _Group] = {}
        """The groups seen so far, by route, step and group label values (built once)."""

    def restore(self, states: Mapping[str, str]) -> None:
        for key, body in states.items():
            if key == INHIBITED_KEY:
                self.inhibition_logged = {k: int(v) for k, v in json.loads(body).items()}
            else:
                self.groups[key] = GroupState.from_json(body)

    # ------------------------------------------------------------------ alerts

    def evaluate(self, now: float, alerts: Sequence[AlertView], undelivered: Set[str] = frozenset()) -> Outcome:
        """The notifications due at `now`. `alerts`: every rule, inactive ones included;
        `undelivered`: groups with a message still in the outbox (no repeat behind it)."""
        out = Outcome()
        out.inhibited = self._inhibited(alerts, now, out)
        members: dict[str, list[AlertView]] = {}
        groups: dict[str, _Group] = {}
        for view in alerts:
            for group in self._groups_of(view, labels_of(view)):
                groups.setdefault(group.key, group)
                members.setdefault(group.key, []).append(view)
        for key, state in self.groups.items():  # told of alerts that no longer route here
            if state.notified and key not in groups:
                orphan = self._orphan(state)
                if orphan is None:
                    state.notified = {}  # its receiver is gone from the config: nobody to tell
                    self._keep(state, out)
                else:
                    groups[key] = orphan
        for key, group in groups.items():
            self._step_group(group, members.get(key, []), now, out, key in undelivered)
        return out

    def _groups_of(self, view: AlertView, labels: Mapping[str, str]) -> list[_Group]:
        found: list[_Group] = []
        for index, (route, matchers) in enumerate(self.routes):
            if not matches(matchers, labels):
                continue
            values = tuple(labels.get(name, "") for name in route.group_by)
            receivers = [route.receiver] + [step.receiver for step in route.escalate]
            for step, receiver in enumerate(receivers):
                group = self._known.get((index, step, values))
                if group is None:
                    group_labels = dict(zip(route.group_by, values, strict=True))
                    key = _group_key(index, step, receiver, group_labels)
                    group = _Group(key, route, step, self._receivers[receiver], group_labels)
                    self._known[(index, step, values)] = group
                found.append(group)
            if not route.continue_:
                break
        return found

    def _orphan(self, state: GroupState) -> _Group | None:
        """A group whose route changed since it told of alerts (a config edited between two
        recorders): it tells its receiver, if it still has one, that they are over."""
        receiver = self._receivers.get(state.receiver)
        if receiver is None:
            return None
        route = RouteConfig(receiver=state.receiver, group_wait=0, group_interval=0)
        return _Group(state.key, route, 0, receiver, state.labels)

    def _step_group(self, group: _Group, views: list[AlertView], now: float, out: Outcome, undelivered: bool) -> None:
        firing = {v.name: v for v in views if v.state == FIRING}
        state = self.groups.get(group.key)
        if state is None or not state.notified:
            if not firing:
                return  # nothing fires, nothing was told: nothing to do
            state = state or GroupState(group.key, group.receiver.name, group.labels)
        route, inhibited = group.route, out.inhibited

        def muted(view: AlertView) -> bool:
            return view.silence is not None or view.name in inhibited

        def wanted(view: AlertView) -> bool:
            if muted(view):
                return False
            if group.step == 0:
                return True
            return view.ack is None and now - view.since_at >= route.escalate[group.step - 1].after

        still = {n: firing[n] for n, episode in state.notified.items() if n in firing and firing[n].episode == episode}
        new = [v for v in firing.values() if v.name not in still and wanted(v)]
        ended = [n for n in state.notified if n not in still]
        keep_alive = group.receiver.kind == "alertmanager"
        if not route.send_resolved and ended and not new:
            for name in ended:
                del state.notified[name]
            ended = []
            self._keep(state, out)
        if new or ended:
            if state.changed_at is None:
                state.changed_at = now
                self._keep(state, out)
            if group.step > 0:
                due = now
            elif not still:
                due = state.changed_at + route.group_wait
            else:
                due = (state.sent_at or 0.0) + route.group_interval
            if now >= due:
                reason = (
                    "escalation" if group.step > 0 and new else "resolved" if not new else "update" if still else "new"
                )
                self._send(group, state, still, new, ended, views, now, reason, out, keep_alive)
            return
        drivers = [v for v in still.values() if keep_alive or (v.ack is None and not muted(v))]
        interval = (group.receiver.resend or ALERTMANAGER_RESEND) if keep_alive else route.repeat_interval
        if drivers and state.sent_at is not None and now - state.sent_at >= interval:
            if undelivered:
                state.sent_at = now  # behind an undelivered message: start the repeat clock again
                self._keep(state, out)
            else:
                self._send(group, state, still, [], [], views, now, "repeat", out, keep_alive)

    def _send(
        self,
        group: _Group,
        state: GroupState,
        still: dict[str, AlertView],
        new: list[AlertView],
        ended: list[str],
        views: list[AlertView],
        now: float,
        reason: str,
        out: Outcome,
        keep_alive: bool,
    ) -> None:
        by_name = {v.name: v for v in views}
        shown = [v for v in still.values() if keep_alive or not (v.silence is not None or v.name in out.inhibited)]
        items = [_item(v, "firing") for v in sorted([*shown, *new], key=_order)]
        items += [_item(by_name[n], "resolved") if n in by_name else _gone(n) for n in sorted(ended)]
        state.seq += 1
        state.notified = {n: v.episode for n, v in still.items()} | {v.name: v.episode for v in new}
        state.sent_at, state.changed_at = now, None
        note = ""
        if group.step > 0 and reason == "escalation":
            after = group.route.escalate[group.step - 1].after
            note = f"Not acknowledged after {_minutes(after)}: escalated to {group.receiver.name}."
        out.notifications.append(
            (
                group.key,
                Notification(
                    f"{_short(group.key)}-{state.seq}",
                    group.receiver.name,
                    "alert",
                    reason,
                    self.launch,
                    now,
                    dict(group.labels),
                    items,
                    note=note,
                ),
            )
        )
        self._keep(state, out)

    def _keep(self, state: GroupState, out: Outcome) -> None:
        self.groups[state.key] = state
        out.states[state.key] = state.to_json()

    # ------------------------------------------------------------------ inhibition

    def _inhibited(self, alerts: Sequence[AlertView], now: float, out: Outcome) -> dict[str, str]:
        if not self.inhibit:
            return {}
        labelled = [(v, labels_of(v)) for v in alerts]
        causes = [
            [
                (s.name, s_labels)
                for s, s_labels in labelled
                if s.state == FIRING and any(matches(m, s_labels) for m in sources)
            ]
            for sources, _, _ in self.inhibit
        ]
        found: dict[str, str] = {}
        for view, labels in labelled:
            if view.state not in ("pending", FIRING, "nodata"):
                continue
            for (_, targets, equal), candidates in zip(self.inhibit, causes, strict=True):
                if not any(matches(t, labels) for t in targets):
                    continue
                cause = next(
                    (
                        name
                        for name, s_labels in candidates
                        if name != view.name and all(s_labels.get(k, "") == labels.get(k, "") for k in equal)
                    ),
                    None,
                )
                if cause is not None:
                    found[view.name] = cause
                    break
        by_name = {v.name: v for v in alerts}
        logged = False
        for name, cause in found.items():
            view = by_name[name]
            if view.state == FIRING and self.inhibition_logged.get(name) != view.episode:
                self.inhibition_logged[name] = view.episode
                out.logs.append(("info", f"{name} inhibited by {cause}: not notified while {cause} fires", name))
                logged = True
        if logged:
            out.states[INHIBITED_KEY] = json.dumps(self.inhibition_logged, sort_keys=True)
        return found

    # ------------------------------------------------------------------ SLA breaches

    def breaches(self, now: float, breaches: Iterable[Breach]) -> list[Notification]:
        """One notification per breach and receiver its labels route it to."""
        out = []
        for breach in breaches:
            labels = {
                "name": SLA_EVENT,
                "alertname": SLA_EVENT,
                "priority": breach.priority,
                "severity": "critical" if breach.priority == "urgent" else "warning",
                "breach": breach.kind,
                "category": breach.category,
                "ticket": breach.ticket_id,
            }
            ticket = {
                "id": breach.ticket_id,
                "subject": breach.subject,
                "priority": breach.priority,
                "breach": breach.kind,
                "due": breach.due,
                "category": breach.category,
            }
            for route, matchers in self.routes:
                if not matches(matchers, labels):
                    continue
                out.append(
                    Notification(
                        f"sla-{breach.ticket_id}-{breach.kind}-{route.receiver}",
                        route.receiver,
                        "sla",
                        "sla",
                        self.launch,
                        now,
                        ticket=ticket,
                    )
                )
                if not route.continue_:
                    break
        return out


def _group_key(route: int, step: int, receiver: str, labels: Mapping[str, str]) -> str:
    return (
        f"route {route}"
        + (f" step {step}" if step else "")
        + f" to {receiver}"
        + (" " + json.dumps(dict(labels), sort_keys=True) if labels else "")
    )


def _short(key: str) -> str:
    """A short stable name for a group, for notification ids."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _order(view: AlertView) -> tuple[int, str]:
    return ({"critical": 0, "warning": 1, "info": 2}.get(view.severity, 3), view.name)


def _item(view: AlertView, status: str) -> AlertItem:
    ack = view.ack
    return AlertItem(
        view.name,
        status,
        view.severity,
        dict(view.labels),
        view.summary,
        view.runbook,
        view.value_text,
        view.since_at,
        view.episode,
        ack.operator if ack else None,
        ack.note if ack else "",
    )


def _gone(name: str) -> AlertItem:
    return AlertItem(name, "resolved", "info", {}, "no longer in the config", "", "", 0.0, 0)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
