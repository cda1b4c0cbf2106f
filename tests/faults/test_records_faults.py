"""Hostile records through real sources and the real Pipeline: every bad input is counted
per source (health.bad_records / health.faults / pipeline.rejects), none crashes, and every
metric value stays finite.

tests/test_pipeline.py feeds the pipeline directly; here the same kinds of input arrive as
a log file, websocket messages and an HTTP body, so the whole path from bytes to metric
is under test, including what the transports do with a line orjson refuses.
"""

from __future__ import annotations

import asyncio
import math
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection

from tests.faults.helpers import all_finite, feeding, pipeline_for, wait_for
from tests.sources.servers import HttpTestServer, Reply, WsTestServer
from warroom.config import parse_config
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline

pytestmark = pytest.mark.faults

METRICS = """
[[metrics]]
name = "orders"
where = { kind = "order" }

[[metrics]]
name = "revenue"
where = { kind = "order" }
kind = "sum"
field = "amount"

[[metrics]]
name = "price"
where = { kind = "order" }
kind = "last"
field = "amount"

[[metrics]]
name = "visits"
where = { kind = "visit" }
split_by = "channel"
"""

DEEP = 100_000

# Lines no transport can turn into a record: each is one bad record.
BAD_LINES = [
    b"{not json",
    b"[1, 2, 3]",
    b'"a string"',
    b"42",
    b"null",
    b"true",
    b'{"kind": "order", "amount": NaN}',
    b'{"kind": "order", "amount": Infinity}',
    b'{"kind": "order", "amount": -Infinity}',
    b'{"kind": "order", "amount": 1e400}',
    b'{"kind": "order", "amount": ' + str(10**400).encode() + b"}",
    b"[" * DEEP + b"]" * DEEP,
    b'{"a": ' * DEEP + b"1" + b"}" * DEEP,
    b'{"kind": "order", "amount": 1} trailing',
    b'{"kind": "order"}{"kind": "order"}',
    b'{"kind": "order", "note": "\\ud800"}',
    b"\xef\xbb\xbf" + b'{"kind": "order", "amount": 1}',
    b'{"kind": "order", "amount": 1',
]

# Records that parse but carry something the pipeline cannot use: (JSON, rejects it adds).
USABLE_WITH_REJECTS: list[tuple[bytes, dict[str, int]]] = [
    (b'{"kind": "order", "amount": "abc"}', {"bad_value": 2}),  # revenue and price
    (b'{"kind": "order", "amount": true}', {"bad_value": 2}),
    (b'{"kind": "order", "amount": [1]}', {"bad_value": 2}),
    (b'{"kind": "order", "amount": {"value": 1}}', {"bad_value": 2}),
    (b'{"kind": "order", "amount": "1e400"}', {"bad_value": 2}),
    (b'{"kind": "order", "amount": 1.7e308}', {"bad_value": 2}),  # finite, but sums overflow
    (b'{"kind": "order", "amount": 1.7e308}', {"bad_value": 2}),
    (b'{"kind": "order", "amount": 18446744073709551616}', {"bad_value": 2}),  # over 64 bits
    (b'{"kind": "order", "amount": 1, "ts": "yesterday"}', {"bad_time": 1}),
    (b'{"kind": "order", "amount": 1, "ts": true}', {"bad_time": 1}),
    (b'{"kind": "order", "amount": 1, "ts": [1]}', {"bad_time": 1}),
    (b'{"kind": "order", "amount": 1, "ts": "2020-01-01T00:00:00"}', {"bad_time": 1}),  # no offset
    (b'{"kind": "order", "amount": 1, "ts": 1e20}', {"bad_time": 1}),  # beyond any epoch, s or ms
    (b'{"kind": "order", "amount": 1, "ts": "2999-01-01T00:00:00+00:00"}', {"future_time": 1}),
    (b'{"kind": "visit", "channel": {"nested": {"deep": 1}}}', {"bad_label": 1}),
    (b'{"kind": "visit", "channel": ' + b"[" * 30 + b"]" * 30 + b"}", {"bad_label": 1}),
]

# Records that parse but nest deeper than the sources accept (base.MAX_RECORD_DEPTH): each
# is refused by the source as one bad record ("too_deep") and never reaches the pipeline.
TOO_DEEP = [
    b'{"kind": "visit", "channel": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"kind": "order", "amount": 1, "note": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}",
]

