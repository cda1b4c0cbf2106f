"""HttpSource and PrometheusSource against a scripted HTTP/1.1 server on 127.0.0.1."""

from __future__ import annotations

import gzip
import time
from itertools import pairwise
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.sources.servers import HttpTestServer, Reply, Request, free_port, records, running, wait_for
from warroom.config import HttpSourceConfig, PrometheusSourceConfig
from warroom.sources import build_source
from warroom.sources.base import SourceState
from warroom.sources.http import MAX_REDIRECTS, HttpSource, PrometheusSource
from warroom.sources.jsonbody import RecordsPathError, records_at


def http_source(url: str, **settings: Any) -> HttpSource:
    settings.setdefault("interval", "100ms")
    return HttpSource(HttpSourceConfig(name="api", kind="http", url=url, **settings))


def prom_source(url: str, queries: dict[str, str], **settings: Any) -> PrometheusSource:
    settings.setdefault("interval", "100ms")
    return PrometheusSource(
        PrometheusSourceConfig(name="prom", kind="prometheus", url=url, queries=queries, **settings)
    )


# --------------------------------------------------------------------------- HttpSource


async def test_happy_path_records_path_headers_params_and_interval() -> None:
    body = {"data": {"items": [{"id": 1, "kind": "order"}, {"id": 2, "kind": "order"}, 7]}}
    async with HttpTestServer(Reply(body=body)) as server:
        source = http_source(
            server.url + "/api/orders",
            interval="300ms",
            records_path="data.items",
            headers={"Authorization": "Bearer tok"},
            params={"since": "5m"},
        )
        async with running(source) as batches:
            await wait_for(lambda: len(server.requests) >= 2)
            first, second = server.requests[:2]
            assert first.path == "/api/orders"
            assert first.query == {"since": "5m"}
            assert first.headers["authorization"] == "Bearer tok"
            assert second.at - first.at >= 0.27  # from poll start to poll start, never sooner
            await wait_for(lambda: len(batches) >= 2)
            assert batches[0] == [{"id": 1, "kind": "order"}, {"id": 2, "kind": "order"}]
            health = source.health
            assert health.state == SourceState.LIVE
            assert health.records >= 4
            assert health.faults["not_an_object"] >= 1
            assert health.bad_records == health.faults["not_an_object"]


async def test_polls_never_overlap_when_a_poll_is_slower_than_the_interval() -> None:
    body = orjson.dumps([{"n": 1}])
    async with HttpTestServer(Reply(body=body, drip_delay=0.05, drip_bytes=4)) as server:
        source = http_source(server.url, interval="50ms", deadline="2s")
        async with running(source) as batches:
            await wait_for(lambda: len(batches) >= 3)
            arrivals = [r.at for r in server.requests]
            # each answer takes ~0.15 s to drip out; a new poll only starts after it
            assert all(later - earlier >= 0.12 for earlier, later in pairwise(arrivals))


async def test_deadline_covers_a_slow_drip_body() -> None:
    body = orjson.dumps([{"n": i} for i in range(100)])
    async with HttpTestServer(Reply(body=body, drip_delay=0.05, drip_bytes=1)) as server:
        source = http_source(server.url, deadline="500ms", interval="5s")
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["deadline"] == 1, timeout=8)
            gave_up = time.monotonic()
            # The body needs over 10 s to drip out; the poll gave up long before that.
            assert gave_up - server.requests[0].at < 8
            assert source.health.state == SourceState.ERROR
            assert "0.5s deadline" in source.health.reason
            assert batches == []


async def test_5xx_is_an_error_then_recovers_after_backoff_without_leaking_secrets() -> None:
    script = [Reply(503, body="upstream down"), Reply(body=[{"ok": 1}])]
    async with HttpTestServer(script) as server:
        source = http_source(
            server.url + "/stats?key=url-secret",
            params={"token": "param-secret"},
            headers={"X-Api-Key": "header-secret"},
        )
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["http_503"] == 1)
            health = source.health
            assert health.state == SourceState.ERROR
            assert health.reason.startswith("HTTP 503")
            for text in (health.reason, health.target):
                for secret in ("url-secret", "param-secret", "header-secret"):
                    assert secret not in text
            await wait_for(lambda: batches, timeout=3)
            assert records(batches)[0] == {"ok": 1}
            assert health.state == SourceState.LIVE
            # Live again, and the failure stays on the health line beside "reconn 1".
            assert health.reason.startswith("last error at ")
            assert health.reason.endswith(": HTTP 503 Service Unavailable")
            assert all(secret not in health.reason for secret in ("url-secret", "param-secret", "header-secret"))
            assert health.reconnects == 1
            gap = server.requests[1].at - server.requests[0].at
            assert gap >= 0.9  # backoff, although the interval is 0.1 s


