"""The demo's crew: other operators working the same launch in the same room database.

A real war room has several people writing at once, so the demo has them too: the lead, tech,
content, ops and support roles tick their checklist items (some late), note what they see,
take decisions during the problem phase, write down lessons and action items, and the
support agents take and answer the most pressing tickets. They are attached to the room from
the demo's own process, through a door of their own, and write commands exactly as other
operators' dashboards on the same host would, so the dashboard shows their work arriving
through the room.

The script is a list of steps at offsets from the launch; `step(now)` plays every step that
is due. Steps due before the demo started are written with their own times, so the checklist
starts with yesterday's tests already done.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from warroom.commands import AddLogEntry, Command, SetItemDone, TicketChange
from warroom.door import Door
from warroom.store import RoomStore, Session, StoreError
from warroom.tickets import PRIORITIES

log = logging.getLogger(__name__)

MINUTE = 60.0


@dataclass(frozen=True)
class Step:
    offset: float  # seconds from the launch
    who: str
    action: str  # "tick": checklist item by title prefix; else a log kind
    text: str
    severity: str = "info"
    owner: str | None = None  # for action items
    starred: bool = False


SCRIPT = (
    Step(-25 * 60 * MINUTE, "Jonas Weber", "tick", "Stress test"),
    Step(-130 * MINUTE, "Priya Nair", "tick", "Page test"),
    Step(-125 * MINUTE, "Lucia Romero", "tick", "Rules test"),
    Step(-70 * MINUTE, "Sam Okafor", "tick", "Rewards test"),
    Step(
        -100 * MINUTE,
        "Maya Chen",
        "note",
        "Stress test passed at 5x peak on our pages; checkout answered in 180 ms p95.",
    ),
    Step(-1.5 * MINUTE, "Jonas Weber", "tick", "Queue page ready"),
    Step(-1.2 * MINUTE, "Elif Demir", "tick", "Support on standby"),
    Step(-1 * MINUTE, "Maya Chen", "tick", "Go / no-go"),
    Step(-1 * MINUTE, "Maya Chen", "decision", "Go for launch: every role ready, queue page on standby."),
    Step(0.3 * MINUTE, "Lucia Romero", "tick", "Publish the landing page"),
    Step(5.2 * MINUTE, "Lucia Romero", "tick", "Send the launch e-mail"),
    Step(6 * MINUTE, "Sam Okafor", "tick", "First orders and rewards"),
    Step(
        10.5 * MINUTE,
        "Jonas Weber",
        "note",
        "5xx climbing on checkout; the payment provider answers slowly.",
        "warning",
    ),
    Step(
        12 * MINUTE,
        "Maya Chen",
        "decision",
        "Switch the landing page to the queue page and fail over to the backup payment provider.",
        "critical",
        starred=True,
    ),
    Step(
        13 * MINUTE, "Elif Demir", "note", "Page-error tickets piling up; answering with the outage macro.", "warning"
    ),
    Step(15.5 * MINUTE, "Priya Nair", "note", "Failover done; checkout answers again, queue page off."),
    Step(16.5 * MINUTE, "Maya Chen", "tick", "First status update"),
    Step(
        20 * MINUTE,
        "Maya Chen",
        "lesson",
        "The payment provider was not in the stress test: third parties must be tested at 5x too.",
        starred=True,
    ),
    Step(
        21 * MINUTE,
        "Maya Chen",
        "action",
        "Add a provider health check and a failover drill to the pre-launch tests.",
        owner="Jonas Weber",
    ),
    Step(22 * MINUTE, "Elif Demir", "action", "Write a page-error macro before the next launch.", owner="Elif Demir"),
)


SUPPORT_AGENTS = ("Elif Demir", "Tom Baker")
SUPPORT_EVERY = 40.0  # simulated seconds between two tickets taken by each agent
SUPPORT_FROM = -5 * MINUTE  # on standby from the run of show on
HEARTBEAT_EVERY = 5.0  # real seconds: the crew shows as online on every screen


class DemoCrew:
    """Plays SCRIPT into the room, through a door of its own, from the demo's process."""

    def __init__(self, db_path: Path, launch_at: float, clock: Callable[[], float]) -> None:
        self.db_path = db_path
        self.launch_at = launch_at
        self.clock = clock
        self._pending = sorted(SCRIPT, key=lambda s: s.offset)
        self._door: Door | None = None
        self._items: dict[str, int] = {}
        self._sessions: list[Session] = []
        self._next_pickup = launch_at + SUPPORT_FROM
        self._next_beat = 0.0

    def step(self, now: float) -> None:
        """Play every step that is due; a room problem is logged and retried next step."""
        try:
            door = self._open()
            while self._pending and self.launch_at + self._pending[0].offset <= now:
                if not self._play(door, self._pending[0]):
                    return  # the recorder has not written the checklist yet
                self._pending.pop(0)
            while now >= self._next_pickup:
                self._answer_tickets(door, self._next_pickup)
                self._next_pickup += SUPPORT_EVERY
            if time.monotonic() >= self._next_beat:
                self._next_beat = time.monotonic() + HEARTBEAT_EVERY
                for session in self._sessions:
                    door.write(_heartbeat(session.id, time.time()), replace=f"crew:{session.id}")
        except StoreError as error:
            log.warning("demo crew could not reach the room: %s", error)

    def _answer_tickets(self, door: Door, at: float) -> None:
        """Each agent takes the most pressing unassigned ticket and answers it."""
        waiting = [
            t for t in door.read(lambda s: s.tickets(open_only=True)).result() if not t.assignee and t.opened_at <= at
        ]
        waiting.sort(key=lambda t: (PRIORITIES.index(t.priority), t.opened_at))
        for agent, ticket in zip(SUPPORT_AGENTS, waiting, strict=False):
            for action in ("assign", "respond"):
                self._submit(door, TicketChange(operator=agent, at=at, ticket_id=ticket.id, action=action))

    def _play(self, door: Door, step: Step) -> bool:
        at = self.launch_at + step.offset
        if step.action == "tick":
            if not self._items:
                self._items = {i.title: i.id for i in door.read(lambda s: s.checklist()).result()}
                if not self._items:
                    return False
            item = next((i for title, i in self._items.items() if title.startswith(step.text)), None)
            if item is not None:
                self._submit(door, SetItemDone(operator=step.who, at=at, item_id=item, done=True))
            return True
        self._submit(
            door,
            AddLogEntry(
                operator=step.who,
                at=at,
                log_kind=step.action,
                severity=step.severity,
                text=step.text,
                owner=step.owner,
                starred=step.starred,
            ),
        )
        return True

    @staticmethod
    def _submit(door: Door, command: Command) -> None:
        def done(future: Future[object]) -> None:
            if not future.cancelled() and future.exception() is not None:
                log.warning("demo crew: %s refused: %s", command.kind, future.exception())

        door.submit(command).add_done_callback(done)

    def _open(self) -> Door:
        if self._door is None:
            door = Door(self.db_path, clock=self.clock)
            door.open()
            self._door = door
            names = sorted({s.who for s in SCRIPT} | set(SUPPORT_AGENTS))
            started = time.time()  # sessions are processes: wall time
            self._sessions = [
                Session(uuid.uuid4().hex, "dashboard", name, "demo", os.getpid(), started, started) for name in names
            ]
            for session in self._sessions:
                door.write(_opener(session))
        return self._door

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until what the crew did so far is written."""
        return self._door is None or self._door.drain(timeout)

    def close(self) -> None:
        if self._door is not None:
            now = time.time()
            for session in self._sessions:
                self._door.write(_closer(session.id, now))
            self._door.close()
            self._door = None


def _opener(session: Session) -> Callable[[RoomStore], None]:
    return lambda store: store.open_session(session)


def _closer(session_id: str, now: float) -> Callable[[RoomStore], None]:
    return lambda store: store.close_session(session_id, now)


def _heartbeat(session_id: str, now: float) -> Callable[[RoomStore], None]:
    return lambda store: store.heartbeat(session_id, now)
