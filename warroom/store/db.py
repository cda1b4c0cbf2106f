"""The room's database behind one small interface: SQLite on one host, PostgreSQL across hosts.

The store's SQL is written once, in the subset both databases share: `?` placeholders,
`ON CONFLICT` upserts, `RETURNING id`, no engine-specific functions. A backend:

- runs it through its driver (PostgreSQL: `?` becomes `%s`),
- turns every driver error into a StoreError of the right kind (busy, unavailable, refused),
  so callers handle one family of errors,
- starts write transactions so that writers are serialised: the store's "logged once" checks
  read and write inside one transaction and rely on no other writer running meanwhile
  (SQLite: BEGIN IMMEDIATE takes the database's write lock; PostgreSQL: a transaction-scoped
  advisory lock per room),
- says when another connection committed (`change_mark`: SQLite's `data_version`,
  PostgreSQL's LISTEN/NOTIFY), so a reader knows when to look at the change topics.

Backends live in `sqlite.py` and `postgres.py`; `open_database` picks one from a location.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

Params = Sequence[Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(ABC):
    """One connection to a room (see the module docstring)."""

    kind: str
    """"sqlite" or "postgresql"."""
    label: str
    """The database as messages name it (a path, or a URL without its password)."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        """Run one statement; StoreError when the database refuses it or cannot be reached."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each row."""

    @abstractmethod
    def iterate(self, sql: str, params: Params, batch: int) -> Iterator[Any]:
        """The rows of a query, fetched `batch` at a time: memory stays flat however many."""

    @abstractmethod
    def columns(self, table: str) -> list[str]:
        """The table's columns, in their order."""

    def ids_copied(self, table: str) -> None:
        """After rows were copied in with their ids: the next id generated follows them."""

    @abstractmethod
    def floor(self, expression: str) -> str:
        """SQL for the whole part of a non-negative number (the engines' casts differ)."""

    @abstractmethod
    def begin_write(self) -> None:
        """Start a transaction that no other writer of the room runs beside."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None:
        """Undo the open transaction; never raises (a lost connection has undone it)."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def change_mark(self) -> int:
        """A number that moves whenever another connection committed a change."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def schema_version(self) -> int: ...


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """`INSERT ... ON CONFLICT (key) DO UPDATE` of every other column: the replace both
    databases understand (SQLite's INSERT OR REPLACE would delete and re-insert the row)."""
    others = [c for c in columns if c not in key]
    marks = ", ".join("?" for _ in columns)
    action = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)) if others else "DO NOTHING"
    return f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks}) ON CONFLICT({', '.join(key)}) {action}"


def insert_ignore(table: str, columns: Sequence[str]) -> str:
    """`INSERT ... ON CONFLICT DO NOTHING`: add the row unless one with its key exists."""
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
