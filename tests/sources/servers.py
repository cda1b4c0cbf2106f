"""Loopback servers for source tests: a scripted HTTP/1.1 server and a WebSocket server.

Both listen on 127.0.0.1 on a free port and record what they saw, so tests can assert on
real traffic. The HTTP server is hand-written on asyncio streams rather than an HTTP
framework because the faults are the point: a test scripts each answer down to the byte
(status, headers, body, a body dripped slowly, a connection closed without an answer, a
request that is never answered).

    async with HttpTestServer([Reply(503), Reply(body={"ok": 1})]) as server:
        ... server.url ... server.requests ...

A list of replies is used in order and the last one repeats; a function `Request -> Reply`
may answer instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

__all__ = ["HttpTestServer", "Reply", "Request", "WsTestServer", "free_port", "stall", "wait_for"]


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A port nothing listens on right now (for "server comes up later" tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- HTTP


@dataclass
class Reply:
    """One scripted answer. `body` may be bytes, str, or any value to send as JSON."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    drip_delay: float = 0.0
    """Seconds between body chunks of `drip_bytes` (0: send the body at once)."""
    drip_bytes: int = 1
    close: bool = False
    """Close the connection without answering."""
    hang: bool = False
    """Never answer (until the server stops)."""

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if isinstance(self.body, bytes):
            body = self.body
        elif isinstance(self.body, str):
            body = self.body.encode()
            headers.setdefault("content-type", "text/plain; charset=utf-8")
        else:
            body = orjson.dumps(self.body)
            headers.setdefault("content-type", "application/json")
        headers.setdefault("content-length", str(len(body)))
        return body, headers


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    at: float  # time.monotonic() when the request line arrived

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}


class HttpTestServer:
    """An HTTP/1.1 server whose every answer is scripted by the test."""

    def __init__(self, script: Sequence[Reply] | Reply | Callable[[Request], Reply], port: int = 0) -> None:
        if isinstance(script, Reply):
            script = [script]
        self._script = script
        self._port = port
        self._served = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests: list[Request] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> HttpTestServer:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self._port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _reply_for(self, request: Request) -> Reply:
        if callable(self._script):
            return self._script(request)
        reply = self._script[min(self._served, len(self._script) - 1)]
        self._served += 1
        return reply

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                reply = self._reply_for(request)
                if reply.hang:
                    await asyncio.Event().wait()
                if reply.close:
                    return
                await self._write_reply(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the client went away; that is its right
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Request | None:
        line = await reader.readline()
        if not line:
            return None
        at = time.monotonic()
        method, target, _version = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        return Request(method, target, headers, at)

    @staticmethod
    async def _write_reply(writer: asyncio.StreamWriter, reply: Reply) -> None:
        body, headers = reply.encoded()
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        head = f"HTTP/1.1 {reply.status} {phrase}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1"))
        if reply.drip_delay <= 0:
            writer.write(body)
            await writer.drain()
            return
        await writer.drain()
        for start in range(0, len(body), reply.drip_bytes):
            await asyncio.sleep(reply.drip_delay)
            writer.write(body[start : start + reply.drip_bytes])
            await writer.drain()


# --------------------------------------------------------------------------- WebSocket


Handler = Callable[[ServerConnection], Any]


class WsTestServer:
    """`websockets` server on loopback that records every handshake attempt.

    `reject` may return an HTTP status to refuse a handshake with (or None to accept).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        reject: Callable[[WsRequest], int | None] | None = None,
        port: int = 0,
    ) -> None:
        self._handler = handler
        self._reject = reject
        self._port = port
        self._server: Server | None = None
        self.handshakes: list[tuple[float, dict[str, str]]] = []  # (monotonic time, headers)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> WsTestServer:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            self._port,
            process_request=self._process_request,
            close_timeout=0.5,
            ping_interval=None,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                await self._server.wait_closed()

    def _process_request(self, connection: ServerConnection, request: WsRequest) -> WsResponse | None:
        self.handshakes.append((time.monotonic(), {k.lower(): v for k, v in request.headers.raw_items()}))
        status = self._reject(request) if self._reject else None
        if status is None:
            return None
        return connection.respond(status, f"{HTTPStatus(status).phrase}\n")


async def stall(ws: ServerConnection) -> None:
    """A handler that stops reading (so pings go unanswered) until the connection is gone."""
    ws.transport.pause_reading()
    await ws.wait_closed()


@contextlib.asynccontextmanager
async def running(source: Any, stop_timeout: float = 10.0) -> AsyncIterator[list[list[dict]]]:
    """Run `source` as a task; yield the list its batches are appended to; cancel it after."""
    batches: list[list[dict]] = []
    task = asyncio.create_task(source.run(batches.append))
    try:
        yield batches
        assert not task.done(), f"run() ended early: {task.exception() if task.done() else ''}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, stop_timeout)


def records(batches: list[list[dict]]) -> list[dict]:
    return [record for batch in batches for record in batch]
