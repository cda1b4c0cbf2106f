"""The table every operations panel uses: keyed rows updated in place, columns fitted.

`KeyedTable` owns the in-place row sync (only cells whose text or style changed are
written, inside one `batch_update`), keeps the cursor on the same row when rows move, and
fits the columns to the width by cells:

- a column with a maximum takes the width its widest cell needs, between its minimum and
  its maximum; the flexible columns (no maximum: a subject, a title) share the rest;
- when the flexible columns would get less than they `want`, the columns marked `drop`
  are left out, highest first (a ticket's customer and category at 80 columns), so the
  subject is read rather than nine columns of "Re…";
- `update_rows` rewrites only the rows it is given, and `in_view` says which rows are on
  screen, so a panel refreshes the countdowns of the rows in view on every tick and the
  others when they scroll into view: per-tick work is bounded by the screen, not the queue.

`Summary` is the one-line figure strip above a table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static, Tabs
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from warroom.commands import Command
from warroom.textsafe import cell_width
from warroom.views import Query
from warroom.widgets.messages import Submit


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    min: int
    max: int | None = None
    """None: this column takes the width the others leave."""
    want: int = 0
    """A flexible column's width below which `drop` columns are given up for it."""
    drop: int = 0
    """0: always shown; otherwise left out on a narrow table, the highest first."""


def allocate(specs: Sequence[ColumnSpec], width: int, content: Sequence[int] | None = None) -> list[int]:
    """Content widths for the columns in `width` cells (one cell of gap after each); 0 for
    a column left out.

    Fixed columns get their minimum, then grow in order up to their content (default: their
    maximum); the flexible columns share whatever is left. While a flexible column would get
    less than it wants, the column with the highest `drop` is left out and the rest laid
    out again."""
    content = list(content) if content is not None else [s.max or s.min for s in specs]
    shown = list(range(len(specs)))
    while True:
        widths = _lay_out(specs, shown, width, content)
        short = any(specs[i].max is None and widths[i] < specs[i].want for i in shown)
        droppable = [i for i in shown if specs[i].drop]
        if not short or not droppable:
            return widths
        shown.remove(max(droppable, key=lambda i: specs[i].drop))


