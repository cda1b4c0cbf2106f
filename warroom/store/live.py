"""What the room's recorder computes and keeps, and who is in the room.

The recorder is the only writer of computed state. Once a second it writes one `TickRecord`
in one transaction: the alert transitions of the tick with the alert state they lead to,
sources going down or coming back, the T0 entry, the metric checkpoint (running totals, the
per-second and per-minute buckets that changed, the history points, each source's read
position) and its heartbeat. A recorder that takes over reads all of it back and carries on
from the same totals, alert states and file offsets, because they were committed together.

Between ticks it replaces the one-row `snapshot`: what every screen shows, already computed.

Every "logged once" here is checked inside the transaction that writes it, so even two
processes recording the same change by mistake log it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from warroom.store.base import _get_meta, _set_meta
from warroom.store.db import Database, upsert
from warroom.store.journal import JournalStore
from warroom.store.room_state import RoomStateStore
from warroom.store.schema import Session


@dataclass(frozen=True, slots=True)
class AlertStateRow:
    rule: str
    state: str
    since: float
    clear_since: float | None
    no_data: bool
    value: float | None
    value_text: str | None
    severity: str
    episode: int


@dataclass(frozen=True, slots=True)
class AlertEventRow:
    """A transition of the tick, as record_alert_event takes it."""

    ts: float
    rule: str
    event: str
    severity: str
    value: float | None = None
    operator: str | None = None
    note: str = ""
    value_text: str | None = None
    episode: int | None = None


@dataclass(frozen=True, slots=True)
class SourceChange:
    """A source went down (stale, error) or came back; logged once per change."""

    name: str
    down: bool
    text: str
    ts: float


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    down: bool
    cursor: dict[str, Any] | None
    counters: dict[str, Any] | None


Bucket = tuple[str, int, int, float, int, float]
"""(metric, width in seconds, period number, sum, count, last value)."""


@dataclass
class TickRecord:
    """Everything one recorder tick writes, committed together (see the module docstring)."""

    at: float
    session_id: str | None = None
    seen_at: float | None = None
    """Wall-clock time of the recorder's heartbeat (sessions are processes: wall time)."""
    transitions: list[AlertEventRow] = field(default_factory=list)
    alert_states: list[AlertStateRow] = field(default_factory=list)
    source_changes: list[SourceChange] = field(default_factory=list)
    launch: tuple[float, str] | None = None
    """(T0, text) to log once, when the launch clock has passed T0."""
    metric_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: list[Bucket] = field(default_factory=list)
    history: list[tuple[float, str, float]] = field(default_factory=list)
    sources: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = field(default_factory=dict)
    """name -> (read position, counters)."""
    flushed: int | None = None
    """The flush request this tick answers (an export waits for it)."""
    fence: tuple[int, str] | None = None
    """(pid, host) of the recorder: on PostgreSQL the tick is written only while the room's
    lease holder is still this process (see `check_fence`)."""


