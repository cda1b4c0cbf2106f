"""The alerts panel: what is wrong now, for how long, and the planned response.

Two modes over the room's snapshot (its `alerts`, already in display order by the recorder):

- full (its own tab): a DataTable keyed by rule name, rows added, removed and re-sorted
  only when the set or the order of alerts changes, cells replaced only when their text
  changed (the age column changes every second, the rest rarely); below it the selected
  alert's detail with its runbook, or the transition history (`h`). Keys act on the
  selected alert: acknowledge, silence, unsilence.
- compact (the Live tab, a strip): counts by state and the top firing alerts, three lines
  inside a border, no keys.

Summaries carry metric values, runbooks come from config and notes are typed by
operators: all of it is data. Cells and detail are `Text` built from plain strings through
`warroom.textsafe.clean`, so `[bold]` stays literal and escape sequences show inert.

`announce()` rings the bell and shows a notification for each critical alert that starts
firing while this screen is open: once per alert episode, remembered per app, so the compact
and the full panel given the same snapshot still ring once.

Keys write commands to the room (`Submit`): an acknowledgement of the episode on screen, a
silence (checked against the rules first, so a typo is refused before it is saved), the end
of a silence. The recorder applies them and every screen shows them with its next snapshot.
"""

from __future__ import annotations

import uuid
import weakref
from collections import deque
from collections.abc import Sequence

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static

from warroom import format as fmt
from warroom.alerts import FIRING, NODATA, PENDING, RESOLVED, AlertView, Silence, format_value, parse_matcher
from warroom.commands import AckAlert, AddSilence, EndSilence
from warroom.config import AlertRuleConfig
from warroom.snapshot import Snapshot
from warroom.store import AlertEvent
from warroom.textsafe import clean
from warroom.views import AlertHistoryQuery
from warroom.widgets.alert_forms import AckForm, AckRequest, SilenceForm, SilenceRequest
from warroom.widgets.messages import Reload, Submit
from warroom.widgets.panel import Panel

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "blue"}
SEVERITY_SHORT = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}
STATE_STYLE = {FIRING: "bold", PENDING: "yellow", NODATA: "magenta", RESOLVED: "green"}
STATE_LABEL = {NODATA: "no data"}
COLUMNS = (("sev", "Sev", 4), ("state", "State", None), ("name", "Alert", None),
           ("age", "For", 7), ("value", "Value", None), ("summary", "Summary", None))
HISTORY_ROWS = 100

# Episodes already announced, per app: (rule, episode) of the last few hundred.
_announced: weakref.WeakKeyDictionary[App, deque[tuple[str, int]]] = weakref.WeakKeyDictionary()


def _cell(value: str, style: str = "") -> Text:
    return Text(value, style=style, no_wrap=True, overflow="ellipsis")


def state_text(view: AlertView) -> str:
    label = STATE_LABEL.get(view.state, view.state)
    if view.no_data and view.state == FIRING:
        label += " (no data)"
    if view.silence is not None:
        return f"{label}, silenced"
    if view.ack is not None:
        return f"{label}, acked"
    return label


def row_cells(view: AlertView, now: float) -> tuple[Text, ...]:
    muted = view.silence is not None or view.ack is not None
    return (
        _cell(SEVERITY_SHORT.get(view.severity, view.severity), SEVERITY_STYLE.get(view.severity, "")),
        _cell(state_text(view), "dim" if muted else STATE_STYLE.get(view.state, "")),
        _cell(clean(view.name, limit=40), "bold" if view.state == FIRING and not muted else ""),
        _cell(fmt.ago(max(0.0, now - view.since_at))),
        _cell(clean(view.value_text, limit=16)),
        _cell(clean(view.summary, limit=120), "dim" if muted else ""),
    )


