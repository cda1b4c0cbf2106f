"""Where a room lives, and the files and locks that belong to it.

A room is either a SQLite file on one host (`[room] db`) or a room in a PostgreSQL database
shared across hosts (`[room] url` and `[room] name`). Everything that must know which one
(opening the database, the recorder's lease, who holds it, where the files beside the room
go) asks its `RoomLocation`, so the rest of warroom works the same on both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from warroom.config import Config
from warroom.lease import FlockLease, FlockWatch, Lease, LeaseWatch, PostgresLease, PostgresWatch
from warroom.store.db import Database


@dataclass(frozen=True)
class RoomLocation:
    db_path: Path | None = None
    """The SQLite file (a room on one host)."""
    url: str | None = None
    """The PostgreSQL database (a room across hosts)."""
    name: str | None = None
    """The room's name in that database."""
    group_access: bool = False

    @classmethod
    def of(cls, config: Config) -> RoomLocation:
        room = config.room
        if room.url is not None:
            return cls(url=room.url, name=room.name)
        path = Path(room.db).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.parent / path  # relative to the config file
        return cls(db_path=path, group_access=room.group_access)

    @classmethod
    def parse(cls, text: str) -> RoomLocation:
        """A room named on the command line: a SQLite file, or postgresql://...#ROOM."""
        if text.startswith(("postgresql://", "postgres://")):
            url, _, name = text.partition("#")
            if not name:
                raise ValueError(f"{text}: name the room after a #, e.g. postgresql://warroom@db/warroom#spring-drop")
            return cls(url=url, name=name)
        return cls(db_path=Path(text).expanduser())

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def schema(self) -> str:
        from warroom.store.postgres import schema_name

        return schema_name(self.name or "")

    @property
    def label(self) -> str:
        """The room as messages name it (never with a password)."""
        if self.url is not None:
            from warroom.store.postgres import safe_url

            return f"{safe_url(self.url)} (room {self.name})"
        return str(self.db_path)

    def exists(self) -> bool:
        """Whether there is a room to read (a SQLite file; a PostgreSQL room is assumed)."""
        return self.db_path is None or self.db_path.is_file()

    def open_database(self) -> Database:
        """A new connection to the room (created and migrated if needed); StoreError if not."""
        if self.url is not None:
            from warroom.store.postgres import PostgresDatabase

            return PostgresDatabase(self.url, self.name or "")
        from warroom.store.sqlite import SqliteDatabase

        assert self.db_path is not None
        return SqliteDatabase(self.db_path, group_access=self.group_access)

    def lease(self) -> Lease:
        if self.url is not None:
            return PostgresLease(self.url, self.schema)
        assert self.db_path is not None
        return FlockLease(self.db_path, 0o660 if self.group_access else 0o600)

    def watch(self) -> LeaseWatch:
        if self.url is not None:
            return PostgresWatch(self.url, self.schema)
        assert self.db_path is not None
        return FlockWatch(self.db_path)

    def side_file(self, suffix: str) -> Path:
        """A file that belongs to the room: beside the SQLite file, or in warroom's state
        directory for a PostgreSQL room (named by its schema)."""
        if self.db_path is not None:
            return self.db_path.with_name(self.db_path.name + suffix)
        return state_dir() / f"{self.schema}{suffix}"

    @property
    def spool_path(self) -> Path:
        return self.side_file(".unsaved.jsonl")

    @property
    def recorder_log(self) -> Path:
        return self.side_file(".recorder.log")

    @property
    def retrospective_dir(self) -> Path:
        """Where the E key writes the retrospective."""
        if self.db_path is not None:
            return self.db_path.parent / "retrospective"
        return state_dir() / f"{self.schema}-retrospective"


def state_dir() -> Path:
    """Where warroom keeps its own files ($XDG_STATE_HOME/warroom)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "warroom"