async def test_429_retry_after_is_honoured() -> None:
    script = [Reply(429, headers={"Retry-After": "2"}, body={"error": "slow down"}), Reply(body=[{"ok": 1}])]
    async with HttpTestServer(script) as server:
        source = http_source(server.url)
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["http_429"] == 1)
            assert "HTTP 429" in source.health.reason
            assert "rate limited" in source.health.reason
            await wait_for(lambda: batches, timeout=4)
            gap = server.requests[1].at - server.requests[0].at
            assert gap >= 1.9


async def test_html_body_is_not_json() -> None:
    page = "<!doctype html><html><body><h1>Login</h1></body></html>"
    reply = Reply(body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    async with HttpTestServer(reply) as server:
        source = http_source(server.url, interval="5s")
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["not_json"] == 1)
            assert source.health.state == SourceState.ERROR
            assert source.health.reason.startswith("response is not JSON (text/html)")
            assert "<" not in source.health.reason
            assert batches == []


async def test_body_over_the_limit_declared_or_streamed() -> None:
    big = orjson.dumps([{"pad": "x" * 100} for _ in range(100)])  # ~11 kB
    bomb = gzip.compress(big)  # small on the wire, large once decoded
    assert len(bomb) < 1000
    script = [Reply(body=big), Reply(body=bomb, headers={"Content-Encoding": "gzip"})]
    async with HttpTestServer(script) as server:
        source = http_source(server.url, max_body_bytes=1000)
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["body_too_large"] == 2, timeout=5)
            assert "max_body_bytes (1000 bytes)" in source.health.reason
            assert source.health.state == SourceState.ERROR
            assert batches == []


async def test_redirect_loop_is_an_error_not_a_hang() -> None:
    async with HttpTestServer(Reply(302, headers={"Location": "/again"})) as server:
        source = http_source(server.url + "/start", interval="5s")
        async with running(source):
            await wait_for(lambda: source.health.faults["too_many_redirects"] == 1)
            assert source.health.state == SourceState.ERROR
            assert "redirect" in source.health.reason
            assert len(server.requests) == MAX_REDIRECTS + 1


async def test_redirect_is_followed() -> None:
    def script(request: Request) -> Reply:
        if request.path == "/old":
            return Reply(301, headers={"Location": "/new"})
        return Reply(body={"moved": True})

    async with HttpTestServer(script) as server:
        source = http_source(server.url + "/old", interval="5s")
        async with running(source) as batches:
            await wait_for(lambda: batches)
            assert records(batches) == [{"moved": True}]


async def test_refused_connection_and_closed_without_answer_are_faults() -> None:
    source = http_source(f"http://127.0.0.1:{free_port()}", interval="5s")
    async with running(source):
        await wait_for(lambda: source.health.faults["connect_failed"] == 1)
        assert source.health.reason.startswith("cannot connect")
        assert source.health.state == SourceState.ERROR
    async with HttpTestServer(Reply(close=True)) as server:
        source = http_source(server.url, interval="5s")
        async with running(source):
            await wait_for(lambda: source.health.faults["transport_error"] == 1)
            assert source.health.state == SourceState.ERROR


async def test_missing_records_path_is_an_error() -> None:
    async with HttpTestServer(Reply(body={"error": "no such report"})) as server:
        source = http_source(server.url, records_path="data.items", interval="5s")
        async with running(source) as batches:
            await wait_for(lambda: source.health.faults["records_path_missing"] == 1)
            assert source.health.state == SourceState.ERROR
            assert "'data'" in source.health.reason
            assert batches == []


# --------------------------------------------------------------------------- Prometheus

NOW = 1_763_000_000.123
VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "http_requests_total", "job": "shop", "code": "200"}, "value": [NOW, "1234.5"]},
            {"metric": {"__name__": "http_requests_total", "job": "shop", "code": "500"}, "value": [NOW, "7"]},
            {"metric": {"job": "api"}, "value": [NOW, "NaN"]},
            {"metric": {"job": "edge"}, "value": [NOW, "+Inf"]},
        ],
    },
}
SCALAR = {"status": "success", "data": {"resultType": "scalar", "result": [NOW, "0.25"]}}
BAD_QUERY = {
    "status": "error",
    "errorType": "bad_data",
    "error": 'invalid parameter "query": 1:6: parse error: unexpected <by>',
}


