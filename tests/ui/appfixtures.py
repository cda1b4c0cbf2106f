"""A deterministic room for UI tests: a recorder fed through its pipeline on a fixed clock,
its snapshot published, and dashboards attached to the same room database.

The recorder runs in the test process without an event loop: the test ticks it and makes it
publish by hand (`UiRoom.tick`, `UiRoom.publish`). The room's lease is held by the test under
a fixed host name and time, so every screen shows the same recorder line. Dashboards are the
real `WarroomApp` on a real `DashboardSession` (its door's threads included); `settle` waits
until what they were asked to read or write is done.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warroom.app import WarroomApp
from warroom.config import load_config
from warroom.dashboard import DashboardSession
from warroom.lease import FlockLease
from warroom.recorder import Recorder
from warroom.store import RoomStore

LAUNCH = 1_795_600_800.0  # 2026-11-25T10:00:00Z
NOW = LAUNCH + 754.0  # T+00:12:34
HOST = "warroom-test"

CONFIG = """
[launch]
name = "Test launch"
at = 2026-11-25T10:00:00+00:00

[room]
db = "room.db"

[[sources]]
name = "web"
kind = "file"
path = "/nonexistent/warroom-test/access.log"
format = "nginx"

[[metrics]]
name = "visits"
source = "web"
where = { path = { prefix = "/landing" } }
split_by = "channel"

[[metrics]]
name = "errors"
source = "web"
where = { status = { gte = 500 } }

[[metrics]]
name = "requests"
source = "web"

[[metrics]]
name = "orders"
source = "web"
where = { path = "/checkout/done" }
split_by = "channel"

[[metrics]]
name = "revenue"
source = "web"
where = { path = "/checkout/done" }
kind = "sum"
field = "amount"

[[ratios]]
name = "error_rate"
numerator = "errors"
denominator = "requests"

[[targets]]
metric = "orders"
value = 400

[[alerts]]
name = "errors_seen"
expr = "value(errors) > 0"
severity = "critical"
summary = "{value} failed requests"
runbook = "Check the payment gateway; switch checkout to the fallback provider."

[panels.traffic]
metrics = ["visits", "error_rate"]

[panels.conversion]
metrics = ["orders", "revenue"]
funnel = ["visits", "orders"]
"""

_open: list[Any] = []  # sessions, recorders and leases to close after each test


class FixedClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class UiApp(WarroomApp):
    """The real app, remembering its notifications and bells for the test to read."""

    def __init__(self, session: DashboardSession) -> None:
        super().__init__(session)
        self.notes: list[tuple[str, str]] = []
        self.bells = 0

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notes.append((str(message), kwargs.get("severity", "information")))
        super().notify(message, **kwargs)

    def bell(self) -> None:
        self.bells += 1

    @property
    def panel(self) -> Any:
        """The panel of the tab on screen (Checklist, Support, Log, Alerts)."""
        from textual.widgets import TabbedContent

        return self.query_one(f"#{self.query_one(TabbedContent).active}-panel")


class UiRoom:
    """One room database with its recorder; `app()` attaches a dashboard to it."""

    def __init__(
        self,
        directory: Path,
        clock: FixedClock | None = None,
        *,
        launched: bool = True,
        feed: bool = True,
        extra: str = "",
        edit: Callable[[str], str] | None = None,
    ) -> None:
        """`extra` is appended to the test config; `edit` rewrites it first (a label, a panel)."""
        self.directory = directory
        self.clock = clock or FixedClock()
        text = CONFIG if launched else CONFIG.replace("at = 2026-11-25T10:00:00+00:00\n", "")
        text = edit(text) if edit is not None else text
        path = directory / "room.toml"
        path.write_text(text + extra, encoding="utf-8")
        self.config = load_config(path)
        self.db = directory / "room.db"
        self.lease = FlockLease(self.db)
        assert self.lease.acquire("recorder", since=LAUNCH - 600)
        _open.append(self.lease)
        self.recorder = Recorder(self.config, "recorder", clock=self.clock)
        self.recorder.open()
        _open.append(self.recorder)
        if feed:
            self.recorder.engine.pipeline.ingest("web", sample_records(self.clock.now), self.clock.now)
        # The alerts fire ten seconds before the screens open: no screen rings for them.
        self.recorder.tick(self.clock.now - 10).result(timeout=10)
        self.tick()

    def tick(self) -> None:
        """One recorder tick and a snapshot, both written."""
        self.recorder.tick(self.clock.now).result(timeout=10)
        self.recorder.follow_room()
        self.recorder.tick(self.clock.now).result(timeout=10)
        self.publish()

    def publish(self) -> None:
        self.recorder.follow_room()
        self.recorder.publish(self.clock.now).result(timeout=10)

    def store(self) -> RoomStore:
        """Another connection to the room, as another operator's process would have."""
        return RoomStore(self.db, clock=self.clock)

    def app(self, operator: str = "ana") -> UiApp:
        session = DashboardSession(self.config, operator, clock=self.clock, start_recorder=False)
        session.open()
        _open.append(session)
        return UiApp(session)


def sample_records(now: float) -> list[dict[str, Any]]:
    """Ten minutes of visits from three channels, an order every four seconds, an error
    every fifty."""
    records: list[dict[str, Any]] = []
    for second in range(600):
        ts = now - 600 + second
        channel = ("social", "push", "search")[second % 3]
        records.append({"path": f"/landing?utm_source={channel}", "status": 200, "ts": ts})
        if second % 4 == 0:
            records.append({"path": "/checkout/done", "status": 200, "ts": ts, "amount": 20, "channel": channel})
        if second % 50 == 0:
            records.append({"path": "/api/pay", "status": 502, "ts": ts})
    return records


def make_app(db_dir: Path, clock: FixedClock | None = None, feed: bool = True, launched: bool = True) -> UiApp:
    return UiRoom(db_dir, clock, launched=launched, feed=feed).app()


async def settle(pilot: Any, timeout: float = 10.0) -> None:
    """Wait until the app heard the room and has no read or write in flight."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        await pilot.pause(0.02)
        busy = (
            app.snapshot is None
            or app.session.door.status().waiting
            or app._loading
            or set(app._visible_panels()) & app._stale
        )
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            break
    app.refresh_view()
    await pilot.pause()


def close_all() -> None:
    while _open:
        thing = _open.pop()
        if isinstance(thing, FlockLease):
            thing.release()
        else:
            thing.close()


def fixed_host(monkeypatch: Any) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: HOST)
