"""A real nginx, real traffic, a real logrotate-style rotation: warroom counts every line once.

nginx (two workers, as in production) serves a small campaign site on 127.0.0.1: a landing
page, a reward page, a checkout proxied to a backend that takes 2-20 ms and that nginx
fails with a 502 for about one request in five, and a 404 for anything else. wrk drives it
(or, without wrk, a bounded scripted httpx client). The access log uses the combined format
with `$request_time` appended.

The test reads the log itself with its own, stricter pattern, and compares: every request
nginx logged is counted exactly once, per status class, and the sum of `$request_time`
equals the log's. The rotation test renames the log and runs `nginx -s reopen` while the
traffic flows, as logrotate's `create` + postrotate do, and compares every request line
(each carries a unique number) between what nginx wrote to both files and what warroom
read: nothing lost, nothing read twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from warroom.config import parse_config
from warroom.engine import Engine
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline
from warroom.sources.file import FileSource

from .conftest import Nginx, find_binary

# Stricter than warroom's parser on purpose: exactly the test's log_format, nothing optional.
LINE = re.compile(
    r'^(\S+) - (\S+) \[([^\]]+)\] "(\S+) (\S+) (HTTP/[\d.]+)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" (\d+\.\d{3})$'
)

CONFIG = """
[[sources]]
name = "web"
kind = "file"
path = "{log}"
format = "nginx"
from_start = true
poll_interval = "50ms"

[[metrics]]
name = "requests"
source = "web"

[[metrics]]
name = "ok"
source = "web"
where = {{ status = {{ gte = 200, lt = 300 }} }}

[[metrics]]
name = "client_errors"
source = "web"
where = {{ status = {{ gte = 400, lt = 500 }} }}

[[metrics]]
name = "server_errors"
source = "web"
where = {{ status = {{ gte = 500 }} }}

[[metrics]]
name = "timed"
source = "web"
where = {{ request_time = {{ exists = true }} }}

[[metrics]]
name = "latency_total"
source = "web"
kind = "sum"
field = "request_time"
unit = "s"

[[metrics]]
name = "checkouts"
source = "web"
where = {{ path = {{ prefix = "/checkout" }} }}

[[ratios]]
name = "error_rate"
numerator = "server_errors"
denominator = "requests"
"""

# Each wrk thread numbers its requests, so every request line in the log is unique.
WRK_SCRIPT = """
local paths = {
  "/landing?utm_source=newsletter&n=",
  "/landing?n=",
  "/reward?n=",
  "/checkout?n=",
  "/checkout?n=",
  "/missing?n=",
}
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1] .. tid .. "-" .. i)
end
"""
PATHS = [
    "/landing?utm_source=newsletter&n=",
    "/landing?n=",
    "/reward?n=",
    "/checkout?n=",
    "/checkout?n=",
    "/missing?n=",
]
FALLBACK_MAX_REQUESTS = 3000


@dataclass
class Logged:
    """What nginx wrote, by the test's own reading of the files."""

    lines: int = 0
    classes: Counter = field(default_factory=Counter)  # "2xx" -> lines
    request_time: float = 0.0
    requests: Counter = field(default_factory=Counter)  # request target -> lines

    def add_file(self, path: Path) -> Logged:
        data = path.read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{path.name} ends inside a line"
        for raw in data.decode().splitlines():
            match = LINE.match(raw)
            assert match, f"{path.name}: line not in the configured format: {raw!r}"
            self.lines += 1
            self.classes[match.group(7)[0] + "xx"] += 1
            self.request_time += float(match.group(11))
            self.requests[match.group(5)] += 1
        return self


def logged(*paths: Path) -> Logged:
    result = Logged()
    for path in paths:
        result.add_file(path)
    return result


