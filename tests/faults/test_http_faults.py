"""HTTP source faults: connect timeout, answers that never finish, endless bodies, proxies'
error pages, rate limits, redirects that go nowhere. Records go through the real Pipeline.

tests/sources/test_http.py scripts whole answers with its HttpTestServer; the faults here
need the bytes on the wire under control (a listening socket whose backlog is full, headers
dripped one byte at a time, a body streamed until the client hangs up), so they use small
raw asyncio servers, and the sizes are the real defaults (a 50 MB body against the 10 MB
max_body_bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate

import orjson
import pytest

from tests.faults.helpers import feeding, pipeline_for, wait_for
from tests.sources.servers import HttpTestServer, Reply, Request, free_port
from warroom.sources.base import SourceState

pytestmark = pytest.mark.faults

MB = 1024 * 1024


def config_for(url: str, **settings: object) -> str:
    settings.setdefault("interval", "100ms")
    extra = "".join(f"{key} = {orjson.dumps(value).decode()}\n" for key, value in settings.items())
    return f"""
[[sources]]
name = "api"
kind = "http"
url = "{url}"
{extra}
[[metrics]]
name = "rows"
source = "api"
"""


class RawServer:
    """An asyncio server on 127.0.0.1 whose handler writes whatever bytes the test wants."""

    def __init__(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self.handler = handler
        self.sent = 0  # body bytes written so far, for the handlers that count them
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while (await reader.readline()) not in (b"\r\n", b""):
                pass  # the request head
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self.server.wait_closed()


async def test_connect_timeout_on_a_listener_whose_backlog_is_full(tally):
    """A listener that never accepts, its queue filled: the kernel drops our SYN, as a
    firewall would, and the poll's deadline ends the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):  # more than the queue takes
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        config, pipeline, _metrics = pipeline_for(
            config_for(f"http://127.0.0.1:{port}/stats", deadline="600ms", interval="5s")
        )
        async with feeding(config, pipeline, "api") as feed:
            started = time.monotonic()
            await wait_for(lambda: feed.health.faults["deadline"] == 1, timeout=8)
            tally.fault()
            # Ended by our deadline, not by the kernel's connect timeout (minutes).
            assert time.monotonic() - started >= 0.5
            assert feed.health.state == SourceState.ERROR
            assert "no complete answer within the 0.6s deadline" in feed.health.reason
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


async def test_headers_dripped_a_byte_at_a_time_are_ended_by_the_deadline(tally):
    async def drip_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"y" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.02)

    async with RawServer(drip_head) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url, deadline="500ms", interval="5s"))
        async with feeding(config, pipeline, "api") as feed:
            started = time.monotonic()
            await wait_for(lambda: feed.health.faults["deadline"] == 1, timeout=10)
            tally.fault()
            # The head needs over 20 s to drip out; the poll gave up long before that.
            assert time.monotonic() - started < 10
            assert feed.records == []


@pytest.mark.parametrize("framing", ["content-length", "chunked", "until-close"])
async def test_a_50_mb_body_is_refused_by_the_size_limit_without_reading_it_all(tally, framing):
    """50 MB against the default 10 MB limit, declared or not: the poll fails, and the
    server gets to send little more than the limit before we hang up."""
    chunk = b'[{"pad": "' + b"z" * (64 * 1024) + b'"},'

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if framing == "content-length":
            head += f"Content-Length: {50 * MB}\r\n"
        elif framing == "chunked":
            head += "Transfer-Encoding: chunked\r\n"
        else:
            head += "Connection: close\r\n"
        writer.write((head + "\r\n").encode())
        while server.sent < 50 * MB:
            if framing == "chunked":
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                writer.write(chunk)
            server.sent += len(chunk)
            await writer.drain()
        await asyncio.sleep(30)

    async with RawServer(endless) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url, interval="5s"))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults["body_too_large"] == 1, timeout=10)
            tally.bad()
            assert "max_body_bytes (10485760 bytes)" in feed.health.reason
            assert feed.health.state == SourceState.ERROR
            assert feed.records == []
            await asyncio.sleep(0.2)
            assert server.sent < 20 * MB  # the limit, plus what the socket buffers took


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_proxy_error_page_is_an_error_then_the_poll_recovers(tally, status):
    page = f"<html><head><title>{status}</title></head><body><center>nginx</center></body></html>"
    script = [Reply(status, body=page, headers={"Content-Type": "text/html"}), Reply(body=[{"n": 1}, {"n": 2}])]
    async with HttpTestServer(script) as server:
        config, pipeline, metrics = pipeline_for(config_for(server.url))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults[f"http_{status}"] == 1)
            tally.fault()
            reason = feed.health.reason
            assert reason.startswith(f"HTTP {status}") and "next poll in 1s" in reason
            assert "<" not in reason
            await wait_for(lambda: feed.records, timeout=3)
            assert feed.health.state == SourceState.LIVE
            assert metrics.series["rows"].count >= 2


async def test_retry_after_as_a_date_is_honoured_and_a_huge_one_is_capped(tally):
    later = formatdate(time.time() + 3, usegmt=True)
    script = [Reply(503, headers={"Retry-After": later}), Reply(body=[{"n": 1}])]
    async with HttpTestServer(script) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.records, timeout=6)
            tally.fault()
            gap = server.requests[1].at - server.requests[0].at
            assert gap >= 1.9  # waited for the date, not the 1 s backoff (wait_for bounds the rest)
    async with HttpTestServer(Reply(429, headers={"Retry-After": "86400"})) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults["http_429"] == 1)
            tally.fault()
            assert "rate limited" in feed.health.reason
            assert "next poll in 300s" in feed.health.reason  # a day, capped to five minutes
            await asyncio.sleep(0.5)
            assert len(server.requests) == 1


async def test_redirects_in_a_circle_and_to_nowhere(tally):
    def circle(request: Request) -> Reply:
        return Reply(307, headers={"Location": "/b" if request.path == "/a" else "/a"})

    async with HttpTestServer(circle) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url + "/a", interval="5s"))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults["too_many_redirects"] == 1)
            tally.fault()
            assert "redirect loop" in feed.health.reason
    nowhere = f"http://127.0.0.1:{free_port()}/gone"
    async with HttpTestServer(Reply(302, headers={"Location": nowhere})) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url, interval="5s"))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults["connect_failed"] == 1)
            tally.fault()
            assert feed.health.state == SourceState.ERROR


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        ("<!doctype html><p>Sign in</p>", "text/html", "response is not JSON (text/html)"),
        ("<!doctype html><p>Sign in</p>", "application/json", "response is not valid JSON"),
        ("", "application/json", "response is not valid JSON"),
        ('{"rows": [1, 2', "application/json", "response is not valid JSON"),
    ],
)
async def test_what_is_not_json_is_one_failed_poll(tally, body, content_type, reason):
    async with HttpTestServer(Reply(body=body.encode(), headers={"Content-Type": content_type})) as server:
        config, pipeline, _metrics = pipeline_for(config_for(server.url, interval="5s"))
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults["not_json"] == 1)
            tally.bad()
            assert feed.health.reason.startswith(reason)
            assert "<" not in feed.health.reason
            assert feed.records == []
