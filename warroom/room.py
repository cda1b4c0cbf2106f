"""What happens live is written down: the glue between the engine and the room store.

`RoomRecorder` listens to the engine's tick and ticket batches and records, in the shared
SQLite store: ticket records from sources (validated; rejects counted), alert transitions,
SLA breaches, sources going stale and coming back, and the metric history the
retrospective charts. It also picks up a launch time set by another operator, and keeps
acknowledgements and silences the room's: those made here are shared, those made in another
operator's warroom are taken on. Every warroom sees the same alert firing or source going
stale; the store and this recorder make sure it is logged once.

A store that fails (disk full, read-only file) must not take the dashboard down: the error
is kept in `store_error` for the screen, counted, and the next tick tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warroom.alerts import AlertEngine, Silence, Transition
from warroom.config import Config, launch_time_utc
from warroom.engine import Engine
from warroom.model import Record
from warroom.sources import SourceState
from warroom.store import ALERT_EVENTS, RoomStore, StoreError
from warroom.tickets import validate_ticket_record

log = logging.getLogger(__name__)

SLA_CHECK_INTERVAL = 5.0  # seconds of engine clock between SLA sweeps
SOURCE_DOWN_STATES = (SourceState.STALE, SourceState.ERROR)


class RoomRecorder:
    """Records the live state of one engine into one room store."""

    def __init__(self, engine: Engine, store: RoomStore, config: Config,
                 alerts: AlertEngine | None = None) -> None:
        self.engine = engine
        self.store = store
        self.config = config
        self.alerts = alerts
        self.rejected_tickets = 0
        self.store_error: str | None = None
        self.store_failures = 0
        self.on_transitions: list[Callable[[list[Transition]], None]] = []
        self._source_down: dict[str, bool] = {}
        self._next_history = 0.0
        self._next_sla = 0.0
        self._launch_logged: float | None = None
        self._tick_error: str | None = None
        self._shared_silences: set[str] = set()
        acks = store.alert_events_after(0)
        self._last_ack_id = acks[-1].id if acks else 0  # acks before we started are history
        engine.on_tick(self.tick)
        engine.on_tickets(self.record_tickets)

    # ------------------------------------------------------------------ ticks

    def tick(self, now: float) -> None:
        self._tick_error: str | None = None
        self._guard(self._follow_launch, now)
        self._guard(self._record_sources, now)
        if now >= self._next_sla:  # before the alerts, so queue rules see fresh figures
            self._next_sla = now + SLA_CHECK_INTERVAL
            self._guard(self._check_support, now)
        if self.alerts is not None:
            self._guard(self._share_alert_actions, now)
            transitions = self.alerts.evaluate(now)
            if transitions:
                self._guard(self._record_transitions, transitions)
                for listener in self.on_transitions:
                    listener(transitions)
        if now >= self._next_history:
            interval = self.config.room.history_interval
            self._next_history = (now // interval + 1) * interval
            self._guard(self._record_history, now - now % interval)
        self.store_error = self._tick_error  # shown until a whole tick saves cleanly

    def _guard(self, action: Callable, *args) -> None:
        """Run one store action; a failure is shown and counted, never raised into the UI."""
        try:
            action(*args)
        except StoreError as error:
            self.store_failures += 1
            self.store_error = self._tick_error = str(error)
            log.error("room store: %s", error)

    def _follow_launch(self, now: float) -> None:
        """Adopt a launch time another operator set; log T0 once when the clock passes it."""
        launch_at = self.store.launch_time()
        if launch_at != self.engine.launch_at and launch_at is not None:
            self.engine.set_launch(launch_at)
        if launch_at is None or now < launch_at or self._launch_logged == launch_at:
            return
        self._launch_logged = launch_at
        if not self.store.log_entries(start=launch_at, kinds=["launch"]):
            self.store.add_log("launch", "info", f"T0: {self.config.launch.name} is live", "warroom", ts=launch_at)

    def _record_sources(self, now: float) -> None:
        for health in self.engine.health():
            down = health.state in SOURCE_DOWN_STATES
            was_down = self._source_down.get(health.name, False)
            if down == was_down:
                continue
            self._source_down[health.name] = down
            prefix = f"source {health.name} is "
            state = health.state.value if down else "live again"
            last = self.store.last_log_text("source", prefix)
            if last is not None and last[len(prefix):].startswith(state):
                continue  # another operator's warroom saw the same change and logged it
            if down:
                text = f"{prefix}{state}: {self.config.scrub(health.reason)}"
                self.store.add_log("source", "warning", text, "warroom", ts=now)
            else:
                self.store.add_log("source", "info", prefix + state, "warroom", ts=now)

    def _share_alert_actions(self, now: float) -> None:
        """Acks and silences are the room's, not one operator's: push ours, adopt theirs."""
        alerts, store = self.alerts, self.store
        for event in store.alert_events_after(self._last_ack_id):
            self._last_ack_id = event.id
            alerts.adopt_ack(event.rule, event.operator or "", event.ts, event.note)
        local = {s.id: s for s in alerts.silences()}
        for silence_id in local.keys() - self._shared_silences:  # made here
            silence = local[silence_id]
            store.add_silence(silence.id, silence.matchers, silence.until, silence.comment,
                              silence.operator, silence.created_at)
        for silence_id in self._shared_silences - local.keys():  # ended or expired here
            store.end_silence(silence_id, now)
        shared = {s.id: s for s in store.active_silences(now)}
        for silence_id in shared.keys() - local.keys() - self._shared_silences:  # made elsewhere
            item = shared[silence_id]
            alerts.adopt_silence(Silence(item.id, item.matchers, item.until, item.comment,
                                         item.operator, item.created_at), now)
        for silence_id in (local.keys() & self._shared_silences) - shared.keys():  # ended elsewhere
            alerts.drop_silence(silence_id, now)
        self._shared_silences = {s.id for s in alerts.silences()}

    def _record_transitions(self, transitions: list[Transition]) -> None:
        for item in transitions:
            if item.event not in ALERT_EVENTS:
                continue  # nodata and inactive are display states, not events for the log
            value_text = self.alerts.format_value(item.rule, item.value) if item.value is not None else None
            self.store.record_alert_event(
                item.ts, item.rule, item.event, item.severity, item.value,
                item.operator or None, item.note, value_text=value_text,
            )

    def _check_support(self, now: float) -> None:
        """Mark SLA breaches, then publish the queue's figures as metrics for alert rules."""
        self.store.check_sla(now, self.config.tickets.sla)
        metrics = self.engine.metrics
        for name, value in self.store.ticket_metrics().as_metrics().items():
            if value is not None:
                metrics.add(name, now, value, 1, value, now=now)

    def _record_history(self, at: float) -> None:
        metrics = self.engine.metrics
        points = [(at, name, value) for name in metrics.names()
                  if (value := metrics.value(name)) is not None]
        if points:
            self.store.write_metric_points(points)

    # ------------------------------------------------------------------ tickets

    def record_tickets(self, source: str, records: list[Record]) -> None:
        valid = []
        id_field = self.config.tickets.id_field
        for record in records:
            fields = validate_ticket_record(record, id_field=id_field)
            if isinstance(fields, str):
                self.rejected_tickets += 1
                log.info("ticket record rejected: %s", fields)
            else:
                valid.append(fields)
        if valid:
            self._guard(self.store.upsert_tickets, valid, source)


