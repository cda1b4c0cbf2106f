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
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from warroom import views
from warroom.alerts import FIRING, PENDING
from warroom.commands import Command, SetLaunch
from warroom.config import resolve_panels
from warroom.dashboard import DashboardSession, RecorderStatus, flush
from warroom.snapshot import Snapshot
from warroom.store import Launch, StoreError
from warroom.textsafe import clean
from warroom.widgets.alerts import AlertsPanel
from warroom.widgets.checklist import ChecklistPanel
from warroom.widgets.conversion import ConversionPanel
from warroom.widgets.header import LaunchHeader, RoomState
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
from warroom.widgets.recent_log import RecentLogPanel
from warroom.widgets.sources import SourcesPanel
from warroom.widgets.support import SupportPanel
from warroom.widgets.traffic import TrafficPanel

log = logging.getLogger(__name__)

RECENT_LOG_LINES = 30  # more than a tall terminal shows; the panel cuts what does not fit
SAVING_AFTER = 0.3  # seconds a write may wait before the header says "saving…"

# Which panel shows rows of which topic.
PANEL_TOPICS = {"checklist-panel": "checklist", "support-panel": "tickets", "log-panel": "log",
                "recent-log": "log", "alerts-panel": "alerts"}


class WarroomApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "warroom"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "toggle_keys", "Keys", id="keys"),
        Binding("1", "show_tab('live')", "Live", id="tab.live"),
        Binding("2", "show_tab('alerts')", "Alerts", id="tab.alerts"),
        Binding("3", "show_tab('checklist')", "Checklist", id="tab.checklist"),
        Binding("4", "show_tab('support')", "Support", id="tab.support"),
        Binding("5", "show_tab('log')", "Log", id="tab.log"),
        Binding("L", "launch_now", "Launch now", id="launch"),
        Binding("E", "export", "Export", id="export"),
    ]
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

    def compose(self) -> ComposeResult:
        rules = self.config.alerts
        yield LaunchHeader(self.config.launch.name, self.operator, id="header")
        with TabbedContent(initial="live"):
            with TabPane("Live", id="live"):
                with Container(id="live-grid"):
                    yield TrafficPanel(self.traffic_layout, id="traffic")
                    yield ConversionPanel(self.conversion_layout, id="conversion")
                    with Vertical(id="live-side"):  # shown on a wide terminal only
                        yield AlertsPanel(rules, self.operator, compact=True, id="alerts-strip")
                        yield RecentLogPanel(id="recent-log")
                    yield SourcesPanel(id="sources")
            with TabPane("Alerts", id="alerts"):
                yield AlertsPanel(rules, self.operator, id="alerts-panel")
            with TabPane("Checklist", id="checklist"):
                yield ChecklistPanel(self.operator, team=self.config.team, id="checklist-panel")
            with TabPane("Support", id="support"):
                yield SupportPanel(self.operator, self.config.tickets.sla, id="support-panel")
            with TabPane("Log", id="log"):
                yield IncidentLogPanel(self.operator, id="log-panel")
        yield Footer()

    # ------------------------------------------------------------------ the room's messages

    def on_mount(self) -> None:
        if not self.is_headless:
            # A dropped SSH session (SIGHUP) or a kill (SIGTERM) ends the app the normal way,
            # so the caller closes the session and keeps what could not be saved.
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self.exit)
        self.session.attach(RoomMessages(self))
        self.set_interval(1.0 / self.config.ui.refresh_hz, self.refresh_view)
        self.call_after_refresh(self.refresh_view)

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

    # ------------------------------------------------------------------ reading rows

    def _panel(self, panel_id: str) -> Any:
        try:
            return self.query_one(f"#{panel_id}")
        except NoMatches:
            return None

    def _visible_panels(self) -> list[str]:
        active = self.query_one(TabbedContent).active
        shown = {"checklist": ["checklist-panel"], "support": ["support-panel"], "log": ["log-panel"],
                 "alerts": ["alerts-panel"]}.get(active, [])
        if active == "live" and self.screen.has_class("-wide"):
            shown = ["recent-log"]
        return shown

    def _load_visible(self) -> None:
        """Read the rows of the visible panels that changed, one read per panel at a time."""
        for panel_id in self._visible_panels():
            if panel_id not in self._stale:
                continue
            if panel_id in self._loading:
                self._load_again.add(panel_id)
                continue
            panel = self._panel(panel_id)
            self._stale.discard(panel_id)
            if panel is None or (isinstance(panel, AlertsPanel) and not panel.show_history):
                continue  # the alerts' rows come with the snapshot; history is read when shown
            self._loading.add(panel_id)
            query = views.LogQuery(limit=RECENT_LOG_LINES, count=False) if panel_id == "recent-log" \
                else panel.room_query
            self._read(query, panel_id)

    def _read(self, query: views.Query, panel_id: str) -> None:
        try:
            future = self.session.door.read(lambda store: views.read(store, query))
        except StoreError as error:
            self.post_message(RowsLoaded(panel_id, error=error))
            return

        def done(f: Future[Any]) -> None:
            if f.cancelled():
                return
            error = f.exception()
            self.post_message(RowsLoaded(panel_id, None if error else f.result(), error))

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
        if message.error is not None:
            self.notify(f"Not saved: {clean(message.error, limit=300)}", severity="error", markup=False)
        else:
            self.notify(clean(message.command.saved_text(), limit=200), markup=False)
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
        active = self.query_one(TabbedContent).active
        if active == "live":
            if snapshot is not None:
                self.query_one(TrafficPanel).refresh_from(snapshot)
                self.query_one(ConversionPanel).refresh_from(snapshot)
            self.query_one(SourcesPanel).refresh_from(snapshot, self.recorder, now)
            if self.screen.has_class("-wide"):
                self.query_one("#alerts-strip", AlertsPanel).refresh_from(snapshot, now)
        elif active == "alerts":
            self.query_one("#alerts-panel", AlertsPanel).refresh_from(snapshot, now)
        elif active in ("checklist", "support", "log"):
            panel = self.query_one(f"#{active}-panel")
            if isinstance(panel, SupportPanel) and snapshot is not None:
                panel.set_rejected(snapshot.rejected_tickets)
            panel.tick(now, self.launch.at)
        self._load_visible()

    def _room_state(self, now: float) -> RoomState:
        status = self.session.door.status()
        waiting = status.saving_for(time.monotonic()) > SAVING_AFTER
        alerts = self.snapshot.alerts if self.snapshot is not None else []
        unhandled = [a for a in alerts if a.ack is None and a.silence is None]
        return RoomState(
            not_saving=status.error,
            saving=status.waiting if waiting else 0,
            recorder_problem=self.recorder.problem if not self.recorder.running else None,
            figures_age=time.monotonic() - self.snapshot_arrived if self.recorder.running else None,
            firing=sum(a.state == FIRING for a in unhandled),
            handled=sum(a.state == FIRING for a in alerts) - sum(a.state == FIRING for a in unhandled),
            pending=sum(a.state == PENDING for a in unhandled),
        )

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.refresh_view()
        pane = self.query_one(f"#{tab}", TabPane)
        focusable = [w for w in pane.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()  # so the tab's own keys work and show in the footer

    def action_launch_now(self) -> None:
        """Start the launch clock for every operator; the key must be pressed twice."""
        pressed = time.monotonic()
        armed = self._launch_armed_at
        if armed is None or pressed - armed > self.LAUNCH_CONFIRM_SECONDS:
            self._launch_armed_at = pressed
            self.notify("Press L again to start the launch clock now, for everyone.",
                        timeout=self.LAUNCH_CONFIRM_SECONDS)
            return
        self._launch_armed_at = None
        self.submit(SetLaunch(operator=self.operator, launch_at=self.clock()))

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
                lambda store: export_store(store, out, **options_from_config(self.config))).result()
        except (StoreError, OSError, ValueError) as error:
            self.call_from_thread(self.notify, f"Export failed: {error}", severity="error", markup=False)
            return
        listing = ", ".join(str(p) for p in paths)
        self.call_from_thread(self.notify, f"Retrospective written: {listing}", timeout=10, markup=False)

    def action_toggle_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


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

