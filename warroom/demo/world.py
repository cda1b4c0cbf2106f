"""`warroom demo` as three processes, exactly like a real launch: world, recorder, dashboard.

- the **world** (`python -m warroom.demo.world`): the stand-in systems (a websocket feed, a
  stats endpoint, an appended nginx log) with the scenario's generator, and the crew of other
  operators writing to the room. It prints its config path and clock on one line once
  ready, and runs until SIGTERM or until its standard input closes (its parent died).
- the **recorder** (`warroom record`), on the world's config and clock;
- the **dashboard**, in the `warroom demo` process itself.

`DemoWorld` starts the first two, waits until the recorder holds the room, and stops both
when the dashboard is done (the recorder first, so it writes its last figures while its
sources still answer). The clock is simulated (`SimClock` on the wall time), and every
process builds the same one from its spec.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from warroom.config import Config, load_config
from warroom.demo import DemoLaunch, DemoSettings
from warroom.demo.scenario import SimClock
from warroom.location import RoomLocation

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class DemoWorld:
    """`with DemoWorld(speed=60) as world: run the dashboard on world.config, world.clock`.

    `workdir` keeps the demo's files (access log, database, rendered config, the recorder's
    log); without it they live in a temporary directory removed on exit."""

    def __init__(self, speed: float | None = None, seed: int | None = None, workdir: str | Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="warroom-demo-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.speed, self.seed = speed, seed
        self.config: Config
        self.clock: SimClock
        self._world: subprocess.Popen[str] | None = None
        self._recorder: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DemoWorld:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "warroom.demo.world", "--dir", str(self.workdir)]
        if self.speed is not None:
            argv += ["--speed", repr(self.speed)]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        with open(self.workdir / "world.log", "ab") as log:
            self._world = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        line = self._world.stdout.readline() if self._world.stdout else ""
        if not line:
            raise RuntimeError(f"the demo's servers did not start; see {self.workdir / 'world.log'}")
        ready = json.loads(line)
        self.config = load_config(ready["config"])
        self.clock = SimClock.from_spec(ready["clock"])
        # About 15 simulated seconds a tick, within 0.25..1 s, so `for = "30s"` rules still
        # pass through pending at high speeds.
        tick = min(1.0, max(0.25, 15.0 / self.clock.speed))
        self.recorder_args = ["--sim-clock", ready["clock"], "--tick-interval", f"{tick:g}"]
        location = RoomLocation.of(self.config)
        with open(location.recorder_log, "ab") as log:
            self._recorder = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "warroom",
                    "record",
                    "--config",
                    ready["config"],
                    "--operator",
                    "recorder",
                    *self.recorder_args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        watch = location.watch()
        try:
            while not watch.running():
                if self._recorder.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the demo's recorder did not start; see {location.recorder_log}")
                time.sleep(0.05)
        finally:
            watch.close()

    def stop_recorder(self) -> None:
        """Stop whichever recorder holds the demo's room (ours, or one a dashboard started
        after ours died) and wait until it wrote its last figures."""
        from warroom.service import stop_recorder

        if hasattr(self, "config"):
            stop_recorder(self.config, wait=STOP_TIMEOUT)
        if self._recorder is not None:
            _stop(self._recorder)
            self._recorder = None

    def close(self) -> None:
        self.stop_recorder()
        if self._world is not None:
            _stop(self._world)
            self._world = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- the world process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warroom.demo.world")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--speed", type=float)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    settings = DemoSettings()
    if args.speed is not None:
        settings.speed = args.speed
    if args.seed is not None:
        settings.seed = args.seed
    asyncio.run(_serve(DemoLaunch(settings, Path(args.dir))))
    return 0


async def _serve(launch: DemoLaunch) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    # The parent's end of our stdin closes when it dies, however it dies.
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(sys.stdin.fileno(), 4096) else None)
    config = await launch.start()
    print(json.dumps({"config": str(config.path), "clock": launch.clock.spec()}), flush=True)
    try:
        await stop.wait()
    finally:
        await launch.stop()


if __name__ == "__main__":
    sys.exit(main())
