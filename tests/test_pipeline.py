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
    pipeline.ingest(
        "web",
        [
            {"path": "/landing?utm_source=Push", "status": 200, "ts": NOW - 1},
            {"path": "/landing", "status": 503, "referer": "https://www.google.com/q", "ts": NOW - 1},
            {"path": "/static/app.js", "status": "502", "ts": NOW - 2},
        ],
        NOW,
    )
    pipeline.ingest(
        "events",
        [
            {"kind": "order", "amount": 19.5},
            {"kind": "order", "amount": "10.5"},
            {"kind": "order", "amount": "lots"},
            {"kind": "ticket", "id": "T1"},
        ],
        NOW,
    )
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
    pipeline.ingest(
        "events",
        [
            {"kind": "order", "ts": (NOW - 30) * 1000},  # milliseconds
            {"kind": "order", "ts": "2031-01-01T00:00:00+00:00"},  # far future: arrival time
            {"kind": "order", "ts": "yesterday"},  # unreadable: arrival time
            {"kind": "order", "ts": "2020-01-01T00:00:00"},  # no offset: not guessed
        ],
        NOW,
    )
    assert pipeline.rejects["events"] == {"future_time": 1, "bad_time": 2}
    assert metrics.window_sum("orders", 10) == 3
    assert metrics.window_sum("orders", 60) == 4
    assert record_time("2026-11-25T10:00:00Z") == pytest.approx(1795600800.0)


@pytest.mark.parametrize(
    ("record", "channel"),
    [
        ({"channel": "partner"}, "partner"),
        ({"path": "/landing?a=1&utm_source=Social"}, "social"),
        ({"referer": "https://m.facebook.com/"}, "social"),
        ({"referer": "https://news.example.org/a"}, "news.example.org"),
        ({"referer": "-"}, "direct"),
        ({}, "direct"),
    ],
)
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
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["kind", "amount", "ts", "path", "status", "referer", "channel", "id"]), hostile_values
        ),
        max_size=20,
    )
)
def test_hostile_records_never_raise(records):
    config = parse_config(CONFIG)
    metrics = MetricsStore(config.metrics, config.ratios, clock=lambda: NOW)
    Pipeline(config, metrics).ingest("events", records, NOW)
    Pipeline(config, metrics).ingest("web", records, NOW)
    revenue = metrics.value("revenue")
    assert revenue is None or math.isfinite(revenue)


# --------------------------------------------------------------------------- filter index

FIELDS = ["kind", "query", "status", "user.country"]
WORDS = ["order", "500", "500.0", ""]
word = st.sampled_from(WORDS)
condition = st.one_of(
    word,  # field = "order": indexed
    st.lists(word, max_size=3),  # field = [...]: indexed
    st.builds(lambda w: {"eq": w}, word),
    st.builds(lambda ws: {"in": ws}, st.lists(word, max_size=3)),
    st.sampled_from([500, 500.0, True, 0]),  # numbers and bools: never indexed
    st.lists(st.sampled_from(["order", 500, True]), min_size=1, max_size=2),  # mixed: not indexed
    st.builds(lambda w: {"ne": w}, word),
    st.builds(lambda w: {"prefix": w}, word),
    st.builds(lambda w: {"eq": w, "ne": "x"}, word),
    st.just({"gte": 400}),
    st.just({"exists": True}),
)
metric_configs = st.lists(
    st.fixed_dictionaries(
        {
            "where": st.dictionaries(st.sampled_from(FIELDS), condition, max_size=3),
            "kind": st.sampled_from(["count", "sum", "last"]),
            "split_by": st.sampled_from([None, "query", "channel"]),
            "source": st.sampled_from([None, "events"]),
        }
    ),
    min_size=1,
    max_size=12,
)
field_value = st.sampled_from(
    ["order", "500", "500.0", " 5e2", "", 500, 500.0, 0, True, None, 1e300, 2**60, math.nan, ["500"], {}]
)
records_strategy = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "kind": field_value,
            "query": field_value,
            "status": field_value,
            "user": st.one_of(st.fixed_dictionaries({"country": field_value}), word),
            "amount": field_value,
            "ts": st.sampled_from([NOW - 1, NOW - 1.5, NOW - 2, "bad"]),
        },
    ),
    max_size=30,
)


