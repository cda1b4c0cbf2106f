"""The status line: what the app has to say, on the footer's line instead of in a toast.

A toast lands over the bottom right of the screen, which is where a table's row (the one
being acted on) can be. So every notification is written here instead, on the footer's
line, for a few seconds (longer for errors), and the footer's keys come back after it. The
newest message replaces the one shown; each is also logged to warroom.log.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from warroom.textsafe import clean
from warroom.widgets.tones import tones

log = logging.getLogger(__name__)

SECONDS = {"information": 5.0, "warning": 8.0, "error": 12.0}
TONE = {"information": "strong", "warning": "warn", "error": "crit"}


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine {
        dock: bottom; height: 1; padding: 0 1; display: none;
        background: $footer-background; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.message = ""
        """The message on the line now ("" when the footer shows)."""
        self._timer: Timer | None = None

    def say(self, message: str, title: str = "", severity: str = "information", timeout: float | None = None) -> None:
        """Show `message` (plain text, never markup) for `timeout` seconds."""
        line = clean(f"{title}: {message}" if title else message)
        log.info("%s: %s", severity, line)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(line, style=tones(self.app).get(TONE.get(severity, ""), ""))
        self.message = line
        self.update(text)
        self._show(True)
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(timeout or SECONDS.get(severity, 5.0), self.clear)

    def clear(self) -> None:
        self.message = ""
        self._show(False)

    def _show(self, shown: bool) -> None:
        self.display = shown
        for footer in self.screen.query("Footer"):
            footer.display = not shown
