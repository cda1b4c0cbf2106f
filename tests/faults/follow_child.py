"""warroom's file source as a process of its own, the way `tail -F` is one.

    python follow_child.py PATH OUT

Follows PATH with a FileSource and appends the sequence number `n` of every record it
emits to OUT, one per line. Prints "live" once the source follows the file; on SIGTERM it
stops, and prints the source's fault counts as one JSON line.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import orjson

from warroom.config import FileSourceConfig
from warroom.sources import SourceState
from warroom.sources.file import FileSource


async def follow(path: str, out: str) -> None:
    source = FileSource(FileSourceConfig(kind="file", name="web", path=path))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with open(out, "ab") as sink:

        def emit(records: list[dict]) -> None:
            sink.write(b"".join(b"%d\n" % r.get("n", -1) for r in records))
            sink.flush()

        task = asyncio.create_task(source.run(emit))
        while source.health.state != SourceState.LIVE:
            await asyncio.sleep(0.01)
        print("live", flush=True)
        await stop.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    print(orjson.dumps(dict(source.health.faults)).decode(), flush=True)


if __name__ == "__main__":
    asyncio.run(follow(sys.argv[1], sys.argv[2]))
