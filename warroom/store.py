"""The room store: one SQLite file per launch, shared by every operator process on the host.

Why SQLite in WAL mode: each operator runs their own warroom in their own SSH session, and
all of them must see the same checklist, queue and log, survive a crash of any of them, and
keep writing while others read. WAL gives concurrent readers with one writer at a time,
`synchronous=NORMAL` keeps every commit across an application crash (not a power cut), and
the busy timeout makes writers queue instead of failing. It does not work on network
filesystems; the file must live on the host the operators log into.

Rules the whole module follows:

- Every write method runs one short `BEGIN IMMEDIATE` transaction and commits before it
  returns, so "saved" on screen means on disk. Database errors come out as StoreError, so
  the UI can report them in one place; bad arguments (an unknown log kind) are ValueError.
- Nothing already on disk is ever replaced: a file that is not a SQLite database, is corrupt,
  belongs to another application or has a newer schema is refused with StoreError.
- `changed()` is the cross-process signal for the UI poll: `PRAGMA data_version` moves when
  another connection commits, and our own commits are counted here.
- Times are UTC epoch seconds. Text is stored exactly as given; escaping is the job of
  whatever displays or exports it.

Threading: a RoomStore belongs to the thread that opened it (the asyncio loop thread in the
app); sqlite3's `check_same_thread` enforces that. Other processes open their own RoomStore.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warroom.config import parse_launch_offset
from warroom.model import format_duration
from warroom.tickets import (
    ELLIPSIS,
    MAX_FIELD,
    MAX_SUBJECT,
    PRIORITIES,
    STATUSES,
    Ticket,
    TicketFields,
    TicketMetrics,
    merge_record,
    normalize_priority,
    normalize_status,
    summarize,
)

if TYPE_CHECKING:
    from warroom.config import ChecklistPhaseConfig, SlaConfig

BUSY_TIMEOUT = 5.0
SQLITE_MAGIC = b"SQLite format 3\x00"
LOG_KINDS = ("note", "decision", "alert", "checklist", "ticket", "source", "action", "lesson", "launch")
SEVERITIES = ("info", "warning", "critical")
ALERT_EVENTS = ("pending", "firing", "resolved", "acked", "silenced", "unsilenced")
APPLICATION_ID = 0x57524D31  # "WRM1" in the file header: marks the file as a warroom store


def _one_of(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: the first schema. Append new tuples; never edit one that has shipped.
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE operators (name TEXT PRIMARY KEY, first_seen REAL NOT NULL, last_seen REAL NOT NULL)",
        "CREATE TABLE checklist (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, phase TEXT NOT NULL, "
        "position INTEGER NOT NULL, title TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '', due_offset REAL, "
        "done_at REAL, done_by TEXT, active INTEGER NOT NULL DEFAULT 1)",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, opened_at REAL NOT NULL, subject TEXT NOT NULL, "
        "customer_ref TEXT NOT NULL, category TEXT NOT NULL, "
        f"priority TEXT NOT NULL CHECK (priority IN ({_one_of(PRIORITIES)})), "
        f"status TEXT NOT NULL CHECK (status IN ({_one_of(STATUSES)})), assignee TEXT, "
        "first_response_at REAL, solved_at REAL, updated_at REAL NOT NULL, source TEXT NOT NULL, "
        "respond_breached_at REAL, resolve_breached_at REAL, "
        "src_priority TEXT, src_status TEXT, src_assignee TEXT, src_updated_at REAL)",
        "CREATE INDEX tickets_opened ON tickets(opened_at)",
        # kind and severity are checked in code, so a new kind needs no table rebuild
        "CREATE TABLE log (id INTEGER PRIMARY KEY, ts REAL NOT NULL, author TEXT NOT NULL, "
        "kind TEXT NOT NULL, severity TEXT NOT NULL, text TEXT NOT NULL, "
        "starred INTEGER NOT NULL DEFAULT 0, alert TEXT, ticket_id TEXT, owner TEXT)",
        "CREATE INDEX log_ts ON log(ts)",
        "CREATE INDEX log_kind_ts ON log(kind, ts)",
        "CREATE TABLE alert_events (id INTEGER PRIMARY KEY, ts REAL NOT NULL, rule TEXT NOT NULL, "
        "event TEXT NOT NULL, severity TEXT NOT NULL, value REAL, operator TEXT, "
        "note TEXT NOT NULL DEFAULT '', log_id INTEGER REFERENCES log(id))",
        "CREATE INDEX alert_events_ts ON alert_events(ts)",
        # the primary key is the (metric, ts) index the history queries use
        "CREATE TABLE metric_points (metric TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL, "
        "PRIMARY KEY (metric, ts)) WITHOUT ROWID",
        "CREATE TABLE metric_names (name TEXT PRIMARY KEY) WITHOUT ROWID",
    ),
    (  # 2: silences shared by every operator's warroom, and a faster "last event of a rule"
        "CREATE TABLE silences (id TEXT PRIMARY KEY, matchers TEXT NOT NULL, until REAL NOT NULL, "
        "comment TEXT NOT NULL, operator TEXT NOT NULL, created_at REAL NOT NULL, ended_at REAL)",
        "CREATE INDEX alert_events_rule ON alert_events(rule, id)",
    ),
]

# Events that describe a state of a rule: every operator's warroom evaluates the same rules
# on the same data, so each of them sees the same change; only the first one is recorded.
STATE_EVENTS = ("pending", "firing", "resolved")
MUTE_EVENTS = ("silenced", "unsilenced")


class StoreError(Exception):
    """The room database cannot be opened or written; the message says why and what to do."""


class NotFound(StoreError, KeyError):
    """No checklist item, ticket or log entry with that id."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    ts: float
    author: str
    kind: str
    severity: str
    text: str
    starred: bool
    alert: str | None = None
    ticket_id: str | None = None
    owner: str | None = None
    """For action items: who is to do it."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: int
    key: str
    phase: str
    position: int
    title: str
    owner: str
    due_offset: float | None
    """Seconds relative to launch (negative: before it)."""
    done_at: float | None
    done_by: str | None

    def due_at(self, launch_at: float | None) -> float | None:
        if launch_at is None or self.due_offset is None:
            return None
        return launch_at + self.due_offset


@dataclass(frozen=True, slots=True)
class AlertEvent:
    id: int
    ts: float
    rule: str
    event: str
    severity: str
    value: float | None
    operator: str | None
    note: str


@dataclass(frozen=True, slots=True)
class SharedSilence:
    id: str
    matchers: tuple[tuple[str, str], ...]
    until: float
    comment: str
    operator: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Launch:
    name: str
    at: float | None
    set_by: str | None
    """The operator who set the time, or None when it comes from the config."""


@dataclass(frozen=True, slots=True)
class Breach:
    ticket_id: str
    kind: str  # "respond" or "resolve"
    due: float
    priority: str
    log_id: int


_LOG_COLS = "id, ts, author, kind, severity, text, starred, alert, ticket_id, owner"
_ITEM_COLS = "id, key, phase, position, title, owner, due_offset, done_at, done_by"
_TICKET_COLS = (
    "id, opened_at, subject, customer_ref, category, priority, status, assignee, "
    "first_response_at, solved_at, updated_at, source, respond_breached_at, resolve_breached_at"
)
_TICKET_ROW = _TICKET_COLS + ", src_priority, src_status, src_assignee, src_updated_at"


class RoomStore:
    """Checklist, tickets, incident log, alert history and metric history of one launch."""

    def __init__(self, path: str | os.PathLike[str], *, group_access: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._own_writes = 0
        self._seen: tuple[int, int] | None = None
        created = _create_file(self.path, 0o660 if group_access else 0o600)
        if not created:
            _check_header(self.path)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the room database: {exc}") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                # Damage bad enough that the integrity check itself cannot run.
                raise StoreError(f"{self.path}: the database is damaged ({exc}); it was left as it "
                                 "is: restore a copy or start a new file") from None
            raise StoreError(f"{self.path}: cannot use the room database: {exc}") from None
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------ open, close, changes

    def _prepare(self) -> None:
        """Check, then configure, then migrate: nothing is written before the checks pass."""
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        db.execute("BEGIN")  # one snapshot, in case another process is creating the schema now
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
        finally:
            db.execute("COMMIT")
        if app_id not in (0, APPLICATION_ID) or (version == 0 and app_id == 0 and tables):
            raise StoreError(f"{self.path}: this SQLite database belongs to another application; "
                             "give warroom its own file ([room] db in config.toml)")
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: schema version {version} is newer than this warroom "
                             f"understands ({len(MIGRATIONS)}); upgrade warroom to open it")
        if problems != ["ok"]:
            detail = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
            raise StoreError(f"{self.path}: the database is damaged ({detail}); "
                             "it was left as it is: restore a copy or start a new file")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode!r}); "
                             "is it on a network filesystem?")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        if version < len(MIGRATIONS):
            with self._write() as tx:
                current = tx.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                for number in range(current, len(MIGRATIONS)):
                    for statement in MIGRATIONS[number]:
                        tx.execute(statement)
                    tx.execute(f"PRAGMA user_version = {number + 1}")
                tx.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def close(self) -> None:
        """Checkpoint the WAL into the main file (without waiting long on readers) and close."""
        if self._db is None:
            return
        try:
            self._db.execute("PRAGMA busy_timeout = 200")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a busy checkpoint is finished by the last connection to close
        finally:
            self._db.close()
            self._db = None  # type: ignore[assignment]

    def __enter__(self) -> RoomStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def change_token(self) -> tuple[int, int]:
        """A value that differs after any commit by any process; for readers that keep their
        own "last seen" (changed() keeps one for the store's single poller).

        Cheap enough for a 2-4 Hz poll: data_version reads the WAL index in shared memory and
        moves only for other connections' commits, so our own are counted here."""
        return self._db.execute("PRAGMA data_version").fetchone()[0], self._own_writes

    def changed(self) -> bool:
        """True if anything was committed, by any process, since the previous call.
        The first call answers True, so a fresh screen loads once."""
        mark = self.change_token()
        if mark == self._seen:
            return False
        self._seen = mark
        return True

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on exit. Counts as a change only if it wrote."""
        db = self._db
        before = db.total_changes
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: could not save: {exc}") from exc
            raise
        if db.total_changes != before:
            self._own_writes += 1

    def _now(self, at: float | None) -> float:
        return self._clock() if at is None else float(at)

    # ------------------------------------------------------------------ launch and operators

    def configure_launch(self, name: str, at: float | None) -> None:
        """Take the launch name and time from the config. A time set by an operator ("launch
        now") wins over the config, so a restart never moves the clock everyone sees."""
        with self._write() as db:
            _set_meta(db, "launch_name", name)
            if at is not None and _get_meta(db, "launch_set_by") is None:
                _set_meta(db, "launch_at", at)

    def set_launch(self, at: float, operator: str) -> None:
        """Start (or move) the launch clock for everyone, and log it."""
        now = self._clock()
        with self._write() as db:
            _set_meta(db, "launch_at", float(at))
            _set_meta(db, "launch_set_by", operator)
            self._seen_operator(db, operator, now)
            self._log(db, "launch", "info", f"launch time set to {_iso(at)}", operator, ts=now)

    def launch(self) -> Launch:
        return Launch(
            name=_get_meta(self._db, "launch_name") or "Launch",
            at=_get_meta(self._db, "launch_at"),
            set_by=_get_meta(self._db, "launch_set_by"),
        )

    def launch_time(self) -> float | None:
        return _get_meta(self._db, "launch_at")

    def register_operator(self, name: str) -> None:
        """Record that `name` works this launch (call once at start)."""
        with self._write() as db:
            self._seen_operator(db, name, self._clock())

    def operators(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM operators ORDER BY first_seen, name")]

    def _seen_operator(self, db: sqlite3.Connection, name: str, now: float) -> None:
        db.execute(
            "INSERT INTO operators(name, first_seen, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            (name, now, now),
        )

    # ------------------------------------------------------------------ checklist

    def sync_checklist(self, phases: Sequence[ChecklistPhaseConfig]) -> None:
        """Insert or update the configured items, keyed by phase and title, keeping their done
        state. Items no longer in the config are hidden but kept (they may have been done)."""
        rows, seen = [], set()
        for phase in phases:
            for item in phase.items:
                key, n = json.dumps([phase.name, item.title]), 1
                while key in seen:  # the same title twice in a phase: number the repeats
                    n += 1
                    key = json.dumps([phase.name, item.title, n])
                seen.add(key)
                due = parse_launch_offset(item.due) if item.due is not None else None
                rows.append((key, phase.name, len(rows), item.title, item.owner, due))
        with self._write() as db:
            db.executemany(
                "INSERT INTO checklist(key, phase, position, title, owner, due_offset, active) "
                "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET "
                "phase = excluded.phase, position = excluded.position, owner = excluded.owner, "
                "due_offset = excluded.due_offset, active = 1 WHERE active = 0 OR "
                "(phase, position, owner, due_offset) IS NOT "
                "(excluded.phase, excluded.position, excluded.owner, excluded.due_offset)",
                rows,
            )
            gone = {k for (k,) in db.execute("SELECT key FROM checklist WHERE active = 1")} - seen
            db.executemany("UPDATE checklist SET active = 0 WHERE key = ?", [(k,) for k in gone])

    def checklist(self) -> list[ChecklistItem]:
        """The configured items, in config order."""
        rows = self._db.execute(f"SELECT {_ITEM_COLS} FROM checklist WHERE active = 1 ORDER BY position")
        return [ChecklistItem(*r) for r in rows]

    def toggle_item(self, item_id: int, operator: str, at: float | None = None) -> ChecklistItem:
        """Mark an item done (or not done again), and log who did it."""
        now = self._now(at)
        with self._write() as db:
            row = db.execute(f"SELECT {_ITEM_COLS} FROM checklist WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFound(f"no checklist item {item_id}")
            item = ChecklistItem(*row)
            done_at, done_by = (None, None) if item.done_at is not None else (now, operator)
            db.execute("UPDATE checklist SET done_at = ?, done_by = ? WHERE id = ?", (done_at, done_by, item_id))
            text = f"{'done' if done_at else 'not done'}: {item.phase} / {item.title}"
            self._seen_operator(db, operator, now)
            self._log(db, "checklist", "info", text, operator, ts=now)
        return dataclasses.replace(item, done_at=done_at, done_by=done_by)

    # ------------------------------------------------------------------ incident log

    def add_log(self, kind: str, severity: str, text: str, author: str, *, ts: float | None = None,
                alert: str | None = None, ticket_id: str | None = None, owner: str | None = None,
                starred: bool = False) -> int:
        """Append one entry; returns its id once it is committed."""
        with self._write() as db:
            return self._log(db, kind, severity, text, author, ts=self._now(ts), alert=alert,
                             ticket_id=ticket_id, owner=owner, starred=starred)

    def last_log_text(self, kind: str, prefix: str) -> str | None:
        """The newest entry of `kind` whose text starts with `prefix` (e.g. one source's)."""
        row = self._db.execute(
            "SELECT text FROM log WHERE kind = ? AND substr(text, 1, ?) = ? ORDER BY id DESC LIMIT 1",
            (kind, len(prefix), prefix)).fetchone()
        return row[0] if row else None

    def add_logs(self, entries: Iterable[Mapping[str, Any]]) -> list[int]:
        """Append many entries (each a mapping of add_log's arguments) in one transaction."""
        with self._write() as db:
            return [self._log(db, **{**e, "ts": self._now(e.get("ts"))}) for e in entries]

    def _log(self, db: sqlite3.Connection, kind: str, severity: str, text: str, author: str, *,
             ts: float, alert: str | None = None, ticket_id: str | None = None,
             owner: str | None = None, starred: bool = False) -> int:
        if kind not in LOG_KINDS:
            raise ValueError(f"unknown log kind {kind!r}; use one of {', '.join(LOG_KINDS)}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
        cursor = db.execute(
            "INSERT INTO log(ts, author, kind, severity, text, starred, alert, ticket_id, owner) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ts, author, kind, severity, text, int(starred), alert, ticket_id, owner),
        )
        return cursor.lastrowid  # type: ignore[return-value]

    def star(self, entry_id: int, starred: bool = True) -> None:
        """Mark (or unmark) an entry for the retrospective."""
        with self._write() as db:
            if db.execute("UPDATE log SET starred = ? WHERE id = ?", (int(starred), entry_id)).rowcount == 0:
                raise NotFound(f"no log entry {entry_id}")

    def get_log(self, entry_id: int) -> LogEntry | None:
        row = self._db.execute(f"SELECT {_LOG_COLS} FROM log WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def recent(self, limit: int = 200, kinds: Iterable[str] | None = None,
               starred_only: bool = False) -> list[LogEntry]:
        """The newest `limit` entries (optionally of some kinds), oldest first: the UI's window."""
        where, params = _log_filter(None, None, kinds, starred_only)
        rows = self._db.execute(
            f"SELECT * FROM (SELECT {_LOG_COLS} FROM log {where} ORDER BY ts DESC, id DESC LIMIT ?) "
            "ORDER BY ts, id", (*params, limit))
        return [_entry(r) for r in rows]

    def log_entries(self, start: float | None = None, end: float | None = None,
                    kinds: Iterable[str] | None = None, starred_only: bool = False) -> list[LogEntry]:
        """Every entry with start <= ts <= end, oldest first: for the export."""
        where, params = _log_filter(start, end, kinds, starred_only)
        return [_entry(r) for r in self._db.execute(f"SELECT {_LOG_COLS} FROM log {where} ORDER BY ts, id", params)]

    def count_log(self, kinds: Iterable[str] | None = None) -> int:
        where, params = _log_filter(None, None, kinds, False)
        return self._db.execute(f"SELECT count(*) FROM log {where}", params).fetchone()[0]

    # ------------------------------------------------------------------ alert history

    def record_alert_event(self, ts: float, rule: str, event: str, severity: str,
                           value: float | None = None, operator: str | None = None,
                           note: str = "", value_text: str | None = None) -> int:
        """Store an alert transition or an operator's ack/silence, and log it (kind "alert").

        `value_text` is the value as the screen shows it (9.8%, 540 ms) for the log line."""
        if event not in ALERT_EVENTS:
            raise ValueError(f"unknown alert event {event!r}; use one of {', '.join(ALERT_EVENTS)}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
        if event in STATE_EVENTS or event in MUTE_EVENTS:
            group = STATE_EVENTS if event in STATE_EVENTS else MUTE_EVENTS
            with self._write() as db:  # checked inside the write lock: no two processes both add it
                last = db.execute(
                    f"SELECT id, event FROM alert_events WHERE rule = ? AND event IN ({_one_of(group)}) "
                    "ORDER BY id DESC LIMIT 1", (rule,)).fetchone()
                if last is not None and last[1] == event:
                    return last[0]  # another operator's warroom recorded this change already
                return self._alert_event(db, ts, rule, event, severity, value, operator, note, value_text)
        with self._write() as db:
            return self._alert_event(db, ts, rule, event, severity, value, operator, note, value_text)

    def _alert_event(self, db: sqlite3.Connection, ts: float, rule: str, event: str, severity: str,
                     value: float | None, operator: str | None, note: str, value_text: str | None) -> int:
        text = f"{rule} {event}"
        if value_text is not None:
            text += f" (value {value_text})"
        elif value is not None:
            text += f" (value {value:g})"
        if operator:
            text += f" by {operator}"
        if note:
            text += f": {note}"
        log_id = self._log(db, "alert", severity if event == "firing" else "info", text,
                           operator or "alerts", ts=ts, alert=rule)
        cursor = db.execute(
            "INSERT INTO alert_events(ts, rule, event, severity, value, operator, note, log_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (ts, rule, event, severity, value, operator, note, log_id))
        if operator:
            self._seen_operator(db, operator, ts)
        return cursor.lastrowid  # type: ignore[return-value]

    def alert_events(self, start: float | None = None, end: float | None = None) -> list[AlertEvent]:
        rows = self._db.execute(
            "SELECT id, ts, rule, event, severity, value, operator, note FROM alert_events "
            "WHERE ts >= ? AND ts <= ? ORDER BY ts, id",
            (-math.inf if start is None else start, math.inf if end is None else end))
        return [AlertEvent(*r) for r in rows]

    def alert_events_after(self, last_id: int, events: Sequence[str] = ("acked",)) -> list[AlertEvent]:
        """Events of these kinds recorded after `last_id`, by any operator, oldest first."""
        rows = self._db.execute(
            "SELECT id, ts, rule, event, severity, value, operator, note FROM alert_events "
            f"WHERE id > ? AND event IN ({_one_of(events)}) ORDER BY id", (last_id,))
        return [AlertEvent(*r) for r in rows]

    # ------------------------------------------------------------------ silences

    def add_silence(self, silence_id: str, matchers: Sequence[tuple[str, str]], until: float,
                    comment: str, operator: str, created_at: float) -> None:
        """Share a silence with every operator's warroom (idempotent by id)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO silences(id, matchers, until, comment, operator, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (silence_id, json.dumps([list(m) for m in matchers]), until, comment, operator, created_at))

    def end_silence(self, silence_id: str, at: float) -> None:
        with self._write() as db:
            db.execute("UPDATE silences SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (at, silence_id))

    def active_silences(self, now: float) -> list[SharedSilence]:
        rows = self._db.execute(
            "SELECT id, matchers, until, comment, operator, created_at FROM silences "
            "WHERE ended_at IS NULL AND until > ? ORDER BY created_at", (now,))
        return [SharedSilence(r[0], tuple(tuple(m) for m in json.loads(r[1])), *r[2:]) for r in rows]

    # ------------------------------------------------------------------ metric history

    def write_metric_points(self, points: Iterable[tuple[float, str, float]]) -> int:
        """Store (ts, metric, value) rows in one transaction; returns how many were stored.

        A point for an existing (metric, ts) replaces it, so processes that align `ts` to the
        history interval do not duplicate each other. Non-finite values are skipped (gaps)."""
        rows = [(m, float(t), float(v)) for t, m, v in points if v is not None and math.isfinite(v)]
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO metric_points(metric, ts, value) VALUES (?, ?, ?)", rows)
            db.executemany("INSERT OR IGNORE INTO metric_names(name) VALUES (?)", {(r[0],) for r in rows})
        return len(rows)

    def metric_history(self, metric: str, start: float | None = None,
                       end: float | None = None) -> list[tuple[float, float]]:
        return self._db.execute(
            "SELECT ts, value FROM metric_points WHERE metric = ? AND ts >= ? AND ts <= ? ORDER BY ts",
            (metric, -math.inf if start is None else start, math.inf if end is None else end)).fetchall()

    def metric_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM metric_names ORDER BY name")]

    # ------------------------------------------------------------------ tickets

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        row = self._db.execute(f"SELECT {_TICKET_COLS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return Ticket(*row) if row else None

    def tickets(self, open_only: bool = False, limit: int | None = None) -> list[Ticket]:
        """Tickets, oldest first (with `limit`: the newest that many)."""
        where = "WHERE status != 'solved'" if open_only else ""
        rows = self._db.execute(
            f"SELECT * FROM (SELECT {_TICKET_COLS} FROM tickets {where} ORDER BY opened_at DESC, id DESC "
            "LIMIT ?) ORDER BY opened_at, id", (-1 if limit is None else limit,))
        return [Ticket(*r) for r in rows]

    def ticket_metrics(self) -> TicketMetrics:
        return summarize(self.tickets())

    def upsert_ticket(self, fields: TicketFields, source: str, at: float | None = None) -> str:
        """Create or update a ticket from a validated source record (see validate_ticket_record).

        Returns "created", "updated", "unchanged" or "stale". The field rule, which keeps an
        operator's assignee, status and priority until the source really changes them, is
        documented on tickets.merge_record."""
        return self.upsert_tickets([fields], source, at)[0]

    def upsert_tickets(self, batch: Iterable[TicketFields], source: str, at: float | None = None) -> list[str]:
        """upsert_ticket for a whole batch of records, in one transaction."""
        now = self._now(at)
        names = [c.strip() for c in _TICKET_ROW.split(",")]
        outcomes = []
        with self._write() as db:
            for fields in batch:
                found = db.execute(f"SELECT {_TICKET_ROW} FROM tickets WHERE id = ?", (fields.id,)).fetchone()
                outcome, row = merge_record(dict(zip(names, found)) if found else None, fields, source, now)
                if row is not None:
                    db.execute(
                        f"INSERT INTO tickets({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                        f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in row)}",
                        tuple(row.values()))
                outcomes.append(outcome)
        return outcomes

    def create_ticket(self, subject: str, operator: str, *, customer_ref: str = "", category: str = "",
                      priority: str = "normal", at: float | None = None) -> Ticket:
        """A ticket opened by an operator, numbered W-0001, W-0002, ..."""
        priority = normalize_priority(priority)
        subject = _cut(subject.strip(), MAX_SUBJECT)
        if not subject:
            raise ValueError("a ticket needs a subject")
        now = self._now(at)
        with self._write() as db:
            number = db.execute("SELECT coalesce(max(CAST(substr(id, 3) AS INTEGER)), 0) FROM tickets "
                                "WHERE id GLOB 'W-[0-9]*'").fetchone()[0] + 1
            while db.execute("SELECT 1 FROM tickets WHERE id = ?", (f"W-{number:04d}",)).fetchone():
                number += 1
            ticket_id = f"W-{number:04d}"
            db.execute(
                "INSERT INTO tickets(id, opened_at, subject, customer_ref, category, priority, status, "
                "updated_at, source) VALUES (?, ?, ?, ?, ?, ?, 'new', ?, 'operator')",
                (ticket_id, now, subject, _cut(customer_ref.strip(), MAX_FIELD),
                 _cut(category.strip(), MAX_FIELD), priority, now))
            self._seen_operator(db, operator, now)
            self._log(db, "ticket", "info", f"{ticket_id} opened: {subject}", operator, ts=now, ticket_id=ticket_id)
        return self.get_ticket(ticket_id)  # type: ignore[return-value]

    def assign(self, ticket_id: str, operator: str, assignee: str | None = None,
               at: float | None = None) -> Ticket:
        """Assign to `assignee` (default: the operator, "assign to me"); a new ticket opens."""
        who = assignee or operator

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            if t.assignee == who:
                return {}, ""
            return {"assignee": who, **({"status": "open"} if t.status == "new" else {})}, f"assigned to {who}"

        return self._ticket_action(ticket_id, operator, at, change)

    def respond(self, ticket_id: str, operator: str, at: float | None = None) -> Ticket:
        """Record the first response (later ones change nothing); takes an unassigned ticket."""

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            if t.first_response_at is not None:
                return {}, ""
            updates: dict[str, Any] = {"first_response_at": now}
            if t.status == "new":
                updates["status"] = "open"
            if t.assignee is None:
                updates["assignee"] = operator
            return updates, f"responded after {format_duration(now - t.opened_at)}"

        return self._ticket_action(ticket_id, operator, at, change)

    def set_priority(self, ticket_id: str, priority: str, operator: str, at: float | None = None) -> Ticket:
        new = normalize_priority(priority)

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            return ({"priority": new}, f"priority {t.priority} -> {new}") if t.priority != new else ({}, "")

        return self._ticket_action(ticket_id, operator, at, change)

    def set_status(self, ticket_id: str, status: str, operator: str, at: float | None = None) -> Ticket:
        """Move a ticket to a status. Solving stamps solved_at (and the first response, if
        there was none); leaving "solved" clears solved_at."""
        new = normalize_status(status)

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            if t.status == new:
                return {}, ""
            updates: dict[str, Any] = {"status": new, "solved_at": now if new == "solved" else None}
            if new == "solved":
                if t.first_response_at is None:
                    updates["first_response_at"] = now
                if t.assignee is None:
                    updates["assignee"] = operator
                return updates, f"solved after {format_duration(now - t.opened_at)}"
            return updates, f"status {t.status} -> {new}"

        return self._ticket_action(ticket_id, operator, at, change)

    def solve(self, ticket_id: str, operator: str, at: float | None = None) -> Ticket:
        return self.set_status(ticket_id, "solved", operator, at)

    def _ticket_action(self, ticket_id: str, operator: str, at: float | None,
                       change: Callable[[Ticket, float], tuple[dict[str, Any], str]]) -> Ticket:
        """Apply an operator's change in one transaction and log it; a no-op writes nothing."""
        now = self._now(at)
        with self._write() as db:
            row = db.execute(f"SELECT {_TICKET_COLS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            ticket = Ticket(*row)
            updates, text = change(ticket, now)
            if updates:
                updates["updated_at"] = now
                db.execute(f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in updates)} WHERE id = ?",
                           (*updates.values(), ticket_id))
                self._seen_operator(db, operator, now)
                self._log(db, "ticket", "info", f"{ticket_id} {text}", operator, ts=now, ticket_id=ticket_id)
        return dataclasses.replace(ticket, **updates)

    # ------------------------------------------------------------------ SLA

    def check_sla(self, now: float, sla: Mapping[str, SlaConfig]) -> list[Breach]:
        """Mark and log every SLA target missed by `now` that is not marked yet.

        Each breach is marked and logged exactly once, whichever process sees it first: the
        check is repeated inside a write transaction, where no one else can write. The breach
        time (and its log entry's time) is the deadline, not the moment we noticed."""
        if not sla or not self._db.execute(*_late_query(now, sla)).fetchone():
            return []  # the common case: a read, no write lock
        breaches = []
        with self._write() as db:
            for ticket_id, priority, respond_due, resolve_due, respond_late, resolve_late in db.execute(
                    *_late_query(now, sla)).fetchall():
                for kind, due, late in (("respond", respond_due, respond_late), ("resolve", resolve_due, resolve_late)):
                    if not late:
                        continue
                    db.execute(f"UPDATE tickets SET {kind}_breached_at = ? WHERE id = ?", (due, ticket_id))
                    target = sla[priority].respond if kind == "respond" else sla[priority].resolve
                    what = "first response" if kind == "respond" else "resolution"
                    log_id = self._log(
                        db, "ticket", "critical" if priority == "urgent" else "warning",
                        f"{ticket_id} missed its {what} target ({priority}, {format_duration(target)})",
                        "sla", ts=due, ticket_id=ticket_id)
                    breaches.append(Breach(ticket_id, kind, due, priority, log_id))
        return breaches


# ---------------------------------------------------------------------- helpers


def _create_file(path: Path, mode: int) -> bool:
    """Create the database file with `mode` before SQLite writes a byte; False if it exists.

    SQLite gives the -wal and -shm files the mode of the database file, so they follow."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the room database: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away
    finally:
        os.close(fd)
    return True


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite can touch it (an empty file is fine)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the room database: {exc.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{path}: not a SQLite database; it was left as it is: "
                         "choose another file ([room] db in config.toml)")
    if not os.access(path, os.R_OK | os.W_OK):
        if _read_only_filesystem(path):
            raise StoreError(f"{path}: the filesystem it is on is read-only (a full or failing disk "
                             "is often remounted so); free or fix it, or use another [room] db")
        raise StoreError(f"{path}: no permission to write it; ask its owner, who can allow "
                         "the group with [room] group_access = true")


def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _late_query(now: float, sla: Mapping[str, SlaConfig]) -> tuple[str, list[Any]]:
    """Tickets with a deadline passed and not yet marked, with (due, late) per target.

    A target met late (responded or solved after the deadline) is still a breach."""
    values = ", ".join("(?, ?, ?, ?)" for _ in sla)
    params = [x for p, t in sla.items() for x in (p, t.respond, t.resolve, now)]
    return (
        f"WITH sla(priority, respond, resolve, now) AS (VALUES {values}), "
        "due AS (SELECT t.*, t.opened_at + sla.respond AS respond_due, "
        "t.opened_at + sla.resolve AS resolve_due, sla.now FROM tickets t JOIN sla USING (priority)), "
        "late AS (SELECT id, priority, respond_due, resolve_due, "
        "respond_breached_at IS NULL AND respond_due <= now AND coalesce(first_response_at > respond_due, 1) "
        "AS respond_late, "
        "resolve_breached_at IS NULL AND resolve_due <= now AND coalesce(solved_at > resolve_due, 1) "
        "AS resolve_late FROM due) "
        "SELECT * FROM late WHERE respond_late OR resolve_late ORDER BY id",
        params,
    )


def _log_filter(start: float | None, end: float | None, kinds: Iterable[str] | None,
                starred_only: bool) -> tuple[str, list[Any]]:
    clauses, params = [], []
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
    return LogEntry(*row[:6], bool(row[6]), *row[7:])


def _set_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
               "SET value = excluded.value WHERE value IS NOT excluded.value", (key, json.dumps(value)))


def _get_meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
