"""The top line: what needs attention first, then launch name, launch clock, times, operator.

It is one line at any width, so its parts have a priority: a problem with saving or with the
recorder, the firing alerts nobody handles and the launch clock stay; the names of firing
alerts, the counts of handled ones, the launch name, the demo's speed, the local and UTC
times and the operator's name give way, in that order from the last, when the terminal is
narrow. Firing alerts are counted apart by what was done about them: FIRING (nobody has),
acked, silenced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import Static

from warroom import format as fmt
from warroom.textsafe import cell_width, clean
from warroom.widgets.tones import tones

STALE_FIGURES = 5.0
"""Seconds without a new snapshot after which the header says the figures are old."""


@dataclass(frozen=True, slots=True)
class RoomState:
    """What the header says about the room, beside the clock."""

    not_saving: str | None = None
    """Why this screen's writes are not being saved (they are kept and retried)."""
    saving: int = 0
    """Writes waiting a moment (another process holds the lock)."""
    recorder_problem: str | None = None
    figures_age: float | None = None
    """Seconds since the recorder's last snapshot."""
    firing: int = 0
    """Firing alerts nobody has acknowledged or silenced."""
    worst: str = ""
    """The highest severity among those (critical, warning, info)."""
    acked: int = 0
    """Firing alerts acknowledged (and not silenced)."""
    silenced: int = 0
    """Firing alerts silenced."""
    pending: int = 0
    """Pending alerts nobody has handled."""
    first_firing: str = ""
    """The name of the first firing alert nobody handles (the most severe)."""
    speed: float | None = None
    """Simulated seconds per real second, when the clock is the demo's."""


class LaunchHeader(Static):
    DEFAULT_CSS = """
    LaunchHeader { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """

    def __init__(self, launch_name: str, operator: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.launch_name = launch_name
        self.operator = operator
        self._shown: Text | None = None

    def refresh_from(self, now: float, launch_at: float | None, room: RoomState) -> None:
        tone = tones(self.app)
        parts: list[tuple[int, str, str]] = []  # (priority: higher gives way first, text, style)
        if room.not_saving:
            # Nothing this operator does is being saved yet: that must be impossible to miss.
            parts.append((0, f" NOT SAVING: {clean(room.not_saving, limit=60)} ", tone["crit"]))
        elif room.saving:
            parts.append((0, f" saving… ({room.saving}) ", tone["warn"]))
        if room.recorder_problem:
            parts.append((0, f" {clean(room.recorder_problem, limit=50)} ", tone["crit"]))
        elif room.figures_age is not None and room.figures_age > STALE_FIGURES:
            parts.append((0, f" figures {fmt.ago(room.figures_age)} old ", tone["warn"]))
        parts.append((0, "WARROOM", "bold"))
        if room.firing:
            # As loud as the worst of them: a firing info alert is news, not an emergency.
            loud = {"critical": tone["crit"], "warning": "bold reverse"}.get(room.worst, "bold")
            parts.append((0, f" {room.firing} FIRING ", loud))
            if room.first_firing:
                parts.append((5, clean(room.first_firing, limit=30), "bold"))
        elif room.pending:
            parts.append((1, f" {room.pending} pending ", tone["warn"]))
        if room.acked:
            parts.append((1, f"{room.acked} acked", ""))
        if room.silenced:
            parts.append((1, f"{room.silenced} silenced", "dim"))
        parts.append((2, clean(self.launch_name, limit=30), ""))
        started = launch_at is not None and now >= launch_at
        parts.append((0, fmt.launch_clock(now, launch_at), "bold " + (tone["ok"] if started else tone["warn"])))
        if room.speed is not None:
            parts.append((2, f"demo ×{room.speed:g}", tone["warn"]))
        parts.append((3, f"{fmt.clock_time(now)} local", ""))
        parts.append((4, f"{fmt.clock_time(now, utc=True)} UTC", ""))
        parts.append((4, clean(self.operator, limit=20), "dim"))
        text = _line(parts, max(20, self.size.width - 2))
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)  # always one line: no reflow needed


def _line(parts: list[tuple[int, str, str]], width: int) -> Text:
    """The parts, two spaces apart, without the ones that give way first until they fit."""
    kept = list(parts)
    while len(kept) > 1 and sum(cell_width(t) + 2 for _, t, _ in kept) - 2 > width:
        lowest = max(p for p, _, _ in kept)
        if lowest == 0:
            break
        index = max(i for i, (p, _, _) in enumerate(kept) if p == lowest)
        del kept[index]
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, (_, part, style) in enumerate(kept):
        if index:
            text.append("  ")
        text.append(part, style=style)
    return text
