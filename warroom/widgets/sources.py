"""Source health as the recorder sees it, and who records and watches the room."""

from __future__ import annotations

from rich.text import Text

from warroom import format as fmt
from warroom.dashboard import RecorderStatus
from warroom.snapshot import Snapshot
from warroom.textsafe import clean
from warroom.widgets.panel import Panel

STATE_STYLE = {
    "connecting": "yellow",
    "live": "bold green",
    "stale": "bold yellow",
    "error": "bold red",
    "stopped": "dim",
}


class SourcesPanel(Panel):
    DEFAULT_CSS = """
    SourcesPanel { height: auto; max-height: 13; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("Sources", **kwargs)

    def refresh_from(self, snapshot: Snapshot | None, recorder: RecorderStatus, now: float) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        self._room_line(text, snapshot, recorder, width)
        sources = snapshot.sources if snapshot is not None else []
        if snapshot is not None and not sources:
            text.append("\nno sources configured", style="dim")
        for item in sources:
            text.append("\n")
            style = STATE_STYLE.get(item.state, "")
            text.append("● ", style=style)
            text.append(f"{clean(item.name, limit=10):<10} ")
            text.append(f"{item.state:<11}", style=style)
            lag = now - item.last_record_at if item.last_record_at is not None else None
            figures = f"{fmt.compact(item.records):>7} rec  last {fmt.ago(lag):>6}"
            if item.bad:
                figures += f"  bad {fmt.compact(item.bad)}"
            if item.reconnects:
                figures += f"  reconn {item.reconnects}"
            room = width - 24
            if item.reason and item.state != "live":
                # Something is wrong: what is wrong matters more than the counters.
                text.append(clean(item.reason, limit=room), style="red" if item.state == "error" else "yellow")
                continue
            text.append(figures[:room])
            room -= len(figures) + 2
            if room > 8:
                text.append("  ")
                text.append(clean(item.reason or f"{item.kind} {item.target}", limit=room), style="dim")
        self.show(text)

    @staticmethod
    def _room_line(text: Text, snapshot: Snapshot | None, recorder: RecorderStatus, width: int) -> None:
        """Who records the room (or that nobody does) and who is watching it."""
        if recorder.holder is None:
            text.append(clean(recorder.problem or "no recorder", limit=width), style="bold red")
            return
        text.append("recorder ", style="dim")
        text.append(clean(recorder.holder.who, limit=40))
        text.append(f" since {fmt.clock_time(recorder.holder.since)}", style="dim")
        online = sorted({a.operator for a in snapshot.online}) if snapshot is not None else []
        if online:
            text.append("  online ", style="dim")
            text.append(clean(", ".join(online), limit=max(10, width - len(text.plain) - 9)))