# Records that are fine: missing fields, extra fields, odd but valid types.
GOOD = [
    b'{"kind": "order"}',  # no amount: counted as an order, no revenue
    b'{"kind": "order", "amount": 10, "extra": {"a": [1, 2, {"b": null}]}, "more": "' + b"x" * 1000 + b'"}',
    b'{"kind": "order", "amount": "2.5"}',
    b'{"kind": "visit", "channel": "newsletter", "unknown_field": 1}',
    b'{"kind": "visit", "channel": 7}',
    b'{"kind": "something else", "amount": "not looked at"}',
]
USABLE = [line for line, _ in USABLE_WITH_REJECTS] + GOOD


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def expected_rejects() -> dict[str, int]:
    total: dict[str, int] = {}
    for _record, rejects in USABLE_WITH_REJECTS:
        for key, count in rejects.items():
            total[key] = total.get(key, 0) + count
    return total


def check_outcome(feed, metrics: MetricsStore) -> None:
    assert feed.rejects() == expected_rejects()
    orders = sum(orjson.loads(r).get("kind") == "order" for r in USABLE)
    assert metrics.series["orders"].count == orders
    # revenue: 10 + 2.5 from GOOD, and 1 from each record whose only fault is its time.
    assert metrics.series["revenue"].total == 12.5 + 6
    assert all_finite(metrics)
    labels = dict(metrics.series["visits"].labels)
    assert labels == {"newsletter": 1.0, "7": 1.0, "(invalid)": 2.0}
    assert feed.health.faults["too_deep"] == len(TOO_DEEP)


async def test_hostile_lines_in_a_log_file(tmp_path, tally):
    log = tmp_path / "events.jsonl"
    lines = BAD_LINES + USABLE + TOO_DEEP
    log.write_bytes(b"\n".join(lines) + b"\n")
    config, pipeline, metrics = pipeline_for(f"""
[[sources]]
name = "log"
kind = "file"
path = "{log}"
from_start = true
poll_interval = "20ms"
max_line_bytes = 4194304
{METRICS}""")
    async with feeding(config, pipeline, "log") as feed:
        usable = len(USABLE_WITH_REJECTS) + len(GOOD)
        await wait_for(lambda: feed.delivered >= usable, timeout=10)
        await asyncio.sleep(0.1)
        tally.bad(len(lines))
        assert feed.delivered == usable
        assert feed.health.bad_records == len(BAD_LINES) + len(TOO_DEEP)
        assert feed.health.faults["bad_json"] == len(BAD_LINES)
        assert feed.health.faults["emit_error"] == 0
        check_outcome(feed, metrics)


async def test_hostile_websocket_messages(tally):
    messages = BAD_LINES + [b"[" + b", ".join(USABLE + TOO_DEEP) + b"]"]
    messages.append(orjson.dumps([1, "two", None, {"kind": "order", "amount": 0}]))  # 3 not objects

    async def handler(ws: ServerConnection) -> None:
        for message in messages:
            await ws.send(message)  # binary frames: bytes as they are
        await ws.wait_closed()

    async with WsTestServer(handler) as server:
        config, pipeline, metrics = pipeline_for(f"""
[[sources]]
name = "feed"
kind = "websocket"
url = "{server.url}"
max_message_bytes = 4194304
{METRICS}""")
        async with feeding(config, pipeline, "feed") as feed:
            usable = len(USABLE_WITH_REJECTS) + len(GOOD) + 1
            await wait_for(lambda: feed.delivered >= usable, timeout=10)
            await asyncio.sleep(0.1)
            tally.bad(len(BAD_LINES) + len(USABLE_WITH_REJECTS) + 3)
            # A message that is JSON but not an object is a batch without records: its items
            # that are not objects are bad records ([1, 2, 3] is three), null is "nothing new".
            unparsable = sum(1 for line in BAD_LINES if not _parses(line))
            assert feed.health.faults["bad_json"] == unparsable
            assert feed.health.faults["not_an_object"] == 3 + 3 + 1 + 1 + 1
            assert feed.health.bad_records == unparsable + 9 + len(TOO_DEEP)
            assert feed.health.state.value == "live"  # bad messages never cost the connection
            assert feed.health.reconnects == 0
            metrics.series["orders"].count -= 1  # the order that came with the non-objects
            check_outcome(feed, metrics)


