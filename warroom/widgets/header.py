"""The top line: launch name, launch clock, local and UTC time, operator."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from warroom import format as fmt
from warroom.textsafe import clean


class LaunchHeader(Static):
    DEFAULT_CSS = """
    LaunchHeader { height: 1; background: $primary-background; color: $text; padding: 0 1; }
    """

    def __init__(self, launch_name: str, operator: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.launch_name = launch_name
        self.operator = operator
        self._shown: Text | None = None

    def refresh_from(self, now: float, launch_at: float | None, store_error: str | None = None,
                     firing: int = 0, pending: int = 0) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        if store_error:
            # Nothing an operator does is being saved: that must be impossible to miss.
            text.append(" NOT SAVING: ", style="bold white on red")
            text.append(clean(store_error, limit=60) + "  ", style="bold red")
        text.append("WARROOM ", style="bold")
        if firing:
            text.append(f" {firing} FIRING ", style="bold white on red")
            text.append(" ")
        elif pending:
            text.append(f" {pending} pending ", style="bold black on yellow")
            text.append(" ")
        text.append(clean(self.launch_name, limit=30) + "  ")
        clock = fmt.launch_clock(now, launch_at)
        style = "bold green" if launch_at is not None and now >= launch_at else "bold yellow"
        text.append(clock, style=style)
        text.append(f"  {fmt.clock_time(now)} local  {fmt.clock_time(now, utc=True)} UTC")
        text.append(f"  {clean(self.operator, limit=20)}", style="dim")
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)  # always one line: no reflow needed
