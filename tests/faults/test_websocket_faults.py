"""Websocket source faults: flapping servers, a stopped server process, hostile frames, a
consumer slower than the feed. Records go through the real Pipeline.

tests/sources/test_websocket.py covers each handshake fault once; here they are chained
the way a deploy produces them, and the feed that floods or freezes is a separate process
(tests/faults/ws_server.py), so a SIGSTOP really freezes it and flooding never borrows the
consumer's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.server import ServerConnection

import warroom.sources.websocket as websocket_module
from tests.faults.helpers import feeding, pipeline_for, wait_for
from tests.sources.servers import HttpTestServer, Reply, WsTestServer, free_port
from warroom.sources.base import SourceState

pytestmark = pytest.mark.faults

SERVER = Path(__file__).with_name("ws_server.py")


def config_for(url: str, **settings: str | int) -> str:
    extra = "".join(f"{key} = {orjson.dumps(value).decode()}\n" for key, value in settings.items())
    return f"""
[[sources]]
name = "feed"
kind = "websocket"
url = "{url}"
{extra}
[[metrics]]
name = "events"
source = "feed"
"""


class ServerProcess:
    """ws_server.py in a child process; `sent` follows what it reports."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True)
        first = self.process.stdout.readline().split()
        assert first[0] == "port", first
        self.port = int(first[1])
        self.sent = 0
        self.buffered = 0  # bytes the server process itself still holds
        self.done = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _read(self) -> None:
        for line in self.process.stdout:
            words = line.split()
            if words[:1] == ["sent"]:
                self.sent, self.buffered = int(words[1]), int(words[2])
            elif words[:1] == ["done"]:
                self.done = True

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)
        self.process.kill()
        self.process.wait()
        self._reader.join(5)
        self.process.stdout.close()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_consumer_slower_than_the_feed_stays_bounded_and_loses_nothing(tally):
    """A server floods 70 MB of records at a consumer that takes 5 ms per message: the
    source stops reading the socket (websockets' queue is bounded), so the data waits in the
    kernel and the server's process, not in ours; once the consumer is fast again every
    record arrives, once, in order."""
    messages, per_message = 20_000, 20
    total = messages * per_message
    server = ServerProcess("flood", str(messages))
    config, pipeline, metrics = pipeline_for(config_for(server.url))
    try:
        async with feeding(config, pipeline, "feed", keep=False) as feed:
            received: list[int] = []
            slow = True

            def observe(records: list[dict]) -> None:
                received.extend(r["n"] for r in records)
                if slow:
                    time.sleep(0.005)  # the consumer is slow: it holds the loop

            feed.observe = observe
            await wait_for(lambda: received, timeout=5)
            before = rss_bytes()
            await asyncio.sleep(2.0)
            size = len(orjson.dumps([{"n": 10**6, "pad": "x" * 150}] * per_message))
            sent_bytes = server.sent * size - server.buffered
            in_flight = sent_bytes - len(received) // per_message * size
            grown = rss_bytes() - before
            tally.fault()
            # The consumer took ~400 messages (1.4 MB); the rest of what left the server
            # process sits in socket buffers (a few MB on loopback), not in our memory.
            assert len(received) < total // 10
            assert in_flight < 24 * 1024 * 1024, (server.sent, server.buffered, len(received))
            assert grown < 32 * 1024 * 1024
            assert feed.health.state == SourceState.LIVE
            slow = False
            await wait_for(lambda: len(received) >= total, timeout=30)
            await asyncio.sleep(0.05)
            tally.lost(records=total - len(set(received)))
            assert received == list(range(total))
            assert metrics.series["events"].count == total
            assert feed.health.faults == {}
    finally:
        server.stop()


async def test_server_process_stopped_is_detected_by_ping_and_resumed(tally):
    """SIGSTOP freezes the feed's process (TCP stays up, nothing answers): the ping timeout
    notices, the source shows it and retries; SIGCONT brings records back."""
    server = ServerProcess("steady")
    config, pipeline, _metrics = pipeline_for(config_for(server.url, ping_interval="200ms", ping_timeout="300ms"))
    try:
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: len(feed.records) >= 5, timeout=5)
            os.kill(server.process.pid, signal.SIGSTOP)
            tally.fault()
            await wait_for(lambda: feed.health.faults["ping_timeout"] >= 1, timeout=5)
            assert feed.health.state == SourceState.ERROR
            assert "no answer to ping within 0.3s" in feed.health.reason
            count = len(feed.records)
            os.kill(server.process.pid, signal.SIGCONT)
            await wait_for(lambda: len(feed.records) >= count + 5, timeout=15)
            assert feed.health.state == SourceState.LIVE
            assert feed.health.reconnects >= 1
    finally:
        server.stop()


