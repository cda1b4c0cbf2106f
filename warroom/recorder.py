"""The room's recorder: the one process that reads the sources and computes what everyone sees.

Exactly one recorder runs per room, held by the room's lease (`warroom.lease`): it connects to
the sources, folds records into the metrics, evaluates the alert rules, sweeps the SLAs and
writes what it computes into the room, where every operator's dashboard reads it. Nothing a
dashboard does computes a figure, so two screens cannot disagree and restarting one changes
nothing.

What it writes, and when:

- several times a second, when something changed, the live `Snapshot` every panel renders
  (at most every `publish_interval`, and at least once a tick);
- once a tick (1 s), one transaction (`store.TickRecord`): alert transitions and the alert
  states they lead to, sources going down or coming back, the T0 entry, the metric
  checkpoint (running totals, touched per-second and per-minute buckets, history points,
  each source's read position and counters) and its heartbeat;
- ticket records from sources as they arrive, SLA breaches every SLA_CHECK_INTERVAL.

Operators act through the room (their commands are committed there), and the recorder takes
their effect from it: acknowledgements of the current episode, silences made and ended, a
launch time set. It hears of them through its door's change watch within a tenth of a
second.

A recorder that takes over from one that died restores all of the above from the room
first: the same totals and rings (the per-second history of the last hour), the same alert
states, episodes and `for` timers, the acks and silences, and for file sources the byte
offset the totals were counted to, so totals continue without a jump and nothing is logged
twice. Records folded after the last checkpoint by the recorder that died are read again
from the file; what a websocket or HTTP source delivered in that second is gone.

On stop (SIGTERM, SIGHUP, Ctrl-C) it writes a last tick and a last snapshot before it lets
the lease go; an export asks it to do the same first (`store.request_flush`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from warroom import snapshot as snap
from warroom.alerts import Ack, AlertEngine, RuleState, Silence, Transition
from warroom.config import Config, launch_time_utc
from warroom.door import Door
from warroom.engine import Engine
from warroom.location import RoomLocation
from warroom.metrics import MINUTES_KEPT, SECONDS_KEPT
from warroom.model import Record
from warroom.notify.service import RecorderNotifications
from warroom.sources import SourceState
from warroom.store import (
    ALERT_EVENTS,
    AlertEventRow,
    AlertStateRow,
    LeaseLost,
    RoomStore,
    Session,
    SourceChange,
    SourceRow,
    StoreError,
    TickRecord,
)
from warroom.tickets import validate_ticket_record

log = logging.getLogger(__name__)

SLA_CHECK_INTERVAL = 5.0  # seconds of recorder clock between SLA sweeps
PUBLISH_INTERVAL = 0.2  # seconds between two snapshots, at most
ONLINE_WITHIN = 15.0  # a dashboard not heard of for this long is not shown as online
PRUNE_EVERY = 60  # ticks between two prunes of the buckets the rings no longer hold
SOURCE_DOWN_STATES = (SourceState.STALE, SourceState.ERROR)


@dataclass
class RoomChanges:
    """What operators changed in the room since the recorder last looked."""

    launch_at: float | None = None
    launch_seen: bool = False
    acks: list[tuple[str, Ack, int | None]] = field(default_factory=list)
    silences: list[Silence] | None = None
    """The active silences, when they changed."""
    ended_by: dict[str, str] = field(default_factory=dict)
    last_ack_id: int = 0


@dataclass
class Restored:
    """What a recorder reads back from the room before it starts."""

    metric_states: dict[str, dict[str, Any]]
    buckets: list[tuple[str, int, int, float, int, float]]
    rule_states: list[RuleState]
    acks: list[tuple[str, Ack, int]]
    silences: list[Silence]
    sources: dict[str, SourceRow]
    launch_at: float | None
    last_ack_id: int
    recorders: list[Session]


class Recorder:
    """Records one room; see the module docstring. Build, `open()`, then `await run()`."""

    def __init__(
        self,
        config: Config,
        operator: str,
        *,
        clock: Callable[[], float] = time.time,
        tick_interval: float = 1.0,
        publish_interval: float = PUBLISH_INTERVAL,
    ) -> None:
        self.config = config
        self.operator = operator
        self.clock = clock
        self.tick_interval = tick_interval
        self.publish_interval = publish_interval
        self.location = RoomLocation.of(config)
        started = time.time()  # sessions are processes: wall time, whatever the room's clock
        self.session = Session(
            uuid.uuid4().hex, "recorder", operator, socket.gethostname(), os.getpid(), started, started
        )
        self.engine = Engine(config, clock=clock, tick_interval=tick_interval)
        self.alerts = AlertEngine(config.alerts, self.engine.metrics, clock=clock, stale=_stale_check(self.engine))
        self.door = Door(self.location, clock=clock, on_change=self._heard)
        self.fence = (os.getpid(), self.session.host) if self.location.is_postgres else None
        self.lease_lost: str | None = None
        """Why a write was refused because another recorder holds the room (stop at once)."""
        self.notifications = RecorderNotifications(config, self.door, self.session.id, clock=clock, fence=self.fence)
        """Notifications: the recorder is the only process that sends them (warroom.notify)."""
        self.rejected_tickets = 0
        self.future_ticket_times = 0
        """Ticket times from the far future, taken as the time the record arrived."""
        self.write_failures = 0
        self.last_error: str | None = None
        self.taken_over_from: list[Session] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._written_states: dict[str, RuleState] = {}
        self._source_down: dict[str, bool] = {}
        self._launch_logged: float | None = None
        self._last_ack_id = 0
        self._next_sla = 0.0
        self._next_history = 0.0
        self._ticks = 0
        self._seq = 0
        self._online: list[snap.Attendee] = []
        self._publish_due = asyncio.Event()
        self._last_publish = 0.0
        self._later: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        """Results of room reads waiting for the next tick, when there is no event loop."""
        self._flush_answered = 0
        self.engine.on_tick(self.tick)
        self.engine.on_tickets(self.record_tickets)
        self.engine.on_fold(self._publish_soon)

    # ------------------------------------------------------------------ start and stop

    def open(self) -> None:
        """Open the room, set it up from the config and restore what an earlier recorder
        left. Raises StoreError when the database cannot be used."""
        self.door.open()
        config = self.config
        try:
            self.door.write(lambda s: s.configure_launch(config.launch.name, launch_time_utc(config))).result()
            self.door.write(lambda s: s.sync_checklist(config.checklist)).result()
            restored = self.door.read(_read_restore(self.clock())).result()
            self._restore(restored)
            self.notifications.restore()
            text = _takeover_text(self.session, restored.recorders)
            at = self.clock()
            self.taken_over_from = self.door.write(lambda s: s.take_over_recording(self.session, text, at)).result()
        except BaseException:
            self.door.close()
            raise

    def _restore(self, saved: Restored) -> None:
        engine, now = self.engine, self.clock()
        if saved.launch_at is not None:
            engine.set_launch(saved.launch_at)
        engine.metrics.restore(saved.metric_states, saved.buckets)  # totals since launch included
        self.alerts.restore(saved.rule_states, saved.acks, saved.silences, now)
        self._written_states = {s.rule: s for s in saved.rule_states}
        self._last_ack_id = saved.last_ack_id
        for source in engine.sources:
            row = saved.sources.get(source.name)
            if row is None:
                continue
            self._source_down[source.name] = row.down
            if row.cursor is not None:
                source.resume(row.cursor)
            counters = row.counters or {}
            health = source.health
            health.records = int(counters.get("records", 0))
            health.bad_records = int(counters.get("bad", 0))
            health.reconnects = int(counters.get("reconnects", 0))
            engine.pipeline.rejects[source.name].update(counters.get("rejects") or {})
        self._launch_logged = None

    async def run(self) -> None:
        """Record until cancelled; then write the last tick and snapshot and close."""
        self._loop = asyncio.get_running_loop()
        engine_task = asyncio.create_task(self.engine.run(), name="recorder:engine")
        publisher = asyncio.create_task(self._publish_loop(), name="recorder:publish")
        sender = asyncio.create_task(self.notifications.run(), name="recorder:notify")
        try:
            await asyncio.gather(engine_task, publisher, sender)
        finally:
            for task in (engine_task, publisher, sender):
                task.cancel()
            await asyncio.gather(engine_task, publisher, sender, return_exceptions=True)
            self.close()

    def close(self) -> None:
        """The last tick and snapshot, the session closed, the room closed."""
        if not self.door.is_open:
            return
        now = self.clock()
        try:
            self.tick(now)
            self.publish(now)
            if self.lease_lost is None:  # a recorder that lost the room did not hand it over
                self.door.write(lambda s: s.close_session(self.session.id, time.time()))
        except StoreError as error:
            log.error("recorder: last write failed: %s", error)
        self.door.close()

    # ------------------------------------------------------------------ the room's changes

    def _heard(self, topics: set[str], store: RoomStore) -> None:
        """Runs on the door's reader thread: read what operators changed, hand it over."""
        if not topics & {"alerts", "launch"}:
            return
        changes = _read_changes(store, topics, self._last_ack_id, self.clock())
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._apply, changes)

    def follow_room(self) -> None:
        """Read and apply the room's changes now (for callers without a running loop)."""
        self._run_later()
        self._apply(
            self.door.read(lambda s: _read_changes(s, {"alerts", "launch"}, self._last_ack_id, self.clock())).result()
        )

    def _apply(self, changes: RoomChanges) -> None:
        alerts, now = self.alerts, self.clock()
        if changes.launch_seen and changes.launch_at != self.engine.launch_at and changes.launch_at is not None:
            self.engine.set_launch(changes.launch_at)
            self._launch_logged = None
        self._last_ack_id = max(self._last_ack_id, changes.last_ack_id)
        for rule, ack, episode in changes.acks:
            alerts.adopt_ack(rule, ack.operator, ack.at, ack.note, episode)
        if changes.silences is not None:
            shared = {s.id: s for s in changes.silences}
            local = {s.id for s in alerts.silences()}
            for silence in shared.values():
                if silence.id not in local:
                    alerts.adopt_silence(silence, now)
            for silence_id in local - shared.keys():
                alerts.drop_silence(silence_id, now, changes.ended_by.get(silence_id, ""))
        self._publish_soon()

    # ------------------------------------------------------------------ the tick

    def tick(self, now: float) -> Future[Any]:
        """One tick's work (called by the engine every tick_interval); returns the write."""
        self._run_later()
        self._ticks += 1
        record = TickRecord(at=now, session_id=self.session.id, seen_at=time.time(), fence=self.fence)
        if now >= self._next_sla:  # before the alerts, so queue rules see fresh figures
            self._next_sla = now + SLA_CHECK_INTERVAL
            self._sweep_support(now)
        self._record_transitions(self.alerts.evaluate(now), record)
        self._record_alert_states(record)
        self._record_sources(now, record)
        launch_at = self.engine.launch_at
        if launch_at is not None and now >= launch_at and self._launch_logged != launch_at:
            self._launch_logged = launch_at
            record.launch = (launch_at, f"T0: {self.config.launch.name} is live")
        self._checkpoint(now, record)
        self._ask_for_requests()
        self.door.read(_online).add_done_callback(self._heard_online)
        if self._ticks % PRUNE_EVERY == 0:
            self._prune(now)
        self._publish_soon()
        written = self._write(lambda s: s.record_tick(record))
        # notifications: routed on the alerts as this tick left them, queued after its write
        self.notifications.tick(now, self.alerts)
        return written

    def _record_transitions(self, transitions: list[Transition], record: TickRecord) -> None:
        for t in transitions:
            if t.event not in ALERT_EVENTS or t.event == "acked":
                continue  # nodata and inactive are display states; acks are logged by their command
            value_text = self.alerts.format_value(t.rule, t.value) if t.value is not None else None
            record.transitions.append(
                AlertEventRow(
                    t.ts, t.rule, t.event, t.severity, t.value, t.operator or None, t.note, value_text, t.episode
                )
            )

    def _record_alert_states(self, record: TickRecord) -> None:
        for state in self.alerts.rule_states():
            if self._written_states.get(state.rule) != state:
                self._written_states[state.rule] = state
                record.alert_states.append(
                    AlertStateRow(
                        state.rule,
                        state.state,
                        state.since,
                        state.clear_since,
                        state.no_data,
                        state.value,
                        state.value_text,
                        state.severity,
                        state.episode,
                    )
                )

    def _record_sources(self, now: float, record: TickRecord) -> None:
        for health in self.engine.health():
            down = health.state in SOURCE_DOWN_STATES
            if self._source_down.get(health.name, False) == down and health.name in self._source_down:
                continue
            self._source_down[health.name] = down
            prefix = f"source {health.name} is "
            text = (
                f"{prefix}{health.state.value}: {self.config.scrub(health.reason)}" if down else prefix + "live again"
            )
            record.source_changes.append(SourceChange(health.name, down, text, now))

    def _checkpoint(self, now: float, record: TickRecord) -> None:
        metrics = self.engine.metrics
        record.metric_states, record.buckets = metrics.checkpoint()
        if now >= self._next_history:
            interval = self.config.room.history_interval
            self._next_history = (now // interval + 1) * interval
            at = now - now % interval
            record.history = [
                (at, name, value) for name in metrics.names() if (value := metrics.value(name)) is not None
            ]
        rejects = self.engine.pipeline.rejects
        for source in self.engine.sources:
            health = source.health
            counters = {
                "records": health.records,
                "bad": health.bad_records,
                "reconnects": health.reconnects,
                "rejects": dict(rejects.get(source.name, {})),
            }
            record.sources[source.name] = (source.checkpoint(), counters)

    def _sweep_support(self, now: float) -> None:
        """Mark SLA breaches, then publish the queue's figures as metrics for alert rules."""
        sla = self.config.tickets.sla

        def sweep(store: RoomStore) -> dict[str, float | None]:
            # notifications: each breach marked is queued for its receivers in the same transaction
            self.notifications.queue_breaches(store, lambda: store.check_sla(now, sla), now)
            return store.ticket_metrics().as_metrics()

        def done(future: Future[dict[str, float | None]]) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            self._on_loop(self._queue_figures, now, future.result())

        self._write(sweep).add_done_callback(done)

    def _queue_figures(self, now: float, figures: dict[str, float | None]) -> None:
        metrics = self.engine.metrics
        for name, value in figures.items():
            if value is not None:
                metrics.add(name, now, value, 1, value, now=now)

    def _ask_for_requests(self) -> None:
        """An export waiting for the latest figures: answer with an immediate tick."""

        def answer(future: Future[tuple[int, int]]) -> None:
            if future.cancelled() or future.exception() is not None:
                return
            asked, _ = future.result()
            if asked > self._flush_answered:
                self._on_loop(self._flush, asked)

        self.door.read(lambda s: s.flush_state()).add_done_callback(answer)

    def _flush(self, request: int) -> None:
        self._flush_answered = request
        now = self.clock()
        record = TickRecord(at=now, session_id=self.session.id, flushed=request, fence=self.fence)
        self._checkpoint(now, record)
        record.history = [
            (now, name, value)
            for name in self.engine.metrics.names()
            if (value := self.engine.metrics.value(name)) is not None
        ]
        self._write(lambda s: s.record_tick(record))

    def _prune(self, now: float) -> None:
        second, minute = int(now) - SECONDS_KEPT, int(now) // 60 - MINUTES_KEPT

        def prune(store: RoomStore) -> None:
            store.prune_buckets(1, second)
            store.prune_buckets(60, minute)

        self._write(prune)

    # ------------------------------------------------------------------ tickets

    def record_tickets(self, source: str, records: list[Record]) -> None:
        valid = []
        id_field = self.config.tickets.id_field
        now = self.clock()
        for record in records:
            fields = validate_ticket_record(record, id_field=id_field, now=now)
            if isinstance(fields, str):
                self.rejected_tickets += 1
                log.info("ticket record rejected: %s", fields)
            else:
                self.future_ticket_times += fields.future_times
                valid.append(fields)
        if valid:
            self._write(lambda s: s.upsert_tickets(valid, source, now))

    # ------------------------------------------------------------------ publishing

    def _publish_soon(self) -> None:
        self._publish_due.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._publish_due.wait()
            wait = self._last_publish + self.publish_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._publish_due.clear()
            self.publish(self.clock())

    def publish(self, now: float) -> Future[Any]:
        """Build and publish the snapshot of this moment (a newer one replaces an unwritten
        older one)."""
        self._last_publish = time.monotonic()
        self._seq += 1
        engine = self.engine
        rejects = {s.name: engine.rejects(s.name) for s in engine.sources}
        recorder = snap.Attendee(self.operator, self.session.host, self.session.started_at, self.session.pid)
        body = snap.encode(
            snap.build(
                self.config,
                engine.metrics,
                self.alerts,
                engine.health(),
                rejects,
                now=now,
                seq=self._seq,
                rejected_tickets=self.rejected_tickets,
                recorder=recorder,
                online=self._online,
                deliveries=self.notifications.view(),
            )
        )
        return self._write(lambda s: s.publish_snapshot(now, body, self.fence), replace="snapshot")

    def attendance(self) -> bool:
        """Whether any dashboard was attached at the last tick."""
        return bool(self._online)

    def _heard_online(self, future: Future[list[snap.Attendee]]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._online = future.result()

    # ------------------------------------------------------------------ plumbing

    def _write(self, job: Callable[[RoomStore], Any], replace: str | None = None) -> Future[Any]:
        future = self.door.write(job, replace=replace)
        future.add_done_callback(self._written)
        return future

    def _written(self, future: Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, LeaseLost):
            self.lease_lost = str(error)
            return
        if error is not None:
            self.write_failures += 1
            self.last_error = str(error)
            log.error("recorder: could not write to the room: %s", error)

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback` where the recorder's state lives: on its event loop, or, without
        one (a caller driving ticks by hand), at the start of the next tick."""
        loop = self._loop
        if loop is None:
            self._later.append((callback, args))
        elif not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    def _run_later(self) -> None:
        while self._later:
            callback, args = self._later.popleft()
            callback(*args)


# --------------------------------------------------------------------------- reading the room


def _read_restore(now: float) -> Callable[[RoomStore], Restored]:
    def read(store: RoomStore) -> Restored:
        rules = [
            RuleState(
                r.rule, r.state, r.since, r.clear_since, r.no_data, r.value, r.value_text or "", r.severity, r.episode
            )
            for r in store.alert_states()
        ]
        episodes = {r.rule: r.episode for r in rules}
        acks = [
            (e.rule, Ack(e.operator or "", e.ts, e.note), e.episode or 0)
            for e in store.alert_events_after(0)
            if e.episode is not None and e.episode == episodes.get(e.rule)
        ]
        last = store.recent_alert_events(1)
        silences = [
            Silence(s.id, s.matchers, s.until, s.comment, s.operator, s.created_at) for s in store.active_silences(now)
        ]
        buckets = [
            *store.metric_buckets(1, int(now) - SECONDS_KEPT),
            *store.metric_buckets(60, int(now) // 60 - MINUTES_KEPT),
        ]
        return Restored(
            store.metric_states(),
            buckets,
            rules,
            acks,
            silences,
            store.source_rows(),
            store.launch_time(),
            last[0].id if last else 0,
            store.sessions(role="recorder"),
        )

    return read


def _read_changes(store: RoomStore, topics: set[str], last_ack_id: int, now: float) -> RoomChanges:
    changes = RoomChanges(last_ack_id=last_ack_id)
    if "launch" in topics:
        changes.launch_at, changes.launch_seen = store.launch_time(), True
    if "alerts" in topics:
        for event in store.alert_events_after(last_ack_id):
            changes.last_ack_id = event.id
            changes.acks.append((event.rule, Ack(event.operator or "", event.ts, event.note), event.episode))
        changes.silences = [
            Silence(s.id, s.matchers, s.until, s.comment, s.operator, s.created_at) for s in store.active_silences(now)
        ]
        changes.ended_by = {sid: by or "" for sid, _, by in store.silences_ended_after(now - 3600)}
    return changes


def _online(store: RoomStore) -> list[snap.Attendee]:
    return [
        snap.Attendee(s.operator, s.host, s.started_at, s.pid)
        for s in store.sessions(role="dashboard", seen_since=time.time() - ONLINE_WITHIN)
    ]


def _takeover_text(me: Session, before: list[Session]) -> str:
    if not before:
        return f"recorder: {me.who} records the room"
    them = ", ".join(sorted({s.who for s in before}))
    return f"recorder: {me.who} took over from {them}"


def _stale_check(engine: Engine) -> Callable[[str], bool]:
    """metric name -> is the source feeding it stale or failing (its rules show no data)."""
    source_of = {m.name: m.source for m in engine.config.metrics}

    def stale(metric: str) -> bool:
        source = source_of.get(metric)
        down = engine.stale_sources()
        if source is None:  # a metric fed by every source: stale only if all are
            return bool(engine.sources) and len(down) == len(engine.sources)
        return source in down

    return stale
