"""Where a room's files live: the database, and the files beside it that belong to it."""

from __future__ import annotations

import os
from pathlib import Path

from warroom.config import Config


def database_path(config: Config) -> Path:
    """The room database; a relative path is taken from the config file's directory."""
    path = Path(config.room.db).expanduser()
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    return path


def state_dir() -> Path:
    """Where warroom keeps its own log files ($XDG_STATE_HOME/warroom)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "warroom"


def recorder_log(db_path: Path) -> Path:
    """The log of a recorder started in the background for this room."""
    return db_path.with_name(db_path.name + ".recorder.log")
