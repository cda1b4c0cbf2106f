"""The alerts panel: what is wrong now, for how long, and the planned response.

Two modes over the room's snapshot (its `alerts`, already in display order by the recorder):

- full (its own tab): a `KeyedTable` keyed by rule name; below it the selected alert's
  detail with its runbook, or the transition history (`h`, values in each rule's unit).
  Keys act on the alert under the cursor: acknowledge, silence, unsilence. Between them,
  when the room sends notifications, each receiver's deliveries (widgets/deliveries.py);
  an alert whose notifications are inhibited stays in the table, dimmed, saying by which.
- compact (on the Live tab): every firing alert, one line each, then the pending ones, as
  many as the strip has lines for (more on a taller terminal), with the counts by state in
  its border; no keys.

The row under the cursor stays put while an operator acts on it. The recorder re-sorts
alerts as they change state, and a row moving under the cursor is how an ack lands on the
wrong alert; so while the operator is moving through the table (HOLD seconds after their
last cursor move) or has a form open, the table keeps its order: rows are updated in place,
new alerts are added at the bottom and alerts that ended stay, marked "ended", until the
table is let go. An ack form follows its alert: if the alert resolves while the note is
being typed, the form says so and keeps the note, which Save then writes to the log
instead; a refused ack keeps its note for the next try.

Per refresh, only the rows in view are rebuilt, and of those only the cells that changed
are written; a row out of view catches up at the first refresh after it scrolls in. The
whole table is rebuilt only when the set of alerts or their order changes. A thousand
rules cost what a screenful costs.

Summaries carry metric values, runbooks come from config and notes are typed by
operators: all of it is data. Cells and detail are built from plain strings through
`warroom.textsafe.clean`, so `[bold]` stays literal and escape sequences show inert.

`announce()` rings the bell and shows a notification for each critical alert that starts
firing while this screen is open: once per alert episode, remembered per app, so the compact
and the full panel given the same snapshot still ring once.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static

from warroom import format as fmt
from warroom.alerts import FIRING, NODATA, PENDING, RESOLVED, AlertView, Silence, parse_matcher
from warroom.commands import AckAlert, AddLogEntry, AddSilence, EndSilence
from warroom.config import AlertRuleConfig
from warroom.snapshot import Snapshot
from warroom.store import AlertEvent
from warroom.textsafe import clean
from warroom.views import AlertHistoryQuery
from warroom.widgets.alert_forms import AckForm, AckRequest, SilenceForm, SilenceRequest
from warroom.widgets.deliveries import DeliveriesPanel
from warroom.widgets.messages import Reload, Submit
from warroom.widgets.panel import Panel
from warroom.widgets.table import Cell, ColumnSpec, KeyedTable, cell
from warroom.widgets.tones import SEVERITY_TONE, tones

SEVERITY_SHORT = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}
STATE_LABEL = {NODATA: "no data"}
STATE_TONE = {FIRING: "crit", PENDING: "warn", NODATA: "warn", RESOLVED: "ok"}
COLUMNS = (
    ColumnSpec("sev", "Sev", 4, 4),
    ColumnSpec("state", "State", 6, 40),
    ColumnSpec("name", "Alert", 10, 32),
    ColumnSpec("age", "For", 5, 7),
    ColumnSpec("value", "Value", 5, 14),
    ColumnSpec("summary", "Summary", 10),
)
HISTORY_ROWS = 100
HOLD = 10.0
"""Seconds after the operator's last cursor move during which rows keep their places."""

# Episodes already announced, per app: (rule, episode) of the last few hundred.
_announced: weakref.WeakKeyDictionary[App, deque[tuple[str, int]]] = weakref.WeakKeyDictionary()


def state_text(view: AlertView, inhibited_by: str | None = None) -> str:
    label = STATE_LABEL.get(view.state, view.state)
    if view.no_data and view.state == FIRING:
        label += " (no data)"
    if inhibited_by is not None:
        return f"{label}, inhibited by {inhibited_by}"
    if view.silence is not None:
        return f"{label}, silenced"
    if view.ack is not None:
        return f"{label}, acked"
    return label