@dataclass
class Room:
    """Everything one operator's warroom runs on, built from a config."""

    config: Config
    operator: str
    engine: Engine
    store: RoomStore
    alerts: AlertEngine
    recorder: RoomRecorder

    def close(self) -> None:
        self.store.close()


def database_path(config: Config) -> Path:
    """The room database; a relative path is taken from the config file's directory."""
    path = Path(config.room.db).expanduser()
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    return path


def open_room(config: Config, operator: str, clock: Callable[[], float] = time.time,
              tick_interval: float = 1.0) -> Room:
    """Open (or create) the room store and wire the engine, alerts and recorder to it.

    Raises StoreError when the database cannot be used (corrupt, newer, not ours).
    """
    store = RoomStore(database_path(config), group_access=config.room.group_access, clock=clock)
    try:
        store.configure_launch(config.launch.name, launch_time_utc(config))
        store.sync_checklist(config.checklist)
        store.register_operator(operator)
        engine = Engine(config, clock=clock, tick_interval=tick_interval)
        _restore_history(engine, store, clock())
        engine.set_launch(store.launch_time())
        alerts = AlertEngine(config.alerts, engine.metrics, clock=clock, stale=_stale_check(engine))
        recorder = RoomRecorder(engine, store, config, alerts)
    except BaseException:
        store.close()
        raise
    return Room(config, operator, engine, store, alerts, recorder)


HISTORY_RESTORED = 24 * 3600.0  # as far back as the per-minute rings reach


def _restore_history(engine: Engine, store: RoomStore, now: float) -> None:
    """A restarted warroom picks up the charts and totals it missed from the shared history."""
    metrics = engine.metrics
    for name in store.metric_names():
        if name in metrics.series:
            metrics.restore(name, store.metric_history(name, start=now - HISTORY_RESTORED, end=now))


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
