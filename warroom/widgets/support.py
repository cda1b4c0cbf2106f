"""The support queue: tickets with priority, status, age and the SLA countdown.

Rows are keyed by ticket id and updated in place (see KeyedTable). The order is the order
that matters during a launch: breached first, then by priority, then by the next deadline;
a few recently solved tickets follow, dimmed, so an operator sees their "solve" land. The
deadlines come from warroom.tickets.sla_due; breaches are marked (and logged, once) by the
room's recorder; this panel only shows the countdown reaching zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from warroom.commands import CreateTicket, TicketChange
from warroom.model import format_duration
from warroom.textsafe import clean
from warroom.tickets import PRIORITIES, Ticket, TicketMetrics, sla_due
from warroom.views import TicketQuery, TicketRows
from warroom.widgets.forms import CATEGORIES, NewTicket, TicketForm
from warroom.widgets.table import Cell, ColumnSpec, RoomTablePanel, Summary, cell

MAX_OPEN_ROWS = 500
"""The queue shows at most this many open tickets (the most pressing); the summary counts all."""
SOLVED_ROWS = 10

PRIORITY_STYLE = {"urgent": "bold red", "high": "bold yellow", "normal": "", "low": "dim"}
STATUS_STYLE = {"new": "bold", "open": "", "pending": "dim", "solved": "green"}

COLUMNS = (
    ColumnSpec("id", "Id", 6, 10),
    ColumnSpec("priority", "Pri", 6, 6),
    ColumnSpec("status", "Status", 7, 7),
    ColumnSpec("age", "Age", 6, 6),
    ColumnSpec("sla", "SLA", 12, 12),
    ColumnSpec("subject", "Subject", 10),
    ColumnSpec("customer", "Cust", 6, 14),
    ColumnSpec("category", "Category", 8, 18),
    ColumnSpec("assignee", "Agent", 6, 12),
)


def next_due(ticket: Ticket, sla: Mapping[str, Any]) -> tuple[str, float | None]:
    """("reply" | "solve", deadline) for the target the ticket is waiting on."""
    respond, resolve = sla_due(ticket, sla)
    if ticket.first_response_at is None and respond is not None:
        return "reply", respond
    return "solve", resolve


class SupportPanel(RoomTablePanel):
    """The ticket queue with its figures on top; keys act on the selected ticket."""

    BINDINGS = [
        Binding("n", "new_ticket", "New", id="support.new"),
        Binding("m", "assign_me", "Mine", id="support.assign"),
        Binding("r", "responded", "Replied", id="support.respond"),
        Binding("p", "raise_priority", "Priority+", id="support.priority"),
        Binding("P", "lower_priority", "Priority-", show=False, id="support.priority_down"),
        Binding("s", "solve", "Solve", id="support.solve"),
    ]
    DEFAULT_CSS = """
    SupportPanel { height: 1fr; }
    """
    COLUMNS = COLUMNS
    WHAT = "support"

    def __init__(self, operator: str, sla: Mapping[str, Any], categories: tuple[str, ...] = CATEGORIES,
                 **kwargs) -> None:
        super().__init__(operator, **kwargs)
        self.sla = sla
        self.categories = categories
        self._open: list[Ticket] = []
        self._solved: list[Ticket] = []
        self._metrics: TicketMetrics | None = None
        self._rejected = 0

    def set_rejected(self, count: int) -> None:
        """Bad ticket records the recorder refused (shown in the summary)."""
        if count != self._rejected:
            self._rejected = count
            if self.is_mounted:
                self._redraw()

    @property
    def room_query(self) -> TicketQuery:
        return TicketQuery(solved=SOLVED_ROWS)

    def _take(self, rows: TicketRows) -> None:
        self._open, self._solved, self._metrics = rows.open, rows.solved, rows.metrics

    def _order(self, ticket: Ticket, now: float) -> tuple[Any, ...]:
        _, due = next_due(ticket, self.sla)
        rank = PRIORITIES.index(ticket.priority) if ticket.priority in PRIORITIES else len(PRIORITIES)
        return (0 if self._breached(ticket, now) else 1, rank, math.inf if due is None else due,
                ticket.opened_at, ticket.id)

    def _breached(self, ticket: Ticket, now: float) -> bool:
        if ticket.resolve_breached_at is not None:
            return True
        _, due = next_due(ticket, self.sla)
        return due is not None and due <= now

    def _redraw(self) -> None:
        now = self.now
        pending = sorted(self._open, key=lambda t: self._order(t, now))
        shown = pending[:MAX_OPEN_ROWS] + self._solved
        self.table.sync([(f"t:{t.id}", self._cells(t, now)) for t in shown])
        self.query_one(Summary).show(self._summary(len(pending)))

    def _cells(self, t: Ticket, now: float) -> list[Cell]:
        solved = not t.is_open
        if solved:
            missed = t.respond_breached_at is not None or t.resolve_breached_at is not None
            sla = cell("missed", "red") if missed else cell("met", "green")
        elif self._breached(t, now):
            sla = cell("BREACHED", "bold white on red")
        else:
            what, due = next_due(t, self.sla)
            sla = cell("-", "dim") if due is None else cell(f"{what} {format_duration(due - now)}",
                                                          "yellow" if due - now < 600 else "")
        dim = "dim" if solved else ""
        return [
            cell(clean(t.id, limit=40), "bold" if not solved else "dim"),
            cell(t.priority, dim or PRIORITY_STYLE.get(t.priority, "")),
            cell(t.status, STATUS_STYLE.get(t.status, "")),
            cell(format_duration(max(0.0, now - t.opened_at)), dim),
            sla,
            cell(clean(t.subject, limit=120), dim),
            cell(clean(t.customer_ref, limit=40), dim),
            cell(clean(t.category, limit=40), dim),
            cell(clean(t.assignee, limit=40), dim) if t.assignee else cell("-", "yellow" if not solved else "dim"),
        ]

    def _summary(self, open_count: int) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        m = self._metrics
        text.append(f"{open_count} open", "bold")
        if m is not None:
            text.append(f"  {m.unassigned} unassigned", "yellow" if m.unassigned else "")
            text.append(f"  {m.breaches} SLA breaches", "bold red" if m.breaches else "")
            median = "-" if m.median_first_response is None else format_duration(m.median_first_response)
            text.append(f"  median reply {median}")
        if open_count > MAX_OPEN_ROWS:
            text.append(f"  (top {MAX_OPEN_ROWS} shown)", "dim")
        if self._rejected:
            text.append(f"  {self._rejected} rejected records", "bold yellow")
        return text

    # ------------------------------------------------------------------ actions

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a ticket shows it whole, for narrow screens that cut it."""
        event.stop()
        key = event.row_key.value or ""
        ticket = next((t for t in self._open + self._solved if f"t:{t.id}" == key), None)
        if ticket is not None:
            details = " / ".join(clean(v, limit=200) for v in (ticket.customer_ref, ticket.category) if v)
            self.notify(clean(ticket.subject) + (f"\n{details}" if details else ""),
                        title=clean(ticket.id, limit=40), markup=False)

    def _selected(self) -> str | None:
        key = self.table.selected_key
        if key is None or not key.startswith("t:"):
            self.notify("Select a ticket first", severity="warning")
            return None
        return key.removeprefix("t:")

    def _act(self, action: str, value: str | None = None) -> None:
        ticket_id = self._selected()
        if ticket_id is not None:
            self.submit(TicketChange(operator=self.operator, ticket_id=ticket_id, action=action, value=value))

    def _priority(self, step: int) -> None:
        ticket_id = self._selected()
        if ticket_id is None:
            return
        current = next((t for t in self._open + self._solved if t.id == ticket_id), None)
        at = PRIORITIES.index(current.priority) if current and current.priority in PRIORITIES else 2
        if not 0 <= at + step < len(PRIORITIES):
            self.notify(f"Already {PRIORITIES[at]}", severity="warning")
            return
        self._act("priority", PRIORITIES[at + step])

    def action_assign_me(self) -> None:
        self._act("assign")

    def action_responded(self) -> None:
        self._act("respond")

    def action_raise_priority(self) -> None:
        """One step more pressing: low -> normal -> high -> urgent."""
        self._priority(-1)

    def action_lower_priority(self) -> None:
        self._priority(+1)

    def action_solve(self) -> None:
        self._act("status", "solved")

    def action_new_ticket(self) -> None:
        self.app.push_screen(TicketForm(self.categories), self._create)

    def _create(self, form: NewTicket | None) -> None:
        if form is not None:
            self.submit(CreateTicket(operator=self.operator, subject=form.subject, customer_ref=form.customer_ref,
                                     category=form.category, priority=form.priority))
