"""The incident log: what happened and what was decided, newest first, in a bounded window.

The room keeps every entry; the view shows the newest WINDOW rows of them (optionally of
one kind, or only starred ones), read only when the log changed.

It follows the log: new entries arrive at the top, and while the cursor is on the top row
it stays there. An operator reading further down keeps their row, and the summary counts
what arrived above it ("↑ 12 new · home"), until `home` takes them back to the top.

Ticket chatter is folded by default: the help desk's assigned / responded lines are most
of a launch's log, so a run of consecutive ticket entries shows as one row ("14 ticket
updates"); `t` (or Enter on that row) shows them one by one, and `f` can still pick the
ticket kind alone. To find enough other entries among them, a folded view reads the
newest FOLDED_READ entries.

Entry text is data typed by people and sent by sources, so it is cleaned and appended as
plain text: "[bold]" or an escape sequence in an entry shows literally and never reaches
the terminal as a command.
"""

from __future__ import annotations

from typing import Any

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
from warroom.widgets.tones import tones

WINDOW = 200
FOLDED_READ = 1000
FOLDED_KIND = "ticket"
FILTERS: tuple[str | None, ...] = (None, *LOG_KINDS)
"""What `f` cycles through: all kinds, then each kind."""

SEVERITY_TONE = {"info": "muted", "warning": "warn", "critical": "crit"}
KIND_TONE = {"alert": "crit", "decision": "strong", "action": "accent", "lesson": "accent", "launch": "ok"}

COLUMNS = (
    ColumnSpec("star", "★", 1, 1),
    ColumnSpec("time", "Time", 8, 8),
    ColumnSpec("kind", "Kind", 6, 9),
    ColumnSpec("severity", "Sev", 4, 8),
    ColumnSpec("author", "Author", 6, 14),
    ColumnSpec("text", "Text", 16),
)


def fold(entries: list[LogEntry], kind: str = FOLDED_KIND) -> list[LogEntry | list[LogEntry]]:
    """Newest first, each run of two or more consecutive `kind` entries as one list."""
    out: list[LogEntry | list[LogEntry]] = []
    run: list[LogEntry] = []
    for entry in reversed(entries):
        if entry.kind == kind:
            run.append(entry)
            continue
        if run:
            out.append(run if len(run) > 1 else run[0])
            run = []
        out.append(entry)
    if run:
        out.append(run if len(run) > 1 else run[0])
    return out


