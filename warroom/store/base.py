"""The core every part of the room store is built on: one database, its write transactions,
the incident log entry every change writes, and the room's change topics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from warroom.store.db import Database
from warroom.store.schema import LOG_KINDS, SEVERITIES


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

    # ------------------------------------------------------------------ what every change writes

    def _log(self, db: Database, kind: str, severity: str, text: str, author: str, *,
             ts: float, alert: str | None = None, ticket_id: str | None = None,
             owner: str | None = None, starred: bool = False) -> int:
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

    # ------------------------------------------------------------------ change topics

    def change_mark(self) -> int:
        """Moves when another connection committed a change (see Database.change_mark)."""
        return self._db.change_mark()

    def topic_seqs(self) -> dict[str, int]:
        """Each change topic's sequence number (see schema.CHANGE_TOPICS)."""
        return {topic: int(seq) for topic, seq in self._db.execute("SELECT topic, seq FROM changes")}


def _set_meta(db: Database, key: str, value: Any) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
               "SET value = excluded.value WHERE meta.value <> excluded.value", (key, json.dumps(value)))


def _get_meta(db: Database, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None
