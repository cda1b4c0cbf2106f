"""Routing, pure: which alerts go to whom and when, from the alerts' states on each tick.

The views are built as the recorder's alert engine hands them out (`AlertView`); time is a
number the test moves. Each test tells one rule of warroom/notify/routing.py's docstring.
"""

from __future__ import annotations

import dataclasses

import pytest

from warroom.alerts import Ack, AlertView, Silence
from warroom.config import parse_config
from warroom.notify.message import Notification
from warroom.notify.routing import Breach, Notifier, Outcome

T0 = 1_795_600_800.0
RULES = [
    ("high_error_rate", "critical", "tech"),
    ("orders_stalled", "critical", "ops"),
    ("ticket_flood", "warning", "support"),
    ("latency_high", "warning", "tech"),
    ("bounce_rate_high", "warning", "content"),
]


def rules_text() -> str:
    return "\n".join(
        f'[[alerts]]\nname = "{name}"\nexpr = "1 > 0"\nseverity = "{severity}"\nlabels = {{ team = "{team}" }}\n'
        for name, severity, team in RULES
    )


def config(notify: str) -> Notifier:
    parsed = parse_config(
        rules_text()
        + """
[[notify.receivers]]
name = "ops"
kind = "webhook"
url = "http://127.0.0.1:9/ops"

[[notify.receivers]]
name = "lead_phone"
kind = "webhook"
url = "http://127.0.0.1:9/lead"

[[notify.receivers]]
name = "am"
kind = "alertmanager"
url = "http://127.0.0.1:9"
resend = "1m"
"""
        + notify
    )
    return Notifier(parsed.notify, "Spring Drop")


class Room:
    """The alerts' states, moved by the test."""

    def __init__(self) -> None:
        self.views = {
            name: AlertView(
                name,
                "inactive",
                0,
                None,
                "",
                f"{name} summary",
                f"{name} runbook",
                severity,
                {"team": team},
                "1 > 0",
                False,
                None,
                None,
                0.0,
                0,
            )
            for name, severity, team in RULES
        }

    def fire(self, name: str, at: float) -> None:
        view = self.views[name]
        self.views[name] = dataclasses.replace(view, state="firing", since_at=at, episode=view.episode + 1, ack=None)

    def resolve(self, name: str, at: float) -> None:
        self.views[name] = dataclasses.replace(self.views[name], state="resolved", since_at=at, ack=None)

    def ack(self, name: str, who: str, at: float) -> None:
        self.views[name] = dataclasses.replace(self.views[name], ack=Ack(who, at, "on it"))

    def silence(self, name: str, at: float) -> None:
        self.views[name] = dataclasses.replace(
            self.views[name], silence=Silence("s1", (("name", name),), at + 3600, "known", "ana", at)
        )

    def all(self) -> list[AlertView]:
        return list(self.views.values())


def sent(outcome: Outcome) -> list[Notification]:
    return [n for _, n in outcome.notifications]


def run(notifier: Notifier, room: Room, start: float, end: float, step: float = 1.0) -> list[Notification]:
    out, now = [], start
    while now <= end:
        out += sent(notifier.evaluate(now, room.all()))
        now += step
    return out


def firing(n: Notification) -> list[str]:
    return [a.name for a in n.alerts if a.status == "firing"]


def resolved(n: Notification) -> list[str]:
    return [a.name for a in n.alerts if a.status == "resolved"]


ONE_ROUTE = """
[[notify.routes]]
receiver = "ops"
group_wait = "30s"
group_interval = "5m"
repeat_interval = "15m"
"""


def test_a_storm_is_one_message_after_group_wait() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    for offset, name in enumerate(
        ["high_error_rate", "orders_stalled", "ticket_flood", "latency_high", "bounce_rate_high"]
    ):
        room.fire(name, T0 + offset * 5)
    assert run(notifier, room, T0, T0 + 29) == []
    (message,) = run(notifier, room, T0 + 30, T0 + 60)
    assert message.reason == "new" and message.receiver == "ops"
    assert firing(message) == [
        "high_error_rate",
        "orders_stalled",
        "bounce_rate_high",
        "latency_high",
        "ticket_flood",
    ]  # critical first
    assert message.title == (
        "[FIRING:5] Spring Drop: high_error_rate, orders_stalled, bounce_rate_high, latency_high, ticket_flood"
    )


