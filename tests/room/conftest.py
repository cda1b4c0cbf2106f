"""The room's backends for the room tests: a SQLite file, and a real PostgreSQL server started
for the session (tests/pg.py). Tests that take `backend` run once on each."""

from __future__ import annotations

import time
from collections.abc import Callable
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
