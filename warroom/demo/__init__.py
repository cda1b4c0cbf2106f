"""`warroom demo`: a whole simulated launch, delivered through the real transports.

`DemoLaunch.start()` starts a websocket feed, a stats endpoint and an appended nginx access
log on 127.0.0.1 and in a work directory, then returns the `Config` from
`warroom/demo_config.toml` wired to them. The dashboard connects with its ordinary sources,
so the demo exercises the same code paths as a real launch, and the template doubles as a
worked example of a config.

Everything runs on a simulated clock (`DemoLaunch.clock`, a `SimClock`): the demo starts
`lead` simulated seconds before the launch, and `speed` simulated seconds pass per real
second. The app must use the same clock for record times, windows and the launch clock.
The scenario itself (`scenario.py`) is a pure, seeded function of simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from warroom.config import Config, parse_config
from warroom.demo.crew import DemoCrew
from warroom.demo.scenario import Scenario, SimClock
from warroom.demo.servers import AccessLog, FeedServer, StatsServer

__all__ = ["DemoLaunch", "DemoSettings", "SimClock", "Scenario", "render_config"]

log = logging.getLogger(__name__)

TEMPLATE = "demo_config.toml"
PLACEHOLDERS = ("ws_url", "http_url", "log_path", "launch_at", "db", "stale_after")


@dataclass
class DemoSettings:
    seed: int = 7
    """Same seed, same launch: every visitor, order and ticket."""
    speed: float = 5.0
    """Simulated seconds per real second. At 5 the launch plays from warm-up to recovery in
    about five and a half minutes, and the checkout failure lasts over a minute: time to
    read an alert, acknowledge it and silence another by hand (the header says "demo ×5").
    30 plays it all in under a minute; 1 is real time."""
    lead: float = 120.0
    """Simulated seconds from the start of the demo to the launch (T-2m)."""
    start_epoch: float | None = None
    """Simulated epoch seconds at the start; default: the wall clock at start, whole second."""
    step: float = 0.1
    """Real seconds between two generator steps."""


class DemoLaunch:
    """The stand-in systems and the generator that feeds them; see the module docstring."""

    def __init__(self, settings: DemoSettings | None = None, workdir: Path | str = ".") -> None:
        self.settings = settings or DemoSettings()
        if self.settings.speed <= 0:
            raise ValueError("speed must be positive")
        self.workdir = Path(workdir)
        start = self.settings.start_epoch
        start = float(math.floor(time.time())) if start is None else float(start)
        self.launch_at = start + self.settings.lead
        # On the wall time, so the recorder and the dashboard, in processes of their own,
        # run the same clock from its spec.
        self.clock = SimClock(start, self.settings.speed, real=time.time)
        # The scenario begins at T-10m; what falls before the start is written to the log
        # as history, so charts and change() rules have a baseline from the first second.
        self.scenario = Scenario(self.settings.seed, self.launch_at, begin_at=min(start, self.launch_at - 600))
        self.log_path = self.workdir / "access.log"
        self.db_path = self.workdir / "demo.db"
        self.crew = DemoCrew(self.db_path, self.launch_at, self.clock)
        self.feed = FeedServer()
        self.stats = StatsServer(lambda: self.scenario.stats(self.clock()))
        self._log: AccessLog | None = None
        self._task: asyncio.Task[None] | None = None
        self.events_sent = 0
        self.lines_written = 0

    async def start(self) -> Config:
        """Start the servers and the generator; the config wired to them."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = AccessLog(self.log_path)
        history = self.scenario.advance(self.clock.start_sim_epoch)
        self._log.write(history.log_lines)
        self.lines_written += len(history.log_lines)
        try:
            await self.feed.start()
            await self.stats.start()
        except BaseException:
            await self.stop()
            raise
        self.clock.anchor()
        self._task = asyncio.create_task(self._run(), name="warroom-demo-generator")
        self._task.add_done_callback(_report_failure)
        return self.config()

    def config(self) -> Config:
        """The demo's Config, from the template, pointing at the running servers. The filled-in
        file is also written to the work directory, to read or to `warroom check`."""
        template = resources.files("warroom").joinpath(TEMPLATE).read_text(encoding="utf-8")
        text = render_config(template, self.placeholders())
        path = self.workdir / TEMPLATE
        path.write_text(text, encoding="utf-8")
        return parse_config(text, path)

    def placeholders(self) -> dict[str, str]:
        # A source is stale after ten real seconds of silence (never under 30 s simulated):
        # the stats poll comes once a real second, which is `speed` simulated seconds.
        stale = max(30.0, 10.0 * self.settings.speed)
        return {
            "ws_url": self.feed.url,
            "http_url": self.stats.url,
            "log_path": str(self.log_path.resolve()),
            "launch_at": datetime.fromtimestamp(self.launch_at, UTC).isoformat(),
            "db": str(self.db_path.resolve()),
            "stale_after": f"{stale:g}s",
        }

    async def stop(self) -> None:
        """Stop the generator, close every connection and the servers. Safe to call twice."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.feed.stop()
        await self.stats.stop()
        if self._log is not None:
            self._log.close()
        self.crew.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.step)
            self.step()

    def step(self) -> None:
        """Play the simulated time elapsed since the last step out to the transports."""
        batch = self.scenario.advance(self.clock())
        if self._log is not None:
            self._log.write(batch.log_lines)
        self.feed.send(batch.events)
        self.crew.step(self.clock())
        self.lines_written += len(batch.log_lines)
        self.events_sent += len(batch.events)


def _report_failure(task: asyncio.Task[None]) -> None:
    # The generator only ends by cancellation; anything else is a bug worth a log line,
    # since the demo's numbers would freeze without a word otherwise.
    if not task.cancelled() and task.exception() is not None:
        log.error("demo generator stopped", exc_info=task.exception())


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def render_config(template: str, values: dict[str, str]) -> str:
    """Fill the `{name}` placeholders of the template (only the names in PLACEHOLDERS: TOML
    inline tables and alert summaries such as `{value}` are left alone). Values go inside
    TOML basic strings, so backslashes and quotes are escaped."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        return values[name].replace("\\", "\\\\").replace('"', '\\"')

    return _PLACEHOLDER.sub(replace, template)
