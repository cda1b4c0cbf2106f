"""What an operator does to the room, as data: one command, one transaction.

A dashboard never changes the room through a sequence of calls: every key that writes
(tick an item, open a ticket, acknowledge an alert, start the launch clock) becomes one
`Command`, which the room store applies in one transaction together with its log entry and
its line in the room's command ledger (`RoomStore.apply`). Because a command is plain data
with an id, a write that could not be saved (another process held the lock, the disk was
full) can be kept, retried in order and, if warroom has to quit first, written to a spool
file and applied on the next start, without ever being applied twice.

The recorder never receives commands directly: it reads their effect from the room
(acknowledgements, silences, the launch time) like any other change.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class Command:
    """Who did it, when, and a unique id; subclasses add what was done."""

    kind: ClassVar[str]
    topic: ClassVar[str]
    """The change topic it writes (see store.schema.CHANGE_TOPICS)."""

    operator: str
    at: float = field(default_factory=time.time)
    id: str = field(default_factory=new_id)

    def saved_text(self) -> str:
        """What the screen says once the command is committed."""
        return "Saved"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True, kw_only=True)
class AddLogEntry(Command):
    kind = "add_log"
    topic = "log"
    log_kind: str
    severity: str
    text: str
    owner: str | None = None
    starred: bool = False

    def saved_text(self) -> str:
        return f"Saved: {self.log_kind} logged"


@dataclass(frozen=True, kw_only=True)
class StarEntry(Command):
    kind = "star"
    topic = "log"
    entry_id: int
    starred: bool

    def saved_text(self) -> str:
        return "Saved: starred" if self.starred else "Saved: star removed"


@dataclass(frozen=True, kw_only=True)
class SetItemDone(Command):
    kind = "item_done"
    topic = "checklist"
    item_id: int
    done: bool

    def saved_text(self) -> str:
        return "Saved: done" if self.done else "Saved: not done"


@dataclass(frozen=True, kw_only=True)
class CreateTicket(Command):
    kind = "ticket_new"
    topic = "tickets"
    subject: str
    customer_ref: str = ""
    category: str = ""
    priority: str = "normal"

    def saved_text(self) -> str:
        return "Saved: ticket opened"


@dataclass(frozen=True, kw_only=True)
class TicketChange(Command):
    """assign (to `value`, default the operator), respond, priority `value`, status `value`."""

    kind = "ticket"
    topic = "tickets"
    ticket_id: str
    action: str
    value: str | None = None

    ACTIONS: ClassVar[tuple[str, ...]] = ("assign", "respond", "priority", "status")

    def __post_init__(self) -> None:
        if self.action not in self.ACTIONS:
            raise ValueError(f"unknown ticket action {self.action!r}")

    def saved_text(self) -> str:
        what = {
            "assign": f"assigned to {self.value or self.operator}",
            "respond": "replied",
            "priority": f"priority {self.value}",
            "status": str(self.value),
        }[self.action]
        return f"Saved: {self.ticket_id} {what}"


@dataclass(frozen=True, kw_only=True)
class AckAlert(Command):
    kind = "ack"
    topic = "alerts"
    rule: str
    note: str = ""

    def saved_text(self) -> str:
        return f"Acknowledged {self.rule}"


@dataclass(frozen=True, kw_only=True)
class AddSilence(Command):
    kind = "silence"
    topic = "alerts"
    silence_id: str
    matchers: tuple[tuple[str, str], ...]
    until: float
    comment: str

    def saved_text(self) -> str:
        return "Silenced " + ",".join(f"{k}={v}" for k, v in self.matchers)


@dataclass(frozen=True, kw_only=True)
class EndSilence(Command):
    kind = "unsilence"
    topic = "alerts"
    silence_id: str

    def saved_text(self) -> str:
        return "Silence removed"


@dataclass(frozen=True, kw_only=True)
class SetLaunch(Command):
    kind = "launch"
    topic = "launch"
    launch_at: float

    def saved_text(self) -> str:
        return "Launched: the clock now counts from T0 for everyone"


KINDS: dict[str, type[Command]] = {
    cls.kind: cls
    for cls in (
        AddLogEntry,
        StarEntry,
        SetItemDone,
        CreateTicket,
        TicketChange,
        AckAlert,
        AddSilence,
        EndSilence,
        SetLaunch,
    )
}


def from_json(data: dict[str, Any]) -> Command:
    """The command `to_json` wrote (from a spool file); ValueError if it is not one."""
    try:
        cls = KINDS[data["kind"]]
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        if cls is AddSilence:
            values["matchers"] = tuple(tuple(pair) for pair in values["matchers"])
        return cls(**values)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a warroom command: {exc}") from None
