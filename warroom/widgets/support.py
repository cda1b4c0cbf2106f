"""The support queue: tickets with priority, status, age and the SLA countdown.

Rows are keyed by ticket id and updated in place (see KeyedTable). The order is the order
that matters during a launch: breached first, then by priority, then by the next deadline;
a few recently solved tickets follow, dimmed, so an operator sees their "solve" land. The
deadlines come from warroom.tickets.sla_due; breaches are marked (and logged, once) by the
room's recorder; this panel only shows the countdown reaching zero.

A launch can have tens of thousands of open tickets, so the work is split by what it
depends on. When the room's tickets change, `prepare` (on the door's thread, off the
screen) sorts them by priority and deadline and lists the deadlines in order. On a tick the
panel only counts, by bisection, how many deadlines have passed: the queue is re-ordered
when that number changes (a ticket breached), and otherwise only the rows in view are
redrawn (their ages and countdowns), the others when they scroll into view.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from warroom.widgets.tones import tones

MAX_OPEN_ROWS = 500
"""The queue shows at most this many open tickets (the most pressing); the summary counts all."""
SOLVED_ROWS = 10
DUE_SOON = 600.0

PRIORITY_TONE = {"urgent": "crit", "high": "warn", "normal": "", "low": "muted"}
STATUS_STYLE = {"new": "bold", "open": "", "pending": "dim", "solved": ""}

COLUMNS = (
    ColumnSpec("id", "Id", 6, 10),
    ColumnSpec("priority", "Pri", 6, 6),
    ColumnSpec("status", "Status", 7, 7),
    ColumnSpec("age", "Age", 6, 6),
    ColumnSpec("sla", "SLA", 12, 12),
    ColumnSpec("subject", "Subject", 10, want=28),
    ColumnSpec("customer", "Cust", 6, 14, drop=2),
    ColumnSpec("category", "Category", 8, 20, drop=3),
    ColumnSpec("assignee", "Agent", 6, 12, drop=1),
)


def next_due(ticket: Ticket, sla: Mapping[str, Any]) -> tuple[str, float | None]:
    """("reply" | "solve", deadline) for the target the ticket is waiting on."""
    respond, resolve = sla_due(ticket, sla)
    if ticket.first_response_at is None and respond is not None:
        return "reply", respond
    return "solve", resolve


@dataclass(frozen=True, slots=True)
class Queue:
    """The open tickets as `prepare` leaves them (see the module docstring)."""

    by_priority: list[Ticket]
    """Open tickets by (priority, deadline, opened)."""
    dues: list[float]
    """Every open ticket's next deadline, ascending (for counting the passed ones)."""
    due_ids: list[str]
    """The ticket ids in the order of `dues`."""
    resolve_breached: frozenset[str]
    """Breaches the recorder marked (they stay breached whatever the clock says)."""
    solved: list[Ticket]
    metrics: TicketMetrics | None


