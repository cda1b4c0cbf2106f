"""The recorder: what happens live ends up in the shared room store, and store failures are
shown without stopping the dashboard. Real engine, real store file, injected clock."""

import sqlite3

import pytest

from warroom.config import parse_config
from warroom.room import open_room
from warroom.sources import SourceState
from warroom.store import RoomStore

LAUNCH = 1_795_600_800.0  # 2026-11-25T10:00:00Z

CONFIG = """
[launch]
name = "Winter sale"
at = 2026-11-25T10:00:00+00:00

[room]
db = "{db}"
history_interval = "10s"

[[sources]]
name = "web"
kind = "file"
path = "/nonexistent/room-test/access.log"
stale_after = "30s"

[[sources]]
name = "desk"
kind = "websocket"
url = "ws://127.0.0.1:9/desk"

[[metrics]]
name = "errors"
source = "web"
where = {{ status = {{ gte = 500 }} }}

[[metrics]]
name = "requests"
source = "web"

[[ratios]]
name = "error_rate"
numerator = "errors"
denominator = "requests"

[[alerts]]
name = "high_error_rate"
expr = "error_rate > 5%"
severity = "critical"

[[alerts]]
name = "breaches"
expr = "sla_breaches > 0"

[tickets]
source = "desk"
where = {{ kind = "ticket" }}
"""


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def room(tmp_path):
    clock = Clock(LAUNCH - 60)
    config = parse_config(CONFIG.format(db=tmp_path / "room.db"), tmp_path / "room.toml")
    room = open_room(config, "ana", clock=clock)
    room.clock = clock
    yield room
    room.close()


def feed(room, records):
    room.engine.pipeline.ingest("web", records, room.clock.now)


def test_alert_transitions_are_logged_with_the_screen_value(room):
    feed(room, [{"status": 200}] * 90 + [{"status": 503}] * 10)
    room.recorder.tick(room.clock.now)
    texts = [e.text for e in room.store.log_entries(kinds=["alert"])]
    assert texts == ["high_error_rate firing (value 10.0%)"]


def test_t0_is_logged_once(room):
    room.recorder.tick(room.clock.now)
    assert room.store.log_entries(kinds=["launch"]) == []
    for step in range(3):
        room.clock.now = LAUNCH + step
        room.recorder.tick(room.clock.now)
    (entry,) = room.store.log_entries(kinds=["launch"])
    assert entry.ts == LAUNCH and "Winter sale is live" in entry.text


def test_a_launch_set_by_another_operator_is_adopted(room, tmp_path):
    with RoomStore(tmp_path / "room.db") as other:
        other.set_launch(LAUNCH - 30, "ben")
    room.recorder.tick(room.clock.now)
    assert room.engine.launch_at == LAUNCH - 30


def test_source_going_stale_and_coming_back_is_logged(room):
    health = room.engine.sources[0].health
    health.note_records(1, room.clock.now)
    room.clock.now += 31
    room.engine.tick()
    assert health.state == SourceState.STALE
    health.note_records(1, room.clock.now)
    room.engine.tick()
    texts = [e.text for e in room.store.log_entries(kinds=["source"])]
    assert texts == ["source web is stale: no record for 31s", "source web is live again"]


def test_ticket_records_are_upserted_and_bad_ones_counted(room):
    room.engine.pipeline.ingest("desk", [
        {"kind": "ticket", "id": "T1", "subject": "reward not received", "priority": "high"},
        {"kind": "ticket", "id": "T1", "subject": "reward not received", "status": "open"},
        {"kind": "ticket", "subject": "no id"},
        {"kind": "ticket", "id": "T2", "priority": "whenever"},
        {"kind": "ticket", "id": "T3", "subject": "x" * 100_000},
    ], room.clock.now)
    tickets = {t.id: t for t in room.store.tickets()}
    assert set(tickets) == {"T1", "T3"}
    assert tickets["T1"].status == "open" and tickets["T1"].priority == "high"
    assert len(tickets["T3"].subject) <= 500
    assert room.recorder.rejected_tickets == 2


def test_queue_figures_become_metrics_for_rules(room):
    room.store.create_ticket("page error", "ana", priority="urgent", at=room.clock.now - 3600)
    room.recorder.tick(room.clock.now)
    assert room.engine.metrics.value("open_tickets") == 1
    assert room.engine.metrics.value("sla_breaches") == 1
    assert room.alerts.state("breaches") == "firing"


