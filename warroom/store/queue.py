"""The support queue: tickets from sources and operators, and SLA breaches marked once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from warroom.model import format_duration
from warroom.store.base import StoreCore
from warroom.store.db import Database
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
)

if TYPE_CHECKING:
    from warroom.config import SlaConfig


class TicketQueueStore(StoreCore):
    """Tickets and their SLA (a part of RoomStore)."""

    _sla_seen: dict[str, tuple[float, float]] | None = None
    """The SLA targets last written to the room by this connection."""

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
                "LIMIT ?) AS newest ORDER BY opened_at, id",
                (limit,),
            )
        return [Ticket(*r) for r in rows]

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
            written = []
            for fields in batch:
                found = db.execute(f"SELECT {_TICKET_ROW} FROM tickets WHERE id = ?", (fields.id,)).fetchone()
                outcome, row = merge_record(
                    dict(zip(names, found, strict=True)) if found else None, fields, source, now
                )
                if row is not None:
                    db.execute(
                        f"INSERT INTO tickets({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                        f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in row)}",
                        tuple(row.values()),
                    )
                    written.append(fields.id)
                outcomes.append(outcome)
            self._set_dues(db, written)
        return outcomes

    def create_ticket(
        self,
        subject: str,
        operator: str,
        *,
        customer_ref: str = "",
        category: str = "",
        priority: str = "normal",
        at: float | None = None,
    ) -> Ticket:
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
                (
                    ticket_id,
                    now,
                    subject,
                    _cut(customer_ref.strip(), MAX_FIELD),
                    _cut(category.strip(), MAX_FIELD),
                    priority,
                    now,
                ),
            )
            self._seen_operator(db, operator, now)
            self._log(db, "ticket", "info", f"{ticket_id} opened: {subject}", operator, ts=now, ticket_id=ticket_id)
            self._set_dues(db, [ticket_id])
        return self.get_ticket(ticket_id)  # type: ignore[return-value]

    def assign(self, ticket_id: str, operator: str, assignee: str | None = None, at: float | None = None) -> Ticket:
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

    def _ticket_action(
        self,
        ticket_id: str,
        operator: str,
        at: float | None,
        change: Callable[[Ticket, float], tuple[dict[str, Any], str]],
    ) -> Ticket:
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
                db.execute(
                    f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in updates)} WHERE id = ?",
                    (*updates.values(), ticket_id),
                )
                self._seen_operator(db, operator, now)
                self._log(db, "ticket", "info", f"{ticket_id} {text}", operator, ts=now, ticket_id=ticket_id)
                self._set_dues(db, [ticket_id])
        return dataclasses.replace(ticket, **updates)

    # ------------------------------------------------------------------ SLA

    def configure_sla(self, sla: Mapping[Any, SlaConfig]) -> list[Breach]:
        """Take the SLA targets from the config; every ticket's deadlines follow them, and a
        target met after its (new) deadline is a breach. Returns those breaches."""
        wanted = {p: (float(t.respond), float(t.resolve)) for p, t in sla.items()}
        if wanted == self._sla_seen:
            return []
        breaches: list[Breach] = []
        nested = self._depth > 0  # inside a caller's transaction: it may still roll back
        with self._write() as db:
            stored = {p: (float(a), float(b)) for p, a, b in db.execute("SELECT priority, respond, resolve FROM sla")}
            if stored != wanted:
                db.execute("DELETE FROM sla")
                db.executemany(
                    "INSERT INTO sla(priority, respond, resolve) VALUES (?, ?, ?)",
                    [(p, a, b) for p, (a, b) in wanted.items()],
                )
                db.execute(_DUES_UPDATE)
                late = db.execute(
                    "SELECT id FROM tickets WHERE (respond_breached_at IS NULL AND "
                    "first_response_at > respond_due) OR (resolve_breached_at IS NULL AND "
                    "solved_at > resolve_due) ORDER BY id"
                ).fetchall()
                for (ticket_id,) in late:
                    breaches += self._breach_if_late(db, ticket_id)
        if not nested:
            self._sla_seen = wanted
        return breaches

    def check_sla(self, now: float, sla: Mapping[Any, SlaConfig] | None = None) -> list[Breach]:
        """Mark and log every SLA target missed by `now` that is not marked yet (after taking
        the targets in `sla`, when given).

        Reads only the tickets still waiting on a target whose deadline has passed (partial
        indexes on the deadlines), so a sweep costs the new breaches, not the queue. A target
        met late is marked when it is met (see `_breach_if_late`). Each breach is marked and
        logged exactly once, whichever process sees it first: the check is repeated inside a
        write transaction, where no one else can write. The breach time (and its log
        entry's time) is the deadline, not the moment we noticed."""
        breaches = self.configure_sla(sla) if sla is not None else []
        if not self._db.execute(_DUE_QUERY + " LIMIT 1", (now, now)).fetchone():
            return breaches  # the common case: one index probe, no write lock
        with self._write() as db:
            return breaches + [self._breach(db, *row) for row in db.execute(_DUE_QUERY, (now, now)).fetchall()]

    def _breach(self, db: Database, ticket_id: str, priority: str, due: float, kind: str) -> Breach:
        db.execute(f"UPDATE tickets SET {kind}_breached_at = ? WHERE id = ?", (due, ticket_id))
        row = db.execute(f"SELECT {kind} FROM sla WHERE priority = ?", (priority,)).fetchone()
        what = "first response" if kind == "respond" else "resolution"
        target = f", {format_duration(row[0])}" if row else ""
        log_id = self._log(
            db,
            "ticket",
            "critical" if priority == "urgent" else "warning",
            f"{ticket_id} missed its {what} target ({priority}{target})",
            "sla",
            ts=due,
            ticket_id=ticket_id,
        )
        return Breach(ticket_id, kind, due, priority, log_id)

    def _set_dues(self, db: Database, ticket_ids: Iterable[str]) -> None:
        """Deadlines of these tickets from their opening time and priority; then a target
        met after its deadline is a breach at once."""
        ids = [(i,) for i in ticket_ids]
        db.executemany(_DUES_UPDATE + " WHERE id = ?", ids)
        for (ticket_id,) in ids:
            self._breach_if_late(db, ticket_id)

    def _breach_if_late(self, db: Database, ticket_id: str) -> list[Breach]:
        breaches = []
        for kind, met in (("respond", "first_response_at"), ("resolve", "solved_at")):
            row = db.execute(
                f"SELECT priority, {kind}_due FROM tickets WHERE id = ? AND {kind}_breached_at IS NULL "
                f"AND {met} > {kind}_due",
                (ticket_id,),
            ).fetchone()
            if row is not None:
                breaches.append(self._breach(db, ticket_id, row[0], row[1], kind))
        return breaches

    def pressing_tickets(self, now: float, limit: int) -> list[Ticket]:
        """The `limit` open tickets that matter most now, in the support queue's order:
        breached (or past the deadline they wait on) first, then by priority, then by that
        deadline, then the oldest. Read by the database, however long the queue."""
        due = "CASE WHEN first_response_at IS NULL THEN respond_due ELSE resolve_due END"
        rows = self._db.execute(
            f"SELECT {_TICKET_COLS} FROM tickets WHERE status != 'solved' ORDER BY "
            f"CASE WHEN resolve_breached_at IS NOT NULL OR ({due} IS NOT NULL AND {due} <= ?) THEN 0 ELSE 1 END, "
            "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, "
            f"CASE WHEN {due} IS NULL THEN 1 ELSE 0 END, {due}, opened_at, id LIMIT ?",
            (now, limit),
        )
        return [Ticket(*r) for r in rows]

    def ticket_metrics(self) -> TicketMetrics:
        """The queue's figures, computed by the database (counts, and medians by one ordered
        read each), not by reading every ticket."""
        total, open_, unassigned, respond, resolve = self._db.execute(
            "SELECT count(*), "
            "coalesce(sum(CASE WHEN status != 'solved' THEN 1 ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN status != 'solved' AND assignee IS NULL THEN 1 ELSE 0 END), 0), "
            "count(respond_breached_at), count(resolve_breached_at) FROM tickets"
        ).fetchone()
        return TicketMetrics(
            total=int(total),
            open=int(open_),
            unassigned=int(unassigned),
            respond_breaches=int(respond),
            resolve_breaches=int(resolve),
            median_first_response=self._median("first_response_at"),
            median_resolution=self._median("solved_at"),
        )

    def _median(self, column: str) -> float | None:
        """Median of (column - opened_at) over tickets that have the time."""
        count = int(self._db.execute(f"SELECT count({column}) FROM tickets").fetchone()[0])
        if not count:
            return None
        rows = self._db.execute(
            f"SELECT CASE WHEN {column} > opened_at THEN {column} - opened_at ELSE 0 END AS d FROM tickets "
            f"WHERE {column} IS NOT NULL ORDER BY d LIMIT ? OFFSET ?",
            (2 - count % 2, (count - 1) // 2),
        ).fetchall()
        return sum(float(r[0]) for r in rows) / len(rows)


_DUES_UPDATE = (
    "UPDATE tickets SET "
    "respond_due = opened_at + (SELECT respond FROM sla WHERE sla.priority = tickets.priority), "
    "resolve_due = opened_at + (SELECT resolve FROM sla WHERE sla.priority = tickets.priority)"
)
_DUE_QUERY = (
    "SELECT id, priority, respond_due, 'respond' FROM tickets "
    "WHERE respond_breached_at IS NULL AND first_response_at IS NULL AND respond_due <= ? "
    "UNION ALL "
    "SELECT id, priority, resolve_due, 'resolve' FROM tickets "
    "WHERE resolve_breached_at IS NULL AND solved_at IS NULL AND resolve_due <= ?"
)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
