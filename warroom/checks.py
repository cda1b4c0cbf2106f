"""Checks of the paths a config names, for `warroom check` and for the file source at run time.

A file source must name a regular file (or a name where one will appear): a FIFO's `open`
blocks until a writer comes, and a read of a device or a socket may never end, which on the
event loop freezes every panel and every other source. So the type is checked with `os.stat`
before anything is opened, here for `warroom check` and in the file source each time it
opens the path. The room database must go in a directory that exists and that we may write
(SQLite creates the database, its journal and its WAL beside it).

Plain functions over paths, no Textual and no I/O beyond `stat`/`access`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warroom.config import Config

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind_problem(mode: int) -> str | None:
    """What is wrong with following a file of this `st_mode`, or None for a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return f"is {name}, not a regular file; a file source follows a log file"
    if not stat.S_ISREG(mode):
        return "is not a regular file; a file source follows a log file"
    return None


def source_path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a file source could not follow `path`, or None. A missing file is fine: it is
    waited for. Never opens the path."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    problem = file_kind_problem(st.st_mode)
    if problem is None and not os.access(path, os.R_OK):
        problem = "cannot be read: permission denied"
    return problem


def database_problem(db: str | os.PathLike[str]) -> str | None:
    """Why the room database could not be created or opened at `db`, or None."""
    db = Path(db)
    if db.is_dir():
        return "is a directory; give the database file's path"
    directory = db.parent
    if not directory.exists():
        return f"directory {directory} does not exist"
    if not directory.is_dir():
        return f"{directory} is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {directory} is not writable (SQLite writes its journal beside the database)"
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        return "cannot be read and written: permission denied"
    return None


def path_problems(config: Config) -> list[str]:
    """Every path problem of a loaded config, as `file: field: message` lines for `warroom
    check`. Source paths are taken as the file source takes them; a relative database path
    from the config file's directory, as the room does."""
    where = str(config.path) if config.path is not None else "config"
    problems = []
    for index, source in enumerate(config.sources):
        path = getattr(source, "path", None)
        if source.kind == "file" and path is not None:
            problem = source_path_problem(path)
            if problem:
                problems.append(f"{where}: sources[{index}].path: {path} {problem}")
    if config.room.url is not None:
        return problems  # a PostgreSQL room: no file to check
    db = Path(config.room.db).expanduser()
    if not db.is_absolute() and config.path is not None:
        db = config.path.parent / db
    problem = database_problem(db)
    if problem:
        problems.append(f"{where}: room.db: {db} {problem}")
    return problems
