"""How fast a follower sees an append, and what it costs while nothing happens.

    python -m tests.sources.measure_follow [SAMPLES]

Prints, for each way of waking up: the delay from an append (one line, written by this
process) to its record reaching `emit` (median and 99th percentile over SAMPLES appends, a
random pause between them), and the CPU the process spends in 5 idle seconds; for the file
source also its CPU while a writer process (tests/faults/log_writer.py) appends 5,000
lines/s in writes of 50 lines. Compared:

- the file source as shipped (inotify on the directory, inotify.py);
- the file source with inotify switched off (its poll, every `poll_interval`, 250 ms);
- watchfiles on the same directory (its Rust thread, default step of 50 ms and a 1 ms step),
  reading the file on each change as the file source would.

Not a test: figures for the choice made in inotify.py, measured on the machine at hand.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from warroom.config import FileSourceConfig
from warroom.sources.file import FileSource
from warroom.sources.inotify import DirectoryWatch

IDLE_SECONDS = 5.0
WRITER = Path(__file__).resolve().parents[1] / "faults" / "log_writer.py"
LOAD_LINES = 20_000  # 4 s at 5,000 lines/s


async def _latencies(path: Path, samples: int, arrived: asyncio.Queue[float]) -> list[float]:
    delays = []
    for i in range(samples):
        await asyncio.sleep(random.uniform(0.01, 0.05))
        sent = time.perf_counter()
        with open(path, "ab") as f:
            f.write(b'{"n": %d}\n' % i)
        got = await asyncio.wait_for(arrived.get(), 5)
        delays.append(got - sent)
    return delays


async def _idle_cpu() -> float:
    before = time.process_time()
    await asyncio.sleep(IDLE_SECONDS)
    return (time.process_time() - before) / IDLE_SECONDS


async def measure_source(directory: Path, samples: int, inotify: bool) -> tuple[list[float], float]:
    path = directory / ("inotify.log" if inotify else "poll.log")
    path.write_bytes(b"")
    arrived: asyncio.Queue[float] = asyncio.Queue()
    source = FileSource(FileSourceConfig(kind="file", name="m", path=str(path)))
    start = DirectoryWatch.start
    if not inotify:
        DirectoryWatch.start = classmethod(lambda cls: None)  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(source.run(lambda records: [arrived.put_nowait(time.perf_counter()) for _ in records]))
    try:
        await asyncio.sleep(0.5)
        idle = await _idle_cpu()
        delays = await _latencies(path, samples, arrived)
        before_cpu, before = time.process_time(), time.perf_counter()
        writer = await asyncio.create_subprocess_exec(
            sys.executable, str(WRITER), str(path), str(LOAD_LINES), "50", "0.01", stdout=subprocess.DEVNULL
        )
        await writer.wait()
        await asyncio.sleep(0.3)
        loaded = (time.process_time() - before_cpu) / (time.perf_counter() - before)
        print(f"  under 5,000 lines/s: {loaded * 100:.1f}% of a core, {arrived.qsize()} records read")
    finally:
        DirectoryWatch.start = start  # type: ignore[method-assign]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return delays, idle


async def measure_watchfiles(directory: Path, samples: int, step: int) -> tuple[list[float], float] | None:
    try:
        from watchfiles import awatch
    except ImportError:
        return None
    path = directory / f"watchfiles-{step}.log"
    path.write_bytes(b"")
    arrived: asyncio.Queue[float] = asyncio.Queue()
    stop = asyncio.Event()

    async def follow() -> None:
        offset = 0
        async for _changes in awatch(directory, step=step, debounce=1600, stop_event=stop):
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            offset += len(data)
            for _ in range(data.count(b"\n")):
                arrived.put_nowait(time.perf_counter())

    task = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.5)
        idle = await _idle_cpu()
        delays = await _latencies(path, samples, arrived)
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
    return delays, idle


def _row(name: str, result: tuple[list[float], float] | None) -> str:
    if result is None:
        return f"{name:<34} (watchfiles not installed)"
    delays, idle = result
    p50 = statistics.median(delays) * 1000
    p99 = sorted(delays)[int(len(delays) * 0.99) - 1] * 1000
    return f"{name:<34} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   idle CPU {idle * 100:5.2f}% of a core"


async def main(samples: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        print(f"append -> emit delay over {samples} appends; CPU over {IDLE_SECONDS:g} s idle")
        print(_row("file source, inotify", await measure_source(directory, samples, inotify=True)))
        print(_row("file source, 250 ms poll", await measure_source(directory, samples, inotify=False)))
        for step in (50, 1):
            print(_row(f"watchfiles, step {step} ms", await measure_watchfiles(directory, samples, step)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
