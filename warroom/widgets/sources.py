"""Source health: one line per source with its state, lag and fault counts."""

from __future__ import annotations

from rich.text import Text

from warroom import format as fmt
from warroom.sources import SourceHealth, SourceState
from warroom.textsafe import clean
from warroom.widgets.panel import Panel

STATE_STYLE = {
    SourceState.CONNECTING: "yellow",
    SourceState.LIVE: "bold green",
    SourceState.STALE: "bold yellow",
    SourceState.ERROR: "bold red",
    SourceState.STOPPED: "dim",
}


class SourcesPanel(Panel):
    DEFAULT_CSS = """
    SourcesPanel { height: auto; max-height: 12; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("Sources", **kwargs)

    def refresh_from(self, health: list[SourceHealth], rejects: dict[str, int], now: float) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        if not health:
            text.append("no sources configured", style="dim")
        for index, item in enumerate(health):
            if index:
                text.append("\n")
            text.append("● ", style=STATE_STYLE[item.state])
            text.append(f"{clean(item.name, limit=10):<10} ")
            text.append(f"{item.state.value:<11}", style=STATE_STYLE[item.state])
            lag = now - item.last_record_at if item.last_record_at is not None else None
            bad = item.bad_records + rejects.get(item.name, 0)
            figures = f"{fmt.compact(item.records):>7} rec  last {fmt.ago(lag):>6}"
            if bad:
                figures += f"  bad {fmt.compact(bad)}"
            if item.reconnects:
                figures += f"  reconn {item.reconnects}"
            room = width - 24
            if item.reason and item.state != SourceState.LIVE:
                # Something is wrong: what is wrong matters more than the counters.
                style = "red" if item.state == SourceState.ERROR else "yellow"
                text.append(clean(item.reason, limit=room), style=style)
                continue
            text.append(figures[:room])
            room -= len(figures) + 2
            if room > 8:
                text.append("  ")
                text.append(clean(item.reason or f"{item.kind} {item.target}", limit=room), style="dim")
        self.show(text)
