"""How fast a JSONL log reaches the metric store through the file source.

    python -m benchmarks.file_ingest [--records N] [--tracemalloc-records M]

Writes N small event records to a temporary JSONL file, then reads the same file:

  (a)  open, iterate lines, `json.loads` each (what a short script would do);
  (a') the same loop with `orjson.loads`: the baseline, the same parsing with the library
       the source parses with;
  (b0) FileSource(from_start=True) with an emit that only counts: the source's own cost;
  (b)  FileSource feeding `warroom.pipeline.Pipeline` with a few typical metrics, stopped
       when all N records were emitted: the real ingest path.

It prints records/s for each, the ratios (b)/(a') and (b0)/(a'), the peak RSS of the process
after the ingest (ru_maxrss), and, from a separate pass over the first M records, the
tracemalloc peak of the ingest phase (tracemalloc slows Python down several times, so it is
not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc

import orjson

from warroom.config import Config, FileSourceConfig, MetricConfig
from warroom.metrics import MetricsStore
from warroom.sources.file import FileSource

SOURCE = "weblog"
CHANNELS = ["social", "search", "direct", "email", "ads"]
PATHS = ["/landing", "/register", "/checkout", "/product/42", "/promo"]
KINDS = ["visit"] * 14 + ["register"] * 4 + ["order"] * 2


def write_file(path: str, count: int) -> int:
    """N realistic small events spread over the last ten minutes; returns the byte size."""
    rng = random.Random(7)
    start = time.time() - 600.0
    step = 600.0 / max(count, 1)
    with open(path, "wb") as f:
        block: list[bytes] = []
        for i in range(count):
            status = 200 if rng.random() > 0.02 else rng.choice((404, 500, 502))
            event = {
                "ts": round(start + i * step, 3),
                "kind": rng.choice(KINDS),
                "channel": rng.choice(CHANNELS),
                "path": rng.choice(PATHS),
                "status": status,
                "latency_ms": round(rng.lognormvariate(3.5, 0.5), 1),
            }
            block.append(orjson.dumps(event))
            if len(block) == 10_000:
                f.write(b"\n".join(block) + b"\n")
                block.clear()
        if block:
            f.write(b"\n".join(block) + b"\n")
    return os.path.getsize(path)


# The metrics of a typical launch; the websocket benchmark folds the same, so the two
# transports' figures describe the same work.
BENCH_METRICS = [
    MetricConfig(name="visits", where={"kind": "visit"}),
    MetricConfig(name="visits_by_channel", where={"kind": "visit"}, split_by="channel"),
    MetricConfig(name="registrations", where={"kind": "register"}),
    MetricConfig(name="orders", where={"kind": "order"}),
    MetricConfig(name="errors", where={"status": {"gte": 500}}),
    MetricConfig(name="latency", kind="sum", field="latency_ms", unit="ms"),
]


def bench_config(path: str) -> Config:
    source = FileSourceConfig(kind="file", name=SOURCE, path=path, from_start=True, poll_interval=0.01)
    return Config(sources=[source], metrics=BENCH_METRICS)


def baseline(path: str, loads) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    with open(path, "rb") as f:
        for line in f:
            loads(line)
            count += 1
    return count, time.perf_counter() - start


async def through_source(config: Config, total: int, with_pipeline: bool) -> tuple[int, float]:
    """Run a FileSource from the start of the file until `total` records were emitted."""
    source = FileSource(config.sources[0])
    name = source.name
    done = asyncio.Event()
    seen = 0
    if with_pipeline:
        from warroom.pipeline import Pipeline

        pipeline = Pipeline(config, MetricsStore(config.metrics, config.ratios, config.targets))
        ingest = pipeline.ingest
    else:
        ingest = None

    def emit(records: list) -> None:
        nonlocal seen
        seen += len(records)
        if ingest is not None:
            ingest(name, records, time.time())
        if seen >= total:
            done.set()

    start = time.perf_counter()
    task = asyncio.create_task(source.run(emit))
    await done.wait()
    elapsed = time.perf_counter() - start
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass  # the way a source is stopped
    if source.health.bad_records:
        print(f"  warning: {source.health.bad_records} bad records: {dict(source.health.faults)}")
    return seen, elapsed


def max_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024  # bytes vs KiB


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} records/s  ({count:,} in {seconds:.2f} s)"


def measure(records: int = 500_000, runs: int = 3) -> dict:
    """The figures for `python -m benchmarks`: best of `runs`, the four passes interleaved
    so that machine noise hits baseline and source alike."""
    best = {"json": float("inf"), "orjson": float("inf"), "source": float("inf"), "pipeline": float("inf")}
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        path = os.path.join(tmp, "events.jsonl")
        size = write_file(path, records)
        config = bench_config(path)
        candidates = []
        try:  # a candidate parser, measured when installed (not a dependency)
            import msgspec

            candidates.append(("msgspec", lambda: baseline(path, msgspec.json.Decoder().decode)))
            best["msgspec"] = float("inf")
        except ImportError:
            pass
        for _ in range(runs):
            for key, run in (
                *candidates,
                ("json", lambda: baseline(path, json.loads)),
                ("orjson", lambda: baseline(path, orjson.loads)),
                ("source", lambda: asyncio.run(through_source(config, records, with_pipeline=False))),
                ("pipeline", lambda: asyncio.run(through_source(config, records, with_pipeline=True))),
            ):
                count, seconds = run()
                assert count >= records, (key, count)
                best[key] = min(best[key], seconds)
    out = {f"{key}_per_s": records / seconds for key, seconds in best.items()}
    out.update(records=records, bytes=size)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records to write (default 1,000,000)")
    parser.add_argument(
        "--tracemalloc-records",
        type=int,
        default=200_000,
        help="records for the separate tracemalloc pass (0: skip; default 200,000)",
    )
    args = parser.parse_args(argv)
    total = args.records

    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        path = os.path.join(tmp, "events.jsonl")
        start = time.perf_counter()
        size = write_file(path, total)
        print(f"file: {total:,} records, {size / 1e6:.1f} MB, written in {time.perf_counter() - start:.2f} s")
        print(f"peak RSS before reading: {max_rss_mib():.1f} MiB")
        print()

        count, secs_a = baseline(path, json.loads)
        assert count == total, count
        print(f"(a)  baseline: lines + json.loads         {rate(count, secs_a)}")
        count, secs_o = baseline(path, orjson.loads)
        print(f"(a') baseline: lines + orjson.loads       {rate(count, secs_o)}")

        config = bench_config(path)
        count, secs_b0 = asyncio.run(through_source(config, total, with_pipeline=False))
        print(f"(b0) FileSource, emit only counts         {rate(count, secs_b0)}")
        count, secs_b = asyncio.run(through_source(config, total, with_pipeline=True))
        print(f"(b)  FileSource -> Pipeline -> metrics    {rate(count, secs_b)}")
        print()
        print(f"ratio (b)/(a'), records/s:  {secs_o / secs_b:.2f}x the orjson baseline")
        print(f"ratio (b0)/(a'), records/s: {secs_o / secs_b0:.2f}x the orjson baseline")
        print(f"ratio (b)/(a), records/s:   {secs_a / secs_b:.2f}x a json.loads loop")
        print(f"peak RSS after {total:,} records: {max_rss_mib():.1f} MiB (ru_maxrss, whole process)")

        sample = min(args.tracemalloc_records, total)
        if sample:
            tracemalloc.start()
            count, _ = asyncio.run(through_source(config, sample, with_pipeline=True))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"tracemalloc peak of the ingest phase: {peak / 2**20:.1f} MiB "
                f"(separate untimed pass over the first {count:,} records)"
            )


if __name__ == "__main__":
    main()
