"""Hostile ticket records: one bad ticket costs only itself, and nothing raises.

Tickets reach `validate_ticket_record` from any source through the pipeline's ticket filter,
one record at a time (the room does exactly this in `record_tickets`). Here the records come
through a real websocket server and a real log file, with good tickets before and after a
record nested 1,000 deep, a 4 MB list in a subject, numbers of 5,000 digits and times from the
far future; and a property test throws arbitrary JSON values at every ticket field.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection

from tests.faults.helpers import Feed, wait_for
from tests.sources.servers import WsTestServer
from warroom.config import parse_config
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline
from warroom.sources import build_source
from warroom.tickets import MAX_FUTURE_SKEW, TicketFields, merge_record, validate_ticket_record

pytestmark = pytest.mark.faults

FIELDS = (
    "id",
    "subject",
    "customer",
    "category",
    "assignee",
    "priority",
    "status",
    "created_at",
    "updated_at",
    "first_response_at",
    "solved_at",
)


def nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def nested_object(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def nested_json(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        nested_list(1_000),
        nested_list(100_000),
        nested_object(1_000),
        10**5000,
        -(10**5000),
        ["x"] * 1_000_000,
    ],
    ids=["list-1000-deep", "list-100000-deep", "object-1000-deep", "5000-digits", "minus-5000-digits", "million-items"],
)
def test_a_hostile_value_in_any_ticket_field_is_a_reason_not_an_exception(field, value, tally):
    tally.bad()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the nesting: nothing may recurse into the value
    try:
        outcome = validate_ticket_record({"id": "T-1", field: value} if field != "id" else {"id": value})
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(outcome, str)
    assert len(outcome) < 200


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(FIELDS),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
            ),
            max_leaves=20,
        ),
    )
)
def test_any_json_ticket_record_validates_or_gives_a_reason(record):
    outcome = validate_ticket_record(record, now=1_796_000_000.0)
    assert isinstance(outcome, (TicketFields, str))


def test_a_far_future_time_is_taken_as_now_and_counted():
    now = 1_796_000_000.0
    fields = validate_ticket_record(
        {"id": "T-9", "created_at": "2999-01-01T00:00:00+00:00", "updated_at": now + MAX_FUTURE_SKEW / 2}, now=now
    )
    assert isinstance(fields, TicketFields)
    assert fields.opened_at == now
    assert fields.updated_at == now + MAX_FUTURE_SKEW / 2  # within the allowance: kept
    assert fields.future_times == 1
    # merge_record applies the same rule for any caller, with the time it is given.
    unchecked = validate_ticket_record({"id": "T-9", "created_at": 4102444800})
    assert isinstance(unchecked, TicketFields) and unchecked.future_times == 0
    outcome, row = merge_record(None, unchecked, "desk", now)
    assert outcome == "created" and row is not None
    assert row["opened_at"] == now


CONFIG = """
[[sources]]
name = "desk"
kind = "{kind}"
{where}
max_{limit} = 8388608

[tickets]
source = "desk"
where = {{ type = "ticket" }}
"""


def ticket_pipeline(kind: str, where: str, limit: str):
    """A pipeline whose ticket records are validated one by one, as the room does."""
    config = parse_config(CONFIG.format(kind=kind, where=where, limit=limit))
    valid: list[str] = []
    rejected: list[str] = []

    def record_tickets(source: str, records: list[dict]) -> None:
        for record in records:
            outcome = validate_ticket_record(record, now=1_796_000_000.0)
            if isinstance(outcome, str):
                rejected.append(outcome)
            else:
                valid.append(outcome.id)

    pipeline = Pipeline(config, MetricsStore([], [], []), on_tickets=record_tickets)
    return config, pipeline, valid, rejected


def ticket(ticket_id: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": "ticket", "id": ticket_id, "subject": "reward not received", **fields})


HOSTILE_BATCH = [
    ticket("T-1"),
    b'{"type": "ticket", "id": "T-2", "subject": ' + nested_json(1000) + b"}",  # refused by the source
    ticket("T-3", subject=["x"] * 500_000),  # a 4 MB list: rejected by validation, alone
    b'{"type": "ticket", "id": "T-4", "priority": ' + b"9" * 5000 + b"}",  # not JSON to orjson
    ticket("T-5", subject=nested_list(20)),  # under the source's depth limit: validation rejects it
    ticket("T-6", created_at="2999-01-01T00:00:00+00:00"),  # kept, its time taken as now
    ticket("T-7"),
]


async def test_hostile_tickets_on_a_websocket_cost_only_themselves(tally):
    async def handler(ws: ServerConnection) -> None:
        await ws.send(b"[" + b", ".join(HOSTILE_BATCH[:3] + HOSTILE_BATCH[4:]) + b"]")
        await ws.send(HOSTILE_BATCH[3])  # one message orjson refuses
        await ws.send(ticket("T-8"))  # the next message
        await ws.wait_closed()

    async with WsTestServer(handler) as server:
        config, pipeline, valid, rejected = ticket_pipeline("websocket", f'url = "{server.url}"', "message_bytes")
        feed = Feed(config, pipeline, "desk")
        task = asyncio.create_task(feed.source.run(feed.emit))
        try:
            await wait_for(lambda: "T-8" in valid, timeout=10)
            tally.bad(4)
            assert valid == ["T-1", "T-6", "T-7", "T-8"]
            assert len(rejected) == 2 and all(r == "subject: expected text or a number, got a list" for r in rejected)
            health = feed.health
            assert health.faults["too_deep"] == 1
            assert health.faults["bad_json"] == 1  # the 5,000-digit number
            assert health.state.value == "live" and health.reconnects == 0
            assert feed.emit_errors == []
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_hostile_tickets_in_a_log_file_cost_only_themselves(tmp_path, tally):
    log = tmp_path / "tickets.jsonl"
    log.write_bytes(b"\n".join(HOSTILE_BATCH) + b"\n" + ticket("T-8") + b"\n")
    config, pipeline, valid, rejected = ticket_pipeline("file", f'path = "{log}"\nfrom_start = true', "line_bytes")
    spec = next(s for s in config.sources if s.name == "desk")
    feed = Feed(config, pipeline, "desk")
    feed.source = build_source(spec)
    task = asyncio.create_task(feed.source.run(feed.emit))
    try:
        await wait_for(lambda: "T-8" in valid, timeout=10)
        tally.bad(4)
        assert valid == ["T-1", "T-6", "T-7", "T-8"]
        assert len(rejected) == 2
        assert feed.health.faults["too_deep"] == 1
        assert feed.health.faults["bad_json"] == 1
        assert feed.health.faults["emit_error"] == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
