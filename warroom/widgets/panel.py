"""The base of every live panel: a bordered Static re-rendered on the app's refresh tick.

Panels build a `rich.text.Text` by appending plain strings (never markup), and only call
`update` when the text changed, so an idle dashboard sends no bytes to the terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from warroom import format as fmt
from warroom.snapshot import MetricView
from warroom.textsafe import clean


class Panel(Static):
    """A bordered panel whose content is replaced wholesale on each refresh."""

    DEFAULT_CSS = """
    Panel {
        border: round $primary-darken-1;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1;
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.border_title = title
        self._shown: Text | None = None

    @property
    def inner_width(self) -> int:
        """Columns available for content (at least 20 so a hidden panel still renders)."""
        return max(20, self.content_size.width)

    def show(self, text: Text) -> None:
        if self._shown is None or text != self._shown:
            # A reflow of the whole screen is the main cost of an update: only ask for one
            # when the panel's height may change.
            relayout = self._shown is None or len(text.plain.splitlines()) != len(self._shown.plain.splitlines())
            self._shown = text
            self.update(text, layout=relayout)


def metric_line(text: Text, metric: MetricView | None, name: str, width: int) -> None:
    """One row: title, the current pace (or value), and the total since launch."""
    title = clean(metric.title if metric else name, limit=max(8, width // 2 - 2))
    if metric is None:
        now, total = "-", ""
    elif metric.is_level:
        now, total = fmt.with_unit(metric.value, metric.unit), ""
    else:
        now, total = fmt.pace(metric.rate), fmt.with_unit(metric.value, metric.unit)
    right = f"{now:>10} {total:>8}" if total else f"{now:>19}"
    text.append(f"{title:<{max(1, width - len(right))}}", style="bold")
    text.append(right)
    text.append("\n")
