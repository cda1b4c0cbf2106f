"""A small room for the recorder and team tests: config, fixed clock, a reader of the room."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from warroom.config import Config, load_config

LAUNCH = 1_795_600_800.0  # 2026-11-25T10:00:00Z

CONFIG = """
[launch]
name = "Winter sale"
{launch}

{room}history_interval = "10s"

[[sources]]
name = "web"
kind = "file"
path = "{log}"
format = "jsonl"
stale_after = "30s"
{source_extra}

[[sources]]
name = "desk"
kind = "websocket"
url = "{desk_url}"

[[metrics]]
name = "errors"
source = "web"
where = {{ status = {{ gte = 500 }} }}

[[metrics]]
name = "requests"
source = "web"

[[ratios]]
name = "error_rate"
numerator = "errors"
denominator = "requests"

[[alerts]]
name = "high_error_rate"
expr = "error_rate > 5%"
severity = "critical"
summary = "5xx at {{value}}"

[[alerts]]
name = "breaches"
expr = "sla_breaches > 0"

[[checklist]]
name = "Run of show"
items = [{{ title = "Go / no-go", owner = "lead", due = "T-5m" }}, {{ title = "Publish", due = "T0" }}]

[tickets]
source = "desk"
where = {{ kind = "ticket" }}

[panels.traffic]
metrics = ["requests", "error_rate"]
chart = "requests"
"""


def write_config(
    directory: Path,
    *,
    launch: bool = True,
    log: Path | None = None,
    desk_url: str = "ws://127.0.0.1:9/desk",
    source_extra: str = "",
    extra: str = "",
    room: str = '[room]\ndb = "room.db"\n',
) -> Config:
    """A config file in `directory` (by default its room database beside it) and the Config
    it loads. `room`: the [room] table's first lines (a PostgreSQL room's url and name)."""
    text = (
        CONFIG.format(
            room=room,
            launch="at = 2026-11-25T10:00:00+00:00" if launch else "",
            log=log or directory / "nowhere" / "access.jsonl",
            desk_url=desk_url,
            source_extra=source_extra,
        )
        + extra
    )
    path = directory / "room.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wait_until(condition: Callable[[], object], timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())