def test_metric_history_is_written_on_the_interval(room):
    feed(room, [{"status": 200}] * 4)
    for step in range(25):
        room.recorder.tick(room.clock.now + step)
    points = room.store.metric_history("requests")
    assert [value for _, value in points] == [4.0, 4.0, 4.0]
    assert all(ts % 10 == 0 for ts, _ in points)


def test_a_failing_store_is_shown_and_the_next_tick_recovers(room, tmp_path):
    db = sqlite3.connect(tmp_path / "room.db")
    db.execute("CREATE TRIGGER full BEFORE INSERT ON log BEGIN SELECT RAISE(ABORT, 'disk is full'); END")
    db.commit()
    feed(room, [{"status": 503}] * 10)
    room.recorder.tick(room.clock.now)  # the firing transition cannot be written
    assert "disk is full" in room.recorder.store_error
    assert room.recorder.store_failures >= 1
    db.execute("DROP TRIGGER full")
    db.commit()
    db.close()
    room.clock.now += 1
    room.recorder.tick(room.clock.now)
    assert room.recorder.store_error is None


def test_a_restarted_warroom_shows_the_history_it_missed(room, tmp_path):
    for step in range(0, 120, 10):
        room.clock.now += 10
        feed(room, [{"status": 200}] * 3 + [{"status": 503}] * (step % 20 == 0))
        room.recorder.tick(room.clock.now)
    before = tuple(room.engine.metrics.value(n) for n in ("requests", "errors", "error_rate"))
    window_before = room.engine.metrics.window_sum("requests", 600)
    room.close()
    again = open_room(room.config, "ana", clock=room.clock)
    try:
        metrics = again.engine.metrics
        assert tuple(metrics.value(n) for n in ("requests", "errors", "error_rate")) == before
        assert metrics.window_sum("requests", 600) == window_before
    finally:
        again.close()


def test_two_operators_share_alerts_and_log_each_change_once(room, tmp_path):
    """Ana's and Ben's warrooms on one database: each change logged once, acks and silences
    made by one are taken on by the other."""
    ben = open_room(room.config, "ben", clock=room.clock)
    try:
        room.clock.now = LAUNCH + 10
        for each in (room, ben):
            each.engine.pipeline.ingest("web", [{"status": 200}] * 90 + [{"status": 503}] * 10, room.clock.now)
        room.recorder.tick(room.clock.now)
        ben.recorder.tick(room.clock.now + 0.3)
        firing = [e for e in room.store.alert_events() if e.event == "firing"]
        assert len(firing) == 1

        room.alerts.ack("high_error_rate", "ana", "on it")
        room.clock.now += 1
        room.recorder.tick(room.clock.now)
        ben.recorder.tick(room.clock.now)
        (view,) = [v for v in ben.alerts.alerts(room.clock.now) if v.name == "high_error_rate"]
        assert view.ack is not None and view.ack.operator == "ana" and view.ack.note == "on it"

        silence = ben.alerts.silence("name=high_error_rate", 600, "provider is failing over", "ben")
        room.clock.now += 1
        ben.recorder.tick(room.clock.now)
        room.recorder.tick(room.clock.now)
        (view,) = [v for v in room.alerts.alerts(room.clock.now) if v.name == "high_error_rate"]
        assert view.silence is not None and view.silence.comment == "provider is failing over"

        room.alerts.unsilence(silence.id, "ana")
        room.clock.now += 1
        room.recorder.tick(room.clock.now)
        ben.recorder.tick(room.clock.now)
        assert ben.alerts.silences() == []
        events = [(e.event, e.operator) for e in room.store.alert_events() if e.rule == "high_error_rate"]
        assert events == [("firing", None), ("acked", "ana"), ("silenced", "ben"), ("unsilenced", "ana")]

        for each in (room, ben):
            health = each.engine.sources[0].health
            health.note_records(1, room.clock.now)
        room.clock.now += 40
        room.engine.tick()
        ben.engine.tick()
        assert [e.text for e in room.store.log_entries(kinds=["source"])] == [
            "source web is stale: no record for 40s"]
    finally:
        ben.close()
