"""Operators' commands applied to the room, each once, each in one transaction."""

from __future__ import annotations

from typing import Any

from warroom.commands import (
    AckAlert,
    AddLogEntry,
    AddSilence,
    Command,
    CreateTicket,
    EndSilence,
    SetItemDone,
    SetLaunch,
    StarEntry,
    TicketChange,
)
from warroom.store.journal import JournalStore
from warroom.store.queue import TicketQueueStore
from warroom.store.room_state import RoomStateStore


class CommandLedger(JournalStore, RoomStateStore, TicketQueueStore):
    """`apply(command)` (a part of RoomStore)."""

    def apply(self, command: Command) -> Any:
        """Apply the command and note its id in the same transaction; returns what its write
        method returns, or None when a command with this id was applied before (a retry after
        a failure whose outcome was unclear, or a spooled command replayed)."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM commands WHERE id = ?", (command.id,)).fetchone():
                return None
            result = self._dispatch(command)
            db.execute(
                "INSERT INTO commands(id, ts, operator, kind) VALUES (?, ?, ?, ?)",
                (command.id, command.at, command.operator, command.kind),
            )
        return result

    def applied(self, command_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM commands WHERE id = ?", (command_id,)).fetchone() is not None

    def _dispatch(self, c: Command) -> Any:
        who, at = c.operator, c.at
        if isinstance(c, AddLogEntry):
            return self.add_log(c.log_kind, c.severity, c.text, who, ts=at, owner=c.owner, starred=c.starred)
        if isinstance(c, StarEntry):
            return self.star(c.entry_id, c.starred)
        if isinstance(c, SetItemDone):
            return self.set_item_done(c.item_id, c.done, who, at)
        if isinstance(c, CreateTicket):
            return self.create_ticket(
                c.subject, who, customer_ref=c.customer_ref, category=c.category, priority=c.priority, at=at
            )
        if isinstance(c, TicketChange):
            if c.action == "assign":
                return self.assign(c.ticket_id, who, c.value, at)
            if c.action == "respond":
                return self.respond(c.ticket_id, who, at)
            if c.action == "priority":
                return self.set_priority(c.ticket_id, c.value or "", who, at)
            return self.set_status(c.ticket_id, c.value or "", who, at)
        if isinstance(c, AckAlert):
            return self.ack_alert(c.rule, who, c.note, at)
        if isinstance(c, AddSilence):
            return self.add_silence(c.silence_id, c.matchers, c.until, c.comment, who, at)
        if isinstance(c, EndSilence):
            return self.end_silence(c.silence_id, at, who)
        if isinstance(c, SetLaunch):
            return self.set_launch(c.launch_at, who)
        raise ValueError(f"unknown command {c.kind!r}")
