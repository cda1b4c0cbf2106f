"""The top line: what needs attention first, then launch name, launch clock, times, operator."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from warroom import format as fmt
from warroom.textsafe import clean

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
    handled: int = 0
    """Firing alerts acknowledged or silenced."""
    pending: int = 0


class LaunchHeader(Static):
    DEFAULT_CSS = """
    LaunchHeader { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """

    def __init__(self, launch_name: str, operator: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.launch_name = launch_name
        self.operator = operator
        self._shown: Text | None = None

    def refresh_from(self, now: float, launch_at: float | None, room: RoomState) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if room.not_saving:
            # Nothing this operator does is being saved yet: that must be impossible to miss.
            text.append(" NOT SAVING: ", style="bold white on red")
            text.append(clean(room.not_saving, limit=60) + "  ", style="bold red")
        elif room.saving:
            text.append(f" saving… ({room.saving}) ", style="bold black on yellow")
            text.append(" ")
        if room.recorder_problem:
            text.append(f" {clean(room.recorder_problem, limit=50)} ", style="bold white on red")
            text.append(" ")
        elif room.figures_age is not None and room.figures_age > STALE_FIGURES:
            text.append(f" figures {fmt.ago(room.figures_age)} old ", style="bold black on yellow")
            text.append(" ")
        text.append("WARROOM ", style="bold")
        if room.firing:
            text.append(f" {room.firing} FIRING ", style="bold white on red")
            text.append(" ")
        elif room.pending:
            text.append(f" {room.pending} pending ", style="bold black on yellow")
            text.append(" ")
        if room.handled:
            text.append(f"{room.handled} handled ", style="dim")
        text.append(clean(self.launch_name, limit=30) + "  ")
        clock = fmt.launch_clock(now, launch_at)
        style = "bold green" if launch_at is not None and now >= launch_at else "bold yellow"
        text.append(clock, style=style)
        text.append(f"  {fmt.clock_time(now)} local  {fmt.clock_time(now, utc=True)} UTC")
        text.append(f"  {clean(self.operator, limit=20)}", style="dim")
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)  # always one line: no reflow needed
