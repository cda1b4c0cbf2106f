"""Opening, preparing and closing the room database; transactions and change detection."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from warroom.store.schema import (
    APPLICATION_ID,
    BUSY_TIMEOUT,
    MIGRATIONS,
    StoreBusy,
    StoreError,
    StoreUnavailable,
)


class StoreBase:
    """The connection every part of the room store writes through."""

    def __init__(self, path: str | os.PathLike[str], *, group_access: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._own_writes = 0
        self._seen: tuple[int, int] | None = None
        self._depth = 0  # nesting of _write(): inner writes join the outer transaction
        created = _create_file(self.path, 0o660 if group_access else 0o600)
        if not created:
            _check_access(self.path)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the room database: {exc}") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._db.close()
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith("SQLITE_NOTADB"):
                # SQLite itself read the header: never open() the database file in a process
                # that may hold a connection to it (closing any descriptor of the file drops
                # every POSIX lock the process holds, and another process would then delete
                # the live WAL).
                raise StoreError(f"{self.path}: not a SQLite database; it was left as it is: "
                                 "choose another file ([room] db in config.toml)") from None
            if name.startswith("SQLITE_CORRUPT"):
                # Damage bad enough that the integrity check itself cannot run.
                raise StoreError(f"{self.path}: the database is damaged ({exc}); it was left as it "
                                 "is: restore a copy or start a new file") from None
            raise StoreError(f"{self.path}: cannot use the room database: {exc}") from None
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------ open, close, changes

    def _prepare(self) -> None:
        """Check, then configure, then migrate: nothing is written before the checks pass."""
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        db.execute("BEGIN")  # one snapshot, in case another process is creating the schema now
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
        finally:
            db.execute("COMMIT")
        if app_id not in (0, APPLICATION_ID) or (version == 0 and app_id == 0 and tables):
            raise StoreError(f"{self.path}: this SQLite database belongs to another application; "
                             "give warroom its own file ([room] db in config.toml)")
        if version > len(MIGRATIONS):
            raise StoreError(f"{self.path}: schema version {version} is newer than this warroom "
                             f"understands ({len(MIGRATIONS)}); upgrade warroom to open it")
        if problems != ["ok"]:
            detail = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
            raise StoreError(f"{self.path}: the database is damaged ({detail}); "
                             "it was left as it is: restore a copy or start a new file")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode!r}); "
                             "is it on a network filesystem?")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        if version < len(MIGRATIONS):
            with self._write() as tx:
                current = tx.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                for number in range(current, len(MIGRATIONS)):
                    for statement in MIGRATIONS[number]:
                        tx.execute(statement)
                    tx.execute(f"PRAGMA user_version = {number + 1}")
                tx.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def close(self) -> None:
        """Checkpoint the WAL into the main file (without waiting long on readers) and close."""
        if self._db is None:
            return
        try:
            self._db.execute("PRAGMA busy_timeout = 200")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a busy checkpoint is finished by the last connection to close
        finally:
            self._db.close()
            self._db = None  # type: ignore[assignment]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def change_token(self) -> tuple[int, int]:
        """A value that differs after any commit by any process; for readers that keep their
        own "last seen" (changed() keeps one for the store's single poller).

        Cheap enough for a 2-4 Hz poll: data_version reads the WAL index in shared memory and
        moves only for other connections' commits, so our own are counted here."""
        return self._db.execute("PRAGMA data_version").fetchone()[0], self._own_writes

    def changed(self) -> bool:
        """True if anything was committed, by any process, since the previous call.
        The first call answers True, so a fresh screen loads once."""
        mark = self.change_token()
        if mark == self._seen:
            return False
        self._seen = mark
        return True

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed on exit. Counts as a change only if it wrote.

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
        before = db.total_changes
        self._depth = 1
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise store_error(self.path, exc) from exc
            raise
        finally:
            self._depth = 0
        if db.total_changes != before:
            self._own_writes += 1

    def topic_seqs(self) -> dict[str, int]:
        """Each change topic's sequence number (see schema.CHANGE_TOPICS)."""
        return dict(self._db.execute("SELECT topic, seq FROM changes"))

    def _now(self, at: float | None) -> float:
        return self._clock() if at is None else float(at)

    def _seen_operator(self, db: sqlite3.Connection, name: str, now: float) -> None:
        db.execute(
            "INSERT INTO operators(name, first_seen, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            (name, now, now),
        )


def _create_file(path: Path, mode: int) -> bool:
    """Create the database file with `mode` before SQLite writes a byte; False if it exists.

    SQLite gives the -wal and -shm files the mode of the database file, so they follow."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the room database: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away
    finally:
        os.close(fd)
    return True


def _check_access(path: Path) -> None:
    """Refuse a file we may not write before SQLite touches it (by its mode: no open())."""
    if not os.access(path, os.R_OK | os.W_OK):
        if _read_only_filesystem(path):
            raise StoreError(f"{path}: the filesystem it is on is read-only (a full or failing disk "
                             "is often remounted so); free or fix it, or use another [room] db")
        raise StoreError(f"{path}: no permission to write it; ask its owner, who can allow "
                         "the group with [room] group_access = true")


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """A write that SQLite refused, as the StoreError kind the caller can act on."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreBusy(f"{path}: could not save: another process holds the database's write "
                         f"lock ({exc})")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")):
        return StoreUnavailable(f"{path}: could not save: {exc}")
    return StoreError(f"{path}: could not save: {exc}")


def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _set_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
               "SET value = excluded.value WHERE value IS NOT excluded.value", (key, json.dumps(value)))


def _get_meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None
