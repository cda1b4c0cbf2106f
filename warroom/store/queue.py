"""The support queue: tickets from sources and operators, and SLA breaches marked once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from warroom.model import format_duration
from warroom.store.base import StoreCore
from warroom.store.schema import (
    _TICKET_COLS,
    _TICKET_ROW,
    Breach,
    NotFound,
)
from warroom.tickets import (
    ELLIPSIS,
    MAX_FIELD,
    MAX_SUBJECT,
    Ticket,
    TicketFields,
    TicketMetrics,
    merge_record,
    normalize_priority,
    normalize_status,
    summarize,
)

if TYPE_CHECKING:
    from warroom.config import SlaConfig


class TicketQueueStore(StoreCore):
    """Tickets and their SLA (a part of RoomStore)."""

    # ------------------------------------------------------------------ tickets

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        row = self._db.execute(f"SELECT {_TICKET_COLS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        return Ticket(*row) if row else None

    def tickets(self, open_only: bool = False, limit: int | None = None) -> list[Ticket]:
        """Tickets, oldest first (with `limit`: the newest that many)."""
        where = "WHERE status != 'solved'" if open_only else ""
        if limit is None:
            rows = self._db.execute(f"SELECT {_TICKET_COLS} FROM tickets {where} ORDER BY opened_at, id")
        else:
            rows = self._db.execute(
                f"SELECT * FROM (SELECT {_TICKET_COLS} FROM tickets {where} ORDER BY opened_at DESC, id DESC "
                "LIMIT ?) AS newest ORDER BY opened_at, id", (limit,))
        return [Ticket(*r) for r in rows]

    def ticket_metrics(self) -> TicketMetrics:
        return summarize(self.tickets())

    def upsert_ticket(self, fields: TicketFields, source: str, at: float | None = None) -> str:
        """Create or update a ticket from a validated source record (see validate_ticket_record).

        Returns "created", "updated", "unchanged" or "stale". The field rule, which keeps an
        operator's assignee, status and priority until the source really changes them, is
        documented on tickets.merge_record."""
        return self.upsert_tickets([fields], source, at)[0]

    def upsert_tickets(self, batch: Iterable[TicketFields], source: str, at: float | None = None) -> list[str]:
        """upsert_ticket for a whole batch of records, in one transaction."""
        now = self._now(at)
        names = [c.strip() for c in _TICKET_ROW.split(",")]
        outcomes = []
        with self._write() as db:
            for fields in batch:
                found = db.execute(f"SELECT {_TICKET_ROW} FROM tickets WHERE id = ?", (fields.id,)).fetchone()
                outcome, row = merge_record(dict(zip(names, found)) if found else None, fields, source, now)
                if row is not None:
                    db.execute(
                        f"INSERT INTO tickets({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                        f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in row)}",
                        tuple(row.values()))
                outcomes.append(outcome)
        return outcomes

    def create_ticket(self, subject: str, operator: str, *, customer_ref: str = "", category: str = "",
                      priority: str = "normal", at: float | None = None) -> Ticket:
        """A ticket opened by an operator, numbered W-0001, W-0002, ..."""
        priority = normalize_priority(priority)
        subject = _cut(subject.strip(), MAX_SUBJECT)
        if not subject:
            raise ValueError("a ticket needs a subject")
        now = self._now(at)
        with self._write() as db:
            taken = [r[0][2:] for r in db.execute("SELECT id FROM tickets WHERE id LIKE 'W-%'")]
            number = max((int(n) for n in taken if n.isdigit()), default=0) + 1
            ticket_id = f"W-{number:04d}"
            db.execute(
                "INSERT INTO tickets(id, opened_at, subject, customer_ref, category, priority, status, "
                "updated_at, source) VALUES (?, ?, ?, ?, ?, ?, 'new', ?, 'operator')",
                (ticket_id, now, subject, _cut(customer_ref.strip(), MAX_FIELD),
                 _cut(category.strip(), MAX_FIELD), priority, now))
            self._seen_operator(db, operator, now)
            self._log(db, "ticket", "info", f"{ticket_id} opened: {subject}", operator, ts=now, ticket_id=ticket_id)
        return self.get_ticket(ticket_id)  # type: ignore[return-value]

    def assign(self, ticket_id: str, operator: str, assignee: str | None = None,
               at: float | None = None) -> Ticket:
        """Assign to `assignee` (default: the operator, "assign to me"); a new ticket opens."""
        who = assignee or operator

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            if t.assignee == who:
                return {}, ""
            return {"assignee": who, **({"status": "open"} if t.status == "new" else {})}, f"assigned to {who}"

        return self._ticket_action(ticket_id, operator, at, change)

    def respond(self, ticket_id: str, operator: str, at: float | None = None) -> Ticket:
        """Record the first response (later ones change nothing); takes an unassigned ticket."""

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            if t.first_response_at is not None:
                return {}, ""
            updates: dict[str, Any] = {"first_response_at": now}
            if t.status == "new":
                updates["status"] = "open"
            if t.assignee is None:
                updates["assignee"] = operator
            return updates, f"responded after {format_duration(now - t.opened_at)}"

        return self._ticket_action(ticket_id, operator, at, change)

    def set_priority(self, ticket_id: str, priority: str, operator: str, at: float | None = None) -> Ticket:
        new = normalize_priority(priority)

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            return ({"priority": new}, f"priority {t.priority} -> {new}") if t.priority != new else ({}, "")

        return self._ticket_action(ticket_id, operator, at, change)

    def set_status(self, ticket_id: str, status: str, operator: str, at: float | None = None) -> Ticket:
        """Move a ticket to a status. Solving stamps solved_at (and the first response, if
        there was none); leaving "solved" clears solved_at."""
        new = normalize_status(status)

        def change(t: Ticket, now: float) -> tuple[dict[str, Any], str]:
            if t.status == new:
                return {}, ""
            updates: dict[str, Any] = {"status": new, "solved_at": now if new == "solved" else None}
            if new == "solved":
                if t.first_response_at is None:
                    updates["first_response_at"] = now
                if t.assignee is None:
                    updates["assignee"] = operator
                return updates, f"solved after {format_duration(now - t.opened_at)}"
            return updates, f"status {t.status} -> {new}"

        return self._ticket_action(ticket_id, operator, at, change)

    def solve(self, ticket_id: str, operator: str, at: float | None = None) -> Ticket:
        return self.set_status(ticket_id, "solved", operator, at)

    def _ticket_action(self, ticket_id: str, operator: str, at: float | None,
                       change: Callable[[Ticket, float], tuple[dict[str, Any], str]]) -> Ticket:
        """Apply an operator's change in one transaction and log it; a no-op writes nothing."""
        now = self._now(at)
        with self._write() as db:
            row = db.execute(f"SELECT {_TICKET_COLS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise NotFound(f"no ticket {ticket_id!r}")
            ticket = Ticket(*row)
            updates, text = change(ticket, now)
            if updates:
                updates["updated_at"] = now
                db.execute(f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in updates)} WHERE id = ?",
                           (*updates.values(), ticket_id))
                self._seen_operator(db, operator, now)
                self._log(db, "ticket", "info", f"{ticket_id} {text}", operator, ts=now, ticket_id=ticket_id)
        return dataclasses.replace(ticket, **updates)

    # ------------------------------------------------------------------ SLA

    def check_sla(self, now: float, sla: Mapping[str, SlaConfig]) -> list[Breach]:
        """Mark and log every SLA target missed by `now` that is not marked yet.

        Each breach is marked and logged exactly once, whichever process sees it first: the
        check is repeated inside a write transaction, where no one else can write. The breach
        time (and its log entry's time) is the deadline, not the moment we noticed."""
        if not sla or not self._db.execute(*_late_query(now, sla)).fetchone():
            return []  # the common case: a read, no write lock
        breaches = []
        with self._write() as db:
            for ticket_id, priority, respond_due, resolve_due, respond_late, resolve_late in db.execute(
                    *_late_query(now, sla)).fetchall():
                for kind, due, late in (("respond", respond_due, respond_late), ("resolve", resolve_due, resolve_late)):
                    if not late:
                        continue
                    db.execute(f"UPDATE tickets SET {kind}_breached_at = ? WHERE id = ?", (due, ticket_id))
                    target = sla[priority].respond if kind == "respond" else sla[priority].resolve
                    what = "first response" if kind == "respond" else "resolution"
                    log_id = self._log(
                        db, "ticket", "critical" if priority == "urgent" else "warning",
                        f"{ticket_id} missed its {what} target ({priority}, {format_duration(target)})",
                        "sla", ts=due, ticket_id=ticket_id)
                    breaches.append(Breach(ticket_id, kind, due, priority, log_id))
        return breaches


def _late_query(now: float, sla: Mapping[str, SlaConfig]) -> tuple[str, list[Any]]:
    """Tickets with a deadline passed and not yet marked, with (due, late) per target.

    A target met late (responded or solved after the deadline) is still a breach."""
    values = ", ".join("(?, ?, ?, ?)" for _ in sla)
    params = [x for p, t in sla.items() for x in (p, t.respond, t.resolve, now)]
    return (
        f"WITH sla(priority, respond, resolve, now) AS (VALUES {values}), "
        "due AS (SELECT t.*, t.opened_at + sla.respond AS respond_due, "
        "t.opened_at + sla.resolve AS resolve_due, sla.now FROM tickets t JOIN sla USING (priority)), "
        "late AS (SELECT id, priority, respond_due, resolve_due, "
        "respond_breached_at IS NULL AND respond_due <= now "
        "AND (first_response_at IS NULL OR first_response_at > respond_due) "
        "AS respond_late, "
        "resolve_breached_at IS NULL AND resolve_due <= now AND (solved_at IS NULL OR solved_at > resolve_due) "
        "AS resolve_late FROM due) "
        "SELECT * FROM late WHERE respond_late OR resolve_late ORDER BY id",
        params,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
