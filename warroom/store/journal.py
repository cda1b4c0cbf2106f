"""The incident log, the alert history and the silences every operator shares."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from warroom.store.base import StoreCore
from warroom.store.db import Database
from warroom.store.schema import (
    _LOG_COLS,
    ACTIVE_STATES,
    ALERT_EVENTS,
    MUTE_EVENTS,
    SEVERITIES,
    STATE_EVENTS,
    AlertEvent,
    LogEntry,
    NotFound,
    SharedSilence,
    _one_of,
)


class JournalStore(StoreCore):
    """What happened and what was decided (a part of RoomStore)."""

    # ------------------------------------------------------------------ incident log

    def add_log(
        self,
        kind: str,
        severity: str,
        text: str,
        author: str,
        *,
        ts: float | None = None,
        alert: str | None = None,
        ticket_id: str | None = None,
        owner: str | None = None,
        starred: bool = False,
    ) -> int:
        """Append one entry; returns its id once it is committed."""
        with self._write() as db:
            return self._log(
                db,
                kind,
                severity,
                text,
                author,
                ts=self._now(ts),
                alert=alert,
                ticket_id=ticket_id,
                owner=owner,
                starred=starred,
            )

    def last_log_text(self, kind: str, prefix: str) -> str | None:
        """The newest entry of `kind` whose text starts with `prefix` (e.g. one source's)."""
        row = self._db.execute(
            "SELECT text FROM log WHERE kind = ? AND substr(text, 1, ?) = ? ORDER BY id DESC LIMIT 1",
            (kind, len(prefix), prefix),
        ).fetchone()
        return row[0] if row else None

    def add_logs(self, entries: Iterable[Mapping[str, Any]]) -> list[int]:
        """Append many entries (each a mapping of add_log's arguments) in one transaction."""
        with self._write() as db:
            return [self._log(db, **{**e, "ts": self._now(e.get("ts"))}) for e in entries]

    def star(self, entry_id: int, starred: bool = True) -> None:
        """Mark (or unmark) an entry for the retrospective."""
        with self._write() as db:
            if db.execute("UPDATE log SET starred = ? WHERE id = ?", (int(starred), entry_id)).rowcount == 0:
                raise NotFound(f"no log entry {entry_id}")

    def get_log(self, entry_id: int) -> LogEntry | None:
        row = self._db.execute(f"SELECT {_LOG_COLS} FROM log WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def recent(
        self, limit: int = 200, kinds: Iterable[str] | None = None, starred_only: bool = False
    ) -> list[LogEntry]:
        """The newest `limit` entries (optionally of some kinds), oldest first: the UI's window."""
        where, params = _log_filter(None, None, kinds, starred_only)
        rows = self._db.execute(
            f"SELECT * FROM (SELECT {_LOG_COLS} FROM log {where} ORDER BY ts DESC, id DESC LIMIT ?) AS newest "
            "ORDER BY ts, id",
            (*params, limit),
        )
        return [_entry(r) for r in rows]

    def log_entries(
        self,
        start: float | None = None,
        end: float | None = None,
        kinds: Iterable[str] | None = None,
        starred_only: bool = False,
    ) -> list[LogEntry]:
        """Every entry with start <= ts <= end, oldest first: for the export."""
        where, params = _log_filter(start, end, kinds, starred_only)
        return [_entry(r) for r in self._db.execute(f"SELECT {_LOG_COLS} FROM log {where} ORDER BY ts, id", params)]

    def count_log(self, kinds: Iterable[str] | None = None) -> int:
        where, params = _log_filter(None, None, kinds, False)
        return self._db.execute(f"SELECT count(*) FROM log {where}", params).fetchone()[0]

    # ------------------------------------------------------------------ alert history

    def record_alert_event(
        self,
        ts: float,
        rule: str,
        event: str,
        severity: str,
        value: float | None = None,
        operator: str | None = None,
        note: str = "",
        value_text: str | None = None,
        episode: int | None = None,
    ) -> int:
        """Store an alert transition or an operator's ack/silence, and log it (kind "alert").

        `value_text` is the value as the screen shows it (9.8%, 540 ms) for the log line;
        `episode` numbers the rule's active periods, so an ack applies to one of them only."""
        if event not in ALERT_EVENTS:
            raise ValueError(f"unknown alert event {event!r}; use one of {', '.join(ALERT_EVENTS)}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
        if event in STATE_EVENTS or event in MUTE_EVENTS:
            group = STATE_EVENTS if event in STATE_EVENTS else MUTE_EVENTS
            with self._write() as db:  # checked inside the write lock: no two processes both add it
                last = db.execute(
                    f"SELECT id, event FROM alert_events WHERE rule = ? AND event IN ({_one_of(group)}) "
                    "ORDER BY id DESC LIMIT 1",
                    (rule,),
                ).fetchone()
                if last is not None and last[1] == event:
                    return last[0]  # this change is recorded already
                return self._alert_event(db, ts, rule, event, severity, value, operator, note, value_text, episode)
        with self._write() as db:
            return self._alert_event(db, ts, rule, event, severity, value, operator, note, value_text, episode)

    def ack_alert(self, rule: str, operator: str, note: str = "", at: float | None = None) -> int:
        """An operator acknowledges the rule's current episode; returns the event id.

        Checked in the same transaction as the write, against the state the recorder last
        wrote: only a pending, firing or no-data alert can be acknowledged, and once per
        episode (the second operator is told who was first)."""
        if not operator.strip():
            raise ValueError("an acknowledgement needs the operator's name")
        now = self._now(at)
        with self._write() as db:
            row = db.execute(
                "SELECT state, episode, severity, value, value_text FROM alert_state WHERE rule = ?", (rule,)
            ).fetchone()
            if row is None or row[0] not in ACTIVE_STATES:
                state = row[0] if row else "not active"
                raise ValueError(f"alert {rule!r} is {state}; only an active alert can be acknowledged")
            state, episode, severity, value, value_text = row
            first = db.execute(
                "SELECT operator FROM alert_events WHERE rule = ? AND event = 'acked' "
                "AND episode = ? ORDER BY id LIMIT 1",
                (rule, episode),
            ).fetchone()
            if first is not None:
                raise ValueError(f"alert {rule!r} is already acknowledged by {first[0]}")
            return self._alert_event(db, now, rule, "acked", severity, value, operator, note, value_text, episode)

    def _alert_event(
        self,
        db: Database,
        ts: float,
        rule: str,
        event: str,
        severity: str,
        value: float | None,
        operator: str | None,
        note: str,
        value_text: str | None,
        episode: int | None = None,
    ) -> int:
        text = f"{rule} {event}"
        if value_text is not None:
            text += f" (value {value_text})"
        elif value is not None:
            text += f" (value {value:g})"
        if operator:
            text += f" by {operator}"
        if note:
            text += f": {note}"
        log_id = self._log(
            db, "alert", severity if event == "firing" else "info", text, operator or "alerts", ts=ts, alert=rule
        )
        event_id = db.execute(
            "INSERT INTO alert_events(ts, rule, event, severity, value, operator, note, log_id, episode) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (ts, rule, event, severity, value, operator, note, log_id, episode),
        ).fetchone()[0]
        if operator:
            self._seen_operator(db, operator, ts)
        return int(event_id)

    def alert_events(self, start: float | None = None, end: float | None = None) -> list[AlertEvent]:
        rows = self._db.execute(
            "SELECT id, ts, rule, event, severity, value, operator, note, episode FROM alert_events "
            "WHERE ts >= ? AND ts <= ? ORDER BY ts, id",
            (-math.inf if start is None else start, math.inf if end is None else end),
        )
        return [AlertEvent(*r) for r in rows]

    def alert_events_after(self, last_id: int, events: Sequence[str] = ("acked",)) -> list[AlertEvent]:
        """Events of these kinds recorded after `last_id`, by any operator, oldest first."""
        rows = self._db.execute(
            "SELECT id, ts, rule, event, severity, value, operator, note, episode FROM alert_events "
            f"WHERE id > ? AND event IN ({_one_of(events)}) ORDER BY id",
            (last_id,),
        )
        return [AlertEvent(*r) for r in rows]

    def recent_alert_events(self, limit: int) -> list[AlertEvent]:
        """The newest `limit` alert events, newest first (the Alerts tab's history)."""
        rows = self._db.execute(
            "SELECT id, ts, rule, event, severity, value, operator, note, episode FROM alert_events "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [AlertEvent(*r) for r in rows]

    # ------------------------------------------------------------------ silences

    def add_silence(
        self,
        silence_id: str,
        matchers: Sequence[tuple[str, str]],
        until: float,
        comment: str,
        operator: str,
        created_at: float,
    ) -> None:
        """Share a silence with every operator's warroom (idempotent by id)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO silences(id, matchers, until, comment, operator, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (silence_id, json.dumps([list(m) for m in matchers]), until, comment, operator, created_at),
            )

    def end_silence(self, silence_id: str, at: float, operator: str | None = None) -> None:
        """End a silence early; NotFound if it is not active (ended or expired)."""
        with self._write() as db:
            ended = db.execute(
                "UPDATE silences SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL AND until > ?",
                (at, operator, silence_id, at),
            ).rowcount
            if not ended:
                raise NotFound(f"no active silence {silence_id!r}")

    def silences_ended_after(self, since: float) -> list[tuple[str, float, str | None]]:
        """(id, ended_at, ended_by) of silences ended early at or after `since`."""
        return self._db.execute(
            "SELECT id, ended_at, ended_by FROM silences WHERE ended_at >= ? ORDER BY ended_at", (since,)
        ).fetchall()

    def active_silences(self, now: float) -> list[SharedSilence]:
        rows = self._db.execute(
            "SELECT id, matchers, until, comment, operator, created_at FROM silences "
            "WHERE ended_at IS NULL AND until > ? ORDER BY created_at",
            (now,),
        )
        return [SharedSilence(r[0], tuple(tuple(m) for m in json.loads(r[1])), *r[2:]) for r in rows]

    # ------------------------------------------------------------------ streaming reads (export)

    STREAM_BATCH = 1000  # rows fetched at a time by iter_log_entries

    def iter_log_entries(
        self,
        start: float | None = None,
        end: float | None = None,
        kinds: Iterable[str] | None = None,
        starred_only: bool = False,
        *,
        alert_notes: bool = False,
    ) -> Iterable[LogEntry]:
        """log_entries one at a time, oldest first, read in small batches: memory stays flat
        whatever the log holds. `alert_notes`: only entries linked to an alert that are not
        its own transitions (operators' notes on it)."""
        where, params = _log_filter(start, end, kinds, starred_only)
        if alert_notes:
            where += (" AND " if where else "WHERE ") + "alert IS NOT NULL AND kind != 'alert'"
        for row in self._db.iterate(f"SELECT {_LOG_COLS} FROM log {where} ORDER BY ts, id", params, self.STREAM_BATCH):
            yield _entry(row)

    def count_log_entries(
        self,
        start: float | None = None,
        end: float | None = None,
        kinds: Iterable[str] | None = None,
        starred_only: bool = False,
        owner_missing: bool = False,
    ) -> int:
        """How many entries iter_log_entries would give (`owner_missing`: without an owner)."""
        where, params = _log_filter(start, end, kinds, starred_only)
        if owner_missing:
            where += (" AND " if where else "WHERE ") + "(owner IS NULL OR owner = '')"
        return self._db.execute(f"SELECT count(*) FROM log {where}", params).fetchone()[0]

    def notable_log_entries(
        self, start: float | None, end: float | None, kinds: Sequence[str], limit: int, starred_only: bool = False
    ) -> list[LogEntry]:
        """At most `limit` entries that are starred or of `kinds`, oldest first. When there are
        more, starred entries are kept first, then kinds in the order given, then the oldest."""
        where, params = _log_filter(start, end, None, starred_only)
        kinds = list(kinds)
        notable = f"(starred = 1 OR kind IN ({', '.join('?' * len(kinds))}))" if kinds else "starred = 1"
        where += (" AND " if where else "WHERE ") + notable
        rank = " ".join(f"WHEN ? THEN {n}" for n in range(len(kinds)))
        order = f"starred DESC, CASE kind {rank} ELSE {len(kinds)} END, ts, id" if kinds else "ts, id"
        rows = self._db.execute(
            f"SELECT {_LOG_COLS} FROM log {where} ORDER BY {order} LIMIT ?", (*params, *kinds, *kinds, limit)
        ).fetchall()
        return sorted((_entry(r) for r in rows), key=lambda e: (e.ts, e.id))

    def log_counts_by_hour(
        self, start: float | None = None, end: float | None = None, starred_only: bool = False
    ) -> list[tuple[float, str, int]]:
        """(hour, kind, entries) over the range, oldest hour first; an hour is the epoch
        second it starts at (UTC hours)."""
        where, params = _log_filter(start, end, None, starred_only)
        hour = f"{self._db.floor('ts / 3600')} * 3600"
        rows = self._db.execute(
            f"SELECT {hour} AS hour, kind, count(*) FROM log {where} GROUP BY hour, kind ORDER BY hour, kind", params
        )
        return [(float(hour), kind, count) for hour, kind, count in rows]


def _log_filter(
    start: float | None, end: float | None, kinds: Iterable[str] | None, starred_only: bool
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append("ts >= ?")
        params.append(start)
    if end is not None:
        clauses.append("ts <= ?")
        params.append(end)
    if kinds is not None:
        kinds = list(kinds)
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    if starred_only:
        clauses.append("starred = 1")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _entry(row: tuple[Any, ...]) -> LogEntry:
    entry_id, ts, author, kind, severity, text, starred, alert, ticket_id, owner = row
    return LogEntry(entry_id, ts, author, kind, severity, text, bool(starred), alert, ticket_id, owner)
