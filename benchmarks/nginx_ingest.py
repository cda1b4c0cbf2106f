"""How fast an nginx access log reaches the metric store through the file source.

    python -m benchmarks.nginx_ingest [--records N] [--runs R]

Writes N lines of nginx "combined" format with `$request_time` appended (the demo's
format: landing-page hits with utm tags, search and social referrers, static files, API
calls, a few 5xx), then reads the same file, best of R runs each, interleaved:

  (a) a bare baseline doing the same parsing: read lines, decode, match the same regex the
      parser uses for such lines, and build the same record (fields, int status and size,
      float request time, the time parsed once per distinct timestamp);
  (b) FileSource(format="nginx") with an emit that only counts: read + parse_nginx;
  (c) FileSource -> Pipeline -> metrics with the demo's web metrics (landing-page visits
      by channel, requests, 5xx errors, request time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from datetime import datetime

from benchmarks.file_ingest import through_source
from warroom.config import Config, FileSourceConfig, MetricConfig
from warroom.parsers import _NGINX_PLAIN

SOURCE = "web"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
]
REFERERS = [
    "-",
    "-",
    "https://www.google.com/",
    "https://l.facebook.com/",
    "https://t.co/abc",
    "https://shop.example.com/launch",
]
TARGETS = [
    "/launch?utm_source=push&utm_campaign=spring_drop",
    "/launch?utm_source=email",
    "/launch",
    "/launch",
    "/static/app.js",
    "/static/app.css",
    "/api/cart",
    "/api/register",
    "/checkout",
]


def write_file(path: str, count: int) -> int:
    rng = random.Random(7)
    start = int(time.time()) - 600
    per_second = max(1, count // 600)
    with open(path, "wb") as f:
        block: list[str] = []
        for i in range(count):
            t = time.gmtime(start + i // per_second)
            day = f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}"
            stamp = f"{day}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
            status = 200 if rng.random() > 0.02 else rng.choice((404, 500, 502))
            block.append(
                f'198.51.100.{rng.randint(1, 254)} - - [{stamp}] "GET {rng.choice(TARGETS)} HTTP/1.1" '
                f'{status} {rng.randint(200, 60000)} "{rng.choice(REFERERS)}" "{rng.choice(AGENTS)}" '
                f"{rng.lognormvariate(-2.5, 0.6):.3f}"
            )
            if len(block) == 10_000:
                f.write(("\n".join(block) + "\n").encode())
                block.clear()
        if block:
            f.write(("\n".join(block) + "\n").encode())
    return os.path.getsize(path)


def bench_config(path: str) -> Config:
    source = FileSourceConfig(kind="file", name=SOURCE, path=path, format="nginx", from_start=True, poll_interval=0.01)
    metrics = [
        MetricConfig(name="visits", source=SOURCE, where={"path": {"regex": r"^/launch(\?|$)"}}, split_by="channel"),
        MetricConfig(name="requests", source=SOURCE),
        MetricConfig(name="errors", source=SOURCE, where={"status": {"gte": 500}}),
        MetricConfig(name="request_time", source=SOURCE, kind="sum", field="request_time", unit="s"),
    ]
    return Config(sources=[source], metrics=metrics)


def baseline(path: str) -> tuple[int, float]:
    """What a short script would do for the same records, with the same regex."""
    match = _NGINX_PLAIN.match
    times: dict[str, float] = {}
    start = time.perf_counter()
    count = 0
    with open(path, "rb") as f:
        for line in f:
            found = match(line.decode().rstrip("\n"))
            if found is None:
                continue
            addr, user, stamp, request, status, size, referer, agent, rest = found.groups()
            ts = times.get(stamp)
            if ts is None:
                ts = times[stamp] = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()
            method, path_, protocol = request.split(" ")
            record = {
                "remote_addr": addr,
                "remote_user": user,
                "ts": ts,
                "method": method,
                "path": path_,
                "protocol": protocol,
                "status": int(status),
                "bytes": int(size),
                "referer": referer,
                "user_agent": agent,
                "request_time": float(rest),
            }
            count += record["status"] > 0
    return count, time.perf_counter() - start


def measure(records: int = 300_000, runs: int = 3) -> dict:
    best = {"regex": float("inf"), "source": float("inf"), "pipeline": float("inf")}
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        path = os.path.join(tmp, "access.log")
        size = write_file(path, records)
        config = bench_config(path)
        for _ in range(runs):
            for key, run in (
                ("regex", lambda: baseline(path)),
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.records, args.runs)
    print(f"nginx log: {result['records']:,} lines, {result['bytes'] / 1e6:.1f} MB, best of {args.runs}")
    print(f"  (a) baseline: lines + regex + record dict    {result['regex_per_s']:>12,.0f} lines/s")
    print(f"  (b) FileSource(nginx), emit only counts      {result['source_per_s']:>12,.0f} lines/s")
    print(f"  (c) FileSource -> Pipeline -> metrics        {result['pipeline_per_s']:>12,.0f} lines/s")
    print(f"  ratio (c)/(a): {result['pipeline_per_s'] / result['regex_per_s']:.2f}x")


if __name__ == "__main__":
    main()
