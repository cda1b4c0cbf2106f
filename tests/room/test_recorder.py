"""The recorder in-process, its ticks driven by hand on a fixed clock: what it writes to the
room, what it takes from operators' commands, and what a recorder that takes over restores.
Every test runs on a SQLite room and on a PostgreSQL one (the `backend` fixture)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.room.conftest import Backend
from tests.room.helpers import LAUNCH, Clock, write_config
from warroom import snapshot
from warroom.commands import AckAlert, AddSilence, EndSilence, SetLaunch
from warroom.recorder import Recorder
from warroom.sources import SourceState


@pytest.fixture
def clock() -> Clock:
    return Clock(LAUNCH - 60)


@dataclass
class Room:
    directory: Path
    backend: Backend


@pytest.fixture
def room_dir(tmp_path: Path, backend: Backend) -> Room:
    return Room(tmp_path, backend)


def open_recorder(room: Room, clock: Clock, operator: str = "ana") -> Recorder:
    recorder = Recorder(write_config(room.directory, room=room.backend.config()), operator, clock=clock)
    recorder.open()
    return recorder


@pytest.fixture
def recorder(room_dir: Room, clock: Clock):
    recorder = open_recorder(room_dir, clock)
    yield recorder
    recorder.close()


@pytest.fixture
def store(room_dir: Room, recorder: Recorder):
    """Another connection to the room, as another operator's process would have."""
    with room_dir.backend.open() as other:
        yield other


def feed(recorder: Recorder, records: list[dict]) -> None:
    recorder.engine.pipeline.ingest("web", records, recorder.clock())


def firing(recorder: Recorder):
    (view,) = [v for v in recorder.alerts.alerts(recorder.clock()) if v.state == "firing"]
    return view


def tick(recorder: Recorder, at: float | None = None) -> None:
    """One tick, written."""
    recorder.tick(recorder.clock() if at is None else at).result(timeout=10)


def test_transitions_are_logged_with_the_screen_value(recorder, store):
    feed(recorder, [{"status": 200}] * 90 + [{"status": 503}] * 10)
    tick(recorder)
    assert [e.text for e in store.log_entries(kinds=["alert"])] == ["high_error_rate firing (value 10.0%)"]
    (state,) = [s for s in store.alert_states() if s.rule == "high_error_rate"]
    assert state.state == "firing" and state.episode == 1 and state.value_text == "10.0%"


def test_the_snapshot_carries_what_the_panels_show(recorder, store, clock):
    feed(recorder, [{"status": 200, "ts": clock.now - 5}] * 90 + [{"status": 503, "ts": clock.now - 5}] * 10)
    tick(recorder)
    recorder.publish(clock.now).result(timeout=10)
    seq, at, body = store.snapshot()
    shown = snapshot.decode(body)
    assert at == clock.now and shown.seq >= 1
    assert shown.metrics["requests"].value == 100 and shown.metrics["error_rate"].value == pytest.approx(0.1)
    assert shown.chart is not None and shown.chart.metric == "requests" and shown.chart.peak == 100
    assert [a.name for a in shown.alerts if a.state == "firing"] == ["high_error_rate"]
    assert [s.name for s in shown.sources] == ["web", "desk"]
    assert shown.recorder is not None and shown.recorder.operator == "ana"


def test_t0_is_logged_once_across_recorders(room_dir, clock, recorder, store):
    tick(recorder)
    assert store.log_entries(kinds=["launch"]) == []
    for step in range(3):
        clock.now = LAUNCH + step
        tick(recorder)
    recorder.close()
    again = open_recorder(room_dir, clock, "ben")
    try:
        clock.now += 1
        tick(again)
    finally:
        again.close()
    (entry,) = store.log_entries(kinds=["launch"])
    assert entry.ts == LAUNCH and "Winter sale is live" in entry.text


def test_a_launch_set_by_an_operator_is_adopted(recorder, store, clock):
    store.apply(SetLaunch(operator="ben", launch_at=LAUNCH - 30))
    recorder.follow_room()
    assert recorder.engine.launch_at == LAUNCH - 30


def test_source_going_stale_and_coming_back_is_logged_once(room_dir, recorder, store, clock):
    health = recorder.engine.sources[0].health
    health.note_records(1, clock.now)
    tick(recorder)
    clock.now += 31
    recorder.engine.tick()  # marks the source stale, then ticks the recorder
    assert health.state == SourceState.STALE
    recorder.tick(clock.now).result(timeout=10)
    health.note_records(1, clock.now)
    tick(recorder)
    texts = [e.text for e in store.log_entries(kinds=["source"])]
    assert texts == ["source web is stale: no record for 31s", "source web is live again"]


def test_ticket_records_are_upserted_and_bad_ones_counted(recorder, store, clock):
    recorder.engine.pipeline.ingest(
        "desk",
        [
            {"kind": "ticket", "id": "T1", "subject": "reward not received", "priority": "high"},
            {"kind": "ticket", "id": "T1", "subject": "reward not received", "status": "open"},
            {"kind": "ticket", "subject": "no id"},
            {"kind": "ticket", "id": "T2", "priority": "whenever"},
            {"kind": "ticket", "id": "T3", "subject": "x" * 100_000},
        ],
        clock.now,
    )
    tick(recorder)  # writes are in order: the tickets are saved before the tick
    tickets = {t.id: t for t in store.tickets()}
    assert set(tickets) == {"T1", "T3"}
    assert tickets["T1"].status == "open" and tickets["T1"].priority == "high"
    assert len(tickets["T3"].subject) <= 500
    assert recorder.rejected_tickets == 2


