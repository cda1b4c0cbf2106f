"""The room across hosts: a schema of its own in a PostgreSQL database.

One database can hold the rooms of many launches: each room is a schema (`warroom_<name>`),
so its tables, migrations and change signals are its own, the store's SQL runs unchanged
(only `search_path` differs), and a room is dropped with its schema. A room key in every
table would have meant a key in every query and index for no gain.

What SQLite gives a room on one host, PostgreSQL gives it here:

- writers serialised: every write transaction first takes a transaction-scoped advisory lock
  of the room (`pg_advisory_xact_lock`), so the store's "logged once" checks hold as they do
  under SQLite's single writer; a lock not granted within LOCK_TIMEOUT is StoreBusy;
- change signals: the schema's triggers bump the change topics and `pg_notify` the room's
  channel; a reader LISTENs and counts notifications (`change_mark`), so a dashboard on
  another host hears of an ack or a tick without polling the room;
- a lost connection (a restart of PostgreSQL, a network cut, `pg_terminate_backend`) is
  StoreUnavailable, retryable: the next call reconnects (CONNECT_TIMEOUT), so the door's
  retry loop rides out an outage and keeps the writes in order. A commit whose answer was
  lost may have happened: operators' commands carry an id the room's ledger checks, and the
  recorder's writes are idempotent, so a retry never applies anything twice.

The password comes from the URL (write it as `${NAME}` in config.toml) or libpq's PGPASSFILE;
TLS options (`sslmode`, `sslrootcert`, ...) are passed through in the URL's query.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors, sql

from warroom.store.db import Database, Params
from warroom.store.schema import (
    MIGRATIONS,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    postgres_statements,
)

CONNECT_TIMEOUT = 5  # seconds
LOCK_TIMEOUT = "5s"  # a writer waiting longer for the room's write lock gets StoreBusy
SCHEMA_PREFIX = "warroom_"
_names = itertools.count()


def schema_name(room: str) -> str:
    """The schema of a room: `warroom_` and the name in lower-case letters, digits and `_`."""
    slug = re.sub(r"[^a-z0-9]+", "_", room.lower()).strip("_")
    if not slug:
        raise ValueError(f"room name {room!r} needs a letter or a digit")
    return (SCHEMA_PREFIX + slug)[:63]


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, parts.fragment))


class PostgresDatabase(Database):
    kind = "postgresql"

    def __init__(self, url: str, room: str) -> None:
        self.url = url
        self.schema = schema_name(room)
        self.label = f"{safe_url(url)} (room {room})"
        self.write_key = f"warroom:write:{self.schema}"
        self.conn: psycopg.Connection[Any] | None = None
        self._listening = False
        self._notifications = 0
        self._sql: dict[str, str] = {}
        self._connect()
        self._prepare()

    # ------------------------------------------------------------------ connection

    def _connect(self) -> psycopg.Connection[Any]:
        if self.conn is not None and not self.conn.closed:
            return self.conn
        self.conn = None
        self._listening = False
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name="warroom"
            )
        except psycopg.Error as exc:
            raise StoreUnavailable(f"{self.label}: cannot reach the database: {_first_line(exc)}") from None
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        except psycopg.Error as exc:
            conn.close()
            raise self.error(exc) from None
        self.conn = conn
        return conn

    def _prepare(self) -> None:
        """Create the room's schema if needed and bring it to this warroom's version, under
        a session advisory lock so two processes starting together migrate it once."""
        conn = self._connect()
        key = f"warroom:migrate:{self.schema}"
        try:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                self._migrate(conn)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
        except psycopg.Error as exc:
            raise StoreError(f"{self.label}: cannot use the room: {_first_line(exc)}") from None

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (self.schema,)
        ).fetchone()
        version = 0
        if exists:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,)
                )
            }
            if tables and "meta" not in tables:
                raise StoreError(
                    f"{self.label}: schema {self.schema} holds tables that are not a warroom "
                    "room; choose another [room] name"
                )
            if "meta" in tables:
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.label}: schema version {version} is newer than this warroom "
                f"understands ({len(MIGRATIONS)}); upgrade warroom to open it"
            )
        if version == len(MIGRATIONS):
            return
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            for number in range(version, len(MIGRATIONS)):
                for statement in postgres_statements(MIGRATIONS[number], self.schema):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(len(MIGRATIONS)),),
            )

    # ------------------------------------------------------------------ statements

    def _translate(self, statement: str) -> str:
        """`?` placeholders to psycopg's `%s` (and a literal `%` doubled)."""
        translated = self._sql.get(statement)
        if translated is None:
            translated = self._sql[statement] = statement.replace("%", "%%").replace("?", "%s")
        return translated

    def execute(self, statement: str, params: Params = ()) -> Any:
        conn = self._connect()
        try:
            return conn.execute(self._translate(statement), tuple(params))
        except psycopg.Error as exc:
            raise self.error(exc) from exc

    def executemany(self, statement: str, rows: Iterable[Params]) -> None:
        conn = self._connect()
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        try:
            with conn.cursor() as cursor:
                cursor.executemany(self._translate(statement), rows)
        except psycopg.Error as exc:
            raise self.error(exc) from exc

    def iterate(self, statement: str, params: Params, batch: int) -> Iterator[Any]:
        """A server-side cursor: rows come `batch` at a time, inside one read transaction."""
        conn = self._connect()
        try:
            with conn.transaction(), conn.cursor(name=f"warroom_{next(_names)}") as cursor:
                cursor.execute(self._translate(statement), tuple(params))
                while rows := cursor.fetchmany(batch):
                    yield from rows
        except psycopg.Error as exc:
            raise self.error(exc) from exc

    def columns(self, table: str) -> list[str]:
        return [
            row[0]
            for row in self.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position",
                (self.schema, table),
            )
        ]

    def ids_copied(self, table: str) -> None:
        if "id" not in self.columns(table):
            return
        sequence = self.execute("SELECT pg_get_serial_sequence(?, 'id')", (table,)).fetchone()
        if sequence and sequence[0]:
            self.execute(f"SELECT setval(?, coalesce((SELECT max(id) FROM {table}), 0) + 1, false)", (sequence[0],))

    def floor(self, expression: str) -> str:
        return f"floor({expression})"

    def begin_write(self) -> None:
        self.execute("BEGIN")
        self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (self.write_key,))

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        conn = self.conn
        if conn is None or conn.closed:
            return
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            pass  # the connection is gone, and the transaction with it

    @property
    def in_transaction(self) -> bool:
        conn = self.conn
        return (
            conn is not None and not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        )

    def change_mark(self) -> int:
        """Notifications received on the room's channel so far (LISTEN on first use)."""
        conn = self._connect()
        try:
            if not self._listening:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.schema)))
                self._listening = True
                self._notifications += 1  # a fresh LISTEN may have missed changes: look once
            for _ in conn.notifies(timeout=0):
                self._notifications += 1
        except psycopg.Error as exc:
            raise self.error(exc) from exc
        return self._notifications

    def schema_version(self) -> int:
        row = self.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def error(self, exc: psycopg.Error) -> StoreError:
        if isinstance(exc, errors.LockNotAvailable | errors.SerializationFailure | errors.DeadlockDetected):
            return StoreBusy(f"{self.label}: could not save: another process holds the room's write lock")
        if isinstance(exc, psycopg.OperationalError) or (self.conn is not None and self.conn.closed):
            self._drop()
            return StoreUnavailable(f"{self.label}: the database is unreachable: {_first_line(exc)}")
        return StoreError(f"{self.label}: could not save: {_first_line(exc)}")

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        self._listening = False
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def close(self) -> None:
        self._drop()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
