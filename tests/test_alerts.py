"""The alert lifecycle with an injected clock and a real MetricsStore."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from warroom.alerts import (
    FIRING,
    INACTIVE,
    NODATA,
    PENDING,
    RESOLVED,
    AlertEngine,
    format_value,
    parse_matcher,
)
from warroom.config import AlertRuleConfig, MetricConfig, RatioConfig, parse_config
from warroom.metrics import MetricsStore

T0 = 1_000_000.0


class Room:
    """A store, an engine and one clock shared by both."""

    def __init__(self, *rules: AlertRuleConfig, stale: set[str] | None = None, **engine_args) -> None:
        self.now = [T0]
        clock = lambda: self.now[0]  # noqa: E731
        self.store = MetricsStore(
            [
                MetricConfig(name="latency_ms", kind="last", field="ms", unit="ms"),
                MetricConfig(name="orders"),
                MetricConfig(name="visits"),
                MetricConfig(name="quiet"),
            ],
            [RatioConfig(name="conversion", numerator="orders", denominator="visits", window=60)],
            clock=clock,
        )
        self.stale = stale if stale is not None else set()
        self.engine = AlertEngine(
            list(rules), self.store, clock=clock, stale=lambda name: name in self.stale, **engine_args
        )

    def latency(self, value: float) -> None:
        self.store.add("latency_ms", self.now[0], value, 1)

    def tick(self, seconds: float = 1.0):
        self.now[0] += seconds
        return self.engine.evaluate()

    def events(self, transitions) -> list[tuple[str, str]]:
        return [(t.rule, t.event) for t in transitions]


def rule(name: str = "slow", expr: str = "latency_ms > 800", **kwargs) -> AlertRuleConfig:
    return AlertRuleConfig(name=name, expr=expr, **kwargs)


# --------------------------------------------------------------------------- lifecycle


def test_pending_then_firing_after_for():
    room = Room(rule(for_=30, severity="critical", summary="latency {value}"))
    room.latency(900)
    first = room.tick()
    assert [(t.from_state, t.to_state, t.event, t.value) for t in first] == [(INACTIVE, PENDING, PENDING, 900)]
    for _ in range(29):
        room.latency(900)
        assert room.tick() == []
    room.latency(950)
    fired = room.tick()
    assert [(t.from_state, t.to_state, t.value, t.severity) for t in fired] == [(PENDING, FIRING, 950, "critical")]
    assert fired[0].ts == T0 + 31
    view = room.engine.alerts()[0]
    assert (view.state, view.since, view.summary, view.value_text) == (FIRING, 0.0, "latency 950 ms", "950 ms")
    room.now[0] += 12
    assert room.engine.alerts()[0].since == 12


def test_for_zero_fires_at_once():
    room = Room(rule())
    room.latency(900)
    assert [(t.from_state, t.to_state) for t in room.tick()] == [(INACTIVE, FIRING)]


def test_pending_that_clears_goes_back_to_inactive():
    room = Room(rule(for_=60))
    room.latency(900)
    room.tick()
    room.latency(100)
    assert [(t.from_state, t.to_state) for t in room.tick()] == [(PENDING, INACTIVE)]
    room.latency(900)
    room.tick()
    for _ in range(59):
        assert room.tick() == []  # `for` counts again from the new pending
    assert room.engine.state("slow") == PENDING
    assert [t.to_state for t in room.tick()] == [FIRING]


def test_no_flapping_inside_keep_firing_for_then_resolve():
    room = Room(rule(keep_firing_for=60), resolved_for=120)
    room.latency(900)
    assert [t.to_state for t in room.tick()] == [FIRING]
    room.latency(100)
    for _ in range(30):
        assert room.tick() == []
    room.latency(900)  # the condition comes back: still the same firing alert
    assert room.tick() == []
    room.latency(100)
    for _ in range(60):  # clear from the first of these ticks; 59 s later still firing
        assert room.tick() == []
    assert room.engine.state("slow") == FIRING
    resolved = room.tick()
    assert [(t.from_state, t.to_state, t.value) for t in resolved] == [(FIRING, RESOLVED, 100)]
    assert room.engine.alerts()[0].state == RESOLVED
    for _ in range(119):
        assert room.tick() == []
    assert room.engine.state("slow") == RESOLVED
    assert room.tick() == []  # resolved -> inactive is a display expiry, not reported
    assert room.engine.state("slow") == INACTIVE
    assert room.engine.alerts() == []


def test_resolved_alert_that_returns_goes_pending_again():
    room = Room(rule(for_=10))
    room.latency(900)
    room.tick(), room.tick(10)
    room.latency(100)
    assert [t.to_state for t in room.tick()] == [RESOLVED]
    room.latency(900)
    assert [(t.from_state, t.to_state) for t in room.tick()] == [(RESOLVED, PENDING)]


# --------------------------------------------------------------------------- ack


def test_ack_and_its_clearing_on_resolve():
    room = Room(rule())
    with pytest.raises(ValueError, match="only an active alert"):
        room.engine.ack("slow", "ana")
    with pytest.raises(ValueError, match="no alert rule"):
        room.engine.ack("nope", "ana")
    room.latency(900)
    room.tick()
    room.now[0] += 0.5
    with pytest.raises(ValueError, match="operator"):
        room.engine.ack("slow", "  ")
    acked = room.engine.ack("slow", "ana", "looking at the db")
    assert (acked.event, acked.operator, acked.note, acked.from_state, acked.to_state, acked.value) == (
        "acked",
        "ana",
        "looking at the db",
        FIRING,
        FIRING,
        900,
    )
    view = room.engine.alerts()[0]
    assert view.ack.operator == "ana" and view.ack.at == T0 + 1.5 and view.ack.note == "looking at the db"
    assert room.engine.history(1) == [acked]
    room.latency(900)
    assert room.events(room.tick()) == [("slow", "acked")]  # handed to the caller on the next tick
    room.latency(100)
    assert [t.to_state for t in room.tick()] == [RESOLVED]
    assert room.engine.alerts()[0].ack is None
    room.latency(900)
    room.tick()
    assert room.engine.alerts()[0].ack is None  # a new episode is not acknowledged


# --------------------------------------------------------------------------- silence


def test_silence_matchers_comment_and_expiry():
    room = Room(
        rule("slow", severity="warning"),
        rule("slow_critical", "latency_ms > 2000", severity="critical", labels={"team": "web"}),
        rule("no_orders", "per_min(orders, 1m) < 1", severity="critical", labels={"team": "shop"}),
    )
    engine = room.engine
    with pytest.raises(ValueError, match="comment"):
        engine.silence("severity=warning", 600, "  ", "ana")
    with pytest.raises(ValueError, match="matches no alert rule"):
        engine.silence("name=fast_*", 600, "typo", "ana")
    with pytest.raises(ValueError, match="positive duration"):
        engine.silence("slow", 0, "why", "ana")
    silence = engine.silence("name=slow*, team=web", 600, "db failover planned", "ana")
    assert silence.until == T0 + 600
    history = engine.history()
    assert [(t.rule, t.event, t.operator, t.note) for t in history] == [
        ("slow_critical", "silenced", "ana", "db failover planned")
    ]
    room.store.add("orders", T0 - 120, 1, 1)
    room.latency(3000)
    tick = room.tick()
    assert room.events(tick) == [
        ("slow_critical", "silenced"),
        ("slow", "firing"),
        ("slow_critical", "firing"),
        ("no_orders", "firing"),
    ]
    assert [t.rule for t in engine.newly_firing_critical(tick)] == ["no_orders"]
    assert [(v.name, v.silence is not None) for v in engine.alerts()] == [
        ("no_orders", False),
        ("slow", False),
        ("slow_critical", True),
    ]
    room.latency(3000)
    for _ in range(598):
        assert room.tick() == []
    room.latency(3000)
    expired = room.tick()  # T0 + 600
    assert [(t.rule, t.event, t.note, t.to_state) for t in expired] == [
        ("slow_critical", "unsilenced", "silence expired", FIRING)
    ]
    assert engine.silences() == []
    assert all(v.silence is None for v in engine.alerts())


def test_unsilence_by_id_and_overlapping_silences():
    room = Room(rule("slow", severity="warning"), rule("slower", "latency_ms > 900", severity="warning"))
    engine = room.engine
    first = engine.silence("slow*", 3600, "noisy", "ana")
    second = engine.silence({"name": "slow", "severity": "warn*"}, 3600, "also", "bo")
    room.latency(100)
    assert [(t.rule, t.event) for t in reversed(engine.history())] == [("slow", "silenced"), ("slower", "silenced")]
    assert engine.unsilence(first.id, "bo") == [engine.history(1)[0]]  # slow is still covered by the second silence
    assert engine.history(1)[0].rule == "slower" and engine.history(1)[0].event == "unsilenced"
    assert [t.rule for t in engine.unsilence(second.id, "bo")] == ["slow"]
    with pytest.raises(ValueError, match="no active silence"):
        engine.unsilence(second.id, "bo")
    assert room.events(room.tick()) == [
        ("slow", "silenced"),
        ("slower", "silenced"),
        ("slower", "unsilenced"),
        ("slow", "unsilenced"),
    ]


def test_parse_matcher():
    assert parse_matcher("high_errors") == (("name", "high_errors"),)
    assert parse_matcher("severity=warning, name=high_*") == (("severity", "warning"), ("name", "high_*"))
    for bad in ("", " , ", "name=", "=x"):
        with pytest.raises(ValueError):
            parse_matcher(bad)


# --------------------------------------------------------------------------- no data


def test_stale_source_shows_no_data_and_never_fires():
    room = Room(rule(for_=5), stale={"latency_ms"})
    room.latency(900)
    tick = room.tick()
    assert [(t.from_state, t.to_state, t.event) for t in tick] == [(INACTIVE, NODATA, NODATA)]
    view = room.engine.alerts()[0]
    assert view.state == NODATA and view.no_data and view.value is None and view.value_text == "-"
    for _ in range(30):
        room.latency(900)
        assert room.tick() == []
    room.stale.clear()
    assert [(t.from_state, t.to_state) for t in room.tick()] == [(NODATA, PENDING)]


def test_pending_restarts_after_no_data():
    room = Room(rule(for_=10))
    room.latency(900)
    room.tick(), room.tick(5)
    room.stale.add("latency_ms")
    assert [(t.from_state, t.to_state) for t in room.tick()] == [(PENDING, NODATA)]
    room.stale.clear()
    assert [(t.from_state, t.to_state) for t in room.tick()] == [(NODATA, PENDING)]
    assert room.tick(9) == []
    assert [t.to_state for t in room.tick()] == [FIRING]


def test_firing_alert_is_not_resolved_by_missing_data():
    room = Room(rule(keep_firing_for=10))
    room.latency(900)
    room.tick()
    room.latency(100)
    room.tick(5)  # clear for 0 of 10 s
    room.stale.add("latency_ms")
    tick = room.tick(60)
    assert [(t.from_state, t.to_state, t.event, t.value) for t in tick] == [(FIRING, FIRING, NODATA, None)]
    assert room.tick() == []  # reported once
    view = room.engine.alerts()[0]
    assert view.state == FIRING and view.no_data
    room.stale.clear()
    assert room.tick() == []  # clear again, but keep_firing_for counts from now
    assert not room.engine.alerts()[0].no_data
    assert room.tick(9) == []
    assert [t.to_state for t in room.tick()] == [RESOLVED]


def test_missing_metric_is_no_data():
    room = Room(rule("stalled", "per_min(quiet, 1m) < 1 or quiet > 5"))
    assert [t.to_state for t in room.tick()] == [NODATA]


def test_division_by_zero_does_not_fire():
    room = Room(rule("low_conversion", "conversion < 5%"), rule("per_visit", "orders / visits < 0.05"))
    room.store.add("orders", T0 - 10, 0, 1)
    room.store.add("visits", T0 - 10, 0, 1)
    assert [(t.rule, t.to_state) for t in room.tick()] == [("low_conversion", NODATA), ("per_visit", NODATA)]
    room.store.add("orders", T0 - 5, 1, 1)
    room.store.add("visits", T0 - 5, 100, 100)
    assert [(t.rule, t.to_state) for t in room.tick()] == [("low_conversion", FIRING), ("per_visit", FIRING)]
    view = room.engine.alerts()[0]
    assert view.value_text == "1.0%"


def test_absent_fires_when_the_source_goes_stale():
    room = Room(
        rule("orders_feed", "absent(orders, 5m)", severity="critical", summary="no orders for {value}"),
        stale={"orders"},
    )
    room.store.add("orders", T0, 1, 1)
    assert room.tick() == []
    room.now[0] += 297
    assert room.tick() == []  # 299 s without a point
    fired = room.tick()
    assert [(t.to_state, t.value) for t in fired] == [(FIRING, 300)]
    assert room.engine.alerts()[0].summary == "no orders for 5m00s"


def test_a_rule_that_raises_shows_no_data_and_the_others_run(monkeypatch):
    room = Room(rule("broken", "sum(orders, 1m) > 0"), rule())

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(room.store, "window_sum", boom)
    room.engine = AlertEngine([rule("broken", "sum(orders, 1m) > 0"), rule()], room.store, clock=lambda: room.now[0])
    room.latency(900)
    assert [(t.rule, t.to_state) for t in room.tick()] == [("broken", NODATA), ("slow", FIRING)]


# --------------------------------------------------------------------------- building


def test_unknown_metric_and_bad_expression_are_config_errors():
    with pytest.raises(ValueError) as caught:
        Room(rule("a", "visitors > 1 and rate(clicks, 1m) > 0"), rule("b", "orders > 1"))
    message = str(caught.value)
    assert "alert rule 'a'" in message and "'clicks', 'visitors'" in message and "known:" in message
    bad = AlertRuleConfig.model_construct(
        name="c", expr="orders >", for_=0.0, keep_firing_for=0.0, severity="info", summary="", labels={}, runbook=""
    )
    with pytest.raises(ValueError, match="alert rule 'c': expected a number.* column 9"):
        Room(bad)
    with pytest.raises(ValueError, match="duplicate"):
        Room(rule(), rule())


def test_config_rejects_a_bad_expression_with_its_position():
    with pytest.raises(ValidationError, match="unknown function 'rat'.*column 1"):
        AlertRuleConfig(name="x", expr="rat(visits, 1m) > 5")
    text = '[[metrics]]\nname = "orders"\n\n[[alerts]]\nname = "a"\nexpr = "orders > 1 and"\n'
    from warroom.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems[0].startswith("config.toml:6 alerts[0].expr: expected a number")
    assert "column 15" in caught.value.problems[0]


# --------------------------------------------------------------------------- the panel's view


def test_alerts_sorted_for_the_panel():
    room = Room(
        rule("info_firing", "latency_ms > 1", severity="info"),
        rule("warn_firing", "latency_ms > 1", severity="warning"),
        rule("crit_firing", "latency_ms > 1", severity="critical"),
        rule("crit_pending", "latency_ms > 1", severity="critical", for_=60),
        rule("acked", "latency_ms > 1", severity="critical"),
        rule("silenced", "latency_ms > 1", severity="critical"),
        rule("nodata", "quiet > 1", severity="critical"),
        rule("idle", "latency_ms > 1e6"),
    )
    room.latency(900)
    room.tick()
    room.engine.ack("acked", "ana")
    room.engine.silence("silenced", 60, "known", "ana")
    names = [v.name for v in room.engine.alerts()]
    assert names == ["crit_firing", "warn_firing", "info_firing", "crit_pending", "nodata", "acked", "silenced"]
    assert "idle" in [v.name for v in room.engine.alerts(include_inactive=True)]


def test_bell_rings_once_per_alert():
    room = Room(
        rule("down", "latency_ms > 800", severity="critical", keep_firing_for=5),
        rule("warn", "latency_ms > 800", severity="warning"),
    )
    rings = []
    for second in range(60):
        room.latency(900 if second < 20 or second > 40 else 100)
        rings += [(second, t.rule) for t in room.engine.newly_firing_critical(room.tick())]
    assert rings == [(0, "down"), (41, "down")]


def test_history_is_bounded_and_newest_first():
    room = Room(rule(), history_size=10)
    for second in range(30):
        room.latency(900 if second % 2 else 100)
        room.tick()
    history = room.engine.history()
    assert len(history) == 10
    assert [t.ts for t in history] == sorted((t.ts for t in history), reverse=True)
    assert room.engine.history(3) == history[:3]
    assert room.engine.history(0) == []


def test_format_value():
    assert format_value(None) == "-"
    assert format_value(0.0734, "%") == "7.3%"
    assert format_value(12_345) == "12.3k"
    assert format_value(2_500_000) == "2.5M"
    assert format_value(42.0) == "42"
    assert format_value(3.14159) == "3.1"
    assert format_value(0.01234) == "0.0123"
    assert format_value(-0.5) == "-0.5"
    assert format_value(812.4, "ms") == "812 ms"
