"""The base of every live panel, and the metric rows they share.

Panels build a `rich.text.Text` by appending plain strings (never markup), and only call
`update` when the text changed, so an idle dashboard sends no bytes to the terminal.

Metric rows are laid out by cells, values first: each row is a mark for its level (see
`tones.GLYPH`), the title, the current value (a rate, in one rate unit for the whole
column, or a level such as 35.0%) and the total since launch. The value columns take the
width their widest value needs and the title gets what is left, so a narrow panel cuts
titles, never numbers; when even that is too tight the totals go first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from warroom import format as fmt
from warroom.snapshot import Snapshot
from warroom.textsafe import cell_width, clean, fit
from warroom.widgets.tones import GLYPH, level_tone, tones

MIN_TITLE = 6
"""Cells a title keeps before the totals column is given up for it."""


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

    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.border_title = title
        self._shown: Text | None = None

    @property
    def inner_width(self) -> int:
        """Columns available for content (at least 20 so a hidden panel still renders)."""
        return max(20, self.content_size.width)

    @property
    def inner_height(self) -> int:
        """Rows available for content (at least 3 so a hidden panel still renders)."""
        return max(3, self.content_size.height)

    @property
    def tones(self) -> dict[str, str]:
        return tones(self.app)

    def show(self, text: Text) -> None:
        lines = len(text.plain.splitlines())
        short = self._short_of(lines)
        if self._shown is None or text != self._shown or short:
            # A reflow of the whole screen is the main cost of an update: only ask for one
            # when the panel's height may change.
            relayout = self._shown is None or short or lines != len(self._shown.plain.splitlines())
            self._shown = text
            self.update(text, layout=relayout)

    def _short_of(self, lines: int) -> bool:
        """Whether this auto-height panel is laid out shorter than `lines` of text, and not
        because its max-height holds it. Its first text can arrive while the screen is still
        being laid out at start-up, and the reflow it asked for is then lost now and then;
        the same text never asks again, so the box would stay short."""
        height, size = self.styles.height, self.content_size
        if height is None or not height.is_auto or not size.width or size.height >= lines:
            return False
        cap = self.styles.max_height
        if cap is None:
            return True
        container = self.parent.size if isinstance(self.parent, Widget) else self.app.size
        return self.outer_size.height < cap.resolve(container, self.app.size)


@dataclass(frozen=True, slots=True)
class MetricRow:
    level: str
    title: str
    now: str
    """The current pace (12/s) or level (35.0%)."""
    total: str = ""
    """Since launch, for counts and sums."""


def metric_rows(snapshot: Snapshot, names: Sequence[str]) -> list[MetricRow]:
    """One row per metric, the rates in one unit for the whole column (chosen by the counts:
    money per second is another quantity, shown in the same unit)."""
    views = [snapshot.metric(name) for name in names]
    unit = fmt.rate_unit(v.rate for v in views if v is not None and not v.is_level and v.unit != "currency")
    rows = []
    for name, view in zip(names, views, strict=True):
        if view is None:
            rows.append(MetricRow("", clean(name), fmt.NO_DATA))
            continue
        value = fmt.with_unit(view.value, view.unit, snapshot.currency)
        if view.is_level:
            rows.append(MetricRow(view.level, clean(view.title), value))
        else:
            currency = snapshot.currency if view.unit == "currency" else None
            rows.append(MetricRow(view.level, clean(view.title), fmt.rate(view.rate, unit, currency), value))
    return rows


class RowLayout:
    """Column widths for a set of metric rows (see the module docstring)."""

    def __init__(self, rows: Sequence[MetricRow], width: int) -> None:
        self.glyph = len(GLYPH[""]) if any(row.level for row in rows) else 0
        self.now = max((cell_width(row.now) for row in rows), default=0)
        self.total = max((cell_width(row.total) for row in rows), default=0)
        self.title = width - self.glyph - self.now - 1 - (self.total + 1 if self.total else 0)
        if self.title < MIN_TITLE and self.total:
            self.total = 0
            self.title = width - self.glyph - self.now - 1

    def write(self, text: Text, rows: Sequence[MetricRow], palette: dict[str, str]) -> None:
        for row in rows:
            tone = palette.get(level_tone(row.level), "")
            if self.glyph:
                text.append(GLYPH[row.level if row.level in GLYPH else ""], style=tone)
            if self.title > 0:
                text.append(fit(row.title, self.title) + " ", style="bold")
            text.append(fit(row.now, self.now, ">"), style=tone)
            if self.total:
                text.append(" " + fit(row.total, self.total, ">"))
            text.append("\n")


def write_rows(text: Text, rows: Sequence[MetricRow], width: int, palette: dict[str, str]) -> None:
    """`rows` as lines of `width` cells, in columns of their own."""
    RowLayout(rows, width).write(text, rows, palette)
