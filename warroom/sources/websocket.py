"""WebSocket feed: one JSON document per message, records picked out by `records_path`.

Why our own reconnect loop instead of `async for ws in connect(...)`: websockets resets its
backoff after every successful handshake, so a server that accepts and closes at once would
get thousands of reconnects a second. Here every failed or lost connection waits at least
MIN_RETRY_DELAY before the next attempt, doubling while connections keep failing, and the
wait only drops back to the minimum after a connection that stayed up for STABLE_AFTER.

A handshake refused with 401/403 will not fix itself until someone changes the token, so it
is retried at MAX_RETRY_DELAY and says so; other handshake failures (502/503 during a
deploy) are retried with the usual backoff.

Bad messages (not JSON, items that are not objects, a missing `records_path`, records nested
too deep) are counted and skipped through `Source.reject` / `Source.deliver`: the connection
stays up. A message over `max_message_bytes` is different:
websockets closes the connection on it, so it counts as a fault and a reconnect.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.frames import CloseCode

from warroom.config import WebSocketSourceConfig
from warroom.sources.base import (
    MAX_RETRY_DELAY,
    MIN_RETRY_DELAY,
    EmitFn,
    Source,
    SourceState,
    next_backoff,
)
from warroom.sources.jsonbody import RecordsPathError, records_at

__all__ = ["WebSocketSource"]

# A connection that stayed up this long was healthy: the next reconnect starts again at
# MIN_RETRY_DELAY instead of continuing the backoff.
STABLE_AFTER = 10.0
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
# Let other tasks (the UI tick) run at least this often while messages are queued.
YIELD_EVERY = 64


class WebSocketSource(Source[WebSocketSourceConfig]):
    """Follows one `[[sources]] kind = "websocket"` feed until cancelled."""

    kind = "websocket"

    async def run(self, emit: EmitFn) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.0
        while True:
            if self.health.state != SourceState.ERROR:
                self.health.set_state(SourceState.CONNECTING, "connecting", now=self.clock())
            opened_at: float | None = None
            slow_retry = False
            try:
                async with self._connect() as ws:
                    opened_at = loop.time()
                    self.health.set_state(SourceState.LIVE, "connected", now=self.clock())
                    await self._read(ws, emit)
                fault, reason = "disconnected", "connection ended"  # _read only ends by raising
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    fault, reason = "rejected", f"rejected: HTTP {status} (check the token)"
                    slow_retry = True
                else:
                    fault, reason = "handshake_failed", f"handshake refused: HTTP {status}"
            except ConnectionClosed as exc:
                fault, reason = self._describe_close(exc)
            except TimeoutError:
                fault = "timeout"
                reason = f"no answer to the opening handshake within {OPEN_TIMEOUT:g}s"
            except OSError as exc:
                fault, reason = "connect_failed", f"cannot connect: {_os_reason(exc)}"
            except WebSocketException as exc:
                fault = "handshake_failed"
                reason = f"handshake failed: {self._scrub(str(exc)) or type(exc).__name__}"
            if slow_retry:
                delay = MAX_RETRY_DELAY
            elif opened_at is not None and loop.time() - opened_at >= STABLE_AFTER:
                delay = MIN_RETRY_DELAY
            else:
                delay = next_backoff(delay)
            self.health.note_fault(fault)
            self.health.set_state(SourceState.ERROR, f"{reason}; retry in {delay:g}s", now=self.clock())
            await asyncio.sleep(delay)
            self.health.reconnects += 1

    def _connect(self) -> connect:
        config = self.config
        ping_interval = config.ping_interval or None  # 0 turns keepalive pings off
        ping_timeout = config.ping_timeout or None
        tls: dict[str, Any] = {}
        if config.url.startswith("wss:") and not config.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            tls["ssl"] = context
        return connect(
            config.url,
            **tls,
            additional_headers=config.headers or None,
            max_size=config.max_message_bytes,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            open_timeout=OPEN_TIMEOUT,
            # A peer that stopped answering pings will not answer a close either.
            close_timeout=min(CLOSE_TIMEOUT, ping_timeout or CLOSE_TIMEOUT),
        )

    async def _read(self, ws: ClientConnection, emit: EmitFn) -> None:
        path = self.config.records_path
        count = 0
        while True:
            message = await ws.recv(decode=False)
            count += 1
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                document: Any = orjson.loads(message)
            except orjson.JSONDecodeError as exc:
                self.reject("bad_json", f"last bad message: not JSON ({exc})")
                continue
            try:
                records, not_objects = records_at(document, path)
            except RecordsPathError as exc:
                self.reject("records_path_missing", f"last bad message: {exc}")
                continue
            if not_objects:
                self.reject("not_an_object", "last bad message: an item that is not an object", not_objects)
            if records:
                self.deliver(emit, records, brackets=message.count(b"{") + message.count(b"["))

    def _describe_close(self, exc: ConnectionClosed) -> tuple[str, str]:
        sent, rcvd = exc.sent, exc.rcvd
        we_closed_first = rcvd is None or not exc.rcvd_then_sent
        if sent is not None and sent.code == CloseCode.MESSAGE_TOO_BIG and we_closed_first:
            limit = self.config.max_message_bytes
            return "message_too_large", f"a message was over max_message_bytes ({limit} bytes)"
        if sent is not None and sent.code == CloseCode.INTERNAL_ERROR and "ping" in sent.reason:
            return "ping_timeout", f"no answer to ping within {self.config.ping_timeout:g}s"
        if rcvd is not None:
            return "disconnected", f"closed by the server: {self._scrub(str(rcvd))[:120]}"
        return "disconnected", "connection lost"

    def _scrub(self, text: str) -> str:
        """`text` without the feed address' query string or any header value."""
        text = text.replace(self.config.url, self.health.target)
        for value in self.config.headers.values():
            if value:
                text = text.replace(value, "***")
        return text


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
