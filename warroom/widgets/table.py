"""The table every operations panel uses: keyed rows updated in place, columns fitted.

`KeyedTable` owns the in-place row sync (only cells whose text or style changed are
written, inside one `batch_update`), keeps the cursor on the same row when rows move, and
fits the columns to the width so every column stays visible at 80 columns. `Summary` is
the one-line figure strip above a table.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static, Tabs

from warroom.store import RoomStore, StoreError

STALE_AFTER = 1.5
"""Seconds without a tick after which a panel re-reads the store (it was hidden)."""


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




class StoreTablePanel(Vertical):
    """A panel of rows from the room store: a Summary line over a KeyedTable.

    The app calls `refresh_from(now, launch_at, changed)` on its tick; the panel re-reads the
    store (`_read`, implemented by each panel) only when the store changed, when it comes
    back into view, or after a pause in ticks. A failed read is shown once, not every tick,
    and the panel keeps the rows it had.
    """

    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()
    WHAT: ClassVar[str] = "panel"  # names the panel in messages

    def __init__(self, store: RoomStore, operator: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.operator = operator
        self._stale = True
        self._read_failed = False
        self._last_tick = 0.0

    def compose(self) -> ComposeResult:
        yield Summary()
        yield KeyedTable(self.COLUMNS)

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def focus(self, scroll_visible: bool = True) -> StoreTablePanel:
        self.table.focus(scroll_visible)
        return self

    def on_show(self) -> None:
        self._stale = True
        focused = self.screen.focused
        if focused is None or isinstance(focused, Tabs):
            self.table.focus()

    def _reload_if_due(self, changed: bool) -> bool:
        """Re-read when needed; True when the store was read."""
        tick = time.monotonic()
        due = changed or self._stale or tick - self._last_tick > STALE_AFTER
        self._last_tick = tick
        if not due:
            return False
        try:
            self._read()
        except (StoreError, sqlite3.Error) as exc:
            if not self._read_failed:  # once, not on every tick
                self.notify(f"{self.WHAT}: cannot read the room database: {exc}", severity="error", markup=False)
            self._read_failed = True
            return False
        self._read_failed = False
        self._stale = False
        return True

    def _read(self) -> None:
        raise NotImplementedError
