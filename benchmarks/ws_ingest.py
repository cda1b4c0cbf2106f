"""How fast a websocket feed is read: small JSON messages, one record each or in batches.

    python -m benchmarks.ws_ingest [--messages N] [--records R] [--runs K]

A feed server runs in its own process on 127.0.0.1 (so it does not share the client's
interpreter) and, for each connection, writes prebuilt text frames straight to the socket:
the server costs next to nothing, and the figures are the client's. The path of the URL
says what to send: `/<frames>/<records per frame>`. Best of K runs, interleaved:

  (a) baseline: a bare websockets client, `recv()` + `orjson.loads` per message;
  (b) WebSocketSource with an emit that only counts: the source's own cost;
  (c) WebSocketSource -> Pipeline -> metrics (the file benchmark's six metrics).

once with one record per message (N messages) and once with R records in frames of a
JSON array of 1,000 records. Every clock starts when the first message has arrived and
been decoded, so none includes the connection or the wait for the server's first frame.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import orjson

from benchmarks.file_ingest import BENCH_METRICS
from warroom.config import Config, WebSocketSourceConfig
from warroom.metrics import MetricsStore

SOURCE = "feed"
BATCH = 1000
CHANNELS = ["social", "search", "direct", "email", "ads"]
KINDS = ["visit"] * 14 + ["register"] * 4 + ["order"] * 2


def _frame(payload: bytes) -> bytes:
    """An unmasked text frame (server to client)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def _records(count: int, start: int = 0) -> list[dict]:
    now = time.time()
    return [
        {
            "ts": round(now - 1 + (i % 1000) / 1000, 3),
            "kind": KINDS[i % len(KINDS)],
            "channel": CHANNELS[i % len(CHANNELS)],
            "status": 200 if i % 50 else 502,
            "latency_ms": 20.0 + i % 97,
        }
        for i in range(start, start + count)
    ]


async def _serve() -> None:
    from websockets.asyncio.server import serve

    async def handler(ws) -> None:
        _, frames, per_frame = ws.request.path.split("/")
        frames, per_frame = int(frames), int(per_frame)
        if per_frame == 1:
            payloads = [orjson.dumps(r) for r in _records(min(frames, 10_000))]
        else:
            payloads = [orjson.dumps(_records(per_frame, i * per_frame)) for i in range(10)]
        blob = b"".join(_frame(p) for p in payloads)
        whole, part = divmod(frames, len(payloads))
        transport = ws.transport
        for _ in range(whole):
            transport.write(blob)
            while transport.get_write_buffer_size() > 8 * 1024 * 1024:
                await asyncio.sleep(0.001)
        transport.write(b"".join(_frame(p) for p in payloads[:part]))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed


class FeedServer:
    def __enter__(self) -> FeedServer:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ws_ingest", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.port = int(self.process.stdout.readline())
        return self

    def url(self, frames: int, per_frame: int) -> str:
        return f"ws://127.0.0.1:{self.port}/{frames}/{per_frame}"

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def bare_client(url: str, records: int) -> float:
    from websockets.asyncio.client import connect

    seen = 0
    async with connect(url, max_size=None, compression=None) as ws:
        start = 0.0
        while seen < records:
            document = orjson.loads(await ws.recv(decode=False))
            if not seen:  # the clock starts at the first message, as the source's does
                start = time.perf_counter()
            seen += len(document) if type(document) is list else 1
        return time.perf_counter() - start


def bench_config(url: str) -> Config:
    source = WebSocketSourceConfig(kind="websocket", name=SOURCE, url=url, max_message_bytes=64 * 1024 * 1024)
    return Config(sources=[source], metrics=BENCH_METRICS)


async def through_source(url: str, records: int, with_pipeline: bool) -> float:
    from warroom.pipeline import Pipeline
    from warroom.sources.websocket import WebSocketSource

    config = bench_config(url)
    source = WebSocketSource(config.sources[0])
    ingest = Pipeline(config, MetricsStore(config.metrics)).ingest if with_pipeline else None
    done = asyncio.Event()
    seen = 0
    start = 0.0

    def emit(batch: list) -> None:
        nonlocal seen, start
        if not seen:
            start = time.perf_counter()
        seen += len(batch)
        if ingest is not None:
            ingest(SOURCE, batch, time.time())
        if seen >= records:
            done.set()

    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    # The clock starts when the first message has arrived (after the handshake and the wait
    # for the server), as the bare client's does: the first message's own cost is left out
    # of both, a rounding error at these counts.
    return time.perf_counter() - start


def _uvloop_factory():
    try:  # a candidate event loop, measured when installed (not a dependency)
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def measure(messages: int = 200_000, records: int = 1_000_000, runs: int = 3) -> dict:
    best: dict[str, float] = {}
    uvloop_factory = _uvloop_factory()
    with FeedServer() as server:
        for _ in range(runs):
            if uvloop_factory is not None:
                url = server.url(messages, 1)
                for key, with_pipeline in (("source", False), ("pipeline", True)):
                    with asyncio.Runner(loop_factory=uvloop_factory) as runner:
                        seconds = runner.run(through_source(url, messages, with_pipeline))
                    name = f"single_{key}_uvloop"
                    best[name] = min(best.get(name, float("inf")), seconds)
            for mode, frames, per_frame, total in (
                ("single", messages, 1, messages),
                ("batched", records // BATCH, BATCH, records),
            ):
                url = server.url(frames, per_frame)
                for key, run in (
                    ("bare", lambda url=url, total=total: bare_client(url, total)),
                    ("source", lambda url=url, total=total: through_source(url, total, False)),
                    ("pipeline", lambda url=url, total=total: through_source(url, total, True)),
                ):
                    seconds = asyncio.run(run())
                    name = f"{mode}_{key}"
                    best[name] = min(best.get(name, float("inf")), seconds)
    out = {}
    for name, seconds in best.items():
        total = messages if name.startswith("single") else records
        out[f"{name}_per_s"] = total / seconds
    out.update(messages=messages, records=records)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve())
        return
    r = measure(args.messages, args.records, args.runs)
    print(f"websocket feed on loopback, best of {args.runs}")
    for mode, unit in (("single", "messages/s, one record each"), ("batched", f"records/s, {BATCH} per frame")):
        print(f"  {mode}: {unit}")
        print(f"    (a) bare client: recv + orjson.loads        {r[f'{mode}_bare_per_s']:>12,.0f}")
        print(f"    (b) WebSocketSource, emit only counts       {r[f'{mode}_source_per_s']:>12,.0f}")
        print(f"    (c) WebSocketSource -> Pipeline -> metrics  {r[f'{mode}_pipeline_per_s']:>12,.0f}")
        print(f"    ratio (b)/(a): {r[f'{mode}_source_per_s'] / r[f'{mode}_bare_per_s']:.2f}x")


if __name__ == "__main__":
    main()