def row_cells(
    view: AlertView, now: float, palette: dict[str, str], inhibited_by: str | None = None
) -> tuple[Cell, ...]:
    """An inhibited alert stays in the table, dimmed, with the alert that inhibits it."""
    muted = view.silence is not None or view.ack is not None or inhibited_by is not None
    state_tone = "muted" if muted else STATE_TONE.get(view.state, "")
    return (
        cell(SEVERITY_SHORT.get(view.severity, view.severity), palette.get(SEVERITY_TONE.get(view.severity, ""), "")),
        cell(state_text(view, inhibited_by), palette.get(state_tone, "")),
        cell(clean(view.name, limit=40), "bold" if view.state == FIRING and not muted else ""),
        cell(fmt.ago(max(0.0, now - view.since_at))),
        cell(clean(view.value_text, limit=16)),
        cell(clean(view.summary, limit=120), "dim" if muted else ""),
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
    }
    AlertsPanel.-compact > Panel {
        height: auto;
    }
    AlertsPanel > KeyedTable {
        height: auto;
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

    def __init__(self, rules: Sequence[AlertRuleConfig], operator: str, compact: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rules = list(rules)
        self.operator = operator
        self.compact = compact
        self.show_history = False
        self.opened_at: float | None = None
        """The screen's clock at the first refresh: alerts that fired before it do not ring."""
        self.lines = 3
        """Lines the compact strip may use (the app sets it from the terminal's height)."""
        self._snapshot: Snapshot | None = None
        self._now = 0.0
        self._history: list[AlertEvent] = []
        self._views: dict[str, AlertView] = {}
        self._drafts: dict[str, str] = {}
        """Ack notes typed but not saved, per alert, for the next try."""
        self._form: AckForm | None = None
        self._detail_shown: Text | None = None
        self._history_shown: Text | None = None
        if compact:
            self.add_class("-compact")

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        if self.compact:
            yield Panel("Alerts", id="alerts-compact")
            return
        yield KeyedTable(COLUMNS, id="alerts-table")
        yield DeliveriesPanel(id="alerts-deliveries")
        detail = VerticalScroll(Static("", id="alerts-detail-text"), id="alerts-detail")
        detail.border_title = "Selected alert"
        yield detail
        history = VerticalScroll(Static("", id="alerts-history-text"), id="alerts-history")
        history.border_title = "History (h to close)"
        history.display = False
        yield history

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.compact and action in ("ack", "silence", "unsilence", "toggle_history"))

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#alerts-table", KeyedTable)

    # ------------------------------------------------------------------ rendering

    @property
    def selected(self) -> AlertView | None:
        """The alert under the cursor: the row the operator sees highlighted."""
        if self.compact or not self.is_mounted:
            return None
        key = self.table.selected_key
        return self._views.get(key) if key is not None else None

    def select(self, name: str) -> None:
        """Put the cursor on this alert (a jump from search or the palette)."""
        if not self.compact and self.is_mounted:
            self.table.select_key(name)
            self.table.touched_at = time.monotonic()
            self._render_detail(self._now)

    @property
    def held(self) -> bool:
        """Whether rows keep their places now (see the module docstring)."""
        if self.compact or not self.is_mounted:
            return False
        return self._form is not None or time.monotonic() - self.table.touched_at < HOLD

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
        self.query_one(DeliveriesPanel).show_deliveries(snapshot.deliveries if snapshot is not None else None)
        if self._form is not None:
            self._form.alert_changed(self._views.get(self._form.rule))
        if self.show_history:
            self._render_history()
        else:
            self._render_detail(now)

    @property
    def _inhibited(self) -> dict[str, str]:
        """rule -> the firing rule that inhibits its notifications."""
        deliveries = self._snapshot.deliveries if self._snapshot is not None else None
        return deliveries.inhibited if deliveries is not None else {}

    @property
    def rule_count(self) -> int:
        return self._snapshot.rules if self._snapshot is not None else len(self.rules)

    def _render_compact(self, views: list[AlertView], now: float) -> None:
        panel = self.query_one("#alerts-compact", Panel)
        palette = tones(self.app)
        counts: dict[str, int] = {}
        for view in views:
            key = "silenced" if view.silence else "acked" if view.ack else STATE_LABEL.get(view.state, view.state)
            counts[key] = counts.get(key, 0) + 1
        title = "Alerts" + "".join(
            f" · {counts[key]} {key}"
            for key in ("firing", "pending", "no data", "acked", "silenced", "resolved")
            if counts.get(key)
        )
        if panel.border_title != title:  # setting it redraws the panel, even to the same text
            panel.border_title = title
        # Firing first (unhandled, then acked, then silenced: the engine's order), then pending.
        listed = [v for v in views if v.state == FIRING] + [v for v in views if v.state == PENDING]
        text = Text(no_wrap=True, overflow="ellipsis")
        if not listed:
            text.append(f"no alert firing · {self.rule_count} rules watching", style=palette["ok"])
        shown = listed if len(listed) <= self.lines else listed[: max(1, self.lines - 1)]
        for index, view in enumerate(shown):
            if index:
                text.append("\n")
            self._strip_line(text, view, now, palette, panel.inner_width)
        if len(shown) < len(listed):
            text.append(f"\n+{len(listed) - len(shown)} more on the Alerts tab (2)", style="bold")
        panel.show(text)

    @staticmethod
    def _strip_line(text: Text, view: AlertView, now: float, palette: dict[str, str], width: int) -> None:
        muted = view.silence is not None or view.ack is not None
        tone = "muted" if muted else SEVERITY_TONE.get(view.severity, "")
        start = len(text.plain)
        text.append(f"{SEVERITY_SHORT.get(view.severity, view.severity)} ", style=palette.get(tone, ""))
        text.append(clean(view.name, limit=28), style="" if muted else "bold")
        state = "" if view.state == FIRING and not muted else f" {state_text(view)}"
        text.append(f"{state}  {fmt.ago(max(0.0, now - view.since_at))}  {clean(view.value_text, limit=16)}")
        if view.ack is not None:
            text.append(f"  by {clean(view.ack.operator, limit=20)}", style="dim")
        room = width - (len(text.plain) - start) - 2
        if room > 8:
            text.append("  ")
            text.append(clean(view.summary, limit=room), style="dim")

    def _update_table(self, views: list[AlertView], now: float) -> None:
        table = self.table
        palette = tones(self.app)
        order = [v.name for v in views]
        if self.held:  # keep every row where it is; new ones at the bottom
            known = set(table.keys)
            order = table.keys + [name for name in order if name not in known]
        if order != table.keys:
            table.sync([(name, self._cells(name, now, palette)) for name in order])
        else:  # the rows out of view catch up when they scroll in (at the next refresh)
            table.update_rows([(name, self._cells(name, now, palette)) for name in table.in_view()])

    def _cells(self, name: str, now: float, palette: dict[str, str]) -> tuple[Cell, ...]:
        view = self._views.get(name)
        if view is not None:
            return row_cells(view, now, palette, self._inhibited.get(name))
        return (
            cell(""),
            cell("ended", palette["muted"]),
            cell(clean(name, limit=40), "dim"),
            cell(""),
            cell(""),
            cell("no longer active; rows re-sort once you leave the table", "dim"),
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if not self.show_history:
            self._render_detail(self._now)

    def _render_detail(self, now: float) -> None:
        view = self.selected
        text = Text()
        if view is None:
            text.append("No active alerts. " if not self._views else "", style=tones(self.app)["ok"])
            text.append(f"{self.rule_count} rules watching; ", style="dim")
            text.append("h shows the history.", style="dim")
        else:
            detail_lines(text, view, now, tones(self.app))
        if text != self._detail_shown:
            self._detail_shown = text
            self.query_one("#alerts-detail-text", Static).update(text)

    def _render_history(self) -> None:
        text = Text()
        items = self._history
        if not items:
            text.append("No transitions yet.", style="dim")
        units = self._snapshot.alert_units if self._snapshot is not None else {}
        currency = self._snapshot.currency if self._snapshot is not None else ""
        palette = tones(self.app)
        for index, item in enumerate(items):
            if index:
                text.append("\n")
            history_line(text, item, units.get(item.rule, ""), currency, palette)
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
            self.app.notify(
                f"CRITICAL {clean(view.name, limit=60)}: {clean(view.summary, limit=200)}",
                severity="error",
                markup=False,
            )
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
        form = AckForm(name, view.summary, note=self._drafts.get(name, ""), view=view)
        self._form = form

        def done(request: AckRequest | None) -> None:
            self._form = None
            if request is None:
                return
            if request.to_log:  # the alert ended while the note was typed
                self._drafts.pop(name, None)
                text = f"{name}: {request.note}"
                self.post_message(
                    Submit(AddLogEntry(operator=self.operator, log_kind="note", severity="info", text=text))
                )
                return
            self._drafts[name] = request.note  # until the ack is saved
            self.post_message(Submit(AckAlert(operator=self.operator, rule=name, note=request.note)))

        self.app.push_screen(form, done)

    def ack_saved(self, command: AckAlert, error: BaseException | None) -> None:
        """The room answered an ack: forget its note, or keep it for the next try."""
        if error is None:
            self._drafts.pop(command.rule, None)
        elif command.note:
            self._drafts[command.rule] = command.note

    def action_silence(self) -> None:
        view = self.selected
        matcher = f"name={view.name}" if view is not None else ""

        def done(request: SilenceRequest | None) -> None:
            self._form = None
            if request is None:
                return
            try:
                command = self._silence_command(request)
            except ValueError as exc:
                self._error(exc)
                return
            self.post_message(Submit(command))

        self.table.touched_at = time.monotonic()
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
        return AddSilence(
            operator=self.operator,
            at=now,
            silence_id=silence.id,
            matchers=matchers,
            until=silence.until,
            comment=comment,
        )

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


def detail_lines(text: Text, view: AlertView, now: float, palette: dict[str, str]) -> None:
    """The selected alert: what, since when, the runbook first, then the particulars."""
    tone = palette.get(SEVERITY_TONE.get(view.severity, ""), "")
    text.append(f"{SEVERITY_SHORT.get(view.severity, view.severity)} ", style=tone)
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
        _field(
            text,
            "silence",
            f"{clean(silence.describe(), limit=80)} until {fmt.clock_time(silence.until)} "
            f"by {clean(silence.operator, limit=40)}: {clean(silence.comment, limit=300)}",
        )
    text.rstrip()


def _field(text: Text, label: str, value: str) -> None:
    text.append(f"{label:<8}", style="dim")
    text.append(value)
    text.append("\n")


def history_line(text: Text, item: AlertEvent, unit: str, currency: str, palette: dict[str, str]) -> None:
    """One transition, its value in the rule's unit (the same as in the table)."""
    text.append(f"{fmt.clock_time(item.ts)} ", style="dim")
    tone = palette.get(SEVERITY_TONE.get(item.severity, ""), "")
    text.append(f"{SEVERITY_SHORT.get(item.severity, item.severity)} ", style=tone)
    text.append(f"{clean(item.rule, limit=30)} ", style="bold")
    text.append(f"{item.event:<10} {fmt.with_unit(item.value, unit, currency):>8}")
    if item.operator:
        text.append(f"  {clean(item.operator, limit=30)}", style=palette["accent"])
    if item.note:
        text.append(f"  {clean(item.note, limit=200)}", style="dim")