class LiveStore(JournalStore, RoomStateStore):
    """The recorder's state, the published snapshot and the sessions (a part of RoomStore)."""

    # ------------------------------------------------------------------ the recorder's tick

    def record_tick(self, tick: TickRecord) -> list[SourceChange]:
        """Write a whole tick in one transaction; returns the source changes it logged (the
        others were logged already)."""
        logged = []
        with self._write() as db:
            self.check_fence(tick.fence)
            for t in tick.transitions:
                self.record_alert_event(
                    t.ts, t.rule, t.event, t.severity, t.value, t.operator, t.note, t.value_text, t.episode
                )
            db.executemany(
                upsert(
                    "alert_state",
                    ("rule", "state", "since", "clear_since", "no_data", "value", "value_text", "severity", "episode"),
                    ("rule",),
                ),
                [
                    (
                        a.rule,
                        a.state,
                        a.since,
                        a.clear_since,
                        int(a.no_data),
                        a.value,
                        a.value_text,
                        a.severity,
                        a.episode,
                    )
                    for a in tick.alert_states
                ],
            )
            for change in tick.source_changes:
                if self._source_change(db, change):
                    logged.append(change)
            if tick.launch is not None:
                self._launch_once(db, *tick.launch)
            self._checkpoint(db, tick)
            if tick.session_id is not None:
                db.execute(
                    "UPDATE sessions SET last_seen = ? WHERE id = ?",
                    (tick.at if tick.seen_at is None else tick.seen_at, tick.session_id),
                )
            if tick.flushed is not None:
                _set_meta(db, "flushed", tick.flushed)
        return logged

    def _source_change(self, db: Database, change: SourceChange) -> bool:
        row = db.execute("SELECT down FROM source_state WHERE name = ?", (change.name,)).fetchone()
        if row is not None and bool(row[0]) == change.down:
            return False
        if row is None and not change.down:
            db.execute("INSERT INTO source_state(name, down) VALUES (?, 0)", (change.name,))
            return False  # live from the start: nothing to say
        db.execute(
            "INSERT INTO source_state(name, down) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET down = excluded.down",
            (change.name, int(change.down)),
        )
        self._log(db, "source", "warning" if change.down else "info", change.text, "warroom", ts=change.ts)
        return True

    def _launch_once(self, db: Database, launch_at: float, text: str) -> None:
        if (
            db.execute(
                "SELECT 1 FROM log WHERE kind = 'launch' AND ts = ? AND author = 'warroom'", (launch_at,)
            ).fetchone()
            is None
        ):
            self._log(db, "launch", "info", text, "warroom", ts=launch_at)

    def _checkpoint(self, db: Database, tick: TickRecord) -> None:
        db.executemany(
            upsert("metric_state", ("metric", "state"), ("metric",)),
            [(name, json.dumps(state)) for name, state in tick.metric_states.items()],
        )
        db.executemany(
            upsert(
                "metric_buckets", ("metric", "width", "period", "sum", "count", "last"), ("metric", "width", "period")
            ),
            tick.buckets,
        )
        if tick.history:
            self.write_metric_points(tick.history)
        db.executemany(
            "INSERT INTO source_state(name, cursor, counters) VALUES (?, ?, ?) ON CONFLICT(name) "
            "DO UPDATE SET cursor = excluded.cursor, counters = excluded.counters",
            [
                (name, None if cursor is None else json.dumps(cursor), json.dumps(counters))
                for name, (cursor, counters) in tick.sources.items()
            ],
        )

    def prune_buckets(self, width: int, before_period: int) -> None:
        """Forget buckets older than the recorder's rings hold."""
        with self._write() as db:
            db.execute("DELETE FROM metric_buckets WHERE width = ? AND period < ?", (width, before_period))

    # ------------------------------------------------------------------ reading it back

    def alert_states(self) -> list[AlertStateRow]:
        rows = self._db.execute(
            "SELECT rule, state, since, clear_since, no_data, value, value_text, severity, episode FROM alert_state"
        )
        return [AlertStateRow(r[0], r[1], r[2], r[3], bool(r[4]), *r[5:]) for r in rows]

    def metric_states(self) -> dict[str, dict[str, Any]]:
        return {name: json.loads(state) for name, state in self._db.execute("SELECT metric, state FROM metric_state")}

    def metric_buckets(self, width: int, from_period: int) -> Iterable[Bucket]:
        """Buckets of one width from `from_period` on, by metric and period."""
        return self._db.execute(
            "SELECT metric, width, period, sum, count, last FROM metric_buckets "
            "WHERE width = ? AND period >= ? ORDER BY metric, period",
            (width, from_period),
        )

    def source_rows(self) -> dict[str, SourceRow]:
        rows = self._db.execute("SELECT name, down, cursor, counters FROM source_state")
        return {
            r[0]: SourceRow(r[0], bool(r[1]), json.loads(r[2]) if r[2] else None, json.loads(r[3]) if r[3] else None)
            for r in rows
        }

    # ------------------------------------------------------------------ the snapshot

    def publish_snapshot(self, at: float, body: bytes, fence: tuple[int, str] | None = None) -> int:
        """Replace the published snapshot; returns its sequence number."""
        with self._write() as db:
            self.check_fence(fence)
            row = db.execute("SELECT seq FROM snapshot WHERE id = 1").fetchone()
            seq = (row[0] if row else 0) + 1
            db.execute(upsert("snapshot", ("id", "seq", "at", "body"), ("id",)), (1, seq, at, body))
        return seq

    def snapshot(self) -> tuple[int, float, bytes] | None:
        """(sequence number, recorder time, body) of the latest snapshot, if any."""
        row = self._db.execute("SELECT seq, at, body FROM snapshot WHERE id = 1").fetchone()
        return (row[0], row[1], bytes(row[2])) if row else None

    # ------------------------------------------------------------------ sessions

    def open_session(self, session: Session) -> None:
        with self._write() as db:
            db.execute(
                upsert(
                    "sessions",
                    ("id", "role", "operator", "host", "pid", "started_at", "last_seen", "ended_at"),
                    ("id",),
                ),
                (
                    session.id,
                    session.role,
                    session.operator,
                    session.host,
                    session.pid,
                    session.started_at,
                    session.last_seen,
                    None,
                ),
            )
            self._seen_operator(db, session.operator, session.started_at)

    def heartbeat(self, session_id: str, at: float) -> None:
        with self._write() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (at, session_id))

    def close_session(self, session_id: str, at: float) -> None:
        with self._write() as db:
            db.execute("UPDATE sessions SET last_seen = ?, ended_at = ? WHERE id = ?", (at, at, session_id))

    def sessions(
        self, role: str | None = None, seen_since: float | None = None, open_only: bool = True
    ) -> list[Session]:
        clauses: list[str] = []
        params: list[Any] = []
        if role is not None:
            clauses.append("role = ?")
            params.append(role)
        if seen_since is not None:
            clauses.append("last_seen >= ?")
            params.append(seen_since)
        if open_only:
            clauses.append("ended_at IS NULL")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._db.execute(
            f"SELECT id, role, operator, host, pid, started_at, last_seen, ended_at "
            f"FROM sessions {where} ORDER BY started_at",
            params,
        )
        return [Session(*r) for r in rows]

    def take_over_recording(self, session: Session, text: str | None, at: float | None = None) -> list[Session]:
        """The lease holder's first write: close the sessions of recorders before it (they
        died or were stopped) and log the hand-over once, at `at` (the room's clock).
        Returns the closed sessions."""
        with self._write() as db:
            before = [
                Session(*r)
                for r in db.execute(
                    "SELECT id, role, operator, host, pid, started_at, last_seen, ended_at FROM sessions "
                    "WHERE role = 'recorder' AND ended_at IS NULL AND id != ?",
                    (session.id,),
                )
            ]
            db.executemany(
                "UPDATE sessions SET ended_at = ? WHERE id = ?", [(session.started_at, s.id) for s in before]
            )
            self.open_session(session)
            if text:
                self._log(db, "room", "warning" if before else "info", text, "warroom", ts=self._now(at))
        return before

    # ------------------------------------------------------------------ flush before export

    def request_flush(self) -> int:
        """Ask the recorder to write its latest figures now; returns the request number."""
        with self._write() as db:
            number = int(_get_meta(db, "flush_request") or 0) + 1
            _set_meta(db, "flush_request", number)
        return number

    def flush_state(self) -> tuple[int, int]:
        """(latest flush request, latest answered)."""
        return int(_get_meta(self._db, "flush_request") or 0), int(_get_meta(self._db, "flushed") or 0)
