"""The demo's stand-ins for a real launch's systems, on loopback only.

- `FeedServer`: a websocket server pushing business events, one JSON array per message.
- `StatsServer`: a tiny HTTP/1.1 server (stdlib asyncio, keep-alive) answering
  `GET /stats` with the backend's figures as JSON.
- `AccessLog`: an nginx "combined" access log (plus `$request_time`) that grows by appends.

They know nothing about the scenario: the demo hands them batches and a stats callback, and
the dashboard reads them through its ordinary websocket, http and file sources.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve

HOST = "127.0.0.1"
MAX_RECORDS_PER_MESSAGE = 500


class FeedServer:
    """Broadcasts event batches to every connected client; a slow client misses messages
    rather than slowing the others (websockets' `broadcast` skips full write buffers)."""

    def __init__(self) -> None:
        self.clients: set[ServerConnection] = set()
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/events"

    async def start(self) -> None:
        # A short close_timeout: on stop, a client that never answers the close frame must
        # not hold the demo's shutdown for websockets' default ten seconds.
        self._server = await serve(self._handler, HOST, 0, close_timeout=1.0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handler(self, connection: ServerConnection) -> None:
        self.clients.add(connection)
        try:
            await connection.wait_closed()
        finally:
            self.clients.discard(connection)

    def send(self, records: list[dict[str, Any]]) -> None:
        if not self.clients:
            return
        for i in range(0, len(records), MAX_RECORDS_PER_MESSAGE):
            message = orjson.dumps(records[i : i + MAX_RECORDS_PER_MESSAGE]).decode()
            broadcast(self.clients, message)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()  # also closes every open connection
            await self._server.wait_closed()
            self._server = None


class StatsServer:
    """`GET /stats` -> {"ts": ..., "stats": {...}}; anything else is 404. HTTP/1.1 keep-alive,
    so a poller reuses one connection; request bodies are not expected and not read."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/stats"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return  # the client went away or sent something that is not HTTP
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split()
                if len(parts) != 3:
                    await self._respond(writer, 400, b'{"error":"bad request"}', close=True)
                    return
                method, target, version = parts
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                self.requests += 1
                if method != "GET":
                    await self._respond(writer, 405, b'{"error":"method not allowed"}', close)
                elif target.split("?", 1)[0] != "/stats":
                    await self._respond(writer, 404, b'{"error":"not found"}', close)
                else:
                    stats = self._stats()
                    body = orjson.dumps({"ts": stats["ts"], "stats": stats})
                    await self._respond(writer, 200, body, close)
                if close:
                    return
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, body: bytes, close: bool) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}[status]
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        await writer.drain()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        # Python 3.11's wait_closed does not wait for open connections: wait for them here.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self._server.wait_closed()
        self._server = None


class AccessLog:
    """Appends lines to the access log and flushes after every batch, as nginx would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, lines: list[str]) -> None:
        if lines and not self._file.closed:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
