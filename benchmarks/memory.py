"""Resident memory of the data path after 1,000,000 and after 10,000,000 records.

    python -m benchmarks.memory [--records 1000000,10000000]

A fresh child process builds an `Engine` (file source -> pipeline -> metrics store, tick
loop running) on a jsonl file and a writer task in the same event loop appends blocks of
50,000 records (about 100 bytes each, a current `ts`), never more than two blocks ahead of
the reader. Disk use stays bounded: once the file passes 64 MB and the source has read all
of it, it is deleted and a new one started, which the source follows as a rotation. At each
checkpoint the child reports VmRSS from /proc/self/status; the first figure, taken after
the engine was built and before any record, is the floor (interpreter, imports, rings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

import orjson

BLOCK = 50_000
ROTATE_BYTES = 64 * 1024 * 1024
TS_PLACEHOLDER = b"1111111111.111"


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _template() -> bytes:
    channels = ["social", "search", "direct", "email", "ads", "push", "partner"]
    paths = ["/landing", "/register", "/checkout", "/product/42", "/promo"]
    kinds = ["visit"] * 14 + ["register"] * 4 + ["order"] * 2
    lines = []
    for i in range(BLOCK):
        record = {
            "ts": 0,
            "kind": kinds[i % len(kinds)],
            "channel": channels[i % len(channels)],
            "path": paths[i % len(paths)],
            "status": 200 if i % 50 else 502,
            "latency_ms": 20.5 + i % 97,
            "user": f"u{i:07d}",
        }
        lines.append(orjson.dumps(record).replace(b'"ts":0', b'"ts":' + TS_PLACEHOLDER))
    return b"\n".join(lines) + b"\n"


async def _child(checkpoints: list[int]) -> list[dict]:
    from benchmarks.file_ingest import bench_config
    from warroom.engine import Engine

    template = _template()
    results = []
    with tempfile.TemporaryDirectory(prefix="warroom-bench-mem-") as tmp:
        path = os.path.join(tmp, "events.jsonl")
        open(path, "wb").close()
        config = bench_config(path)
        engine = Engine(config)
        name = config.sources[0].name
        results.append({"records": 0, "rss_mib": rss_mib(), "seconds": 0.0})
        task = asyncio.create_task(engine.run())
        consumed = lambda: engine.pipeline.records_in[name]  # noqa: E731
        written = 0
        started = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            for target in checkpoints:
                while written < target:
                    while written - consumed() > 2 * BLOCK:
                        await asyncio.sleep(0.002)
                    if os.fstat(fd).st_size > ROTATE_BYTES:
                        while consumed() < written:
                            await asyncio.sleep(0.002)
                        os.close(fd)
                        os.unlink(path)
                        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    stamp = b"%.3f" % time.time()
                    os.write(fd, template.replace(TS_PLACEHOLDER, stamp))
                    written += BLOCK
                while consumed() < target:
                    await asyncio.sleep(0.002)
                results.append({"records": consumed(), "rss_mib": rss_mib(), "seconds": time.perf_counter() - started})
        finally:
            os.close(fd)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        health = engine.sources[0].health
        if health.bad_records:
            raise RuntimeError(f"bad records: {dict(health.faults)}")
    return results


def measure(checkpoints: tuple[int, ...] = (1_000_000, 10_000_000)) -> list[dict]:
    """Run the child; one dict per checkpoint (the first is the floor, 0 records)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", ",".join(map(str, checkpoints))],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="1000000,10000000", help="comma-separated checkpoints")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(_child([int(n) for n in args.child.split(",")]))))
        return
    for point in measure(tuple(int(n) for n in args.records.split(","))):
        print(f"  after {point['records']:>12,} records: RSS {point['rss_mib']:6.1f} MiB  ({point['seconds']:.1f} s)")


if __name__ == "__main__":
    main()