def test_group_by_splits_the_storm_by_team() -> None:
    notifier, room = config(ONE_ROUTE.replace('receiver = "ops"', 'receiver = "ops"\ngroup_by = ["team"]')), Room()
    for name in ("high_error_rate", "latency_high", "orders_stalled"):
        room.fire(name, T0)
    messages = run(notifier, room, T0, T0 + 40)
    assert sorted((m.group["team"], tuple(firing(m))) for m in messages) == [
        ("ops", ("orders_stalled",)),
        ("tech", ("high_error_rate", "latency_high")),
    ]
    assert len({m.id for m in messages}) == 2


def test_changes_after_a_message_wait_for_group_interval_and_list_the_whole_group() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    (first,) = run(notifier, room, T0, T0 + 30)
    room.fire("latency_high", T0 + 40)
    assert run(notifier, room, T0 + 40, T0 + 329) == []
    (update,) = run(notifier, room, T0 + 330, T0 + 400)
    assert update.reason == "update" and firing(update) == ["high_error_rate", "latency_high"]
    assert update.id != first.id and update.id.split("-")[0] == first.id.split("-")[0]


def test_repeat_while_firing_and_unacknowledged_and_an_ack_stops_it() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    messages = run(notifier, room, T0, T0 + 30 + 2 * 900, step=5)
    assert [m.reason for m in messages] == ["new", "repeat", "repeat"]
    assert messages[1].title.startswith("[FIRING, again:1]")
    room.ack("high_error_rate", "ana", T0 + 1900)
    assert run(notifier, room, T0 + 1900, T0 + 1900 + 3 * 900, step=5) == []


def test_a_silence_stops_the_repeats_but_not_the_resolution() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    run(notifier, room, T0, T0 + 30)
    room.silence("high_error_rate", T0 + 60)
    assert run(notifier, room, T0 + 60, T0 + 3000, step=10) == []
    room.resolve("high_error_rate", T0 + 3001)
    (over,) = run(notifier, room, T0 + 3001, T0 + 3100)
    assert over.reason == "resolved" and resolved(over) == ["high_error_rate"] and over.title.startswith("[RESOLVED]")


def test_resolution_is_notified_once_and_a_new_episode_is_new() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    run(notifier, room, T0, T0 + 30)
    room.resolve("high_error_rate", T0 + 100)
    messages = run(notifier, room, T0 + 100, T0 + 200)
    assert [(m.reason, resolved(m)) for m in messages] == [("resolved", ["high_error_rate"])]
    room.fire("high_error_rate", T0 + 300)
    (again,) = run(notifier, room, T0 + 300, T0 + 400)
    assert again.reason == "new" and again.alerts[0].episode == 2


def test_a_silenced_alert_is_never_notified() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    room.silence("high_error_rate", T0)
    room.fire("latency_high", T0)
    (message,) = run(notifier, room, T0, T0 + 100)
    assert firing(message) == ["latency_high"]


ESCALATION = (
    ONE_ROUTE
    + """escalate = [{ after = "10m", receiver = "lead_phone" }]
"""
)


def test_nobody_acks_within_10_minutes_the_lead_is_told() -> None:
    notifier, room = config(ESCALATION), Room()
    room.fire("high_error_rate", T0)
    messages = run(notifier, room, T0, T0 + 600)
    assert [(m.receiver, m.reason, m.created_at - T0) for m in messages] == [
        ("ops", "new", 30),
        ("lead_phone", "escalation", 600),
    ]
    assert messages[1].note == "Not acknowledged after 10 min: escalated to lead_phone."
    assert messages[1].title.startswith("[ESCALATED:1]")
    room.resolve("high_error_rate", T0 + 700)
    over = run(notifier, room, T0 + 700, T0 + 800)
    assert sorted((m.receiver, m.reason) for m in over) == [("lead_phone", "resolved"), ("ops", "resolved")]


