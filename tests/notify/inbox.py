"""A receiver for the tests: a real HTTP server on 127.0.0.1 that records every request.

Each request is kept whole (method, path, query, headers, body parsed as JSON when it is)
and answered by `answer(request)`, which a test can change while the server runs: a chat
service's success or error body, a 503 while "down", or an answer held back until the test
releases it (a receiver that is slow to accept, for a recorder killed mid-send).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    at: float = field(default_factory=time.time)

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


Answer = tuple[int, bytes | str] | tuple[int, bytes | str, dict[str, str]]
"""(status, body) or (status, body, extra headers)."""


class Inbox:
    """`with Inbox() as inbox: ... inbox.url ... inbox.received`."""

    def __init__(
        self, answer: Callable[[Received], Answer] | Answer = (200, b"ok"), tls: ssl.SSLContext | None = None
    ) -> None:
        self.received: list[Received] = []
        self.answer = answer
        self.held = threading.Event()
        self.held.set()
        self.hold_next = False
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urllib.parse.urlsplit(self.path)
                request = Received(
                    "POST",
                    parts.path,
                    dict(urllib.parse.parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with inbox._lock:
                    inbox.received.append(request)
                    hold = inbox.hold_next
                    inbox.hold_next = False
                if hold:
                    inbox.held.clear()
                inbox.held.wait(60)
                status, body, *extra = inbox.answer(request) if callable(inbox.answer) else inbox.answer
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(status)
                    for name, value in (extra[0] if extra else {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Content-Type", "application/json" if data[:1] in (b"{", b"[") else "text/plain")
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the sender is gone (killed mid-send)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Inbox:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.held.set()
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The requests once there are at least `count` of them (AssertionError if not in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests within {timeout} s, expected {count}")
