"""The demo's crew: other operators working the same launch in the same room database.

A real war room has several people writing at once, so the demo has them too: the lead, tech,
content, ops and support roles tick their checklist items (some late), note what they see,
take decisions during the problem phase, write down lessons and action items, and the
support agents take and answer the most pressing tickets. They write
through their own `RoomStore` connection, exactly as another operator's warroom on the same
host would, so the dashboard shows their work arriving through the shared database.

The script is a list of steps at offsets from the launch; `step(now)` plays every step that
is due. Steps due before the demo started are written with their own times, so the checklist
starts with yesterday's tests already done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warroom.store import RoomStore, StoreError
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
    Step(-100 * MINUTE, "Maya Chen", "note", "Stress test passed at 5x peak on our pages; checkout answered in 180 ms p95."),
    Step(-1.5 * MINUTE, "Jonas Weber", "tick", "Queue page ready"),
    Step(-1.2 * MINUTE, "Elif Demir", "tick", "Support on standby"),
    Step(-1 * MINUTE, "Maya Chen", "tick", "Go / no-go"),
    Step(-1 * MINUTE, "Maya Chen", "decision", "Go for launch: every role ready, queue page on standby."),
    Step(0.3 * MINUTE, "Lucia Romero", "tick", "Publish the landing page"),
    Step(5.2 * MINUTE, "Lucia Romero", "tick", "Send the launch e-mail"),
    Step(6 * MINUTE, "Sam Okafor", "tick", "First orders and rewards"),
    Step(10.5 * MINUTE, "Jonas Weber", "note", "5xx climbing on checkout; the payment provider answers slowly.", "warning"),
    Step(12 * MINUTE, "Maya Chen", "decision",
         "Switch the landing page to the queue page and fail over to the backup payment provider.",
         "critical", starred=True),
    Step(13 * MINUTE, "Elif Demir", "note", "Page-error tickets piling up; answering with the outage macro.", "warning"),
    Step(15.5 * MINUTE, "Priya Nair", "note", "Failover done; checkout answers again, queue page off."),
    Step(16.5 * MINUTE, "Maya Chen", "tick", "First status update"),
    Step(20 * MINUTE, "Maya Chen", "lesson",
         "The payment provider was not in the stress test: third parties must be tested at 5x too.", starred=True),
    Step(21 * MINUTE, "Maya Chen", "action", "Add a provider health check and a failover drill to the pre-launch tests.",
         owner="Jonas Weber"),
    Step(22 * MINUTE, "Elif Demir", "action", "Write a page-error macro before the next launch.", owner="Elif Demir"),
)


SUPPORT_AGENTS = ("Elif Demir", "Tom Baker")
SUPPORT_EVERY = 40.0  # simulated seconds between two tickets taken by each agent
SUPPORT_FROM = -5 * MINUTE  # on standby from the run of show on


class DemoCrew:
    """Plays SCRIPT into the room database; used from the demo's own thread only."""

    def __init__(self, db_path: Path, launch_at: float, clock: Callable[[], float]) -> None:
        self.db_path = db_path
        self.launch_at = launch_at
        self.clock = clock
        self._pending = sorted(SCRIPT, key=lambda s: s.offset)
        self._store: RoomStore | None = None
        self._next_pickup = launch_at + SUPPORT_FROM

    def step(self, now: float) -> None:
        """Play every step that is due; a store problem is logged and retried next step."""
        while self._pending and self.launch_at + self._pending[0].offset <= now:
            try:
                if not self._play(self._pending[0]):
                    return  # the dashboard has not written the checklist yet
            except StoreError as error:
                log.warning("demo crew could not write: %s", error)
                return
            self._pending.pop(0)
        while now >= self._next_pickup:
            try:
                self._answer_tickets(self._next_pickup)
            except StoreError as error:
                log.warning("demo crew could not answer tickets: %s", error)
                return
            self._next_pickup += SUPPORT_EVERY

    def _answer_tickets(self, at: float) -> None:
        """Each agent takes the most pressing unassigned ticket and answers it."""
        store = self._open()
        waiting = [t for t in store.tickets(open_only=True) if not t.assignee and t.opened_at <= at]
        waiting.sort(key=lambda t: (PRIORITIES.index(t.priority), t.opened_at))
        for agent, ticket in zip(SUPPORT_AGENTS, waiting):
            store.assign(ticket.id, agent, at=at)
            store.respond(ticket.id, agent, at=at)

    def _play(self, step: Step) -> bool:
        store = self._open()
        at = self.launch_at + step.offset
        if step.action == "tick":
            items = store.checklist()
            if not items:
                return False
            item = next((i for i in items if i.title.startswith(step.text)), None)
            if item is not None and item.done_at is None:
                store.toggle_item(item.id, step.who, at=at)
            return True
        store.add_log(step.action, step.severity, step.text, step.who, ts=at,
                      owner=step.owner, starred=step.starred)
        return True

    def _open(self) -> RoomStore:
        if self._store is None:
            self._store = RoomStore(self.db_path, clock=self.clock)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