class AlertsPanel(Widget):
    """The room's alerts; `refresh_from(snapshot, now)` when a snapshot arrives or the clock
    moves, while visible."""

    DEFAULT_CSS = """
    AlertsPanel {
        height: 1fr;
        layout: vertical;
    }
    AlertsPanel.-compact {
        height: auto;
        max-height: 5;
    }
    AlertsPanel.-compact > Panel {
        height: auto;
        max-height: 5;
    }
    AlertsPanel > DataTable {
        height: auto;
        overflow-x: hidden;
        max-height: 60%;
        min-height: 3;
    }
    AlertsPanel > VerticalScroll {
        height: 1fr;
        min-height: 4;
        border: round $primary-darken-1;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1;
    }
    AlertsPanel > VerticalScroll > Static {
        height: auto;
    }
    """

    BINDINGS = [
        Binding("a", "ack", "Ack", id="alerts.ack"),
        Binding("s", "silence", "Silence", id="alerts.silence"),
        Binding("u", "unsilence", "Unsilence", id="alerts.unsilence"),
        Binding("h", "toggle_history", "History", id="alerts.history"),
    ]

    def __init__(self, rules: Sequence[AlertRuleConfig], operator: str, compact: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rules = list(rules)
        self.operator = operator
        self.compact = compact
        self.show_history = False
        self.opened_at: float | None = None
        """The screen's clock at the first refresh: alerts that fired before it do not ring."""
        self._snapshot: Snapshot | None = None
        self._now = 0.0
        self._history: list[AlertEvent] = []
        self._views: dict[str, AlertView] = {}
        self._order: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._selected: str | None = None
        self._detail_shown: Text | None = None
        self._history_shown: Text | None = None
        if compact:
            self.add_class("-compact")

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        if self.compact:
            yield Panel("Alerts", id="alerts-compact")
            return
        table: DataTable = DataTable(id="alerts-table", cursor_type="row", zebra_stripes=False)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        detail = VerticalScroll(Static("", id="alerts-detail-text"), id="alerts-detail")
        detail.border_title = "Selected alert"
        yield detail
        history = VerticalScroll(Static("", id="alerts-history-text"), id="alerts-history")
        history.border_title = "History (h to close)"
        history.display = False
        yield history

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.compact and action in ("ack", "silence", "unsilence", "toggle_history"):
            return False
        return True

    # ------------------------------------------------------------------ rendering

    @property
    def selected(self) -> AlertView | None:
        """The alert under the cursor, as of the last refresh."""
        return self._views.get(self._selected) if self._selected is not None else None

    @property
    def room_query(self) -> AlertHistoryQuery:
        return AlertHistoryQuery(HISTORY_ROWS)

    def show_rows(self, rows: list[AlertEvent]) -> None:
        self._history = rows
        if self.is_mounted and self.show_history:
            self._render_history()

    def show_read_error(self, error: BaseException) -> None:
        self.notify(f"alert history: cannot read the room database: {error}", severity="error", markup=False)

    def refresh_from(self, snapshot: Snapshot | None, now: float) -> None:
        self._snapshot, self._now = snapshot, now
        if self.opened_at is None:
            self.opened_at = now
        if not self.is_mounted:
            return
        views = snapshot.alerts if snapshot is not None else []
        self._views = {v.name: v for v in views}
        if self.compact:
            self._render_compact(views, now)
            return
        self._update_table(views, now)
        if self.show_history:
            self._render_history()
        else:
            self._render_detail(now)

    @property
    def rule_count(self) -> int:
        return self._snapshot.rules if self._snapshot is not None else len(self.rules)

    def _render_compact(self, views: list[AlertView], now: float) -> None:
        panel = self.query_one("#alerts-compact", Panel)
        width = panel.inner_width
        counts: dict[str, int] = {}
        for view in views:
            if view.silence is not None:
                key = "silenced"
            elif view.ack is not None:
                key = "acked"
            else:
                key = STATE_LABEL.get(view.state, view.state)
            counts[key] = counts.get(key, 0) + 1
        text = Text(no_wrap=True, overflow="ellipsis")
        # Acked alerts still burn; they come after the unacked ones (the engine's order).
        firing = [v for v in views if v.state == FIRING and v.silence is None]
        if not views:
            text.append(f"all clear: {self.rule_count} rules watching", style="green")
        for key in ("firing", "pending", "no data", "acked", "silenced", "resolved"):
            if counts.get(key):
                if text.plain:
                    text.append("  ")
                style = "bold red" if key == "firing" else STATE_STYLE.get(key, "dim")
                text.append(f"{counts[key]} {key}", style=style)
        shown = firing[:2]
        for position, view in enumerate(shown):
            text.append("\n")
            text.append(f"{SEVERITY_SHORT[view.severity]} ", style=SEVERITY_STYLE[view.severity])
            text.append(clean(view.name, limit=28), style="bold")
            text.append(f"  {fmt.ago(max(0.0, now - view.since_at))}  {clean(view.value_text, limit=16)}")
            if view.ack is not None:
                text.append(f"  acked by {clean(view.ack.operator, limit=20)}", style="dim")
            more = len(firing) - len(shown)
            if position == len(shown) - 1 and more:
                text.append(f"  +{more} more", style="dim")
            room = width - len(text.plain.rsplit("\n", 1)[-1]) - 2
            if room > 8:
                text.append("  ")
                text.append(clean(view.summary, limit=room), style="dim")
        panel.show(text)

    def _update_table(self, views: list[AlertView], now: float) -> None:
        table = self.query_one("#alerts-table", DataTable)
        order = [v.name for v in views]
        with self.app.batch_update():
            for gone in [name for name in self._cells if name not in self._views]:
                table.remove_row(gone)
                del self._cells[gone]
            for view in views:
                cells = row_cells(view, now)
                old = self._cells.get(view.name)
                if old is None:
                    table.add_row(*cells, key=view.name)
                elif old != cells:
                    for (key, _, width), new, was in zip(COLUMNS, cells, old):
                        if new != was:
                            table.update_cell(view.name, key, new, update_width=width is None)
                self._cells[view.name] = cells
            if order != self._order:
                rank = {clean(name, limit=40): index for index, name in enumerate(order)}
                table.sort("name", key=lambda cell: rank.get(cell.plain, len(rank)))
                self._order = order
            self._follow_selection(table, order)

    def _follow_selection(self, table: DataTable, order: list[str]) -> None:
        """Keep the cursor on the selected alert when rows move; pick a neighbour if it left."""
        if not order:
            self._selected = None
            return
        if self._selected in self._views:
            index = order.index(self._selected)
        else:
            index = min(max(0, table.cursor_row), len(order) - 1)
            self._selected = order[index]
        if table.cursor_row != index:
            table.move_cursor(row=index, scroll=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        name = event.row_key.value
        if name is not None and name != self._selected:
            self._selected = name
            if not self.show_history:
                self._render_detail(self._now)

    def _render_detail(self, now: float) -> None:
        view = self.selected
        text = Text()
        if view is None:
            text.append("No active alerts. ", style="green")
            text.append(f"{self.rule_count} rules watching; ", style="dim")
            text.append("h shows the history.", style="dim")
        else:
            detail_lines(text, view, now)
        if text != self._detail_shown:
            self._detail_shown = text
            self.query_one("#alerts-detail-text", Static).update(text)

    def _render_history(self) -> None:
        text = Text()
        items = self._history
        if not items:
            text.append("No transitions yet.", style="dim")
        for index, item in enumerate(items):
            if index:
                text.append("\n")
            history_line(text, item)
        if text != self._history_shown:
            self._history_shown = text
            self.query_one("#alerts-history-text", Static).update(text)

    # ------------------------------------------------------------------ announcements

    def announce(self, snapshot: Snapshot, now: float) -> list[AlertView]:
        """Bell once and a notification per critical alert that started firing since this
        screen opened and is neither silenced nor acknowledged. Returns those announced now."""
        if self.opened_at is None:
            self.opened_at = now
        seen = _announced.setdefault(self.app, deque(maxlen=512))
        fresh = []
        for view in snapshot.alerts:
            if view.state != FIRING or view.severity != "critical" or view.silence is not None:
                continue
            key = (view.name, view.episode)
            if key in seen or view.ack is not None or view.since_at < self.opened_at - 2.0:
                continue
            seen.append(key)
            fresh.append(view)
        if fresh:
            self.app.bell()
        for view in fresh:
            self.app.notify(f"CRITICAL {clean(view.name, limit=60)}: {clean(view.summary, limit=200)}",
                            severity="error", markup=False)
        return fresh

    # ------------------------------------------------------------------ actions

    def _error(self, message: object) -> None:
        self.notify(clean(message, limit=300), severity="error", markup=False)

    def action_ack(self) -> None:
        view = self.selected
        if view is None:
            self.notify("No alert selected", severity="warning", markup=False)
            return
        name = view.name

        def done(request: AckRequest | None) -> None:
            if request is not None:
                self.post_message(Submit(AckAlert(operator=self.operator, rule=name, note=request.note)))

        self.app.push_screen(AckForm(name, view.summary), done)

    def action_silence(self) -> None:
        view = self.selected
        matcher = f"name={view.name}" if view is not None else ""

        def done(request: SilenceRequest | None) -> None:
            if request is None:
                return
            try:
                command = self._silence_command(request)
            except ValueError as exc:
                self._error(exc)
                return
            self.post_message(Submit(command))

        self.app.push_screen(SilenceForm(matcher, view.name if view is not None else ""), done)

    def _silence_command(self, request: SilenceRequest) -> AddSilence:
        """The silence, checked as the recorder will apply it: a matcher that matches a
        rule, a comment, a positive duration."""
        matchers = parse_matcher(request.matcher)
        comment = request.comment.strip()
        if not comment:
            raise ValueError("a silence needs a comment saying why")
        if not request.duration_s > 0:
            raise ValueError("a silence needs a positive duration")
        now = self._now  # the screen's clock, the one the recorder runs on
        silence = Silence(uuid.uuid4().hex[:8], matchers, now + request.duration_s, comment, self.operator, now)
        if not any(silence.matches(rule) for rule in self.rules):
            raise ValueError(f"silence {silence.describe()} matches no alert rule")
        return AddSilence(operator=self.operator, at=now, silence_id=silence.id, matchers=matchers,
                          until=silence.until, comment=comment)

    def action_unsilence(self) -> None:
        view = self.selected
        if view is None or view.silence is None:
            self.notify("The selected alert is not silenced", severity="warning", markup=False)
            return
        self.post_message(Submit(EndSilence(operator=self.operator, silence_id=view.silence.id)))

    def action_toggle_history(self) -> None:
        self.show_history = not self.show_history
        self.query_one("#alerts-history").display = self.show_history
        self.query_one("#alerts-detail").display = not self.show_history
        self._detail_shown = self._history_shown = None
        if self.show_history:
            self.post_message(Reload(self))
        self.refresh_from(self._snapshot, self._now)


def detail_lines(text: Text, view: AlertView, now: float) -> None:
    """The selected alert: what, since when, the runbook first, then the particulars."""
    text.append(f"{SEVERITY_SHORT.get(view.severity, view.severity)} ", style=SEVERITY_STYLE.get(view.severity, ""))
    text.append(clean(view.name, limit=80), style="bold")
    since = fmt.ago(max(0.0, now - view.since_at))
    text.append(f"  {state_text(view)} for {since}  value {clean(view.value_text, limit=24)}\n")
    text.append(clean(view.summary, limit=400))
    text.append("\n")
    text.append(" RUNBOOK ", style="bold reverse")
    text.append(" ")
    if view.runbook.strip():
        for index, line in enumerate(part for part in view.runbook.strip().splitlines() if part.strip()):
            if index:
                text.append("\n          ")
            text.append(clean(line.strip(), limit=400), style="bold")
    else:
        text.append("none written for this rule", style="dim")
    text.append("\n")
    _field(text, "expr", clean(view.expr, limit=300))
    if view.labels:
        _field(text, "labels", clean(", ".join(f"{k}={v}" for k, v in sorted(view.labels.items())), limit=300))
    if view.ack is not None:
        ack = view.ack
        line = f"acked by {clean(ack.operator, limit=40)} at {fmt.clock_time(ack.at)}"
        if ack.note:
            line += f": {clean(ack.note, limit=300)}"
        _field(text, "ack", line)
    if view.silence is not None:
        silence = view.silence
        _field(text, "silence",
               f"{clean(silence.describe(), limit=80)} until {fmt.clock_time(silence.until)} "
               f"by {clean(silence.operator, limit=40)}: {clean(silence.comment, limit=300)}")
    text.rstrip()


def _field(text: Text, label: str, value: str) -> None:
    text.append(f"{label:<8}", style="dim")
    text.append(value)
    text.append("\n")


def history_line(text: Text, item: AlertEvent) -> None:
    text.append(f"{fmt.clock_time(item.ts)} ", style="dim")
    text.append(f"{SEVERITY_SHORT.get(item.severity, item.severity)} ", style=SEVERITY_STYLE.get(item.severity, ""))
    text.append(f"{clean(item.rule, limit=30)} ", style="bold")
    text.append(f"{item.event:<10} {format_value(item.value):>8}")
    if item.operator:
        text.append(f"  {clean(item.operator, limit=30)}", style="cyan")
    if item.note:
        text.append(f"  {clean(item.note, limit=200)}", style="dim")
