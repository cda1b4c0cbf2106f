"""The room database's schema, its migrations, and the plain rows the store hands out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from warroom.tickets import PRIORITIES, STATUSES

BUSY_TIMEOUT = 5.0
LOG_KINDS = (
    "note",
    "decision",
    "alert",
    "checklist",
    "ticket",
    "source",
    "action",
    "lesson",
    "launch",
    "room",
    "notify",
)
SEVERITIES = ("info", "warning", "critical")
ALERT_EVENTS = ("pending", "firing", "resolved", "acked", "silenced", "unsilenced")
APPLICATION_ID = 0x57524D31  # "WRM1" in the file header: marks the file as a warroom store


def _one_of(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


CHANGE_TOPICS = ("log", "checklist", "tickets", "alerts", "launch", "snapshot")
LAUNCH_KEYS = ("launch_at", "launch_name", "launch_set_by")


@dataclass(frozen=True)
class ChangeSignals:
    """Triggers that bump a topic's sequence on every insert, update and delete of a table
    (meta: only the launch keys), so no writer can forget to signal its change. Each backend
    writes them in its own dialect (see sqlite_statements, postgres_statements)."""

    topic_of: dict[str, str]
    """table -> topic"""


Statement = str | ChangeSignals


MIGRATIONS: list[tuple[Statement, ...]] = [
    (  # 1: the first schema. Append new tuples; never edit one that has shipped. Statements
        # are SQLite's dialect; postgres_statements translates them (types, identity keys).
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
    (  # 3: one recorder per room; dashboards read what it publishes and write commands
        # What the recorder keeps so that another recorder can carry on where it stopped:
        "CREATE TABLE metric_state (metric TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE metric_buckets (metric TEXT NOT NULL, width INTEGER NOT NULL, "
        "period INTEGER NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL, "
        "PRIMARY KEY (metric, width, period)) WITHOUT ROWID",
        "CREATE TABLE source_state (name TEXT PRIMARY KEY, down INTEGER NOT NULL DEFAULT 0, "
        "cursor TEXT, counters TEXT) WITHOUT ROWID",
        "CREATE TABLE alert_state (rule TEXT PRIMARY KEY, state TEXT NOT NULL, since REAL NOT NULL, "
        "clear_since REAL, no_data INTEGER NOT NULL DEFAULT 0, value REAL, value_text TEXT, "
        "severity TEXT NOT NULL, episode INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
        "ALTER TABLE alert_events ADD COLUMN episode INTEGER",
        "ALTER TABLE silences ADD COLUMN ended_by TEXT",
        # What every screen shows, as the recorder last computed it (one row, replaced):
        "CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, "
        "at REAL NOT NULL, body BLOB NOT NULL)",
        # Who is in the room: dashboards and recorders, with a heartbeat
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, role TEXT NOT NULL, operator TEXT NOT NULL, "
        "host TEXT NOT NULL, pid INTEGER NOT NULL, started_at REAL NOT NULL, "
        "last_seen REAL NOT NULL, ended_at REAL)",
        # Operators' commands applied, by id: a command retried after an unclear failure is
        # applied once
        "CREATE TABLE commands (id TEXT PRIMARY KEY, ts REAL NOT NULL, operator TEXT NOT NULL, "
        "kind TEXT NOT NULL, result TEXT) WITHOUT ROWID",
        # Change signals: every write to a table a screen shows bumps its topic, so a reader
        # that saw `PRAGMA data_version` move reads only the topics that moved.
        "CREATE TABLE changes (topic TEXT PRIMARY KEY, seq INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
        "INSERT INTO changes(topic) VALUES " + ", ".join(f"('{t}')" for t in CHANGE_TOPICS),
        ChangeSignals(
            {
                "log": "log",
                "checklist": "checklist",
                "tickets": "tickets",
                "alert_events": "alerts",
                "silences": "alerts",
                "snapshot": "snapshot",
                "meta": "launch",
            }
        ),
    ),
    (  # 4: who holds a PostgreSQL room's lease (on one host the lock file says it)
        "CREATE TABLE lease_holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, "
        "operator TEXT NOT NULL, host TEXT NOT NULL, since REAL NOT NULL, backend_pid INTEGER NOT NULL)",
    ),
    (  # 5: SLA deadlines stored with each ticket, so a sweep reads only the tickets now due
        "CREATE TABLE sla (priority TEXT PRIMARY KEY, respond REAL NOT NULL, resolve REAL NOT NULL)",
        "ALTER TABLE tickets ADD COLUMN respond_due REAL",
        "ALTER TABLE tickets ADD COLUMN resolve_due REAL",
        # Only tickets still waiting on a target are in these: a met or breached target
        # leaves, so a sweep costs what is due, not the size of the queue.
        "CREATE INDEX tickets_respond_waiting ON tickets(respond_due) "
        "WHERE respond_breached_at IS NULL AND first_response_at IS NULL",
        "CREATE INDEX tickets_resolve_waiting ON tickets(resolve_due) "
        "WHERE resolve_breached_at IS NULL AND solved_at IS NULL",
        "CREATE INDEX tickets_open ON tickets(status)",
    ),
    (  # 6: notifications: the outbox the recorder sends from, and what each group last told
        # (warroom/store/outbox.py); next_at, queued_at and sent_at are wall-clock times
        "CREATE TABLE notify_outbox (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, receiver TEXT NOT NULL, "
        "group_key TEXT NOT NULL, created_at REAL NOT NULL, queued_at REAL NOT NULL, body TEXT NOT NULL, "
        "state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, "
        "sent_at REAL, last_error TEXT, claimed_by TEXT)",
        "CREATE INDEX notify_outbox_queue ON notify_outbox(receiver, state, id)",
        "CREATE TABLE notify_state (key TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID",
    ),
]


def sqlite_statements(migration: tuple[Statement, ...]) -> list[str]:
    out: list[str] = []
    for statement in migration:
        if isinstance(statement, str):
            out.append(statement)
            continue
        for table, topic in statement.topic_of.items():
            for op, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                when = f" WHEN {row}.key IN ({_one_of(LAUNCH_KEYS)})" if table == "meta" else ""
                out.append(
                    f"CREATE TRIGGER {table}_{op.lower()}_signal AFTER {op} ON {table}{when} "
                    f"BEGIN UPDATE changes SET seq = seq + 1 WHERE topic = '{topic}'; END"
                )
    return out


_PG_TYPES = [
    (re.compile(r"\bINTEGER PRIMARY KEY\b(?! CHECK)"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\s+WITHOUT ROWID\b"), ""),
]


def postgres_statements(migration: tuple[Statement, ...], channel: str) -> list[str]:
    """The migration in PostgreSQL's dialect, for a room in its own schema. Change signals
    also NOTIFY `channel`, so readers on other hosts hear of a change without polling."""
    out: list[str] = []
    for statement in migration:
        if isinstance(statement, str):
            for pattern, replacement in _PG_TYPES:
                statement = pattern.sub(replacement, statement)
            out.append(statement)
            continue
        out.append(
            "CREATE OR REPLACE FUNCTION signal_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE changes SET seq = seq + 1 WHERE topic = TG_ARGV[0]; "
            f"PERFORM pg_notify('{channel}', TG_ARGV[0]); RETURN NULL; END $$"
        )
        for table, topic in statement.topic_of.items():
            if table == "meta":
                for op, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                    out.append(
                        f"CREATE TRIGGER {table}_{op.lower()}_signal AFTER {op} ON {table} FOR EACH ROW "
                        f"WHEN ({row}.key IN ({_one_of(LAUNCH_KEYS)})) EXECUTE FUNCTION signal_change('{topic}')"
                    )
            else:
                out.append(
                    f"CREATE TRIGGER {table}_signal AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION signal_change('{topic}')"
                )
    return out


# Events that describe a state of a rule. Only the room's recorder writes them; the store
# still refuses to record the same state twice in a row, inside the write transaction, so
# even two recorders by mistake could not log one change twice.
STATE_EVENTS = ("pending", "firing", "resolved")
ACTIVE_STATES = ("pending", "firing", "nodata")  # what an operator can acknowledge
MUTE_EVENTS = ("silenced", "unsilenced")


class StoreError(Exception):
    """The room database cannot be opened or written; the message says why and what to do.

    `retryable`: the same write may succeed later (the database is locked by another
    process, the disk is full or read-only for now); the room's door keeps such a write and
    tries again instead of dropping it."""

    retryable = False


class StoreBusy(StoreError):
    """Another process held the write lock past the busy timeout."""

    retryable = True


class StoreUnavailable(StoreError):
    """The file cannot be written just now (disk full, read-only, I/O error)."""

    retryable = True


class LeaseLost(StoreError):
    """A recorder's write refused because another recorder holds the room now."""


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
    episode: int | None = None


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
class Session:
    """A process attached to the room: an operator's dashboard or the recorder."""

    id: str
    role: str  # "dashboard" or "recorder"
    operator: str
    host: str
    pid: int
    started_at: float
    last_seen: float
    ended_at: float | None = None

    @property
    def who(self) -> str:
        return f"{self.operator}@{self.host}"


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
