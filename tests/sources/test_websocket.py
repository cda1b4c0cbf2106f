"""WebSocketSource against real websockets servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection

from tests.sources.servers import WsTestServer, free_port, records, running, stall, wait_for
from warroom.config import WebSocketSourceConfig
from warroom.sources import build_source
from warroom.sources.base import MAX_RETRY_DELAY, SourceState
from warroom.sources.websocket import WebSocketSource


def make_source(url: str, **settings: Any) -> WebSocketSource:
    return WebSocketSource(WebSocketSourceConfig(name="feed", kind="websocket", url=url, **settings))


def sender(*messages: Any):
    """A handler that sends each message (JSON-encoded unless bytes/str), then waits."""

    async def handler(ws: ServerConnection) -> None:
        for message in messages:
            await ws.send(message if isinstance(message, (str, bytes)) else orjson.dumps(message).decode())
        await ws.wait_closed()

    return handler


async def test_single_objects_and_arrays_become_batches_and_headers_are_sent() -> None:
    def reject(request):
        return None if request.headers.get("Authorization") == "Bearer tok-123" else 401

    handler = sender({"event": "visit", "n": 1}, [{"event": "order", "n": 2}, {"event": "order", "n": 3}])
    async with WsTestServer(handler, reject=reject) as server:
        source = make_source(server.url + "/feed", headers={"Authorization": "Bearer tok-123"})
        async with running(source) as batches:
            await wait_for(lambda: len(records(batches)) == 3)
            assert batches == [
                [{"event": "visit", "n": 1}],
                [{"event": "order", "n": 2}, {"event": "order", "n": 3}],
            ]
            assert source.health.state == SourceState.LIVE
            assert source.health.records == 3
            assert source.health.last_record_at is not None
            assert source.health.bad_records == 0
            assert len(server.handshakes) == 1
            assert server.handshakes[0][1]["authorization"] == "Bearer tok-123"


async def test_records_path_picks_a_list_or_one_object() -> None:
    handler = sender(
        {"data": {"items": [{"id": 1}, {"id": 2}]}, "meta": {"page": 1}},
        {"data": {"items": {"id": 3}}},
        {"data": {"items": None}},
        {"data": {"items": [{"id": 4}]}},
    )
    async with WsTestServer(handler) as server:
        source = make_source(server.url, records_path="data.items")
        async with running(source) as batches:
            await wait_for(lambda: len(records(batches)) == 4)
            assert [r["id"] for r in records(batches)] == [1, 2, 3, 4]
            assert source.health.bad_records == 0


async def test_bad_messages_are_counted_and_the_stream_goes_on() -> None:
    handler = sender(
        "this is not json",
        b"\xff\xfe binary junk",
        [{"ok": 1}, 5, "text"],
        {"ok": 2},
        42,
    )
    async with WsTestServer(handler) as server:
        source = make_source(server.url)
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["not_an_object"] == 3)
            assert records(batches) == [{"ok": 1}, {"ok": 2}]
            health = source.health
            assert health.faults["bad_json"] == 2
            assert health.bad_records == 5
            assert health.state == SourceState.LIVE
            assert health.reason == "last bad message: an item that is not an object"  # the last one, 42
            assert len(server.handshakes) == 1  # the same connection throughout
            assert health.reconnects == 0


async def test_missing_records_path_is_a_bad_message_not_a_disconnect() -> None:
    handler = sender({"error": "oops"}, {"data": [{"id": 1}]})
    async with WsTestServer(handler) as server:
        source = make_source(server.url, records_path="data")
        async with running(source) as batches:
            await wait_for(lambda: records(batches) == [{"id": 1}])
            assert source.health.faults["records_path_missing"] == 1
            assert source.health.bad_records == 1
            assert len(server.handshakes) == 1


async def test_server_down_at_start_then_comes_up() -> None:
    port = free_port()
    source = make_source(f"ws://127.0.0.1:{port}")
    async with running(source) as batches:
        await wait_for(lambda: source.health.faults["connect_failed"] >= 1)
        assert source.health.state == SourceState.ERROR
        assert source.health.reason.startswith("cannot connect")
        async with WsTestServer(sender({"up": True}), port=port):
            await wait_for(lambda: batches, timeout=5)
            assert records(batches) == [{"up": True}]
            assert source.health.state == SourceState.LIVE
            assert source.health.reconnects >= 1


async def test_server_that_accepts_and_closes_at_once_gets_a_growing_backoff() -> None:
    """Each handshake succeeds, so websockets' own loop would start its backoff again every
    time; ours waits at least a second and doubles while connections keep failing."""

    async def close_at_once(ws: ServerConnection) -> None:
        return None

    async with WsTestServer(close_at_once) as server:
        source = make_source(server.url)
        async with running(source):
            reasons: list[str] = []

            def third_retry_scheduled() -> bool:
                if source.health.reason not in reasons:
                    reasons.append(source.health.reason)
                return source.health.faults["disconnected"] >= 3

            await wait_for(third_retry_scheduled, timeout=15)
            retries = [r.rsplit("retry in ", 1)[1] for r in reasons if "retry in " in r]
            assert retries == ["1s", "2s", "4s"], reasons
            attempts = [at for at, _headers in server.handshakes]
            gaps = [later - earlier for earlier, later in pairwise(attempts)]
            assert all(gap >= 0.9 for gap in gaps), gaps
            assert source.health.state == SourceState.ERROR


async def test_handshake_401_is_an_error_retried_slowly_without_leaking_secrets() -> None:
    async with WsTestServer(sender(), reject=lambda request: 401) as server:
        url = server.url + "/feed?token=query-secret"
        source = make_source(url, headers={"Authorization": "Bearer header-secret"})
        async with running(source):
            await wait_for(lambda: source.health.faults["rejected"] == 1)
            health = source.health
            assert health.state == SourceState.ERROR
            assert "rejected: HTTP 401 (check the token)" in health.reason
            assert f"retry in {MAX_RETRY_DELAY:g}s" in health.reason
            await asyncio.sleep(1.5)  # a normal backoff would have retried by now
            assert len(server.handshakes) == 1
            for text in (health.reason, health.target):
                assert "query-secret" not in text and "header-secret" not in text
            assert health.target == server.url + "/feed"


async def test_handshake_503_is_retried_with_backoff() -> None:
    async with WsTestServer(sender(), reject=lambda request: 503) as server:
        source = make_source(server.url)
        async with running(source):
            await wait_for(lambda: len(server.handshakes) >= 2, timeout=3)
            assert "HTTP 503" in source.health.reason
            assert source.health.state == SourceState.ERROR
            assert source.health.faults["handshake_failed"] >= 1
            assert source.health.faults["rejected"] == 0
            gap = server.handshakes[1][0] - server.handshakes[0][0]
            assert gap >= 0.9


async def test_unanswered_pings_end_the_connection_and_it_reconnects() -> None:
    async def send_then_stall(ws: ServerConnection) -> None:
        await ws.send(orjson.dumps({"n": 1}).decode())
        await stall(ws)

    async with WsTestServer(send_then_stall) as server:
        source = make_source(server.url, ping_interval="200ms", ping_timeout="300ms")
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["ping_timeout"] >= 1, timeout=4)
            assert records(batches)[:1] == [{"n": 1}]
            assert "ping" in source.health.reason
            await wait_for(lambda: len(server.handshakes) >= 2, timeout=4)


async def test_message_over_the_size_limit_is_a_fault_and_a_reconnect() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await ws.send(orjson.dumps({"n": "small"}).decode())
            await ws.send(orjson.dumps({"n": "big", "pad": "x" * 4000}).decode())
        else:
            await ws.send(orjson.dumps({"n": "after"}).decode())
        await ws.wait_closed()

    async with WsTestServer(handler) as server:
        source = make_source(server.url, max_message_bytes=1024)
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["message_too_large"] == 1)
            assert "max_message_bytes" in source.health.reason
            await wait_for(lambda: len(records(batches)) == 2, timeout=4)
            assert [r["n"] for r in records(batches)] == ["small", "after"]
            assert source.health.reconnects == 1


async def test_build_source_picks_the_websocket_class() -> None:
    config = WebSocketSourceConfig(name="feed", kind="websocket", url="ws://127.0.0.1:1")
    source = build_source(config)
    assert isinstance(source, WebSocketSource)
    assert source.health.kind == "websocket"
    assert source.health.state == SourceState.CONNECTING


@pytest.fixture(autouse=True)
def _quiet_websockets_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="websockets")