async def drive(nginx: Nginx, seconds: float, tmp_path: Path) -> str:
    """Traffic for `seconds`: wrk with 2 threads, else a bounded httpx client. Returns which."""
    wrk = find_binary("wrk")
    if wrk is not None:
        script = tmp_path / "campaign.lua"
        script.write_text(WRK_SCRIPT)
        proc = await asyncio.create_subprocess_exec(
            wrk,
            "-t2",
            "-c4",
            f"-d{seconds:g}s",
            "-s",
            str(script),
            nginx.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode(errors="replace")
        return "wrk"
    deadline = time.monotonic() + seconds
    sent = 0

    async def client(worker: int) -> None:
        nonlocal sent
        async with httpx.AsyncClient(base_url=nginx.url, timeout=5.0) as http:
            i = 0
            while time.monotonic() < deadline and sent < FALLBACK_MAX_REQUESTS:
                i += 1
                sent += 1
                await http.get(f"{PATHS[i % len(PATHS)]}{worker}-{i}")

    await asyncio.gather(*(client(worker) for worker in range(1, 5)))
    return "httpx"


async def settle(count, expected, timeout: float = 15.0) -> None:
    """Wait until `count()` reaches `expected()` (re-read each time: nginx may still write)."""
    deadline = time.monotonic() + timeout
    while True:
        got, want = count(), expected()
        if got == want:
            await asyncio.sleep(0.3)  # and stays there: nothing late, nothing counted twice
            if count() == expected() == want:
                return
        elif time.monotonic() > deadline:
            raise AssertionError(f"warroom counted {got} requests, the log holds {want}")
        await asyncio.sleep(0.05)


def lines_in(*paths: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in paths if p.exists())


def assert_matches(metrics: MetricsStore, log: Logged) -> None:
    assert metrics.value("requests") == log.lines
    assert metrics.value("ok") == log.classes["2xx"]
    assert metrics.value("client_errors") == log.classes["4xx"]
    assert metrics.value("server_errors") == log.classes["5xx"]
    assert sum(log.classes.values()) == log.lines  # no 1xx/3xx in this site
    assert metrics.value("timed") == log.lines
    assert metrics.value("latency_total") == pytest.approx(log.request_time, abs=1e-6)
    checkouts = sum(n for target, n in log.requests.items() if target.startswith("/checkout"))
    assert metrics.value("checkouts") == checkouts
    assert metrics.value("error_rate") == pytest.approx(log.classes["5xx"] / log.lines)


async def test_counts_every_logged_request_per_status_class(nginx: Nginx, tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(log=nginx.access_log))
    engine = Engine(config)
    task = asyncio.create_task(engine.run())
    try:
        tool = await drive(nginx, 2, tmp_path)
        await settle(lambda: engine.metrics.value("requests") or 0, lambda: lines_in(nginx.access_log))
        log = logged(nginx.access_log)
        assert_matches(engine.metrics, log)
        health = engine.sources[0].health
        assert health.bad_records == 0 and engine.rejects("web") == 0
        # The site's failure modes all showed up, so each class was really compared.
        assert log.classes["2xx"] and log.classes["4xx"] and log.classes["5xx"]
        assert log.request_time > 0
        print(
            f"\n{tool}: {log.lines} requests logged and counted; {dict(log.classes)}; "
            f"request_time sum {log.request_time:.3f}s"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_rotation_while_traffic_flows_loses_and_repeats_nothing(nginx: Nginx, tmp_path: Path) -> None:
    config = parse_config(CONFIG.format(log=nginx.access_log))
    metrics = MetricsStore(config.metrics, config.ratios, config.targets)
    pipeline = Pipeline(config, metrics)
    source = FileSource(config.sources[0])
    seen: Counter = Counter()  # request target -> times warroom read it

    def emit(records: list[dict]) -> None:
        for record in records:
            seen[record["path"]] += 1
        pipeline.ingest("web", records, time.time())

    rotated = nginx.root / "access.log.1"
    task = asyncio.create_task(source.run(emit))
    try:
        traffic = asyncio.create_task(drive(nginx, 3, tmp_path))
        await asyncio.sleep(1.0)
        os.rename(nginx.access_log, rotated)  # logrotate: rename, then (create) and postrotate
        before_reopen = lines_in(rotated)
        await asyncio.sleep(0.3)  # nginx keeps writing to the renamed file until it reopens
        nginx.reopen()
        tool = await traffic
        await settle(lambda: metrics.value("requests") or 0, lambda: lines_in(rotated, nginx.access_log))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    old, new = logged(rotated), logged(nginx.access_log)
    both = logged(rotated, nginx.access_log)
    # Traffic really flowed before, during and after the rotation.
    assert before_reopen > 0 and old.lines > before_reopen and new.lines > 0
    # Every request line nginx wrote, in either file, was read exactly once.
    assert max(both.requests.values()) == 1, "the test's request numbering is not unique"
    lost = both.requests - seen
    doubled = seen - both.requests
    assert not lost, f"{sum(lost.values())} lines lost, e.g. {list(lost)[:3]}"
    assert not doubled, f"{sum(doubled.values())} lines read twice, e.g. {list(doubled)[:3]}"
    assert_matches(metrics, both)
    assert source.health.faults["rotated"] == 1
    assert source.health.bad_records == 0 and source.health.faults["partial_line"] == 0
    print(
        f"\n{tool}: {old.lines} lines in access.log.1 ({before_reopen} at the rename) + "
        f"{new.lines} in the new access.log = {both.lines}; warroom counted "
        f"{metrics.value('requests'):.0f}, each line once"
    )