async def test_hostile_http_bodies(tally):
    script = [
        Reply(body=b'{"rows": [1, 2, NaN]}', headers={"Content-Type": "application/json"}),
        Reply(
            body=b'{"rows": [' + b", ".join(USABLE + TOO_DEEP) + b', "x", 3, null, [1]]}',
            headers={"Content-Type": "application/json"},
        ),
        Reply(body={"rows": "not a list"}),
    ]
    async with HttpTestServer(script) as server:
        config, pipeline, metrics = pipeline_for(f"""
[[sources]]
name = "api"
kind = "http"
url = "{server.url}"
interval = "50ms"
records_path = "rows"
{METRICS}""")
        async with feeding(config, pipeline, "api") as feed:
            await wait_for(lambda: feed.health.faults["not_json"] == 1)
            await wait_for(lambda: feed.delivered >= len(USABLE_WITH_REJECTS) + len(GOOD), timeout=5)
            await wait_for(lambda: feed.health.faults["not_an_object"] >= 5, timeout=5)
            tally.bad(3 + len(USABLE_WITH_REJECTS) + 3)
            # null in a list of records is "nothing", the other three items are bad records;
            # a string where the list should be is one more.
            assert feed.health.bad_records == feed.health.faults["not_an_object"] + len(TOO_DEEP)
            check_outcome(feed, metrics)


async def test_timestamps_out_of_order_in_the_future_and_duplicated(tmp_path, tally):
    """Out-of-order and duplicated times are normal for a busy feed: each record lands in its
    own second. A time from the future is counted and placed at arrival."""
    base = int(time.time()) - 30
    times = [base + 5, base + 1, base + 3, base + 1, base + 1, base + 5, base + 2, base + 10_000]
    log = tmp_path / "orders.jsonl"
    log.write_bytes(b"".join(orjson.dumps({"kind": "order", "amount": 1, "ts": t}) + b"\n" for t in times))
    config, pipeline, metrics = pipeline_for(f"""
[[sources]]
name = "log"
kind = "file"
path = "{log}"
from_start = true
poll_interval = "20ms"
{METRICS}""")
    async with feeding(config, pipeline, "log") as feed:
        await wait_for(lambda: feed.delivered == len(times))
        tally.bad(len(times))
        assert feed.rejects() == {"future_time": 1}
        series = metrics.series["orders"].seconds
        per_second = {t: series.aggregate(t, t + 1)[1] for t in range(base, base + 6)}
        assert per_second == {base: 0, base + 1: 3, base + 2: 1, base + 3: 1, base + 4: 0, base + 5: 2}
        assert metrics.series["orders"].count == len(times)
        assert metrics.series["price"].last_ts >= base + 30  # the future one, placed at arrival


# --------------------------------------------------------------------------- property

HYPOTHESIS_RECORD_EXAMPLES = 300

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from([1.7e308, -1.7e308, 5e-324, "1e400", "-inf", "nan", "NaN", "\x1b[2J", "[b]x[/b]"])
)
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=8,
)
deep = st.integers(1, 1023).map(lambda depth: orjson.loads(b"[" * depth + b"]" * depth))
records = st.dictionaries(
    st.sampled_from(["kind", "amount", "ts", "channel", "path", "referer", "id"]),
    values | deep,
).map(lambda r: {**r, "kind": r.get("kind") if r.get("kind") in ("order", "visit") else "order"})


@settings(
    max_examples=HYPOTHESIS_RECORD_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(records, max_size=8), max_size=4))
def test_any_records_never_raise_and_keep_metrics_finite(batches, tally):
    tally.example()
    config = parse_config('[[sources]]\nname = "x"\nkind = "http"\nurl = "http://127.0.0.1:1/"\n' + METRICS)
    metrics = MetricsStore(config.metrics, config.ratios)
    pipeline = Pipeline(config, metrics)
    for batch in batches:
        pipeline.ingest("x", batch, 1_800_000_000.0)
    assert all_finite(metrics)
    for name in ("revenue", "price"):
        value = metrics.value(name)
        assert value is None or math.isfinite(value)
    for label in metrics.series["visits"].labels:
        assert isinstance(label, str) and len(label) <= 40
