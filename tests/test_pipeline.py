"""Records -> metric points: filters, record time, channels, rejects."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.config import parse_config
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline, compile_where, derive_channel, record_time

CONFIG = """
[[sources]]
name = "web"
kind = "file"
path = "/tmp/x.log"
format = "nginx"

[[sources]]
name = "events"
kind = "websocket"
url = "ws://127.0.0.1:1/"

[[metrics]]
name = "visits"
source = "web"
where = { path = { prefix = "/landing" } }
split_by = "channel"

[[metrics]]
name = "errors"
source = "web"
where = { status = { gte = 500 } }

[[metrics]]
name = "orders"
source = "events"
where = { kind = "order" }

[[metrics]]
name = "revenue"
source = "events"
where = { kind = "order" }
kind = "sum"
field = "amount"

[[metrics]]
name = "everything"

[tickets]
source = "events"
where = { kind = "ticket" }
"""

NOW = 1_800_000_000.0


@pytest.fixture
def setup():
    config = parse_config(CONFIG)
    metrics = MetricsStore(config.metrics, config.ratios, config.targets, clock=lambda: NOW + 1)
    tickets = []
    pipeline = Pipeline(config, metrics, on_tickets=lambda source, recs: tickets.extend(recs))
    return pipeline, metrics, tickets


def test_filters_sums_and_sources(setup):
    pipeline, metrics, tickets = setup
    pipeline.ingest("web", [
        {"path": "/landing?utm_source=Push", "status": 200, "ts": NOW - 1},
        {"path": "/landing", "status": 503, "referer": "https://www.google.com/q", "ts": NOW - 1},
        {"path": "/static/app.js", "status": "502", "ts": NOW - 2},
    ], NOW)
    pipeline.ingest("events", [
        {"kind": "order", "amount": 19.5},
        {"kind": "order", "amount": "10.5"},
        {"kind": "order", "amount": "lots"},
        {"kind": "ticket", "id": "T1"},
    ], NOW)
    assert metrics.value("visits") == 2
    assert dict(metrics.top_labels("visits")) == {"push": 1, "search": 1}
    assert metrics.value("errors") == 2  # "502" as a string counts against gte = 500
    assert metrics.value("orders") == 3
    assert metrics.value("revenue") == 30.0
    assert metrics.value("everything") == 7
    assert pipeline.rejects["events"]["bad_value"] == 1
    assert tickets == [{"kind": "ticket", "id": "T1"}]


def test_record_times(setup):
    pipeline, metrics, _ = setup
    pipeline.ingest("events", [
        {"kind": "order", "ts": (NOW - 30) * 1000},  # milliseconds
        {"kind": "order", "ts": "2031-01-01T00:00:00+00:00"},  # far future: arrival time
        {"kind": "order", "ts": "yesterday"},  # unreadable: arrival time
        {"kind": "order", "ts": "2020-01-01T00:00:00"},  # no offset: not guessed
    ], NOW)
    assert pipeline.rejects["events"] == {"future_time": 1, "bad_time": 2}
    assert metrics.window_sum("orders", 10) == 3
    assert metrics.window_sum("orders", 60) == 4
    assert record_time("2026-11-25T10:00:00Z") == pytest.approx(1795600800.0)


@pytest.mark.parametrize(("record", "channel"), [
    ({"channel": "partner"}, "partner"),
    ({"path": "/landing?a=1&utm_source=Social"}, "social"),
    ({"referer": "https://m.facebook.com/"}, "social"),
    ({"referer": "https://news.example.org/a"}, "news.example.org"),
    ({"referer": "-"}, "direct"),
    ({}, "direct"),
])
def test_channels(record, channel):
    assert derive_channel(record) == channel


def test_where_operators():
    assert compile_where({"status": [200, 304]})({"status": "304"})
    assert not compile_where({"status": {"lt": 400}})({"status": "n/a"})
    assert compile_where({"ok": True})({"ok": True})
    assert not compile_where({"ok": True})({"ok": 1})
    assert compile_where({"user.country": "NL"})({"user": {"country": "NL"}})
    assert not compile_where({"user.country": "NL"})({"user": "NL"})
    assert compile_where({"x": {"exists": False}})({})
    assert compile_where({"p": {"contains": "checkout", "ne": "/checkout/ok"}})({"p": "/checkout/err"})


hostile_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["kind", "amount", "ts", "path", "status", "referer", "channel", "id"]), hostile_values), max_size=20))
def test_hostile_records_never_raise(records):
    config = parse_config(CONFIG)
    metrics = MetricsStore(config.metrics, config.ratios, clock=lambda: NOW)
    Pipeline(config, metrics).ingest("events", records, NOW)
    Pipeline(config, metrics).ingest("web", records, NOW)
    revenue = metrics.value("revenue")
    assert revenue is None or math.isfinite(revenue)
