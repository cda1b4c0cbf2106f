"""The latest incident log entries, read-only, beside the live panels on a wide terminal.

The Log tab is where entries are written and starred; this strip only lets an operator see
what the room has just recorded (alerts, decisions, sources) without leaving the numbers.
"""

from __future__ import annotations

from rich.text import Text

from warroom import format as fmt
from warroom.store import LogEntry
from warroom.textsafe import clean
from warroom.views import LogRows
from warroom.widgets.panel import Panel

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


class RecentLogPanel(Panel):
    def __init__(self, **kwargs) -> None:
        super().__init__("Latest in the log", **kwargs)

    def show_rows(self, rows: LogRows) -> None:
        self.refresh_from(rows.entries)

    def show_read_error(self, error: BaseException) -> None:
        """The header already says when the room cannot be read; keep the lines shown."""

    def refresh_from(self, entries: list[LogEntry]) -> None:
        """`entries` oldest first; the newest is shown on top."""
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        if not entries:
            text.append("nothing logged yet", style="dim")
        for index, entry in enumerate(reversed(entries)):
            if index:
                text.append("\n")
            text.append(f"{fmt.clock_time(entry.ts)} ", style="dim")
            text.append(f"{entry.kind:<10}", style=SEVERITY_STYLE.get(entry.severity, ""))
            text.append("★ " if entry.starred else "")
            text.append(clean(entry.text, limit=max(10, width - 20)))
        self.show(text)