def test_an_ack_in_time_means_no_escalation() -> None:
    notifier, room = config(ESCALATION), Room()
    room.fire("high_error_rate", T0)
    run(notifier, room, T0, T0 + 120)
    room.ack("high_error_rate", "ana", T0 + 121)
    assert run(notifier, room, T0 + 121, T0 + 3600, step=10) == []


INHIBIT = (
    ONE_ROUTE
    + """
[[notify.inhibit]]
source = "high_error_rate"
target = ["orders_stalled", "bounce_rate_high"]
"""
)


def test_an_inhibited_alert_is_not_notified_but_reported_and_logged_once() -> None:
    notifier, room = config(INHIBIT), Room()
    room.fire("high_error_rate", T0)
    room.fire("orders_stalled", T0 + 2)
    room.fire("latency_high", T0 + 3)
    outcomes = [notifier.evaluate(T0 + s, room.all()) for s in range(0, 60)]
    (message,) = [n for o in outcomes for n in sent(o)]
    assert firing(message) == ["high_error_rate", "latency_high"]
    assert outcomes[-1].inhibited == {"orders_stalled": "high_error_rate"}
    logs = [line for o in outcomes for line in o.logs]
    assert logs == [
        (
            "info",
            "orders_stalled inhibited by high_error_rate: not notified while high_error_rate fires",
            "orders_stalled",
        )
    ]
    room.resolve("high_error_rate", T0 + 100)  # the cause is over: the consequence is news now
    later = run(notifier, room, T0 + 100, T0 + 500)
    assert [(m.reason, firing(m), resolved(m)) for m in later] == [
        ("update", ["orders_stalled", "latency_high"], ["high_error_rate"])
    ]


def test_inhibition_with_equal_labels_only_within_the_same_team() -> None:
    notifier, room = (
        config(
            ONE_ROUTE
            + """
[[notify.inhibit]]
source = "severity=critical"
target = "severity=warning"
equal = ["team"]
"""
        ),
        Room(),
    )
    room.fire("high_error_rate", T0)  # critical, tech
    room.fire("latency_high", T0)  # warning, tech: inhibited
    room.fire("ticket_flood", T0)  # warning, support: not
    outcome = notifier.evaluate(T0, room.all())
    assert outcome.inhibited == {"latency_high": "high_error_rate"}


def test_routes_match_like_silences_and_continue() -> None:
    notifier, room = (
        config("""
[[notify.routes]]
receiver = "lead_phone"
match = "severity=critical team=t*"
group_wait = "0s"
continue = true

[[notify.routes]]
receiver = "ops"
match = { severity = "critical" }
group_wait = "0s"

[[notify.routes]]
receiver = "am"
group_wait = "0s"
"""),
        Room(),
    )
    room.fire("high_error_rate", T0)
    room.fire("orders_stalled", T0)
    room.fire("latency_high", T0)
    got = {(m.receiver, tuple(firing(m))) for m in sent(notifier.evaluate(T0, room.all()))}
    assert got == {
        ("lead_phone", ("high_error_rate",)),
        ("ops", ("high_error_rate", "orders_stalled")),
        ("am", ("latency_high",)),
    }


def test_alertmanager_is_kept_informed_while_firing_acknowledged_or_not() -> None:
    notifier, room = (
        config("""
[[notify.routes]]
receiver = "am"
group_wait = "0s"
"""),
        Room(),
    )
    room.fire("high_error_rate", T0)
    room.ack("high_error_rate", "ana", T0 + 1)
    messages = run(notifier, room, T0, T0 + 180)
    assert [(m.reason, m.created_at - T0) for m in messages] == [
        ("new", 0),
        ("repeat", 60),
        ("repeat", 120),
        ("repeat", 180),
    ]


