"""The recorder's lease: who records the room, held through something that dies with its holder.

A room on one host has a lock file beside its database (`launch.db.recorder`). The recorder
holds an exclusive `flock` on it for as long as it runs; the kernel releases the lock when the
process exits, however it exits (kill -9 included), so a dead recorder never blocks the room
and two recorders can never run at once. The holder writes who it is into the file (pid,
operator, host, since) for `warroom room status` and `warroom room stop`.

`flock` locks belong to an open file description, not to the process: opening and closing the
lock file elsewhere in the same process (a dashboard checking whether anyone records) never
drops a lease the process holds. It is a different file from the database, whose POSIX locks
would be dropped by any close() in the process (see store.base).

Like SQLite's WAL, this needs a local filesystem: `flock` is not reliable on network ones.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    operator: str
    host: str
    since: float

    @property
    def who(self) -> str:
        return f"{self.operator}@{self.host}"


def lease_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".recorder")


class RecorderLease:
    """The lease of one room; `acquire()` without blocking, held until `release()` or exit."""

    def __init__(self, db_path: Path, mode: int = 0o600) -> None:
        self.path = lease_path(db_path)
        self.mode = mode
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, operator: str, since: float | None = None) -> bool:
        """Take the lease if nobody holds it; True when we hold it now."""
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
        holder = Holder(os.getpid(), operator, socket.gethostname(), time.time() if since is None else since)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(dataclasses.asdict(holder)).encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)  # closing the description releases the flock


def recorder_running(db_path: Path) -> bool:
    """Whether some process holds the room's lease (a shared lock would wait on it)."""
    path = lease_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the shared lock if we got it
    return False


def current_holder(db_path: Path) -> Holder | None:
    """Who holds the lease, as the holder wrote it, or None when nobody does."""
    if not recorder_running(db_path):
        return None
    try:
        data = json.loads(lease_path(db_path).read_text(encoding="utf-8") or "null")
        return Holder(int(data["pid"]), str(data["operator"]), str(data["host"]), float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # held, but its holder has not written itself down yet