def _lay_out(specs: Sequence[ColumnSpec], shown: list[int], width: int, content: list[int]) -> list[int]:
    widths = [0] * len(specs)
    for i in shown:
        widths[i] = specs[i].min
    spare = width - len(shown) - sum(widths)
    for i in shown:
        spec = specs[i]
        if spare <= 0:
            break
        if spec.max is not None:
            grow = min(spare, max(0, min(spec.max, content[i]) - spec.min))
            widths[i] += grow
            spare -= grow
    flex = [i for i in shown if specs[i].max is None]
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
    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False, id="table.top"),
        Binding("end", "scroll_bottom", "Last row", show=False, id="table.bottom"),
    ]

    def __init__(self, columns: Sequence[ColumnSpec], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", cell_padding=0, **kwargs)
        self.touched_at = 0.0
        """Monotonic time the operator last moved the cursor (keys or mouse)."""
        self.specs = tuple(columns)
        self._width = 0
        self._widths: list[int] | None = None
        self._content = [len(s.label) for s in self.specs]
        """The widest cell seen per column (labels included), for sizing to content."""
        self._full: dict[str, tuple[Cell, ...]] = {}
        """The cells as given, per row key."""
        self._placed: dict[str, list[Text]] = {}
        """The Text objects the DataTable holds (shown columns only), per row key."""
        self._order: list[str] = []
        self._stale_cells: set[tuple[RowKey, ColumnKey]] = set()

    def on_mount(self) -> None:
        self._fit(self.size.width or 80)

    # The operator's own moves, told apart from the table following its rows.
    def _touch(self) -> None:
        self.touched_at = time.monotonic()

    def action_cursor_up(self) -> None:
        self._touch()
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._touch()
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self._touch()
        super().action_page_up()

    def action_page_down(self) -> None:
        self._touch()
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self._touch()
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self._touch()
        super().action_scroll_bottom()

    async def _on_click(self, event: events.Click) -> None:
        self._touch()
        await super()._on_click(event)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    @property
    def shown_specs(self) -> list[ColumnSpec]:
        """The columns on screen (the others were left out for width)."""
        return [s for s, w in zip(self.specs, self._widths or [], strict=False) if w]

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not self.row_count or not self._order:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    @property
    def keys(self) -> list[str]:
        """Every row's key, top to bottom."""
        return list(self._order)

    def select_key(self, key: str) -> None:
        if key in self._placed:
            index = self.get_row_index(key)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False)

    def in_view(self) -> list[str]:
        """The keys of the rows on screen now (every row is one line high)."""
        first = int(self.scroll_y)
        height = max(1, self.scrollable_content_region.height - (1 if self.show_header else 0))
        return self._order[first : first + height + 1]

    def shown(self, key: str) -> tuple[Cell, ...] | None:
        """The full (uncut) cells of a row."""
        return self._full.get(key)

    def _shown_cells(self, cells: Sequence[Cell]) -> list[tuple[int, Cell]]:
        widths = self._widths or [1] * len(self.specs)
        return [(i, c) for i, c in enumerate(cells) if widths[i]]

    def _cut(self, index: int, value: Cell) -> Text:
        """The cell as Text, made from a plain string (never markup), cut to fit its column."""
        text, style = value
        result = Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")
        if self._widths and result.cell_len > self._widths[index]:
            result.truncate(self._widths[index], overflow="ellipsis")
        return result

    def _fit(self, width: int) -> None:
        """Lay the columns out for `width`; rebuilt only when the widths change."""
        self._width = width
        widths = allocate(self.specs, width - self.styles.scrollbar_size_vertical, self._content)
        if widths == self._widths:
            return
        selected = self.selected_key
        self._widths = widths
        with self.app.batch_update():
            self.clear(columns=True)
            for spec, content in zip(self.specs, widths, strict=True):
                if content:
                    self.add_column(Text(spec.label, style="bold"), width=content + 1, key=spec.key)
            for key in self._order:
                self._placed[key] = [self._cut(i, c) for i, c in self._shown_cells(self._full[key])]
                self.add_row(*self._placed[key], key=key)
            if selected is not None:
                self.select_key(selected)

    def _measure(self, cells: Sequence[Cell]) -> bool:
        """Widen the content widths for these cells; True when a shown fixed column grew."""
        grew = False
        for i, (text, _) in enumerate(cells):
            width = cell_width(text)
            if width > self._content[i]:
                self._content[i] = width
                spec = self.specs[i]
                grew = grew or (spec.max is not None and self._widths is not None and self._widths[i] < spec.max)
        return grew

    def sync(self, rows: Sequence[tuple[str, Sequence[Cell]]], follow_top: bool = False) -> None:
        """Show `rows` (key, cells) in this order, writing only the cells that changed.
        With `follow_top`, a cursor on the first row stays on the first row (new rows arrive
        under it) instead of following its row down."""
        if self._widths is None:
            self._fit(self.size.width or 80)
        grew = False
        for _, cells in rows:
            grew = self._measure(cells) or grew
        if grew:
            self._fit(self._width or self.size.width or 80)
        wanted = [key for key, _ in rows]
        wanted_set = set(wanted)
        selected = self.selected_key
        at_top = follow_top and self.cursor_row <= 0
        with self.app.batch_update():
            for key in [key for key in self._order if key not in wanted_set]:
                self.remove_row(key)
                del self._full[key], self._placed[key]
            order = [key for key in self._order if key in wanted_set]
            for key, cells in rows:
                cells = tuple(cells)
                if key not in self._full:
                    self._placed[key] = [self._cut(i, c) for i, c in self._shown_cells(cells)]
                    self.add_row(*self._placed[key], key=key)
                    order.append(key)
                    self._full[key] = cells
                else:
                    self._write(key, cells)
            if order != wanted:
                # Sort by the identity of each row's first cell: the table holds exactly the
                # objects in self._placed, and identity is unique where the text is not.
                rank = {id(self._placed[key][0]): index for index, key in enumerate(wanted)}
                self.sort(self.shown_specs[0].key, key=lambda first: rank[id(first)])
            self._order = wanted
            self._forget_stale()
            if at_top and wanted:
                self.move_cursor(row=0, animate=False)
            elif selected is not None and selected in wanted_set:
                self.select_key(selected)

    def update_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Rewrite the cells of rows already shown (others are ignored); order unchanged."""
        grew = False
        for _, cells in rows:
            grew = self._measure(cells) or grew
        if grew:
            self._fit(self._width or self.size.width or 80)
        with self.app.batch_update():
            for key, cells in rows:
                if key in self._full:
                    self._write(key, tuple(cells))
            self._forget_stale()

    def _write(self, key: str, cells: tuple[Cell, ...]) -> None:
        old = self._full[key]
        if old == cells:
            return
        placed = self._placed[key]
        for position, (index, now) in enumerate(self._shown_cells(cells)):
            if old[index] != now:
                placed[position] = self._cut(index, now)
                self.update_cell(key, self.specs[index].key, placed[position])
        self._full[key] = cells

    def update_cell(self, row_key: Any, column_key: Any, value: Any, *, update_width: bool = False) -> None:
        """DataTable's update_cell, without making every cell of the table render again.

        DataTable keys its render caches on one counter that any change bumps, so a new
        age in one row re-renders every visible cell, which is most of what a refresh costs.
        The columns here have fixed widths and every row is one line high, so a changed cell
        only needs its own render and its row's forgotten (`_forget_stale`, once per batch).
        tests/ui/test_bounded.py checks the screen shows the new text."""
        if update_width or not isinstance(row_key, str) or not isinstance(column_key, str):
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        row, column = RowKey(row_key), ColumnKey(column_key)
        if row not in self._row_locations or column not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        self._data[row][column] = value
        self._stale_cells.add((row, column))

    def _forget_stale(self) -> None:
        """Drop the cached renders of the cells that changed and of their rows (see
        `update_cell`), then redraw."""
        if not self._stale_cells:
            return
        rows = {row for row, _ in self._stale_cells}
        cells, rendered = self._cell_render_cache, self._row_render_cache
        for cell_key in [k for k in tuple(cells.keys()) if (k[0], k[1]) in self._stale_cells]:
            cells.discard(cell_key)
        for row_key in [k for k in tuple(rendered.keys()) if k[0] in rows]:
            rendered.discard(row_key)
        for row in rows:
            location = self._row_locations.get(row)
            if location is not None:
                self._row_renderable_cache.discard((self._update_count, location))
        self._stale_cells.clear()
        self._line_cache.clear()  # lines are rebuilt from the row renders, most of them cached
        self.refresh()


class Summary(Static):
    """The one-line summary above a table; updated only when its text changed."""

    DEFAULT_CSS = """
    Summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kwargs: Any) -> None:
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
    comes into view, and hands the rows to `show_rows` (after `prepare`, which runs on the
    door's thread: sorting a big queue there keeps the screen free). Between reads `tick`
    redraws the countdowns from the rows it has. A failed read is shown once, not on every
    change, and the panel keeps the rows it had. Keys that write post a `Submit` with the
    command.
    """

    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()
    WHAT: ClassVar[str] = "panel"  # names the panel in messages

    def __init__(self, operator: str, **kwargs: Any) -> None:
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

    def prepare(self, rows: Any) -> Any:
        """What `show_rows` gets for the rows read; runs on the door's thread, so it must not
        touch widgets (default: the rows as read)."""
        return rows

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