class IncidentLogPanel(RoomTablePanel):
    """The newest log entries; add one, star it for the retrospective, filter by kind."""

    BINDINGS = [
        Binding("a", "add_entry", "Add", id="log.add"),
        Binding("asterisk", "toggle_star", "Star", id="log.star"),
        Binding("f", "cycle_filter", "Filter", id="log.filter"),
        Binding("o", "starred_only", "Starred", id="log.starred"),
        Binding("t", "toggle_fold", "Tickets", id="log.fold"),
    ]
    DEFAULT_CSS = """
    IncidentLogPanel { height: 1fr; }
    """
    COLUMNS = COLUMNS
    WHAT = "log"

    def __init__(self, operator: str, **kwargs: Any) -> None:
        super().__init__(operator, **kwargs)
        self.kind: str | None = None
        self.starred_only = False
        self.folded = True
        self._entries: list[LogEntry] = []
        self._total: int | None = 0
        self._seen = 0
        """The newest entry id shown while the cursor was on the top row."""
        self.new = 0
        """Entries that arrived above the operator's row since they left the top."""

    @property
    def folding(self) -> bool:
        return self.folded and self.kind is None

    @property
    def room_query(self) -> LogQuery:
        return LogQuery(limit=FOLDED_READ if self.folding else WINDOW, kind=self.kind, starred_only=self.starred_only)

    def _take(self, rows: LogRows) -> None:
        self._entries, self._total = rows.entries, rows.total

    def tick(self, now: float, launch_at: float | None) -> None:
        """Nothing here depends on the clock."""

    def _redraw(self) -> None:
        palette = tones(self.app)
        items = fold(self._entries) if self.folding else list(reversed(self._entries))
        rows = [(self._key(item), self._cells(item, palette)) for item in items[:WINDOW]]
        table = self.table
        at_top = table.cursor_row <= 0
        table.sync(rows, follow_top=True)
        newest = self._entries[-1].id if self._entries else 0
        if at_top or not self._seen:
            self._seen, self.new = newest, 0
        else:
            self.new = sum(1 for e in self._entries if e.id > self._seen)
        self.query_one(Summary).show(self._summary(len(rows), palette))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row == 0 and self.new:
            self._seen = self._entries[-1].id if self._entries else 0
            self.new = 0
            self.query_one(Summary).show(self._summary(self.table.row_count, tones(self.app)))

    def _summary(self, shown: int, palette: dict[str, str]) -> Text:
        summary = Text(no_wrap=True, overflow="ellipsis")
        if self.new:
            summary.append(f" ↑ {self.new} new · home ", palette["crit"])
            summary.append("  ")
        summary.append(f"{self.kind or 'all'} entries", "bold")
        if self.starred_only:
            summary.append(", starred only", palette["warn"])
        summary.append(f"  {shown} rows")
        if not self.starred_only and self._total is not None:
            summary.append(f" of {self._total} entries")
        if self.folding:
            summary.append("  ticket updates folded (t)", "dim")
        summary.append("  f filter, o starred", "dim")
        return summary

    @staticmethod
    def _key(item: LogEntry | list[LogEntry]) -> str:
        return f"fold:{item[-1].id}" if isinstance(item, list) else f"log:{item.id}"

    @staticmethod
    def _cells(item: LogEntry | list[LogEntry], palette: dict[str, str]) -> list[Cell]:
        if isinstance(item, list):  # newest first; keyed by its oldest, which stays put
            sample = ", ".join(clean(e.text, limit=40) for e in item[:3])
            return [
                cell(" "),
                cell(fmt.clock_time(item[0].ts)),
                cell(FOLDED_KIND, "dim"),
                cell("info", "dim"),
                cell(""),
                cell(f"▸ {len(item)} ticket updates: {sample}…", "dim"),
            ]
        e = item
        text = clean(e.text, limit=500)
        if e.owner:
            text += f"  (owner: {clean(e.owner, limit=40)})"
        return [
            cell("★" if e.starred else " ", palette["warn"]),
            cell(fmt.clock_time(e.ts)),
            cell(e.kind, palette.get(KIND_TONE.get(e.kind, ""), "")),
            cell(e.severity, palette.get(SEVERITY_TONE.get(e.severity, ""), "")),
            cell(clean(e.author, limit=40)),
            cell(text, "bold" if e.severity == "critical" else ""),
        ]

    def select(self, entry_id: int) -> bool:
        """Put the cursor on this entry (a jump); False when it is not in the window."""
        key = f"log:{entry_id}"
        if key not in self.table.keys:
            return False
        self.table.select_key(key)
        return True

    # ------------------------------------------------------------------ actions

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on an entry shows its whole text, for narrow screens that cut
        it; on folded ticket updates, shows them one by one."""
        event.stop()
        key = event.row_key.value or ""
        if key.startswith("fold:"):
            self.action_toggle_fold()
            return
        entry = next((e for e in self._entries if f"log:{e.id}" == key), None)
        if entry is not None:
            self.notify(clean(entry.text), title=f"{entry.kind} by {clean(entry.author, limit=40)}", markup=False)

    def action_add_entry(self) -> None:
        self.app.push_screen(LogEntryForm(), self._add)

    def _add(self, form: NewLogEntry | None) -> None:
        if form is not None:
            self.submit(
                AddLogEntry(
                    operator=self.operator, log_kind=form.kind, severity=form.severity, text=form.text, owner=form.owner
                )
            )

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

    def action_toggle_fold(self) -> None:
        self.folded = not self.folded
        self.post_message(Reload(self))
