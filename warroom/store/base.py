"""The core every part of the room store is built on: one database, its write transactions,
the incident log entry every change writes, and the room's change topics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

from warroom.store.db import Database
from warroom.store.schema import LOG_KINDS, SEVERITIES, LeaseLost


class StoreCore:
    """One connection to a room; the parts of RoomStore (journal, queue, ...) inherit it."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock
        self._depth = 0  # nesting of _write(): inner writes join the outer transaction
        self._closed = False

    @property
    def label(self) -> str:
        """The room's database as messages name it."""
        return self._db.label

    @property
    def kind(self) -> str:
        return self._db.kind

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _write(self) -> Iterator[Database]:
        """One write transaction, committed on exit; no other writer of the room runs
        meanwhile, so a check made inside it still holds at the commit.

        Re-entrant: a write method called inside another's transaction joins it, so an
        operator's command and everything it logs commit together or not at all."""
        db = self._db
        if self._depth:
            self._depth += 1
            try:
                yield db
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            db.begin_write()
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise
        finally:
            self._depth = 0

    def _now(self, at: float | None) -> float:
        return self._clock() if at is None else float(at)

    # ------------------------------------------------------------------ fencing a recorder

    def check_fence(self, fence: tuple[int, str] | None) -> None:
        """Inside a write: refuse it (LeaseLost) if the room's lease holder is another
        process than `fence` says. On PostgreSQL a recorder learns that its lease died only
        at its next check; meanwhile another recorder may hold the room, and this keeps the
        old one from writing over it. (On one host the kernel's flock leaves no such gap:
        `lease_holder` stays empty and nothing is checked.)"""
        if fence is None:
            return
        row = self._db.execute("SELECT pid, host FROM lease_holder WHERE id = 1").fetchone()
        if row is not None and (int(row[0]), str(row[1])) != fence:
            raise LeaseLost(f"{self.label}: the room's recorder is now pid {row[0]} on {row[1]}")

    # ------------------------------------------------------------------ what every change writes

    def _log(
        self,
        db: Database,
        kind: str,
        severity: str,
        text: str,
        author: str,
        *,
        ts: float,
        alert: str | None = None,
        ticket_id: str | None = None,
        owner: str | None = None,
        starred: bool = False,
    ) -> int:
        """Append one incident log entry inside the caller's transaction; returns its id."""
        if kind not in LOG_KINDS:
            raise ValueError(f"unknown log kind {kind!r}; use one of {', '.join(LOG_KINDS)}")
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
        row = db.execute(
            "INSERT INTO log(ts, author, kind, severity, text, starred, alert, ticket_id, owner) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (ts, author, kind, severity, text, int(starred), alert, ticket_id, owner),
        ).fetchone()
        return int(row[0])

    def _seen_operator(self, db: Database, name: str, now: float) -> None:
        db.execute(
            "INSERT INTO operators(name, first_seen, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen "
            "WHERE excluded.last_seen > operators.last_seen",
            (name, now, now),
        )

    # ------------------------------------------------------------------ the whole room (room copy)

    def has_rows(self) -> bool:
        """Whether operators or a recorder ever wrote to this room."""
        return any(
            self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
            for table in ("log", "tickets", "checklist", "metric_points", "snapshot")
        )

    def rows_of(self, table: str, batch: int, skip_keys: Sequence[str] = ()) -> tuple[list[str], Iterator[Any]]:
        """(columns, rows) of a whole table, read `batch` rows at a time; meta rows with
        `skip_keys` (a backend's own) left out."""
        columns = self._db.columns(table)
        where, params = _skip_keys(table, skip_keys)
        rows = self._db.iterate(f"SELECT {', '.join(columns)} FROM {table}{where}", params, batch)
        return columns, rows

    def copy_rows(self, table: str, source: tuple[list[str], Iterable[Sequence[Any]]], batch: int = 1000) -> int:
        """Insert rows as `rows_of` gives them, with their ids; returns how many."""
        columns, rows = source
        statement = f"INSERT INTO {table}({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        copied, chunk = 0, []
        for row in rows:
            chunk.append(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
            if len(chunk) >= batch:
                copied += self._insert_chunk(statement, chunk)
                chunk = []
        if chunk:
            copied += self._insert_chunk(statement, chunk)
        with self._write() as db:
            db.ids_copied(table)
        return copied

    def _insert_chunk(self, statement: str, chunk: list[tuple[Any, ...]]) -> int:
        with self._write() as db:
            db.executemany(statement, chunk)
        return len(chunk)

    def row_count(self, table: str, skip_keys: Sequence[str] = ()) -> int:
        where, params = _skip_keys(table, skip_keys)
        return int(self._db.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()[0])

    # ------------------------------------------------------------------ change topics

    def change_mark(self) -> int:
        """Moves when another connection committed a change (see Database.change_mark)."""
        return self._db.change_mark()

    def topic_seqs(self) -> dict[str, int]:
        """Each change topic's sequence number (see schema.CHANGE_TOPICS)."""
        return {topic: int(seq) for topic, seq in self._db.execute("SELECT topic, seq FROM changes")}


def _skip_keys(table: str, keys: Sequence[str]) -> tuple[str, list[Any]]:
    if table != "meta" or not keys:
        return "", []
    return f" WHERE key NOT IN ({', '.join('?' for _ in keys)})", list(keys)


def _set_meta(db: Database, key: str, value: Any) -> None:
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
        "SET value = excluded.value WHERE meta.value <> excluded.value",
        (key, json.dumps(value)),
    )


def _get_meta(db: Database, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None