def prepare_queue(rows: TicketRows, sla: Mapping[str, Any]) -> Queue:
    """Sort once per change of the room's tickets (runs on the door's thread)."""
    keyed = []
    for ticket in rows.open:
        _, due = next_due(ticket, sla)
        rank = PRIORITIES.index(ticket.priority) if ticket.priority in PRIORITIES else len(PRIORITIES)
        keyed.append(((rank, math.inf if due is None else due, ticket.opened_at, ticket.id), due, ticket))
    keyed.sort(key=lambda item: item[0])
    with_due = sorted((due, t.id) for _, due, t in keyed if due is not None)
    return Queue(
        [t for _, _, t in keyed],
        [d for d, _ in with_due],
        [i for _, i in with_due],
        frozenset(t.id for t in rows.open if t.resolve_breached_at is not None),
        rows.solved,
        rows.metrics,
    )


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

    def __init__(
        self, operator: str, sla: Mapping[Any, Any], categories: Sequence[str] = CATEGORIES, **kwargs: Any
    ) -> None:
        super().__init__(operator, **kwargs)
        self.sla = sla
        self.categories = tuple(categories)
        self._queue = Queue([], [], [], frozenset(), [], None)
        self._passed = -1
        """How many deadlines had passed when the order was last made."""
        self._pending: list[Ticket] = []
        """The open tickets in display order (breached first)."""
        self._breached: set[str] = set()
        self._rejected = 0

    def set_rejected(self, count: int) -> None:
        """Bad ticket records the recorder refused (shown in the summary)."""
        if count != self._rejected:
            self._rejected = count
            if self.is_mounted:
                self._redraw()

    @property
    def room_query(self) -> TicketQuery:
        return TicketQuery(solved=SOLVED_ROWS, open=MAX_OPEN_ROWS, now=self.now)

    def prepare(self, rows: TicketRows) -> Queue:
        return prepare_queue(rows, self.sla)

    def _take(self, rows: Queue | TicketRows) -> None:
        self._queue = rows if isinstance(rows, Queue) else prepare_queue(rows, self.sla)
        self._passed = -1

    @property
    def tickets(self) -> list[Ticket]:
        """The tickets the panel has: open ones in display order, then recently solved."""
        return self._pending + self._queue.solved

    def _reorder(self, now: float) -> bool:
        """Breached first, when the number of passed deadlines changed; True if it did."""
        queue = self._queue
        passed = bisect.bisect_right(queue.dues, now)
        if passed == self._passed:
            return False
        self._passed = passed
        self._breached = set(queue.due_ids[:passed]) | queue.resolve_breached
        breached = [t for t in queue.by_priority if t.id in self._breached]
        self._pending = breached + [t for t in queue.by_priority if t.id not in self._breached]
        return True

    def _redraw(self) -> None:
        now = self.now
        reordered = self._reorder(now)
        shown = self._pending[:MAX_OPEN_ROWS] + self._queue.solved
        keys = [f"t:{t.id}" for t in shown]
        palette = tones(self.app)
        if reordered or keys != self.table.keys:
            self.table.sync([(key, self._cells(t, now, palette)) for key, t in zip(keys, shown, strict=True)])
        else:
            in_view = set(self.table.in_view())
            self.table.update_rows(
                [(key, self._cells(t, now, palette)) for key, t in zip(keys, shown, strict=True) if key in in_view]
            )
        metrics = self._queue.metrics
        open_count = metrics.open if metrics is not None else len(self._pending)
        self.query_one(Summary).show(self._summary(open_count, palette))

    def _cells(self, t: Ticket, now: float, palette: dict[str, str]) -> list[Cell]:
        solved = not t.is_open
        if solved:
            missed = t.respond_breached_at is not None or t.resolve_breached_at is not None
            sla = cell("missed", palette["warn"]) if missed else cell("met", palette["ok"])
        elif t.id in self._breached:
            sla = cell("BREACHED", palette["crit"])
        else:
            what, due = next_due(t, self.sla)
            sla = (
                cell("-", "dim")
                if due is None
                else cell(f"{what} {format_duration(due - now)}", palette["warn"] if due - now < DUE_SOON else "")
            )
        dim = "dim" if solved else ""
        return [
            cell(clean(t.id, limit=40), "bold" if not solved else "dim"),
            cell(t.priority, dim or palette.get(PRIORITY_TONE.get(t.priority, ""), "")),
            cell(t.status, STATUS_STYLE.get(t.status, "")),
            cell(format_duration(max(0.0, now - t.opened_at)), dim),
            sla,
            cell(clean(t.subject, limit=120), dim),
            cell(clean(t.customer_ref, limit=40), dim),
            cell(clean(t.category, limit=40), dim),
            cell(clean(t.assignee, limit=40), dim)
            if t.assignee
            else cell("-", palette["warn"] if not solved else "dim"),
        ]

    def _summary(self, open_count: int, palette: dict[str, str]) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        m = self._queue.metrics
        text.append(f"{open_count} open", "bold")
        if m is not None:
            text.append(f"  {m.unassigned} unassigned", palette["warn"] if m.unassigned else "")
            text.append(f"  {m.breaches} SLA breaches", palette["crit"] if m.breaches else "")
            median = "-" if m.median_first_response is None else format_duration(m.median_first_response)
            text.append(f"  median reply {median}")
        if open_count > MAX_OPEN_ROWS:
            text.append(f"  (top {MAX_OPEN_ROWS} shown; / finds the others)", "dim")
        if self._rejected:
            text.append(f"  {self._rejected} rejected records", palette["warn"])
        return text

    # ------------------------------------------------------------------ actions

    def select(self, ticket_id: str) -> bool:
        """Put the cursor on this ticket (a jump); False when it is not among the rows shown."""
        key = f"t:{ticket_id}"
        if key not in self.table.keys:
            return False
        self.table.select_key(key)
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a ticket shows it whole, for narrow screens that cut it."""
        event.stop()
        key = event.row_key.value or ""
        ticket = next((t for t in self.tickets if f"t:{t.id}" == key), None)
        if ticket is not None:
            details = " / ".join(clean(v, limit=200) for v in (ticket.customer_ref, ticket.category) if v)
            self.notify(
                clean(ticket.subject) + (f" ({details})" if details else ""),
                title=clean(ticket.id, limit=40),
                markup=False,
            )

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
        current = next((t for t in self.tickets if t.id == ticket_id), None)
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
            self.submit(
                CreateTicket(
                    operator=self.operator,
                    subject=form.subject,
                    customer_ref=form.customer_ref,
                    category=form.category,
                    priority=form.priority,
                )
            )
