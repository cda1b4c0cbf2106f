"""The recorder sends: a real recorder on a real room, ticked by hand on a fixed clock, with
its delivery loops running and real receivers on 127.0.0.1.

Delivery runs on the wall clock (backoff, rate limits, the give-up time), so the configs
here shorten the backoff to a fraction of a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.notify.inbox import Inbox, Received
from tests.room.helpers import LAUNCH, Clock, write_config
from warroom import snapshot
from warroom.commands import AckAlert
from warroom.recorder import Recorder
from warroom.store import RoomStore

NOTIFY = """
[notify]
retry_backoff = "0.1s"
retry_max_backoff = "0.3s"
failing_after = 2
{settings}

[[notify.receivers]]
name = "ops"
kind = "webhook"
url = "{url}/ops"
{receiver}

[[notify.routes]]
receiver = "ops"
group_wait = "0s"
group_interval = "0s"
repeat_interval = "1m"
{route}
"""


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("not in time")
        await asyncio.sleep(0.02)


class Room:
    """A recorder with its deliveries running, a clock, and another connection to the room."""

    def __init__(
        self, directory: Path, url: str, settings: str = "", receiver: str = "", route: str = "", extra: str = ""
    ) -> None:
        self.clock = Clock(LAUNCH + 60)
        config = write_config(
            directory, extra=NOTIFY.format(url=url, settings=settings, receiver=receiver, route=route) + extra
        )
        self.recorder = Recorder(config, "rec", clock=self.clock)
        self.recorder.open()
        self.store = RoomStore(directory / "room.db")
        self.task: asyncio.Task[None] | None = None

    def feed(self, statuses: list[int]) -> None:
        self.recorder.engine.pipeline.ingest("web", [{"status": s} for s in statuses], self.clock.now)

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.now += seconds
        self.recorder.tick(self.clock.now).result(timeout=10)
        self.recorder.door.drain(10)

    def log(self) -> list[str]:
        return [e.text for e in self.store.log_entries(kinds=["notify"])]

    def view(self):
        self.recorder.publish(self.clock.now).result(timeout=10)
        row = self.store.snapshot()
        assert row is not None
        return snapshot.decode(row[2]).deliveries


@pytest.fixture
async def room_at(tmp_path: Path) -> AsyncIterator[Callable[..., Room]]:
    rooms: list[Room] = []

    def make(url: str, **options: str) -> Room:
        room = Room(tmp_path, url, **options)
        room.task = asyncio.create_task(room.recorder.notifications.run())
        rooms.append(room)
        return room

    yield make
    for room in rooms:
        assert room.task is not None
        room.task.cancel()
        await asyncio.gather(room.task, return_exceptions=True)
        room.recorder.close()
        room.store.close()


def accepted(inbox: Inbox, answered: list[Received]) -> list[str]:
    return [r.body["id"] for r in answered]


async def test_a_receiver_down_then_up_gets_everything_once_and_in_order(room_at) -> None:
    up = {"now": False}
    answered: list[Received] = []

    def answer(request: Received) -> tuple[int, str]:
        if up["now"]:
            answered.append(request)
            return 200, "{}"
        return 503, "maintenance"

    with Inbox(answer) as inbox:
        room = room_at(inbox.url)
        room.feed([503] * 10)
        room.tick()  # fires: queued at once (group_wait 0)
        await until(lambda: len(inbox.received) >= 3)
        view = room.view()
        assert view is not None
        (ops,) = view.receivers
        assert (ops.state, ops.last_error, ops.waiting) == ("failing", "HTTP 503: maintenance", 1)
        assert ops.failures >= 2
        room.feed([200] * 1000)
        room.tick()  # resolves while the receiver is down: queued behind the firing one
        up["now"] = True
        await until(lambda: len(answered) == 2)
        await asyncio.sleep(0.5)  # nothing more comes
        assert [(r.body["reason"], r.body["status"]) for r in answered] == [("new", "firing"), ("resolved", "resolved")]
        ids = [r.body["id"] for r in answered]
        assert len(set(ids)) == 2 and len(answered) == 2
        assert {r.body["id"] for r in inbox.received} == set(ids)  # every attempt was one of the two
        log = room.log()
        assert log[0].startswith("notify ops (webhook): [FIRING:1] Winter sale: high_error_rate (id ")
        assert "not delivered (attempt 1): HTTP 503: maintenance; next try in 0.1 s" in log[0]
        assert any("ops is failing (2 failures in a row)" in line for line in log)
        sent = [line for line in log if ": sent " in line]
        assert len(sent) == 2 and "it takes notifications again after" in sent[0]
        (ops,) = room.view().receivers
        assert (ops.state, ops.failures, ops.waiting, ops.sent) == ("ok", 0, 0, 2)


async def test_repeat_until_acknowledged_in_the_room(room_at) -> None:
    with Inbox((200, "{}")) as inbox:
        room = room_at(inbox.url)
        room.feed([503] * 10)
        room.tick()
        await until(lambda: len(inbox.received) == 1)
        room.tick(60)
        await until(lambda: len(inbox.received) == 2)
        assert inbox.received[1].body["reason"] == "repeat"
        await until(lambda: not room.recorder.notifications.undelivered)  # delivered, not waiting in the outbox
        room.store.apply(AckAlert(operator="ana", rule="high_error_rate", note="switching provider"))
        room.recorder.follow_room()
        for _ in range(5):
            room.tick(60)
        await asyncio.sleep(0.5)
        assert len(inbox.received) == 2


async def test_a_receiver_that_never_answers_is_given_up_and_shown(room_at) -> None:
    with Inbox((500, "boom")) as inbox:
        room = room_at(inbox.url, settings='give_up_after = "0.5s"')
        room.feed([503] * 10)
        room.tick()
        await until(lambda: any("gave up" in line for line in room.log()))
        attempts = len(inbox.received)
        await asyncio.sleep(0.6)
        assert len(inbox.received) == attempts  # not retried after giving up
        (line,) = [line for line in room.log() if "gave up" in line]
        assert f"after {attempts} attempts" in line and line.endswith(": HTTP 500: boom")
        (ops,) = room.view().receivers
        assert (ops.state, ops.given_up, ops.waiting) == ("failing", 1, 0)


async def test_the_rate_limit_holds_back_a_burst(room_at) -> None:
    with Inbox((200, "{}")) as inbox:
        room = room_at(inbox.url, receiver="max_per_minute = 2", route='match = "name=sla_breach"\n', extra="")
        for n in range(4):
            room.store.create_ticket(f"reward not received {n}", "ana", priority="urgent", at=room.clock.now)
        room.tick(16 * 60)  # the SLA sweep marks four breaches of the 15-minute response target
        await until(lambda: len(inbox.received) == 2)
        await asyncio.sleep(1.0)
        assert len(inbox.received) == 2
        assert [r.body["kind"] for r in inbox.received] == ["sla", "sla"]
        assert any("2 notifications in the last minute, its limit; the next waits" in line for line in room.log())
        (ops,) = room.view().receivers
        assert (ops.state, ops.waiting) == ("waiting", 2)


async def test_sla_breach_of_an_urgent_ticket_is_routed(room_at) -> None:
    with Inbox((200, "{}")) as inbox:
        room = room_at(inbox.url, route='match = "name=sla_breach priority=urgent"\n')
        ticket = room.store.create_ticket("reward not received", "ana", priority="urgent", at=room.clock.now)
        room.store.create_ticket("question", "ana", priority="normal", at=room.clock.now)
        room.tick(16 * 60)
        room.tick(16 * 60)  # a second sweep queues nothing more
        await until(lambda: len(inbox.received) == 1)
        (got,) = inbox.received
        await asyncio.sleep(0.3)
        assert len(inbox.received) == 1
        body = got.body
        assert (body["kind"], body["ticket"]["id"], body["ticket"]["breach"]) == ("sla", ticket.id, "respond")
        assert body["title"] == f"[SLA] Winter sale: {ticket.id} missed its first response target (urgent)"


async def test_inhibited_alerts_are_in_the_snapshot_and_the_log(room_at) -> None:
    inhibit = '\n[[notify.inhibit]]\nsource = "high_error_rate"\ntarget = "breaches"\n'
    with Inbox((200, "{}")) as inbox:
        room = room_at(inbox.url, extra=inhibit)
        room.store.create_ticket("page error", "ana", priority="urgent", at=room.clock.now - 3600)
        room.feed([503] * 10)
        room.tick()
        room.tick()  # the queue's figures reach the rules: breaches fires too
        assert room.recorder.alerts.state("breaches") == "firing"
        view = room.view()
        assert view is not None and view.inhibited == {"breaches": "high_error_rate"}
        await until(lambda: len(inbox.received) == 2)  # the alert, and the ticket's SLA breach
        await asyncio.sleep(0.3)
        assert len(inbox.received) == 2
        alerts = [a["name"] for r in inbox.received for a in r.body["alerts"]]
        assert alerts == ["high_error_rate"]
        assert "breaches inhibited by high_error_rate: not notified while high_error_rate fires" in room.log()


async def test_no_receiver_no_deliveries_in_the_snapshot(tmp_path: Path) -> None:
    clock = Clock(LAUNCH + 60)
    recorder = Recorder(write_config(tmp_path), "rec", clock=clock)
    recorder.open()
    try:
        recorder.tick(clock.now).result(timeout=10)
        recorder.publish(clock.now).result(timeout=10)
        with RoomStore(tmp_path / "room.db") as store:
            row = store.snapshot()
        assert row is not None and snapshot.decode(row[2]).deliveries is None
    finally:
        recorder.close()
