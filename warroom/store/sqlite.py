"""The room on one host: a SQLite file in WAL mode.

Why SQLite in WAL mode: each operator runs their own warroom in their own SSH session, and
all of them must see the same room, survive a crash of any of them, and keep writing while
others read. WAL gives concurrent readers with one writer at a time, `synchronous=NORMAL`
keeps every commit across an application crash (not a power cut), and the busy timeout makes
writers queue instead of failing. It does not work on network filesystems.

Nothing already on disk is ever replaced: a file that is not a SQLite database, is corrupt,
belongs to another application or has a newer schema is refused with StoreError and left as
it is. The file is never opened with open(): on POSIX, closing any descriptor of a file drops
every lock the process holds on it, and another process would then delete the live WAL
(SQLite's "How To Corrupt An SQLite Database File", section 2.2). SQLite itself reads the
header, and the mode bits say whether we may write.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from warroom.store.db import Cursor, Database, Params
from warroom.store.schema import (
    APPLICATION_ID,
    BUSY_TIMEOUT,
    MIGRATIONS,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    sqlite_statements,
)


class SqliteDatabase(Database):
    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, group_access: bool = False) -> None:
        self.path = Path(path)
        self.label = str(self.path)
        created = _create_file(self.path, 0o660 if group_access else 0o600)
        if not created:
            _check_access(self.path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the room database: {exc}") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self.conn.close()
            raise _opening_error(self.path, exc) from None
        except BaseException:
            self.conn.close()
            raise

    # ------------------------------------------------------------------ statements

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self.error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self.error(exc) from exc

    def iterate(self, sql: str, params: Params, batch: int) -> Iterator[Any]:
        try:
            cursor = self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self.error(exc) from exc
        try:
            while rows := cursor.fetchmany(batch):
                yield from rows
        except sqlite3.Error as exc:
            raise self.error(exc) from exc
        finally:
            cursor.close()

    def columns(self, table: str) -> list[str]:
        return [row[1] for row in self.execute(f"PRAGMA table_info({table})")]

    def floor(self, expression: str) -> str:
        return f"CAST({expression} AS INTEGER)"  # truncates: the floor of a non-negative number

    def begin_write(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolled back by itself (an I/O error does that)

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def change_mark(self) -> int:
        """`PRAGMA data_version`: moves when another connection (any process) commits; it
        reads the WAL index in shared memory, cheap enough to poll ten times a second."""
        return int(self.execute("PRAGMA data_version").fetchone()[0])

    def schema_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def error(self, exc: sqlite3.Error) -> StoreError:
        """The StoreError kind a caller can act on."""
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StoreBusy(f"{self.path}: could not save: another process holds the database's write lock ({exc})")
        if name.startswith(("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")):
            return StoreUnavailable(f"{self.path}: could not save: {exc}")
        return StoreError(f"{self.path}: could not save: {exc}")

    def close(self) -> None:
        """Checkpoint the WAL into the main file (without waiting long on readers) and close."""
        try:
            self.conn.execute("PRAGMA busy_timeout = 200")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a busy checkpoint is finished by the last connection to close
        finally:
            self.conn.close()

    # ------------------------------------------------------------------ opening

    def _prepare(self) -> None:
        """Check, then configure, then migrate: nothing is written before the checks pass."""
        db = self.conn
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
            raise StoreError(
                f"{self.path}: this SQLite database belongs to another application; "
                "give warroom its own file ([room] db in config.toml)"
            )
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this warroom "
                f"understands ({len(MIGRATIONS)}); upgrade warroom to open it"
            )
        if problems != ["ok"]:
            detail = " ".join(" ".join(problems).replace("*** in database main ***", "").split())
            raise StoreError(
                f"{self.path}: the database is damaged ({detail}); "
                "it was left as it is: restore a copy or start a new file"
            )
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch to WAL mode (got {mode!r}); is it on a network filesystem?")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        if version < len(MIGRATIONS):
            db.execute("BEGIN IMMEDIATE")
            try:
                current = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                for number in range(current, len(MIGRATIONS)):
                    for statement in sqlite_statements(MIGRATIONS[number]):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {number + 1}")
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise


def _opening_error(path: Path, exc: sqlite3.Error) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_NOTADB"):
        return StoreError(
            f"{path}: not a SQLite database; it was left as it is: choose another file ([room] db in config.toml)"
        )
    if name.startswith("SQLITE_CORRUPT"):
        # Damage bad enough that the integrity check itself cannot run.
        return StoreError(
            f"{path}: the database is damaged ({exc}); it was left as it is: restore a copy or start a new file"
        )
    return StoreError(f"{path}: cannot use the room database: {exc}")


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
            raise StoreError(
                f"{path}: the filesystem it is on is read-only (a full or failing disk "
                "is often remounted so); free or fix it, or use another [room] db"
            )
        raise StoreError(
            f"{path}: no permission to write it; ask its owner, who can allow the group with [room] group_access = true"
        )


def _read_only_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
