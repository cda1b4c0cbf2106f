"""The Textual app: layout, key bindings, and the refresh tick that renders engine state.

The engine runs as a worker in the app's event loop; the app never computes metrics itself.
On each tick (config `ui.refresh_hz`, 3 Hz by default) it asks only the visible panels to
re-render, and panels only send output when their text changed: frame rate and panel
height are what a dashboard costs in CPU and, over SSH, in bytes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from warroom.alerts import FIRING, PENDING, Transition
from warroom.config import resolve_panels
from warroom.room import Room
from warroom.store import StoreError
from warroom.widgets.alerts import AlertsPanel
from warroom.widgets.checklist import ChecklistPanel
from warroom.widgets.conversion import ConversionPanel
from warroom.widgets.header import LaunchHeader
from warroom.widgets.incident_log import IncidentLogPanel
from warroom.widgets.recent_log import RecentLogPanel
from warroom.widgets.sources import SourcesPanel
from warroom.widgets.support import SupportPanel
from warroom.widgets.traffic import TrafficPanel

log = logging.getLogger(__name__)

RECENT_LOG_LINES = 30  # more than a tall terminal shows; the panel cuts what does not fit


class WarroomApp(App):
    CSS_PATH = "app.tcss"
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
    STORE_PANELS = ("checklist", "support", "log")  # tabs whose panels read the room store

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room
        self.config = room.config
        self.engine = room.engine
        self.store = room.store
        self.operator = room.operator
        self.traffic_layout, self.conversion_layout = resolve_panels(self.config)
        self._launch_armed_at: float | None = None
        self._recent_unread = True  # the recent-log strip has not read the store yet

    def compose(self) -> ComposeResult:
        yield LaunchHeader(self.config.launch.name, self.operator, id="header")
        with TabbedContent(initial="live"):
            with TabPane("Live", id="live"):
                with Container(id="live-grid"):
                    yield TrafficPanel(
                        self.traffic_layout,
                        self.config.ui.chart_window,
                        converted=self._converted_by_channel(),
                        id="traffic",
                    )
                    yield ConversionPanel(self.conversion_layout, id="conversion")
                    with Vertical(id="live-side"):  # shown on a wide terminal only
                        yield AlertsPanel(self.room.alerts, self.operator, compact=True, id="alerts-strip")
                        yield RecentLogPanel(id="recent-log")
                    yield SourcesPanel(id="sources")
            with TabPane("Alerts", id="alerts"):
                yield AlertsPanel(self.room.alerts, self.operator, id="alerts-panel")
            with TabPane("Checklist", id="checklist"):
                yield ChecklistPanel(self.store, self.operator, team=self.config.team, id="checklist-panel")
            with TabPane("Support", id="support"):
                yield SupportPanel(self.store, self.operator, self.config.tickets.sla, id="support-panel")
            with TabPane("Log", id="log"):
                yield IncidentLogPanel(self.store, self.operator, id="log-panel")
        yield Footer()

    def _converted_by_channel(self) -> str | None:
        """The funnel's last step, when it is split the same way as the channel metric."""
        channels = self.traffic_layout.channels
        funnel = self.conversion_layout.funnel
        if not channels or not funnel:
            return None
        split = {m.name: m.split_by for m in self.config.metrics}
        last = funnel[-1]
        return last if last != channels and split.get(last) and split.get(last) == split.get(channels) else None

    def on_mount(self) -> None:
        if not self.is_headless:
            # A dropped SSH session (SIGHUP) or a kill (SIGTERM) ends the app the normal way,
            # so the caller closes the room store cleanly.
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self.exit)
        self.room.recorder.on_transitions.append(self._announce)
        self.run_worker(self.engine.run(), name="engine", exit_on_error=False)
        self.set_interval(1.0 / self.config.ui.refresh_hz, self.refresh_view)
        self.call_after_refresh(self.refresh_view)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker failures land here, in one place, and are shown rather than lost."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("worker %s failed: %r", event.worker.name, error)
            self.notify(f"{event.worker.name} failed: {error!r}", severity="error", markup=False)

    def _announce(self, transitions: list[Transition]) -> None:
        """New critical alerts ring the bell once, whichever tab is showing."""
        self.query_one("#alerts-panel", AlertsPanel).announce(transitions)

    def refresh_view(self) -> None:
        engine = self.engine
        now = engine.clock()
        try:
            header = self.query_one(LaunchHeader)
        except NoMatches:  # a last timer tick while the app closes: its widgets are gone
            return
        states = [view.state for view in self.room.alerts.alerts(now)]
        header.refresh_from(
            now, engine.launch_at, self.room.recorder.store_error,
            firing=states.count(FIRING), pending=states.count(PENDING),
        )
        active = self.query_one(TabbedContent).active
        if active == "live":
            metrics = engine.metrics
            self.query_one(TrafficPanel).refresh_from(metrics)
            self.query_one(ConversionPanel).refresh_from(metrics, now)
            rejects = {s.name: engine.rejects(s.name) for s in engine.sources}
            self.query_one(SourcesPanel).refresh_from(engine.health(), rejects, now)
        elif active == "alerts":
            self.query_one("#alerts-panel", AlertsPanel).refresh_from(now)
        try:
            changed = self.store.changed()  # once per tick: the flag is consumed by reading it
        except StoreError:
            changed = True  # let the panel read and report the failure itself
        if active == "live" and self.screen.has_class("-wide"):
            self.query_one("#alerts-strip", AlertsPanel).refresh_from(now)
            if changed or self._recent_unread:
                self._refresh_recent_log()
        elif changed:
            self._recent_unread = True  # read it when the strip is next on screen
        if active in self.STORE_PANELS:
            panel = self.query_one(f"#{active}-panel")
            if isinstance(panel, SupportPanel):
                panel.set_rejected(self.room.recorder.rejected_tickets)
            panel.refresh_from(now, engine.launch_at, changed)

    def _refresh_recent_log(self) -> None:
        try:
            entries = self.store.recent(limit=RECENT_LOG_LINES)
        except StoreError:
            self._recent_unread = True  # the header already says the store is failing
            return
        self._recent_unread = False
        self.query_one(RecentLogPanel).refresh_from(entries)

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
            self.notify("Press L again to start the launch clock now, for everyone.", timeout=self.LAUNCH_CONFIRM_SECONDS)
            return
        self._launch_armed_at = None
        now = self.engine.clock()
        try:
            self.store.set_launch(now, self.operator)
        except StoreError as error:
            self.notify(f"Launch not saved: {error}", severity="error", markup=False)
            return
        self.engine.set_launch(now)
        self.refresh_view()
        self.notify("Launched: the clock now counts from T0 for everyone.")

    def action_export(self) -> None:
        """Write the retrospective beside the database, in a thread: the screen stays live."""
        self.notify("Writing the retrospective…")
        self.run_worker(self._export, name="export", thread=True, exit_on_error=False)

    def _export(self) -> None:
        from warroom.export import export_room, options_from_config
        from warroom.room import database_path

        db = database_path(self.config)
        try:
            paths = export_room(db, db.parent / "retrospective", **options_from_config(self.config))
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