def prometheus(request: Request) -> Reply:
    if request.path != "/prom/api/v1/query":
        return Reply(404, body="not found")
    query = request.query.get("query", "")
    if query.startswith("http_requests_total"):
        return Reply(body=VECTOR)
    if query == "scalar(error_ratio)":
        return Reply(body=SCALAR)
    if query == "matrix[5m]":
        return Reply(body={"status": "success", "data": {"resultType": "matrix", "result": []}})
    return Reply(400, body=BAD_QUERY)


async def test_prometheus_vector_and_scalar_samples_become_records() -> None:
    queries = {"requests": 'http_requests_total{job="shop"}', "errors": "scalar(error_ratio)"}
    async with HttpTestServer(prometheus) as server:
        source = prom_source(server.url + "/prom/", queries, interval="5s")
        async with running(source) as batches:
            await wait_for(lambda: batches)
            assert {r.query["query"] for r in server.requests} == set(queries.values())
            got = sorted(records(batches), key=lambda r: (r["query"], r["value"]))
            assert got == [
                {"query": "errors", "value": 0.25, "ts": NOW},
                {
                    "query": "requests",
                    "value": 7.0,
                    "ts": NOW,
                    "metric_name": "http_requests_total",
                    "job": "shop",
                    "code": "500",
                },
                {
                    "query": "requests",
                    "value": 1234.5,
                    "ts": NOW,
                    "metric_name": "http_requests_total",
                    "job": "shop",
                    "code": "200",
                },
            ]
            health = source.health
            assert health.faults["non_finite"] == 2
            assert health.state == SourceState.LIVE
            assert health.records == 3


async def test_prometheus_query_error_shows_its_text_and_other_queries_still_emit() -> None:
    queries = {"broken": "sum(x) by by (job)", "errors": "scalar(error_ratio)", "ranged": "matrix[5m]"}
    async with HttpTestServer(prometheus) as server:
        source = prom_source(server.url + "/prom", queries, interval="5s")
        async with running(source) as batches:
            await wait_for(lambda: batches)
            assert records(batches) == [{"query": "errors", "value": 0.25, "ts": NOW}]
            health = source.health
            assert health.state == SourceState.ERROR
            assert "query broken: bad_data: invalid parameter" in health.reason
            assert "parse error" in health.reason
            assert "query ranged: gives a matrix result" in health.reason
            assert health.faults["query_error"] == 1
            assert health.faults["unsupported_result"] == 1


async def test_prometheus_down_is_one_error_for_all_queries() -> None:
    port = free_port()
    source = prom_source(f"http://127.0.0.1:{port}", {"a": "up", "b": "up"}, interval="5s")
    assert isinstance(build_source(source.config), PrometheusSource)
    async with running(source) as batches:
        await wait_for(lambda: source.health.faults["connect_failed"] == 2)
        assert source.health.state == SourceState.ERROR
        assert source.health.reason.count("cannot connect") == 1
        assert batches == []


# --------------------------------------------------------------------------- records_path


def test_records_at_shapes() -> None:
    assert records_at([{"a": 1}, 2, {"b": 3}]) == ([{"a": 1}, {"b": 3}], 1)
    assert records_at({"a": 1}) == ([{"a": 1}], 0)
    assert records_at("text") == ([], 1)
    assert records_at({"d": [{"items": [{"x": 1}]}]}, "d.0.items") == ([{"x": 1}], 0)
    assert records_at({"d": {"items": None}}, "d.items") == ([], 0)
    with pytest.raises(RecordsPathError, match="no 'items' at d"):
        records_at({"d": {}}, "d.items")
    with pytest.raises(RecordsPathError, match="no 'd' at the top level"):
        records_at([1, 2], "d")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "0"]), inner, max_size=3),
    max_leaves=20,
)


@given(document=json_values, path=st.sampled_from(["", "a", "a.b", "0", "a.0", "b.a.0"]))
def test_records_at_never_loses_or_invents_items(document: Any, path: str) -> None:
    try:
        found, bad = records_at(document, path)
    except RecordsPathError:
        return
    assert all(isinstance(record, dict) for record in found)
    assert bad >= 0
    if isinstance(document, list) and not path:
        assert len(found) + bad == len(document)
