"""The Textual app: one operator's view of the room, and the keys that write to it.

The app computes nothing and reads nothing itself. Its `DashboardSession` owns the room's
door: the door's threads post what changed (`SnapshotArrived` from the recorder, the launch
time, which row topics moved, the recorder's lease) and the rows a panel asked for
(`RowsLoaded`); panels send operators' commands up as `Submit`, the door writes each in one
transaction and `CommandSaved` says so, so "Saved" on screen means committed.

Rendering: a new snapshot re-renders the visible live panels at once (the recorder publishes
at most five a second); a timer at `ui.refresh_hz` moves the clocks and countdowns. Panels
only send output when their text changed: frame rate and panel height are what a dashboard
costs in CPU and, over SSH, in bytes.

What an operator can count on:

- every tab's badge says what needs them there (sources down, alerts nobody handles,
  overdue checklist items, SLA breaches), and the header counts firing alerts by what was
  done about them, so a firing alert is seen from any tab;
- messages go to the status line on the footer's row, never in a toast over a table;
- keys are remappable by id (`[keymap]`), the theme is a setting (`[ui] theme`), and every
  action is also in the command palette (ctrl+p) with jumps to alerts and tickets;
- the config can be reloaded (ctrl+r, the palette, or SIGUSR1): it is read and checked off
  the screen first, a broken one is refused with its problems shown and changes nothing,
  and a good one changes the panels, keys, theme, categories and launch name in place,
  without losing an open form or an unsaved entry. The recorder owns the sources, metrics
  and rules, so those change when the recorder is restarted on the new config.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane, Tabs
from textual.worker import Worker, WorkerState

from warroom import views
from warroom.alerts import FIRING, PENDING, SEVERITY_RANK
from warroom.commands import AckAlert, Command, SetLaunch
from warroom.config import Config, ConfigError, load_config, resolve_panels
from warroom.dashboard import DashboardSession, RecorderStatus, flush
from warroom.location import RoomLocation
from warroom.snapshot import Snapshot
from warroom.store import Launch, StoreError
from warroom.textsafe import clean
from warroom.widgets.alerts import AlertsPanel
from warroom.widgets.checklist import ChecklistPanel
from warroom.widgets.conversion import ConversionPanel
from warroom.widgets.forms import Form, LaunchConfirm
from warroom.widgets.header import LaunchHeader, RoomState
from warroom.widgets.help import HelpScreen, KeyRow, key_rows
from warroom.widgets.incident_log import IncidentLogPanel
from warroom.widgets.messages import (
    CommandSaved,
    LaunchChanged,
    RecorderChanged,
    Reload,
    RoomChanged,
    RowsLoaded,
    SnapshotArrived,
    Submit,
)
from warroom.widgets.problems import ProblemsScreen
from warroom.widgets.recent_log import RecentLogPanel
from warroom.widgets.search import LOG_ENTRIES, Hit, SearchResults, SearchScreen, first, matches
from warroom.widgets.sources import SourcesPanel
from warroom.widgets.status import StatusLine
from warroom.widgets.support import SupportPanel
from warroom.widgets.table import KeyedTable, RoomTablePanel
from warroom.widgets.tones import tones
from warroom.widgets.traffic import TrafficPanel

log = logging.getLogger(__name__)

RECENT_LOG_LINES = 200  # ticket updates fold, so read enough to fill a tall strip
SAVING_AFTER = 0.3  # seconds a write may wait before the header says "saving…"

# Which panel shows rows of which topic.
PANEL_TOPICS = {
    "checklist-panel": "checklist",
    "support-panel": "tickets",
    "log-panel": "log",
    "recent-log": "log",
    "alerts-panel": "alerts",
}
READ_PACE = 3.0
"""A panel's next read of the room waits at least this many times as long as its last read
took. Reading 50,000 tickets keeps the door's thread busy for a while, and Python runs one
thread at a time: re-reading them back to back as the queue changes would leave the screen
little time to draw (benchmarks/screen.py, the size sweep)."""
ALWAYS_READ = ("checklist-panel",)
"""Read even while hidden: the checklist is short, and its tab's badge counts overdue items."""
TABS = (("live", "Live"), ("alerts", "Alerts"), ("checklist", "Checklist"), ("support", "Support"), ("log", "Log"))


class WarroomApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "warroom"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, priority=True, id="palette"),
        Binding("slash", "search", "Search", id="search"),
        # Priority: it works with a form open (the form and what was typed are kept).
        Binding("ctrl+r", "reload_config", "Reload config", show=False, priority=True, id="reload"),
        Binding("1", "show_tab('live')", "Live", id="tab.live"),
        Binding("2", "show_tab('alerts')", "Alerts", id="tab.alerts"),
        Binding("3", "show_tab('checklist')", "Checklist", id="tab.checklist"),
        Binding("4", "show_tab('support')", "Support", id="tab.support"),
        Binding("5", "show_tab('log')", "Log", id="tab.log"),
        Binding("L", "launch_now", "Launch now", id="launch"),
        Binding("E", "export", "Export", id="export"),
    ]
    COMMAND_PALETTE_BINDING = "ctrl+p"
    LAUNCH_CONFIRM_SECONDS = 5.0

    def __init__(self, session: DashboardSession) -> None:
        super().__init__()
        self.session = session
        self.config = session.config
        self.operator = session.operator
        self.clock = session.clock
        self.traffic_layout, self.conversion_layout = resolve_panels(self.config)
        self.snapshot: Snapshot | None = None
        self.snapshot_arrived = time.monotonic()  # real time, whatever the clock (the demo's runs fast)
        self.launch = Launch(self.config.launch.name, None, None)
        self.recorder = session.recorder
        self._launch_armed_at: float | None = None
        self._loading: set[str] = set()  # panels with a read in flight
        self._load_again: set[str] = set()  # panels whose rows changed during that read
        self._stale: set[str] = set(PANEL_TOPICS)  # panels whose rows changed while hidden
        self._read_started: dict[str, float] = {}
        self._read_not_before: dict[str, float] = {}  # monotonic time, per panel (READ_PACE)
        self._read_timer: Timer | None = None
        self._badges: dict[str, str] = {}
        self._ticker: Timer | None = None
        self.status_line = StatusLine(id="status")

    def compose(self) -> ComposeResult:
        rules = self.config.alerts
        yield LaunchHeader(self.config.launch.name, self.operator, id="header")
        with TabbedContent(initial="live"):
            with TabPane("Live", id="live"), Container(id="live-grid"):
                yield TrafficPanel(self.traffic_layout, id="traffic")
                yield ConversionPanel(self.conversion_layout, id="conversion")
                with Vertical(id="live-side"):  # shown on a wide terminal only
                    yield AlertsPanel(rules, self.operator, compact=True, id="alerts-strip")
                    yield RecentLogPanel(id="recent-log")
                # On a narrow terminal the firing alerts get a strip of their own.
                yield AlertsPanel(rules, self.operator, compact=True, id="alerts-strip-narrow")
                yield SourcesPanel(id="sources")
            with TabPane("Alerts", id="alerts"):
                yield AlertsPanel(rules, self.operator, id="alerts-panel")
            with TabPane("Checklist", id="checklist"):
                yield ChecklistPanel(self.operator, team=self.config.team, id="checklist-panel")
            with TabPane("Support", id="support"):
                yield SupportPanel(
                    self.operator, self.config.tickets.sla, self.config.tickets.categories, id="support-panel"
                )
            with TabPane("Log", id="log"):
                yield IncidentLogPanel(self.operator, id="log-panel")
        yield self.status_line
        yield Footer()

    # ------------------------------------------------------------------ the room's messages

    def on_mount(self) -> None:
        self.theme = self.config.ui.theme
        self.set_keymap(dict(self.config.keymap))
        if not self.is_headless:
            # A dropped SSH session (SIGHUP) or a kill (SIGTERM) ends the app the normal way,
            # so the caller closes the session and keeps what could not be saved. SIGUSR1
            # reloads the config, as daemons do with SIGHUP (which here is a hang-up).
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self.exit)
            loop.add_signal_handler(signal.SIGUSR1, self.action_reload_config)
        self.session.attach(RoomMessages(self))
        self._ticker = self.set_interval(1.0 / self.config.ui.refresh_hz, self.refresh_view)
        self.call_after_refresh(self.refresh_view)

    def on_unmount(self) -> None:
        if not self.is_headless:
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        self.snapshot = message.snapshot
        self.snapshot_arrived = time.monotonic()
        now = self.clock()
        for panel in self.query(AlertsPanel):
            panel.announce(message.snapshot, now)
        self.refresh_view()

    def on_launch_changed(self, message: LaunchChanged) -> None:
        self.launch = message.launch
        self.refresh_view()

    def on_recorder_changed(self, message: RecorderChanged) -> None:
        self.recorder = message.status
        self.refresh_view()

    def on_room_changed(self, message: RoomChanged) -> None:
        for panel_id, topic in PANEL_TOPICS.items():
            if topic in message.topics:
                self._stale.add(panel_id)
        self._load_visible()

    def on_reload(self, message: Reload) -> None:
        if message.panel.id:
            self._stale.add(message.panel.id)
            self._load_visible()

    def on_rows_loaded(self, message: RowsLoaded) -> None:
        panel_id = message.panel_id
        self._loading.discard(panel_id)
        finished = time.monotonic()
        took = finished - self._read_started.get(panel_id, finished)
        self._read_not_before[panel_id] = finished + READ_PACE * took
        panel = self._panel(panel_id)
        if panel is not None:
            if message.error is not None:
                panel.show_read_error(message.error)
            else:
                panel.show_rows(message.rows)
        if panel_id in self._load_again:
            self._load_again.discard(panel_id)
            self._stale.add(panel_id)
        self._load_visible()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker failures land here, in one place, and are shown rather than lost."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("worker %s failed: %r", event.worker.name, error, exc_info=error)
            self.notify(f"{event.worker.name} failed: {error!r}", severity="error", markup=False)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """On the status line, not in a toast (see warroom.widgets.status). Text only: what
        is said here often quotes remote text, so it is never read as markup."""
        if self.status_line.is_attached:
            self.status_line.say(str(message), title, str(severity), timeout)
        elif self.status_line.is_mounted:  # the app is closing: the log is all that is left
            log.info("%s: %s", severity, message)
        else:  # before the dashboard is up
            super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # ------------------------------------------------------------------ reading rows

    def _panel(self, panel_id: str) -> Any:
        try:
            return self.query_one(f"#{panel_id}")
        except NoMatches:
            return None

    def _visible_panels(self) -> list[str]:
        active = self.query_one(TabbedContent).active
        shown = {"support": ["support-panel"], "log": ["log-panel"], "alerts": ["alerts-panel"]}.get(active, [])
        if active == "live" and self.wide:
            shown = ["recent-log"]
        return [*shown, *ALWAYS_READ]

    def _load_visible(self) -> None:
        """Read the rows of the visible panels that changed, one read per panel at a time."""
        for panel_id in self._visible_panels():
            if panel_id not in self._stale:
                continue
            if panel_id in self._loading:
                self._load_again.add(panel_id)
                continue
            wait = self._read_not_before.get(panel_id, 0.0) - time.monotonic()
            if wait > 0:  # paced (READ_PACE): read again once the wait is over
                if self._read_timer is None:
                    self._read_timer = self.set_timer(wait, self._paced_reads)
                continue
            panel = self._panel(panel_id)
            self._stale.discard(panel_id)
            if panel is None or (isinstance(panel, AlertsPanel) and not panel.show_history):
                continue  # the alerts' rows come with the snapshot; history is read when shown
            self._loading.add(panel_id)
            self._read_started[panel_id] = time.monotonic()
            query = (
                views.LogQuery(limit=RECENT_LOG_LINES, count=False) if panel_id == "recent-log" else panel.room_query
            )
            prepare = getattr(panel, "prepare", None)
            self._read(
                query,
                lambda rows, p=panel_id: self.post_message(RowsLoaded(p, rows)),
                lambda error, p=panel_id: self.post_message(RowsLoaded(p, error=error)),
                prepare,
            )

    def _paced_reads(self) -> None:
        self._read_timer = None
        self._load_visible()

    def _read(self, query: views.Query, deliver: Any, fail: Any, prepare: Any = None) -> None:
        """Run `query` on the door's reader; `deliver(rows)` (after `prepare`, both on the
        door's thread) or `fail(error)`."""
        try:
            future = self.session.door.read(lambda store: views.read(store, query))
        except StoreError as error:
            fail(error)
            return

        def done(f: Future[Any]) -> None:
            if f.cancelled():
                return
            error = f.exception()
            if error is not None:
                fail(error)
                return
            try:
                rows = prepare(f.result()) if prepare is not None else f.result()
            except Exception as failure:  # a bug in prepare: shown, not lost in a thread
                log.exception("preparing rows")
                fail(failure)
                return
            deliver(rows)

        future.add_done_callback(done)

    # ------------------------------------------------------------------ writing commands

    def on_submit(self, message: Submit) -> None:
        message.stop()
        self.submit(message.command)

    def submit(self, command: Command) -> None:
        """Write an operator's command, stamped with the room's clock; CommandSaved says when
        it is committed."""
        command = dataclasses.replace(command, at=self.clock())
        try:
            future = self.session.submit(command)
        except StoreError as error:
            self.notify(f"Not saved: {error}", severity="error", markup=False)
            return

        def done(f: Future[Any]) -> None:
            if f.cancelled():
                return
            error = f.exception()
            self.post_message(CommandSaved(command, None if error else f.result(), error))

        future.add_done_callback(done)
        self.refresh_view()

    def on_command_saved(self, message: CommandSaved) -> None:
        command = message.command
        if isinstance(command, AckAlert):
            self.query_one("#alerts-panel", AlertsPanel).ack_saved(command, message.error)
        if message.error is not None:
            kept = " Your note is kept: press a to try again." if isinstance(command, AckAlert) and command.note else ""
            self.notify(f"Not saved: {clean(message.error, limit=300)}.{kept}", severity="error", markup=False)
        else:
            self.notify(clean(command.saved_text(), limit=200), markup=False)
        self.refresh_view()

    # ------------------------------------------------------------------ the screen

    def refresh_view(self) -> None:
        now = self.clock()
        try:
            header = self.query_one(LaunchHeader)
        except NoMatches:  # a last timer tick while the app closes: its widgets are gone
            return
        snapshot = self.snapshot
        header.refresh_from(now, self.launch.at, self._room_state(now))
        checklist = self.query_one(ChecklistPanel)
        checklist.now, checklist.launch_at = now, self.launch.at
        active = self.query_one(TabbedContent).active
        if active == "live":
            self._refresh_live(snapshot, now)
        elif active == "alerts":
            self.query_one("#alerts-panel", AlertsPanel).refresh_from(snapshot, now)
        elif active in ("checklist", "support", "log"):
            panel = self.query_one(f"#{active}-panel", RoomTablePanel)
            if isinstance(panel, SupportPanel) and snapshot is not None:
                panel.set_rejected(snapshot.rejected_tickets)
            panel.tick(now, self.launch.at)
        self._show_badges(snapshot, checklist.overdue())
        self._load_visible()

    @property
    def wide(self) -> bool:
        """Whether the dashboard's own screen has the wide layout. Not `self.screen`, which is
        a form or the help while one is open, and takes its width class a frame later."""
        return self.query_one(SourcesPanel).screen.has_class("-wide")

    def _refresh_live(self, snapshot: Snapshot | None, now: float) -> None:
        if snapshot is not None:
            self.query_one(TrafficPanel).refresh_from(snapshot)
            self.query_one(ConversionPanel).refresh_from(snapshot)
        self.query_one(SourcesPanel).refresh_from(snapshot, self.recorder, now)
        wide = self.wide
        strip = self.query_one("#alerts-strip" if wide else "#alerts-strip-narrow", AlertsPanel)
        height = self.size.height
        # Every firing alert while there is room: a third of the rows on a narrow screen
        # (the numbers need the rest), half the side column on a wide one.
        strip.lines = max(3, (height - 12) // 2) if wide else max(1, (height - 12) // 3)
        # The narrow strip's display is set here whatever the width: set once while the
        # screen was not yet known to be wide, it would stay shown beside the wide one.
        narrow = self.query_one("#alerts-strip-narrow", AlertsPanel)
        active = snapshot is not None and any(a.state in (FIRING, PENDING) for a in snapshot.alerts)
        if narrow.display != (active and not wide):
            narrow.display = active and not wide
        strip.refresh_from(snapshot, now)

    def _room_state(self, now: float) -> RoomState:
        status = self.session.door.status()
        waiting = status.saving_for(time.monotonic()) > SAVING_AFTER
        alerts = self.snapshot.alerts if self.snapshot is not None else []
        firing = [a for a in alerts if a.state == FIRING]
        unhandled = [a for a in firing if a.ack is None and a.silence is None]
        return RoomState(
            not_saving=status.error,
            saving=status.waiting if waiting else 0,
            recorder_problem=self.recorder.problem if not self.recorder.running else None,
            figures_age=time.monotonic() - self.snapshot_arrived if self.recorder.running else None,
            firing=len(unhandled),
            acked=sum(a.ack is not None and a.silence is None for a in firing),
            silenced=sum(a.silence is not None for a in firing),
            pending=sum(a.state == PENDING and a.ack is None and a.silence is None for a in alerts),
            first_firing=unhandled[0].name if unhandled else "",
            worst=min((a.severity for a in unhandled), key=SEVERITY_RANK.__getitem__, default=""),
            speed=getattr(self.clock, "speed", None),
        )

    def _show_badges(self, snapshot: Snapshot | None, overdue: int) -> None:
        """A count on a tab when something there needs an operator (see the module docstring)."""
        counts = {"live": 0, "alerts": 0, "checklist": overdue, "support": 0, "log": 0}
        if snapshot is not None:
            counts["live"] = sum(s.state in ("stale", "error", "stopped") for s in snapshot.sources)
            counts["alerts"] = sum(a.state == FIRING and a.ack is None and a.silence is None for a in snapshot.alerts)
            counts["support"] = snapshot.queue.breaches if snapshot.queue is not None else 0
        words = {"live": "down", "alerts": "firing", "checklist": "late", "support": "SLA", "log": ""}
        tabbed = self.query_one(TabbedContent)
        palette = tones(self)
        for pane, title in TABS:
            badge = f" {counts[pane]} {words[pane]} " if counts[pane] else ""
            if self._badges.get(pane) == badge:
                continue
            self._badges[pane] = badge
            label = Text(title)
            if badge:
                label.append(" ")
                label.append(badge, style=palette["warn" if pane == "checklist" else "crit"])
            tabbed.get_tab(pane).label = label

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.refresh_view()
        pane = self.query_one(f"#{tab}", TabPane)
        focusable = [w for w in pane.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()  # so the tab's own keys work and show in the footer
        else:
            # Nothing to focus here (Live): the tab bar takes it. Left where it was, focus would
            # stay in the tab just left, and TabbedContent shows the tab that holds the focus.
            self.query_one(TabbedContent).query_one(Tabs).focus()

    # ------------------------------------------------------------------ the launch clock

    def action_launch_now(self) -> None:
        """Start the launch clock for every operator. With no launch time yet the key must
        be pressed twice; once T0 is set, moving it asks first, showing T0 and the shift."""
        now = self.clock()
        if self.launch.at is not None:

            def chosen(move: bool | None) -> None:
                if move:
                    self.submit(SetLaunch(operator=self.operator, launch_at=self.clock()))
                else:
                    self.notify("T0 kept")

            self.push_screen(LaunchConfirm(self.launch.at, now), chosen)
            return
        pressed = time.monotonic()
        armed = self._launch_armed_at
        if armed is None or pressed - armed > self.LAUNCH_CONFIRM_SECONDS:
            self._launch_armed_at = pressed
            self.notify(
                "Press L again to start the launch clock now, for everyone.", timeout=self.LAUNCH_CONFIRM_SECONDS
            )
            return
        self._launch_armed_at = None
        self.submit(SetLaunch(operator=self.operator, launch_at=now))

    # ------------------------------------------------------------------ export

    def action_export(self) -> None:
        """Write the retrospective beside the database, through the room's door: the
        recorder writes its latest figures first, and the screen stays live."""
        self.notify("Writing the retrospective…")
        self.run_worker(self._export, name="export", thread=True, exit_on_error=False)

    def _export(self) -> None:
        from warroom.export import export_store, options_from_config

        out = self.session.location.retrospective_dir
        try:
            flush(self.session.door, self.recorder.running)
            paths = self.session.door.read(
                lambda store: export_store(store, out, **options_from_config(self.config))
            ).result()
        except (StoreError, OSError, ValueError) as error:
            self.call_from_thread(self.notify, f"Export failed: {error}", severity="error", markup=False)
            return
        listing = ", ".join(str(p) for p in paths)
        self.call_from_thread(self.notify, f"Retrospective written: {listing}", timeout=10, markup=False)

    # ------------------------------------------------------------------ help, search, palette

    def key_table(self) -> list[KeyRow]:
        """Every key as bound now (the keymap applied), for the help screen."""
        return key_rows(
            [
                ("anywhere", self.BINDINGS),
                ("Alerts", AlertsPanel.BINDINGS),
                ("Checklist", ChecklistPanel.BINDINGS),
                ("Support", SupportPanel.BINDINGS),
                ("Log", IncidentLogPanel.BINDINGS),
                ("tables", KeyedTable.BINDINGS),
                ("forms", Form.BINDINGS),
            ],
            self.config.keymap,
        )

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen(self.config, self.key_table()))

    def action_search(self, needle: str = "") -> None:
        self.push_screen(SearchScreen(self.search, needle), self.jump)

    def search(self, needle: str, screen: SearchScreen) -> None:
        """Find `needle` in the active alerts (on screen already), then in the tickets and
        the newest log entries (read through the door; filtered on its thread)."""
        alerts = [
            Hit("alert", a.name, clean(f"{a.name}  {a.state}  {a.summary}", limit=200))
            for a in (self.snapshot.alerts if self.snapshot is not None else [])
            if matches(needle, a.name, a.summary, a.state, *a.labels.values())
        ]
        found: dict[str, list[Hit]] = {"alert": first(alerts)}

        def deliver(kind: str, hits: list[Hit]) -> None:
            found[kind] = hits
            if len(found) == 3:
                note = f"(the {LOG_ENTRIES:,} newest log entries searched)"
                screen.post_message(SearchResults(needle, found["alert"] + found["ticket"] + found["log"], note))

        def tickets(rows: views.TicketRows) -> None:
            deliver(
                "ticket",
                first(
                    Hit("ticket", t.id, clean(f"{t.id}  {t.status}  {t.subject}  {t.customer_ref}", limit=200))
                    for t in [*rows.open, *rows.solved]
                    if matches(needle, t.id, t.subject, t.customer_ref, t.category, t.assignee)
                ),
            )

        def entries(rows: views.LogRows) -> None:
            deliver(
                "log",
                first(
                    Hit("log", str(e.id), clean(f"{e.kind}  {e.text}", limit=200))
                    for e in reversed(rows.entries)
                    if matches(needle, e.text, e.author, e.kind, e.owner)
                ),
            )

        def failed(error: BaseException) -> None:
            screen.post_message(SearchResults(needle, [], f"cannot read the room: {error}"))

        self._read(views.TicketQuery(), tickets, failed)
        self._read(views.LogQuery(limit=LOG_ENTRIES, count=False), entries, failed)

    def jump(self, hit: Hit | None) -> None:
        """Show a search hit (or a palette jump) on its tab, the cursor on it."""
        if hit is None:
            return
        if hit.kind == "alert":
            self.action_show_tab("alerts")
            self.query_one("#alerts-panel", AlertsPanel).select(hit.key)
        elif hit.kind == "ticket":
            self.action_show_tab("support")
            if not self.query_one(SupportPanel).select(hit.key):
                self.notify(f"{hit.label} (not among the rows shown)", markup=False)
        else:
            self.action_show_tab("log")
            if not self.query_one(IncidentLogPanel).select(int(hit.key)):
                self.notify(f"{hit.label} (older than the rows shown)", markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: Textual's own commands, every action, and a jump per alert and ticket."""
        yield from super().get_system_commands(screen)
        for pane, title in TABS:
            yield SystemCommand(f"Go to {title}", f"Show the {title} tab", lambda p=pane: self.action_show_tab(p))
        alerts = self.query_one("#alerts-panel", AlertsPanel)
        yield SystemCommand(
            "Acknowledge the selected alert",
            "On the Alerts tab: ack with a note",
            lambda: self._on_alerts(alerts.action_ack),
        )
        yield SystemCommand(
            "Silence alerts",
            "On the Alerts tab: a matcher, a duration and why",
            lambda: self._on_alerts(alerts.action_silence),
        )
        yield SystemCommand(
            "New ticket",
            "Open a ticket (from a call or a chat)",
            lambda: self._on_tab("support", self.query_one(SupportPanel).action_new_ticket),
        )
        yield SystemCommand(
            "Add a log entry",
            "A note, decision, action with owner, or lesson",
            lambda: self._on_tab("log", self.query_one(IncidentLogPanel).action_add_entry),
        )
        yield SystemCommand(
            "Export the retrospective", "Markdown, HTML and JSON beside the database", self.action_export
        )
        yield SystemCommand("Search", "Alerts, tickets and the log", self.action_search)
        yield SystemCommand(
            "Reload the config", "Check it first; a broken one changes nothing", self.action_reload_config
        )
        yield SystemCommand("Help", "Keys, states, alert conditions, SLA timers", self.action_help)
        for view in self.snapshot.alerts if self.snapshot is not None else []:
            yield SystemCommand(
                f"Alert: {clean(view.name, limit=60)}",
                clean(f"{view.state}  {view.summary}", limit=120),
                lambda n=view.name: self.jump(Hit("alert", n, n)),
                discover=False,
            )
        for ticket in self.query_one(SupportPanel).tickets[:500]:
            yield SystemCommand(
                f"Ticket: {clean(ticket.id, limit=40)}",
                clean(ticket.subject, limit=120),
                lambda i=ticket.id: self.jump(Hit("ticket", i, i)),
                discover=False,
            )

    def _on_tab(self, tab: str, action: Any) -> None:
        self.action_show_tab(tab)
        action()

    def _on_alerts(self, action: Any) -> None:
        self._on_tab("alerts", action)

    # ------------------------------------------------------------------ reloading the config

    def action_reload_config(self) -> None:
        """Read and check the config off the screen, then apply it or show what is wrong."""
        if self.config.path is None:
            self.notify("No config file to reload (this room was opened without one)", severity="warning")
            return
        self.notify("Reading the config…")
        self.run_worker(self._read_config, name="config reload", thread=True, exit_on_error=False)

    def _read_config(self) -> None:
        path = self.config.path
        assert path is not None
        try:
            config = load_config(path)
        except ConfigError as error:
            self.call_from_thread(self._refuse_config, error.problems)
            return
        if RoomLocation.of(config).label != RoomLocation.of(self.config).label:
            self.call_from_thread(
                self._refuse_config,
                [
                    f"{path}: [room] names another room ({RoomLocation.of(config).label}); quit and start warroom "
                    "on it to change rooms"
                ],
            )
            return
        self.call_from_thread(self.apply_config, config)

    def _refuse_config(self, problems: list[str]) -> None:
        self.notify(
            f"Config not reloaded: {len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing changed",
            severity="error",
        )
        self.push_screen(ProblemsScreen("Config not reloaded: nothing changed", problems))

    def apply_config(self, config: Config) -> None:
        """What a dashboard takes from a new config, in place (see the module docstring)."""
        self.config = self.session.config = config
        self.theme = config.ui.theme
        self.set_keymap(dict(config.keymap))
        self.traffic_layout, self.conversion_layout = resolve_panels(config)
        self.query_one(TrafficPanel).contents = self.traffic_layout
        self.query_one(ConversionPanel).contents = self.conversion_layout
        self.query_one(LaunchHeader).launch_name = config.launch.name
        for panel in self.query(AlertsPanel):
            panel.rules = list(config.alerts)
        support = self.query_one(SupportPanel)
        support.categories, support.sla = tuple(config.tickets.categories), config.tickets.sla
        self.query_one(ChecklistPanel).team = dict(config.team)
        if self._ticker is not None:
            self._ticker.stop()
        self._ticker = self.set_interval(1.0 / config.ui.refresh_hz, self.refresh_view)
        self._badges.clear()  # the theme's tones changed
        self.notify(
            "Config reloaded on this screen: panels, keys, theme, categories (the recorder applies "
            "sources, metrics and rules when restarted)"
        )
        self.refresh_view()


class RoomMessages:
    """The session's listener: turns what the door's threads hear into app messages."""

    def __init__(self, app: WarroomApp) -> None:
        self.app = app

    def snapshot_arrived(self, snapshot: Snapshot) -> None:
        self.app.post_message(SnapshotArrived(snapshot))

    def launch_changed(self, launch: Launch) -> None:
        self.app.post_message(LaunchChanged(launch))

    def topics_changed(self, topics: set[str]) -> None:
        self.app.post_message(RoomChanged(topics))

    def recorder_changed(self, status: RecorderStatus) -> None:
        self.app.post_message(RecorderChanged(status))
