"""The checklist panel: pre-launch tests and the run of show, timed against the launch clock.

The table is keyed by item id and updated in place: each tick builds the rows it wants,
and only the cells whose text or style changed are written to the DataTable (inside one
`batch_update`), so a steady checklist costs nothing but the countdown cells. The rows are
read from the room only when it changed (or when the panel comes back into view);
countdowns are re-rendered on every tick from the last rows read. `space` marks the selected
item done, `x` marks it not done: the same key twice never undoes what another operator did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.binding import Binding

from warroom import format as fmt
from warroom.commands import SetItemDone
from warroom.model import format_duration
from warroom.store import ChecklistItem
from warroom.textsafe import clean
from warroom.views import ChecklistQuery
from warroom.widgets.table import Cell, ColumnSpec, RoomTablePanel, Summary, cell
from warroom.widgets.tones import tones

DUE_SOON = 600.0
"""An open item due within this many seconds shows as "due in ..."."""


# ---------------------------------------------------------------------- the panel


COLUMNS = (
    ColumnSpec("mark", "✓", 1, 1),
    ColumnSpec("item", "Item", 14),
    ColumnSpec("owner", "Owner", 6, 14),
    ColumnSpec("due", "Due", 5, 13),
    ColumnSpec("state", "State", 10, 26),
)
"""The state column is as wide as its widest cell ("done Jonas Weber 10:02") up to its
maximum, so who did an item and when is read whole."""


def launch_offset(seconds: float) -> str:
    """T-30m, T+2h, T-1h30m, T0."""
    total = int(round(abs(seconds)))
    if total == 0:
        return "T0"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return f"T{'-' if seconds < 0 else '+'}{text}"


def short_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M")


class ChecklistPanel(RoomTablePanel):
    """Checklist items grouped by phase: done (by whom, when), due soon, overdue, pending."""

    BINDINGS = [
        Binding("space", "mark_done", "Done", id="checklist.done"),
        Binding("x", "mark_undone", "Undo", id="checklist.undo"),
    ]
    DEFAULT_CSS = """
    ChecklistPanel { height: 1fr; }
    """
    COLUMNS = COLUMNS
    WHAT = "checklist"

    def __init__(self, operator: str, team: dict[str, list[str]] | None = None, **kwargs: Any) -> None:
        super().__init__(operator, **kwargs)
        self.team = dict(team or {})
        self._items: list[ChecklistItem] = []

    @property
    def room_query(self) -> ChecklistQuery:
        return ChecklistQuery()

    def _take(self, rows: list[ChecklistItem]) -> None:
        self._items = rows

    def _owner(self, owner: str) -> str:
        names = self.team.get(owner)
        return ", ".join(names) if names else owner

    def overdue(self) -> int:
        """Open items past their due time (the tab's badge)."""
        return sum(
            1
            for item in self._items
            if item.done_at is None and (due := item.due_at(self.launch_at)) is not None and due < self.now
        )

    def _redraw(self) -> None:
        now, launch_at = self.now, self.launch_at
        palette = tones(self.app)
        rows: list[tuple[str, list[Cell]]] = []
        done = overdue = soon = 0
        phases: dict[str, list[ChecklistItem]] = {}
        for item in self._items:
            phases.setdefault(item.phase, []).append(item)
        for phase, items in phases.items():
            finished = sum(i.done_at is not None for i in items)
            rows.append(
                (
                    f"phase:{phase}",
                    [
                        cell(""),
                        cell(clean(phase, limit=80), "bold underline"),
                        cell(""),
                        cell(""),
                        cell(f"{finished}/{len(items)} done", "dim"),
                    ],
                )
            )
            for item in items:
                state, tone = self._state(item, now, launch_at)
                style = palette.get(tone, tone)
                done += item.done_at is not None
                overdue += state.startswith("overdue")
                soon += state.startswith("due in")
                due = ""
                if item.due_offset is not None:
                    due = launch_offset(item.due_offset)
                    if launch_at is not None:
                        due += " " + short_time(launch_at + item.due_offset)
                rows.append(
                    (
                        f"item:{item.id}",
                        [
                            cell("✓" if item.done_at is not None else " ", palette["ok"]),
                            cell(clean(item.title, limit=200), "dim" if item.done_at is not None else ""),
                            cell(clean(self._owner(item.owner), limit=60)),
                            cell(due),
                            cell(state, style),
                        ],
                    )
                )
        self.table.sync(rows)
        summary = Text(no_wrap=True, overflow="ellipsis")
        summary.append(fmt.launch_clock(now, launch_at), "bold")
        summary.append(f"  {done}/{len(self._items)} done")
        if overdue:
            summary.append(f"  {overdue} overdue", palette["crit"])
        if soon:
            summary.append(f"  {soon} due soon", palette["warn"])
        self.query_one(Summary).show(summary)

    @staticmethod
    def _state(item: ChecklistItem, now: float, launch_at: float | None) -> tuple[str, str]:
        """(text, tone) of an item's state."""
        if item.done_at is not None:
            return f"done {clean(item.done_by or '?', limit=16)} {short_time(item.done_at)}", "ok"
        due = item.due_at(launch_at)
        if due is None:
            return "pending", "muted"
        if due < now:
            return f"overdue {format_duration(now - due)}", "crit"
        if due - now <= DUE_SOON:
            return f"due in {format_duration(due - now)}", "warn"
        return "pending", ""

    def _selected_item(self) -> ChecklistItem | None:
        key = self.table.selected_key
        item = next((i for i in self._items if f"item:{i.id}" == key), None)
        if item is None:
            self.notify("Select a checklist item first", severity="warning")
        return item

    def action_mark_done(self) -> None:
        item = self._selected_item()
        if item is not None:
            self.submit(SetItemDone(operator=self.operator, item_id=item.id, done=True))

    def action_mark_undone(self) -> None:
        item = self._selected_item()
        if item is not None:
            self.submit(SetItemDone(operator=self.operator, item_id=item.id, done=False))
