"""The latest incident log entries, read-only, beside the live panels on a wide terminal.

The Log tab is where entries are written and starred; this strip only lets an operator see
what the room has just recorded (alerts, decisions, sources) without leaving the numbers.
Ticket updates are folded here as on the Log tab ("▸ 14 ticket updates").
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from warroom import format as fmt
from warroom.store import LogEntry
from warroom.textsafe import clean, fit
from warroom.views import LogRows
from warroom.widgets.incident_log import FOLDED_KIND, SEVERITY_TONE, fold
from warroom.widgets.panel import Panel


class RecentLogPanel(Panel):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("Latest in the log", **kwargs)

    def show_rows(self, rows: LogRows) -> None:
        self.refresh_from(rows.entries)

    def show_read_error(self, error: BaseException) -> None:
        """The header already says when the room cannot be read; keep the lines shown."""

    def refresh_from(self, entries: list[LogEntry]) -> None:
        """`entries` oldest first; the newest is shown on top."""
        width = self.inner_width
        palette = self.tones
        text = Text(no_wrap=True, overflow="ellipsis")
        if not entries:
            text.append("nothing logged yet", style="dim")
        for index, item in enumerate(fold(entries)[: self.inner_height]):
            if index:
                text.append("\n")
            if isinstance(item, list):
                text.append(f"{fmt.clock_time(item[0].ts)} ", style="dim")
                text.append(fit(FOLDED_KIND, 10), style="dim")
                text.append(f"▸ {len(item)} ticket updates", style="dim")
                continue
            text.append(f"{fmt.clock_time(item.ts)} ", style="dim")
            text.append(fit(item.kind, 10), style=palette.get(SEVERITY_TONE.get(item.severity, ""), ""))
            text.append("★ " if item.starred else "")
            text.append(clean(item.text, limit=max(10, width - 20)))
        self.show(text)
