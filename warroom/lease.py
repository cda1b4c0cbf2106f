"""The recorder's lease: who records the room, held through something that dies with its holder.

- A room on one host (SQLite) has a lock file beside its database (`launch.db.recorder`).
  The recorder holds an exclusive `flock` on it for as long as it runs; the kernel releases it
  when the process exits, however it exits (kill -9 included). The holder writes who it is
  into the file (pid, operator, host, since). `flock` locks belong to an open file
  description, so opening and closing the lock file elsewhere in the same process (a
  dashboard checking whether anyone records) never drops a lease the process holds; and it is
  a different file from the database, whose POSIX locks any close() in the process would drop
  (see store.sqlite). Like SQLite's WAL, it needs a local filesystem.
- A room in PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection the
  recorder keeps for it. The server releases it when that connection ends: the process died,
  the network was cut, or an administrator closed it (`pg_terminate_backend`). The holder
  writes who it is into the room's `lease_holder` row, with the server process of its
  connection, so anyone can check in `pg_locks` that the holder still holds it. A recorder
  whose lease connection is gone has lost the room and must stop (`alive()`), since another
  may already hold it.

So a dead recorder never blocks the room and two recorders never record it at once.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    operator: str
    host: str
    since: float

    @property
    def who(self) -> str:
        return f"{self.operator}@{self.host}"


class Lease(ABC):
    """The lease of one room; `acquire()` without blocking, held until `release()` or exit."""

    @property
    @abstractmethod
    def held(self) -> bool: ...

    @abstractmethod
    def acquire(self, operator: str, since: float | None = None) -> bool:
        """Take the lease if nobody holds it; True when we hold it now."""

    @abstractmethod
    def alive(self) -> bool:
        """Whether we still hold it (a PostgreSQL lease dies with its connection)."""

    @abstractmethod
    def release(self) -> None: ...


class LeaseWatch(ABC):
    """Looks at who holds a room's lease, from any process; `close()` when done."""

    @abstractmethod
    def holder(self) -> Holder | None:
        """Who holds the lease, or None when nobody does; StoreUnavailable when it cannot
        be told (the database is unreachable)."""

    def running(self) -> bool:
        return self.holder() is not None

    def close(self) -> None:
        """Let go of what the watch keeps open."""


def _me(operator: str, since: float | None) -> Holder:
    return Holder(os.getpid(), operator, socket.gethostname(), time.time() if since is None else since)


# --------------------------------------------------------------------------- one host: flock


def lease_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".recorder")


class FlockLease(Lease):
    def __init__(self, db_path: Path, mode: int = 0o600) -> None:
        self.path = lease_path(db_path)
        self.mode = mode
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, operator: str, since: float | None = None) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, self.mode)  # not inherited (PEP 446)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(dataclasses.asdict(_me(operator, since))).encode(), 0)
        self._fd = fd
        return True

    def alive(self) -> bool:
        return self._fd is not None  # the kernel never takes a flock back from a living holder

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing the description releases the flock


class FlockWatch(LeaseWatch):
    def __init__(self, db_path: Path) -> None:
        self.path = lease_path(db_path)

    def running(self) -> bool:
        """Whether some process holds the lease (a shared lock would wait on it)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also releases the shared lock if we got it
        return False

    def holder(self) -> Holder | None:
        if not self.running():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
            return Holder(int(data["pid"]), str(data["operator"]), str(data["host"]), float(data["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # held, but its holder has not written itself down yet


# --------------------------------------------------------------------------- across hosts: PostgreSQL


class PostgresLease(Lease):
    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self.key = f"warroom:recorder:{schema}"
        self._conn: Any = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def _connection(self) -> Any:
        import psycopg
        from psycopg import sql

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=5, application_name="warroom recorder lease"
            )
            self._conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        return self._conn

    def acquire(self, operator: str, since: float | None = None) -> bool:
        import psycopg

        if self._held:
            return True
        try:
            conn = self._connection()
            if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.key,)).fetchone()[0]:
                return False
            me = _me(operator, since)
            conn.execute(
                "INSERT INTO lease_holder(id, pid, operator, host, since, backend_pid) "
                "VALUES (1, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT(id) DO UPDATE SET "
                "pid = excluded.pid, operator = excluded.operator, host = excluded.host, "
                "since = excluded.since, backend_pid = excluded.backend_pid",
                (me.pid, me.operator, me.host, me.since),
            )
        except psycopg.Error:
            self._drop()
            return False
        self._held = True
        return True

    def alive(self) -> bool:
        import psycopg

        conn = self._conn
        if not self._held or conn is None or conn.closed:
            self._held = False
            return False
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            self._held = False
            self._drop()
            return False
        return True

    def release(self) -> None:
        import psycopg

        if self._held and self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("DELETE FROM lease_holder WHERE backend_pid = pg_backend_pid()")
                self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.key,))
            except psycopg.Error:
                pass
        self._held = False
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken connection: nothing more to learn
                pass


class PostgresWatch(LeaseWatch):
    """Keeps one connection to look at the holder row and `pg_locks`."""

    def __init__(self, url: str, schema: str) -> None:
        self.lease = PostgresLease(url, schema)

    def holder(self) -> Holder | None:
        import psycopg

        from warroom.store.schema import StoreUnavailable

        try:
            conn = self.lease._connection()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"the database is unreachable: {str(exc).strip().splitlines()[0]}") from None
        try:
            row = conn.execute(
                "SELECT h.pid, h.operator, h.host, h.since FROM lease_holder h WHERE EXISTS ("
                "SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.pid = h.backend_pid)"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return None  # no room yet: nobody holds it
        except psycopg.Error as exc:
            self.lease._drop()
            raise StoreUnavailable(f"the database is unreachable: {str(exc).strip().splitlines()[0]}") from None
        return Holder(int(row[0]), str(row[1]), str(row[2]), float(row[3])) if row else None

    def close(self) -> None:
        self.lease._drop()