def _config(specs: list[dict]):
    from warroom.config import Config, MetricConfig, WebSocketSourceConfig

    metrics = [
        MetricConfig(
            name=f"m{i}",
            where=spec["where"],
            kind=spec["kind"],
            field=None if spec["kind"] == "count" else "amount",
            split_by=spec["split_by"],
            source=spec["source"],
        )
        for i, spec in enumerate(specs)
    ]
    source = WebSocketSourceConfig(kind="websocket", name="events", url="ws://127.0.0.1:1/")
    return Config(sources=[source], metrics=metrics)


def _state(metrics: MetricsStore) -> dict:
    return {
        name: (
            s.total,
            s.total_since_launch,
            s.count,
            s.last,
            s.last_ts,
            s.labels,
            bytes(s.seconds.sums),
            bytes(s.seconds.counts),
            bytes(s.seconds.lasts),
        )
        for name, s in metrics.series.items()
    }


@settings(max_examples=300, deadline=None)
@given(metric_configs, st.lists(records_strategy, min_size=1, max_size=3))
def test_indexed_and_plain_filters_fold_alike(specs, batches):
    config = _config(specs)
    results = []
    for index_filters in (True, False):
        metrics = MetricsStore(config.metrics, clock=lambda: NOW)
        pipeline = Pipeline(config, metrics, index_filters=index_filters)
        for batch in batches:
            pipeline.ingest("events", batch, NOW)
            for record in batch[:2]:  # the one-record path too
                pipeline.ingest("events", [record], NOW)
        results.append((_state(metrics), pipeline.rejects))
    indexed, plain = results
    assert indexed == plain


def test_a_record_is_tested_only_against_metrics_it_can_match():
    from warroom.config import Config, MetricConfig, WebSocketSourceConfig

    metrics = [MetricConfig(name=f"kind_{i}", where={"kind": f"k{i}", "amount": {"gte": 0}}) for i in range(100)]
    source = WebSocketSourceConfig(kind="websocket", name="events", url="ws://127.0.0.1:1/")
    config = Config(sources=[source], metrics=metrics)
    calls = {}
    for index_filters in (True, False):
        store = MetricsStore(config.metrics, clock=lambda: NOW)
        pipeline = Pipeline(config, store, index_filters=index_filters)
        plan = pipeline._plan_for("events")
        counter = [0]
        for metric in plan.always + [m for i in plan.indexed.values() for m in i.metrics]:

            def counted(record, test=metric.matches, counter=counter):
                counter[0] += 1
                return test(record)

            metric.matches = counted
        pipeline.ingest(
            "events", [{"kind": "k7", "amount": n} for n in range(50)] + [{"kind": 7, "amount": 1}, {"amount": 1}], NOW
        )
        pipeline.ingest("events", [{"kind": "k3", "amount": 1}], NOW)
        assert store.value("kind_7") == 50 and store.value("kind_3") == 1
        calls[index_filters] = counter[0]
    assert calls == {True: 51, False: 100 * 53}


def test_string_filters_match_numbers_through_the_index():
    from warroom.pipeline import equality_conditions, index_key

    assert equality_conditions(
        {
            "kind": "order",
            "status": 500,
            "q": ["a", "b"],
            "r": {"in": ["c"]},
            "s": {"eq": "d", "ne": "e"},
            "t": ["a", 1],
            "u": {"prefix": "x"},
        }
    ) == {"kind": frozenset({"order"}), "q": frozenset({"a", "b"}), "r": frozenset({"c"}), "s": frozenset({"d"})}
    assert [index_key(v) for v in ("500", 500, 500.0, True, None, ["500"])] == ["500", "500", "500.0", None, None, None]
    config = parse_config(
        CONFIG.replace('where = { kind = "order" }\nkind = "sum"', 'where = { kind = "500" }\nkind = "sum"')
    )
    metrics = MetricsStore(config.metrics, config.ratios, clock=lambda: NOW + 1)
    Pipeline(config, metrics).ingest(
        "events", [{"kind": 500, "amount": 2}, {"kind": "500", "amount": 3}, {"kind": True, "amount": 5}], NOW
    )
    assert metrics.value("revenue") == 5.0
