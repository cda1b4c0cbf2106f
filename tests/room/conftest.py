"""The room's backends for the room tests: a SQLite file, and a real PostgreSQL server started
for the session (tests/pg.py). Tests that take `backend` run once on each."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg import Cluster
from warroom.store import RoomStore


@pytest.fixture(scope="session")
def pg_cluster():
    try:
        cluster = Cluster()
    except FileNotFoundError as error:
        pytest.skip(f"{error}; install it with .ci/install-servers.sh")
    yield cluster
    cluster.close()


@dataclass
class Backend:
    """Where a test's room lives, and how to open it again (as another process would)."""

    kind: str
    path: Path | None = None
    url: str | None = None
    room: str | None = None

    def open(self, clock: Callable[[], float] = time.time) -> RoomStore:
        if self.kind == "sqlite":
            return RoomStore(self.path, clock=clock)
        from warroom.store.postgres import PostgresDatabase

        return RoomStore(PostgresDatabase(self.url, self.room), clock=clock)

    @contextlib.contextmanager
    def write_lock_held(self) -> Iterator[None]:
        """Another process's long write: the room's write lock, held until the block ends."""
        if self.kind == "sqlite":
            holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            holder.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                holder.execute("COMMIT")
                holder.close()
            return
        import psycopg

        from warroom.store.postgres import schema_name

        with psycopg.connect(self.url, autocommit=True) as holder:
            holder.execute("BEGIN")
            holder.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"warroom:write:{schema_name(self.room)}",))
            try:
                yield
            finally:
                holder.execute("COMMIT")

    def config(self) -> str:
        """The [room] table of a config.toml for this room."""
        if self.kind == "sqlite":
            return f'[room]\ndb = "{self.path}"\n'
        return f'[room]\nurl = "{self.url}"\nname = "{self.room}"\n'


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", path=tmp_path / "launch.db")
    cluster = request.getfixturevalue("pg_cluster")
    return Backend("postgresql", url=cluster.url(), room=cluster.room())