def test_a_restored_notifier_neither_repeats_nor_misses() -> None:
    first, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    outcome = Outcome()
    for s in range(0, 40):
        step = first.evaluate(T0 + s, room.all())
        outcome.notifications += step.notifications
        outcome.states.update(step.states)
    assert len(outcome.notifications) == 1
    second = config(ONE_ROUTE)
    second.restore(outcome.states)  # what the room holds
    room.fire("latency_high", T0 + 50)
    messages = run(second, room, T0 + 40, T0 + 400)
    assert [(m.reason, firing(m)) for m in messages] == [("update", ["high_error_rate", "latency_high"])]
    assert messages[0].id.endswith("-2")


def test_no_repeat_queued_behind_an_undelivered_message() -> None:
    notifier, room = config(ONE_ROUTE), Room()
    room.fire("high_error_rate", T0)
    assert sent(notifier.evaluate(T0, room.all())) == []
    ((group, _),) = notifier.evaluate(T0 + 30, room.all()).notifications
    assert sent(notifier.evaluate(T0 + 930, room.all(), {group})) == []
    assert sent(notifier.evaluate(T0 + 1000, room.all())) == []  # the repeat clock started again at +930
    assert [m.reason for m in sent(notifier.evaluate(T0 + 1830, room.all()))] == ["repeat"]


def test_sla_breaches_are_routed_by_their_labels() -> None:
    notifier = config("""
[[notify.routes]]
receiver = "lead_phone"
match = "name=sla_breach priority=urgent"

[[notify.routes]]
receiver = "ops"
match = "severity=critical"
""")
    messages = notifier.breaches(
        T0,
        [
            Breach("T-4101", "respond", T0 - 5, "urgent", "reward not received", "rewards"),
            Breach("T-4102", "respond", T0 - 5, "high"),
        ],
    )
    (message,) = messages
    assert (message.receiver, message.kind, message.id) == ("lead_phone", "sla", "sla-T-4101-respond-lead_phone")
    assert message.title == "[SLA] Spring Drop: T-4101 missed its first response target (urgent)"
    assert message.text.splitlines()[1] == "T-4101: reward not received"


@pytest.mark.parametrize(
    "notify, problem",
    [
        ('[[notify.routes]]\nreceiver = "pager"\n', "notify.routes[0].receiver: unknown receiver 'pager'"),
        (
            '[[notify.routes]]\nreceiver = "ops"\nmatch = "name=checkout_down"\n',
            "notify.routes[0].match: no alert rule is named 'checkout_down'",
        ),
        (
            '[[notify.routes]]\nreceiver = "ops"\nescalate = [{ after = "5m", receiver = "cto" }]\n',
            "notify.routes[0].escalate[0].receiver: unknown receiver 'cto'",
        ),
        (
            '[[notify.inhibit]]\nsource = "high_error_rate"\ntarget = ["conversion_drop"]\n',
            "notify.inhibit[0].target: no alert rule is named 'conversion_drop'",
        ),
        ('[[notify.receivers]]\nname = "x"\nkind = "dingtalk"\n', "notify.receivers[3]: a dingtalk receiver needs url"),
        (
            '[[notify.receivers]]\nname = "x"\nkind = "slack"\nurl = "https://h/s"\nsecret = "s"\n',
            "notify.receivers[3]: secret is not a setting of a slack receiver (only of feishu, dingtalk)",
        ),
        (
            '[[notify.routes]]\nreceiver = "ops"\nmatch = "severity="\n',
            "notify.routes[0].match: a silence needs a matcher",
        ),
    ],
)
def test_config_problems_name_the_line_and_the_field(notify: str, problem: str) -> None:
    from warroom.config import ConfigError

    with pytest.raises(ConfigError) as error:
        config(notify)
    (line,) = [p for p in error.value.problems if "notify" in p]
    where, _, message = line.partition(" ")
    assert message.startswith(problem), line
    assert int(where.split(":")[1]) > rules_text().count("\n")  # a line inside the [notify] part