def test_queue_figures_become_metrics_for_rules(recorder, store, clock):
    store.create_ticket("page error", "ana", priority="urgent", at=clock.now - 3600)
    tick(recorder)  # the SLA sweep marks the breach; its figures arrive for the next tick
    clock.now += 1
    tick(recorder)
    assert recorder.engine.metrics.value("open_tickets") == 1
    assert recorder.engine.metrics.value("sla_breaches") == 1
    assert recorder.alerts.state("breaches") == "firing"


def test_metric_history_is_written_on_the_interval(recorder, store, clock):
    feed(recorder, [{"status": 200}] * 4)
    start = clock.now
    for step in range(25):
        clock.now = start + step
        tick(recorder)
    points = store.metric_history("requests")
    assert [value for _, value in points] == [4.0, 4.0, 4.0]
    assert all(ts % 10 == 0 for ts, _ in points)


def test_a_held_write_lock_delays_the_tick_and_loses_nothing(room_dir, recorder, store, clock):
    feed(recorder, [{"status": 503}] * 10)
    with room_dir.backend.write_lock_held():  # another process's long write
        pending = recorder.tick(clock.now)
        time.sleep(0.5)
        assert not pending.done()
        assert recorder.door.status().waiting >= 1
    pending.result(timeout=15)
    assert [e.text for e in store.log_entries(kinds=["alert"])] == ["high_error_rate firing (value 100%)"]


def test_acks_silences_and_episodes_come_from_the_room(recorder, store, clock):
    feed(recorder, [{"status": 503}] * 10)
    tick(recorder)
    store.apply(AckAlert(operator="ana", rule="high_error_rate", note="on it", at=clock.now))
    with pytest.raises(ValueError, match="already acknowledged by ana"):
        store.apply(AckAlert(operator="ben", rule="high_error_rate", note="me too"))
    recorder.follow_room()
    view = firing(recorder)
    assert view.ack is not None and view.ack.operator == "ana" and view.ack.note == "on it"

    silence = AddSilence(
        operator="ben",
        silence_id="s1",
        matchers=(("name", "high_*"),),
        until=clock.now + 600,
        comment="provider failing over",
        at=clock.now,
    )
    store.apply(silence)
    recorder.follow_room()
    clock.now += 1
    tick(recorder)
    store.apply(EndSilence(operator="ana", silence_id="s1", at=clock.now))
    recorder.follow_room()
    clock.now += 1
    tick(recorder)
    events = [(e.event, e.operator) for e in store.alert_events() if e.rule == "high_error_rate"]
    assert events == [("firing", None), ("acked", "ana"), ("silenced", "ben"), ("unsilenced", "ana")]

    # The alert resolves; the next episode does not inherit the old acknowledgement.
    feed(recorder, [{"status": 200}] * 10_000)
    clock.now += 1
    tick(recorder)
    assert recorder.alerts.state("high_error_rate") == "resolved"
    with pytest.raises(ValueError, match="resolved; only an active alert"):
        store.apply(AckAlert(operator="ben", rule="high_error_rate"))


def test_a_recorder_that_takes_over_carries_on(room_dir, recorder, store, clock):
    clock.now = LAUNCH + 60
    for step in range(0, 120, 10):
        clock.now += 10
        feed(recorder, [{"status": 200, "ts": clock.now}] * 3 + [{"status": 503, "ts": clock.now}] * (step % 20 == 0))
        tick(recorder)
    store.apply(AckAlert(operator="ana", rule="high_error_rate", note="on it"))
    recorder.follow_room()
    metrics = recorder.engine.metrics
    before = tuple(metrics.value(n) for n in ("requests", "errors", "error_rate"))
    window_before = (metrics.window_sum("requests", 600), metrics.rate("errors", 120))
    states_before = {s.rule: s for s in recorder.alerts.rule_states()}
    recorder.close()

    again = open_recorder(room_dir, clock, "ben")
    try:
        metrics = again.engine.metrics
        assert tuple(metrics.value(n) for n in ("requests", "errors", "error_rate")) == before
        assert (metrics.window_sum("requests", 600), metrics.rate("errors", 120)) == window_before
        assert {s.rule: s for s in again.alerts.rule_states()} == states_before
        view = firing(again)
        assert view.ack is not None and view.ack.operator == "ana"
        clock.now += 1
        tick(again)
    finally:
        again.close()
    fired = [e for e in store.alert_events() if e.event == "firing"]
    assert len(fired) == 1  # the new recorder did not fire the same episode again
    handover = [e.text for e in store.log_entries(kinds=["room"])]
    host = again.session.host
    assert handover == [f"recorder: ana@{host} records the room", f"recorder: ben@{host} records the room"]
