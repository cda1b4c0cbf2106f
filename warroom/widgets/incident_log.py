"""The incident log: what happened and what was decided, newest first, in a bounded window.

The store keeps every entry; the view shows the newest WINDOW of them (optionally of one
kind, or only starred ones), read only when the store changed. Entry text is data typed by
people and sent by sources, so it is cleaned and appended as plain text: "[bold]" or an
escape sequence in an entry shows literally and never reaches the terminal as a command.
"""

from __future__ import annotations

import dataclasses
import sqlite3

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from warroom import format as fmt
from warroom.store import LOG_KINDS, LogEntry, RoomStore, StoreError
from warroom.textsafe import clean
from warroom.widgets.table import Cell, ColumnSpec, StoreTablePanel, Summary, cell
from warroom.widgets.forms import LogEntryForm, NewLogEntry

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


class IncidentLogPanel(StoreTablePanel):
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

    def __init__(self, store: RoomStore, operator: str, **kwargs) -> None:
        super().__init__(store, operator, **kwargs)
        self.kind: str | None = None
        self.starred_only = False
        self._entries: list[LogEntry] = []
        self._total = 0





    def refresh_from(self, now: float, launch_at: float | None, changed: bool) -> None:
        """Nothing here depends on the clock: without a change there is nothing to do."""
        if self._reload_if_due(changed):
            self._redraw()

    def _read(self) -> None:
        kinds = None if self.kind is None else [self.kind]
        self._entries = self.store.recent(limit=WINDOW, kinds=kinds, starred_only=self.starred_only)
        self._total = self.store.count_log(kinds)

    def _redraw(self) -> None:
        rows = [(f"log:{e.id}", self._cells(e)) for e in reversed(self._entries)]
        self.table.sync(rows)
        summary = Text(no_wrap=True, overflow="ellipsis")
        summary.append(f"{self.kind or 'all'} entries", "bold")
        if self.starred_only:
            summary.append(", starred only", "bold yellow")
        summary.append(f"  {len(self._entries)} shown")
        if not self.starred_only:
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
        if form is None:
            return
        try:
            entry_id = self.store.add_log(form.kind, form.severity, form.text, self.operator, owner=form.owner)
            entry = self.store.get_log(entry_id)
        except (StoreError, sqlite3.Error, ValueError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if entry is not None and self._matches(entry):
            self._entries = [*self._entries, entry][-WINDOW:]
            self._total += 1
            self._redraw()
            self.table.select_key(f"log:{entry.id}")
        self.notify(f"Saved: {form.kind} logged", markup=False)

    def _matches(self, entry: LogEntry) -> bool:
        return (self.kind is None or entry.kind == self.kind) and (entry.starred or not self.starred_only)

    def action_toggle_star(self) -> None:
        key = self.table.selected_key
        entry = next((e for e in self._entries if f"log:{e.id}" == key), None)
        if entry is None:
            self.notify("Select a log entry first", severity="warning")
            return
        try:
            self.store.star(entry.id, not entry.starred)
        except StoreError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        changed = dataclasses.replace(entry, starred=not entry.starred)
        self._entries = [e for e in (changed if e.id == entry.id else e for e in self._entries) if self._matches(e)]
        self._redraw()
        self.notify("Saved: starred" if changed.starred else "Saved: star removed", markup=False)

    def action_cycle_filter(self) -> None:
        self.kind = FILTERS[(FILTERS.index(self.kind) + 1) % len(FILTERS)]
        self._reload_if_due(changed=True)
        self._redraw()

    def action_starred_only(self) -> None:
        self.starred_only = not self.starred_only
        self._reload_if_due(changed=True)
        self._redraw()
