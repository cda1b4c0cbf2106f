"""`DemoRunner`: the demo's servers on their own event loop, in a background thread.

The dashboard owns the main thread's event loop (Textual's `App.run()`), and the demo must
keep producing while the UI is busy rendering, so the stand-in servers and the generator get
a loop of their own. The only thing the two threads share is the `SimClock`, which is
read-only once anchored.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from warroom.config import Config
from warroom.demo import DemoLaunch, DemoSettings
from warroom.demo.scenario import SimClock

START_TIMEOUT = 10.0


class DemoRunner:
    """`with DemoRunner(speed=60) as runner: run(runner.config, clock=runner.clock, ...)`.

    `workdir` keeps the demo's files (access log, database, the rendered config); without
    it they live in a temporary directory removed on exit."""

    def __init__(self, speed: float | None = None, seed: int | None = None,
                 workdir: str | Path | None = None, settings: DemoSettings | None = None) -> None:
        settings = settings or DemoSettings()
        if speed is not None:
            settings.speed = speed
        if seed is not None:
            settings.seed = seed
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="warroom-demo-")
            workdir = self._tmp.name
        self.launch = DemoLaunch(settings, Path(workdir))
        self.clock: SimClock = self.launch.clock
        self.config: Config | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def tick_interval(self) -> float:
        """Real seconds between engine ticks: about 15 simulated seconds, within 0.25..1 s,
        so `for = "30s"` rules still pass through pending at high speeds."""
        return min(1.0, max(0.25, 15.0 / self.launch.settings.speed))

    def __enter__(self) -> DemoRunner:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="warroom-demo", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.launch.start(), self._loop)
        try:
            self.config = future.result(timeout=START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the servers and the thread, then remove the temporary directory."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            if loop.is_running():
                future = asyncio.run_coroutine_threadsafe(self.launch.stop(), loop)
                future.result(timeout=START_TIMEOUT)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=START_TIMEOUT)
            loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