async def test_down_then_accept_and_close_then_serving(tally):
    """A deploy as the feed sees it: nothing listening, then a server that accepts and closes
    at once, then a working one. Attempts stay at least a second apart throughout."""
    port = free_port()
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            return  # accept, then close at once
        await ws.send(orjson.dumps([{"n": 1}, {"n": 2}]).decode())
        await ws.wait_closed()

    config, pipeline, metrics = pipeline_for(config_for(f"ws://127.0.0.1:{port}"))
    async with feeding(config, pipeline, "feed") as feed:
        await wait_for(lambda: feed.health.faults["connect_failed"] >= 1)
        down_at = time.monotonic()
        tally.fault(2)
        async with WsTestServer(handler, port=port) as server:
            await wait_for(lambda: len(feed.records) == 2, timeout=8)
            attempts = [down_at] + [at for at, _headers in server.handshakes]
            gaps = [later - earlier for earlier, later in pairwise(attempts)]
            assert len(gaps) >= 2 and all(gap >= 0.9 for gap in gaps), gaps
            assert feed.health.faults["disconnected"] == 1
            assert feed.health.state == SourceState.LIVE
            assert metrics.series["events"].count == 2


async def test_503_during_a_deploy_is_retried_until_the_feed_is_back(tally):
    statuses = iter([503, 503])

    def reject(request):
        return next(statuses, None)

    async def handler(ws: ServerConnection) -> None:
        await ws.send(orjson.dumps({"n": 1}).decode())
        await ws.wait_closed()

    async with WsTestServer(handler, reject=reject) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url))
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.health.faults["handshake_failed"] == 1)
            assert feed.health.state == SourceState.ERROR
            assert "HTTP 503" in feed.health.reason
            await wait_for(lambda: feed.records, timeout=8)
            tally.fault(2)
            assert feed.health.faults["handshake_failed"] == 2
            assert feed.health.faults["rejected"] == 0
            assert feed.health.state == SourceState.LIVE


async def test_a_web_page_instead_of_a_websocket_is_a_handshake_error(tally):
    page = Reply(200, body="<html><body>maintenance</body></html>", headers={"Content-Type": "text/html"})
    async with HttpTestServer(page) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url.replace("http", "ws")))
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.health.faults["handshake_failed"] >= 1)
            tally.bad()
            assert feed.health.state == SourceState.ERROR
            assert "HTTP 200" in feed.health.reason
            assert "<" not in feed.health.reason


async def test_a_server_that_never_answers_the_handshake_times_out(tally, monkeypatch):
    monkeypatch.setattr(websocket_module, "OPEN_TIMEOUT", 0.5)  # 10 s in production
    held: list[asyncio.StreamWriter] = []

    async def accept_and_ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept_and_ignore, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config, pipeline, _metrics = pipeline_for(config_for(f"ws://127.0.0.1:{port}"))
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.health.faults["timeout"] >= 1, timeout=4)
            tally.fault()
            assert feed.health.state == SourceState.ERROR
            assert "no answer to the opening handshake" in feed.health.reason
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "length_bytes", [b"\x7f" + (2**62).to_bytes(8, "big"), b"\x7e\xff\xff"], ids=["claims-4-EiB", "claims-64-KiB"]
)
async def test_a_frame_header_claiming_more_than_the_limit_is_refused_before_reading(tally, length_bytes):
    """A frame whose header announces more than max_message_bytes is refused on the header
    alone (close 1009); the source counts it and reconnects, and later frames still arrive."""
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await ws.send(orjson.dumps({"n": 0}).decode())
            await asyncio.sleep(0.05)
            ws.transport.write(b"\x82" + length_bytes)  # binary frame, unmasked, huge length
        else:
            await ws.send(orjson.dumps({"n": 1}).decode())
        await ws.wait_closed()

    async with WsTestServer(handler) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url, max_message_bytes=1024))
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.health.faults["message_too_large"] == 1, timeout=4)
            tally.bad()
            assert "max_message_bytes (1024 bytes)" in feed.health.reason
            await wait_for(lambda: len(feed.records) == 2, timeout=5)
            assert [r["n"] for r in feed.records] == [0, 1]


async def test_a_compressed_message_that_inflates_past_the_limit_is_refused(tally):
    """permessage-deflate: 4 MB of JSON that is a few KB on the wire. The limit applies to
    the inflated size, so it is refused without inflating all of it."""

    async def handler(ws: ServerConnection) -> None:
        await ws.send(orjson.dumps({"n": 0, "pad": "x" * (4 * 1024 * 1024)}).decode())
        await ws.wait_closed()

    async with WsTestServer(handler) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url, max_message_bytes=65536))
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.health.faults["message_too_large"] >= 1, timeout=4)
            tally.bad()
            assert feed.records == []
            assert feed.health.state == SourceState.ERROR
