"""The incident log: what happened and what was decided, newest first, in a bounded window.

The room keeps every entry; the view shows the newest WINDOW of them (optionally of one
kind, or only starred ones), read only when the log changed. Entry text is data typed by
people and sent by sources, so it is cleaned and appended as plain text: "[bold]" or an
escape sequence in an entry shows literally and never reaches the terminal as a command.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from warroom import format as fmt
from warroom.commands import AddLogEntry, StarEntry
from warroom.store import LOG_KINDS, LogEntry
from warroom.textsafe import clean
from warroom.views import LogQuery, LogRows
from warroom.widgets.forms import LogEntryForm, NewLogEntry
from warroom.widgets.messages import Reload
from warroom.widgets.table import Cell, ColumnSpec, RoomTablePanel, Summary, cell

WINDOW = 200
FILTERS: tuple[str | None, ...] = (None, *LOG_KINDS)
"""What `f` cycles through: all kinds, then each kind."""

SEVERITY_STYLE = {"info": "dim", "warning": "bold yellow", "critical": "bold white on red"}
KIND_STYLE = {"alert": "red", "decision": "bold", "action": "cyan", "lesson": "magenta", "launch": "bold green"}

COLUMNS = (
    ColumnSpec("star", "★", 1, 1),
    ColumnSpec("time", "Time", 8, 8),
    ColumnSpec("kind", "Kind", 6, 9),
    ColumnSpec("severity", "Sev", 4, 8),
    ColumnSpec("author", "Author", 6, 10),
    ColumnSpec("text", "Text", 16),
)


class IncidentLogPanel(RoomTablePanel):
    """The newest log entries; add one, star it for the retrospective, filter by kind."""

    BINDINGS = [
        Binding("a", "add_entry", "Add", id="log.add"),
        Binding("asterisk", "toggle_star", "Star", id="log.star"),
        Binding("f", "cycle_filter", "Filter", id="log.filter"),
        Binding("o", "starred_only", "Starred", id="log.starred"),
    ]
    DEFAULT_CSS = """
    IncidentLogPanel { height: 1fr; }
    """
    COLUMNS = COLUMNS
    WHAT = "log"

    def __init__(self, operator: str, **kwargs) -> None:
        super().__init__(operator, **kwargs)
        self.kind: str | None = None
        self.starred_only = False
        self._entries: list[LogEntry] = []
        self._total: int | None = 0

    @property
    def room_query(self) -> LogQuery:
        return LogQuery(limit=WINDOW, kind=self.kind, starred_only=self.starred_only)

    def _take(self, rows: LogRows) -> None:
        self._entries, self._total = rows.entries, rows.total

    def tick(self, now: float, launch_at: float | None) -> None:
        """Nothing here depends on the clock."""

    def _redraw(self) -> None:
        rows = [(f"log:{e.id}", self._cells(e)) for e in reversed(self._entries)]
        self.table.sync(rows)
        summary = Text(no_wrap=True, overflow="ellipsis")
        summary.append(f"{self.kind or 'all'} entries", "bold")
        if self.starred_only:
            summary.append(", starred only", "bold yellow")
        summary.append(f"  {len(self._entries)} shown")
        if not self.starred_only and self._total is not None:
            summary.append(f" of {self._total}")
        summary.append("  f filter, o starred", "dim")
        self.query_one(Summary).show(summary)

    @staticmethod
    def _cells(e: LogEntry) -> list[Cell]:
        text = clean(e.text, limit=500)
        if e.owner:
            text += f"  (owner: {clean(e.owner, limit=40)})"
        return [
            cell("★" if e.starred else " ", "bold yellow"),
            cell(fmt.clock_time(e.ts)),
            cell(e.kind, KIND_STYLE.get(e.kind, "")),
            cell(e.severity, SEVERITY_STYLE.get(e.severity, "")),
            cell(clean(e.author, limit=40)),
            cell(text, "bold" if e.severity == "critical" else ""),
        ]

    # ------------------------------------------------------------------ actions

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on an entry shows its whole text, for narrow screens that cut it."""
        event.stop()
        entry = next((e for e in self._entries if f"log:{e.id}" == event.row_key.value), None)
        if entry is not None:
            self.notify(clean(entry.text), title=f"{entry.kind} by {clean(entry.author, limit=40)}",
                        markup=False)

    def action_add_entry(self) -> None:
        self.app.push_screen(LogEntryForm(), self._add)

    def _add(self, form: NewLogEntry | None) -> None:
        if form is not None:
            self.submit(AddLogEntry(operator=self.operator, log_kind=form.kind, severity=form.severity,
                                    text=form.text, owner=form.owner))

    def action_toggle_star(self) -> None:
        key = self.table.selected_key
        entry = next((e for e in self._entries if f"log:{e.id}" == key), None)
        if entry is None:
            self.notify("Select a log entry first", severity="warning")
            return
        self.submit(StarEntry(operator=self.operator, entry_id=entry.id, starred=not entry.starred))

    def action_cycle_filter(self) -> None:
        self.kind = FILTERS[(FILTERS.index(self.kind) + 1) % len(FILTERS)]
        self.post_message(Reload(self))

    def action_starred_only(self) -> None:
        self.starred_only = not self.starred_only
        self.post_message(Reload(self))
