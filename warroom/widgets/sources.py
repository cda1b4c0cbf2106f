"""Source health as the recorder sees it, and who records and watches the room.

On a wide terminal each source has its line. On a narrow one the live sources share one
line with the room's ("● events ● stats ● web live"), and only a source that is not live
gets a line of its own, with the reason: the rows go to the numbers.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from warroom import format as fmt
from warroom.dashboard import RecorderStatus
from warroom.snapshot import Snapshot, SourceView
from warroom.textsafe import cell_width, clean, fit
from warroom.widgets.panel import Panel

STATE_TONE = {"connecting": "warn", "live": "ok", "stale": "warn", "error": "crit", "stopped": "muted"}
NAME = 10


class SourcesPanel(Panel):
    DEFAULT_CSS = """
    SourcesPanel { height: auto; max-height: 13; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("Sources", **kwargs)

    def refresh_from(self, snapshot: Snapshot | None, recorder: RecorderStatus, now: float) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        sources = snapshot.sources if snapshot is not None else []
        compact = self.screen.has_class("-narrow")
        if compact and sources:
            self._live_line(text, [s for s in sources if s.state == "live"], width)
        self._room_line(text, snapshot, recorder, width - cell_width(text.plain))
        if snapshot is not None and not sources:
            text.append("\nno sources configured", style="dim")
        for item in sources:
            if not compact or item.state != "live":
                text.append("\n")
                self._source_line(text, item, width, now)
        self.show(text)

    def _live_line(self, text: Text, live: list[SourceView], width: int) -> None:
        if not live:
            return
        for item in live:
            text.append("● ", style=self.tones["ok"])
            text.append(clean(item.name, limit=NAME) + " ")
        text.append("live  ", style=self.tones["ok"])

    def _source_line(self, text: Text, item: SourceView, width: int, now: float) -> None:
        tone = self.tones.get(STATE_TONE.get(item.state, ""), "")
        text.append("● ", style=tone)
        text.append(fit(clean(item.name), NAME) + " ")
        text.append(fit(item.state, 11), style=tone)
        room = width - NAME - 14
        if item.reason and item.state != "live":
            # Something is wrong: what is wrong matters more than the counters.
            text.append(clean(item.reason, limit=room), style=tone)
            return
        lag = now - item.last_record_at if item.last_record_at is not None else None
        figures = f"{fmt.compact(item.records):>7} rec  last {fmt.ago(lag):>6}"
        if item.bad:
            figures += f"  bad {fmt.compact(item.bad)}"
        if item.reconnects:
            figures += f"  reconn {item.reconnects}"
        text.append(clean(figures, limit=room))
        room -= cell_width(figures) + 2
        if room > 8:
            text.append("  ")
            text.append(clean(item.reason or f"{item.kind} {item.target}", limit=room), style="dim")

    def _room_line(self, text: Text, snapshot: Snapshot | None, recorder: RecorderStatus, width: int) -> None:
        """Who records the room (or that nobody does) and who is watching it."""
        if recorder.holder is None:
            text.append(clean(recorder.problem or "no recorder", limit=max(10, width)), style=self.tones["crit"])
            return
        start = cell_width(text.plain)
        text.append("recorder ", style="dim")
        text.append(clean(recorder.holder.who, limit=40))
        text.append(f" since {fmt.clock_time(recorder.holder.since)}", style="dim")
        online = sorted({a.operator for a in snapshot.online}) if snapshot is not None else []
        room = width - (cell_width(text.plain) - start)
        names = clean(", ".join(online))
        if online and cell_width(names) + 9 <= room:
            text.append("  online ", style="dim")
            text.append(names)
        elif online and room >= 12:
            text.append(f"  {len(online)} online", style="dim")
