"""The table every operations panel uses: keyed rows updated in place, columns fitted.

`KeyedTable` owns the in-place row sync (only cells whose text or style changed are
written, inside one `batch_update`), keeps the cursor on the same row when rows move, and
fits the columns to the width so every column stays visible at 80 columns. `Summary` is
the one-line figure strip above a table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static, Tabs

from warroom.commands import Command
from warroom.views import Query
from warroom.widgets.messages import Submit


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    min: int
    max: int | None = None
    """None: this column takes the width the others leave."""


def allocate(specs: Sequence[ColumnSpec], width: int) -> list[int]:
    """Content widths for the columns in `width` cells (one cell of gap after each).

    Fixed columns get their minimum, then grow in order up to their maximum while the flexible
    columns keep their minimum; the flexible columns share whatever is left."""
    budget = width - len(specs)
    widths = [s.min for s in specs]
    flex = [i for i, s in enumerate(specs) if s.max is None]
    spare = budget - sum(widths)
    for i, spec in enumerate(specs):
        if spare <= 0:
            break
        if spec.max is not None:
            grow = min(spare, spec.max - spec.min)
            widths[i] += grow
            spare -= grow
    for n, i in enumerate(flex):
        if spare <= 0:
            break
        share = spare // (len(flex) - n)
        widths[i] += share
        spare -= share
    return widths


Cell = tuple[str, str]
"""A cell as panels describe it: (plain text, style). Cheap to build and compare on every
tick; the table makes a rich Text only for the cells that changed."""


def cell(text: str, style: str = "") -> Cell:
    return text, style


def _signature(value: Text) -> tuple[object, ...]:
    return value.plain, str(value.style), tuple(value.spans)


class KeyedTable(DataTable):
    """A row-cursor DataTable whose rows are keyed and updated in place by `sync`.

    Each cell is cut to its column's width (with an ellipsis) one cell short of the column,
    so neighbouring columns never run together; the full cells are kept to re-cut on resize."""

    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[ColumnSpec], **kwargs) -> None:
        super().__init__(cursor_type="row", cell_padding=0, **kwargs)
        self.specs = tuple(columns)
        self._widths: list[int] | None = None
        self._full: dict[str, tuple[Cell, ...]] = {}
        """The cells as given, per row key."""
        self._placed: dict[str, list[Text]] = {}
        """The Text objects the DataTable holds, cut to the column width, per row key."""
        self._order: list[str] = []

    def on_mount(self) -> None:
        self._fit(self.size.width or 80)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not self.row_count or not self._order:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        return self.coordinate_to_cell_key((row, 0)).row_key.value

    def select_key(self, key: str) -> None:
        if key in self._placed:
            index = self.get_row_index(key)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False)

    def shown(self, key: str) -> tuple[Cell, ...] | None:
        """The full (uncut) cells of a row."""
        return self._full.get(key)

    def _cut(self, index: int, value: Cell) -> Text:
        """The cell as Text, made from a plain string (never markup), cut to fit its column."""
        text, style = value
        result = Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")
        if self._widths and result.cell_len > self._widths[index]:
            result.truncate(self._widths[index], overflow="ellipsis")
        return result

    def _fit(self, width: int) -> None:
        """Lay the columns out for `width`; rebuilt only when the widths change (a resize)."""
        widths = allocate(self.specs, width - self.styles.scrollbar_size_vertical)
        if widths == self._widths:
            return
        selected = self.selected_key
        self._widths = widths
        with self.app.batch_update():
            self.clear(columns=True)
            for spec, content in zip(self.specs, widths):
                self.add_column(Text(spec.label, style="bold"), width=content + 1, key=spec.key)
            for key in self._order:
                self._placed[key] = [self._cut(i, c) for i, c in enumerate(self._full[key])]
                self.add_row(*self._placed[key], key=key)
            if selected is not None:
                self.select_key(selected)

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Show `rows` (key, cells) in this order, writing only the cells that changed."""
        if self._widths is None:
            self._fit(self.size.width or 80)
        wanted = [key for key, _ in rows]
        wanted_set = set(wanted)
        selected = self.selected_key
        with self.app.batch_update():
            for key in [key for key in self._order if key not in wanted_set]:
                self.remove_row(key)
                del self._full[key], self._placed[key]
            order = [key for key in self._order if key in wanted_set]
            for key, cells in rows:
                cells = tuple(cells)
                old = self._full.get(key)
                if old is None:
                    self._placed[key] = [self._cut(i, c) for i, c in enumerate(cells)]
                    self.add_row(*self._placed[key], key=key)
                    order.append(key)
                elif old != cells:
                    placed = self._placed[key]
                    for index, (was, now) in enumerate(zip(old, cells)):
                        if was != now:
                            placed[index] = self._cut(index, now)
                            self.update_cell(key, self.specs[index].key, placed[index])
                self._full[key] = cells
            if order != wanted:
                # Sort by the identity of each row's first cell: the table holds exactly the
                # objects in self._placed, and identity is unique where the text is not.
                rank = {id(self._placed[key][0]): index for index, key in enumerate(wanted)}
                self.sort(self.specs[0].key, key=lambda first: rank[id(first)])
            self._order = wanted
            if selected is not None and selected in wanted_set:
                self.select_key(selected)


class Summary(Static):
    """The one-line summary above a table; updated only when its text changed."""

    DEFAULT_CSS = """
    Summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._shown: Text | None = None

    def show(self, text: Text) -> None:
        if self._shown is None or _signature(text) != _signature(self._shown):
            self._shown = text
            self.update(text)

    @property
    def plain(self) -> str:
        return self._shown.plain if self._shown is not None else ""


class RoomTablePanel(Vertical):
    """A panel of rows from the room: a Summary line over a KeyedTable.

    The panel only says what it wants to see (`query`, see warroom.views); the app has the
    room's door read it, off the screen's event loop, when the room changed or the panel
    comes into view, and hands the rows to `show_rows`. Between reads `tick` redraws the
    countdowns from the rows it has. A failed read is shown once, not on every change, and
    the panel keeps the rows it had. Keys that write post a `Submit` with the command.
    """

    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()
    WHAT: ClassVar[str] = "panel"  # names the panel in messages

    def __init__(self, operator: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.operator = operator
        self.now = time.time()
        self.launch_at: float | None = None
        self._read_failed = False

    def compose(self) -> ComposeResult:
        yield Summary()
        yield KeyedTable(self.COLUMNS)

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    @property
    def room_query(self) -> Query:
        """What this panel reads from the room."""
        raise NotImplementedError

    def focus(self, scroll_visible: bool = True) -> RoomTablePanel:
        self.table.focus(scroll_visible)
        return self

    def on_show(self) -> None:
        focused = self.screen.focused
        if focused is None or isinstance(focused, Tabs):
            self.table.focus()

    def show_rows(self, rows: Any) -> None:
        self._read_failed = False
        self._take(rows)
        if self.is_mounted:
            self._redraw()

    def show_read_error(self, error: BaseException) -> None:
        if not self._read_failed:  # once, not on every change
            self.notify(f"{self.WHAT}: cannot read the room database: {error}", severity="error", markup=False)
        self._read_failed = True

    def tick(self, now: float, launch_at: float | None) -> None:
        """The clock moved: redraw what depends on it (countdowns, ages)."""
        self.now, self.launch_at = now, launch_at
        self._redraw()

    def submit(self, command: Command) -> None:
        self.post_message(Submit(command))

    def _take(self, rows: Any) -> None:
        raise NotImplementedError

    def _redraw(self) -> None:
        raise NotImplementedError
