"""The alerts panel driven through its keys at 80x24, over a real alert engine.

The host app plays the room and its recorder: it evaluates the engine when the test moves the
clock, gives the panel the snapshot a recorder would publish, and applies the commands the
panel submits (ack, silence, unsilence) to the engine as the recorder would take them from
the room. The clock is a list the test moves by hand.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from warroom.alerts import FIRING, AlertEngine, Silence
from warroom.commands import AckAlert, AddSilence, EndSilence
from warroom.config import AlertRuleConfig, MetricConfig
from warroom.metrics import MetricsStore
from warroom.snapshot import Snapshot
from warroom.store import AlertEvent
from warroom.widgets.alert_forms import AckForm, SilenceForm
from warroom.widgets.alerts import AlertsPanel
from warroom.widgets.messages import Reload, Submit
from warroom.widgets.tones import tones

T0 = 1_795_600_800.0
HOSTILE = "latency {value} [red]x[/red] \x1b[31mred"


class Room:
    def __init__(self) -> None:
        self.now = [T0]
        clock = lambda: self.now[0]  # noqa: E731
        self.metrics = MetricsStore(
            [
                MetricConfig(name="latency_ms", kind="last", field="ms", unit="ms"),
                MetricConfig(name="queue", kind="last", field="n"),
            ],
            clock=clock,
        )
        self.rules = [
            AlertRuleConfig(
                name="slow_pages",
                expr="latency_ms > 800",
                severity="critical",
                summary=HOSTILE,
                labels={"team": "web"},
                runbook="Switch the landing page to the queue page [bold]now[/bold]; page on-call",
            ),
            AlertRuleConfig.model_validate(
                {
                    "name": "long_queue",
                    "expr": "queue > 100",
                    "for": "10s",
                    "severity": "warning",
                    "summary": "queue {value}",
                }
            ),
        ]
        self.engine = AlertEngine(self.rules, self.metrics, clock=clock)

    def feed(self, latency: float, queue: float = 0.0) -> None:
        self.metrics.add("latency_ms", self.now[0], latency, 1)
        self.metrics.add("queue", self.now[0], queue, 1)

    def snapshot(self) -> Snapshot:
        return Snapshot(
            seq=0, at=self.now[0], launch_at=None, alerts=self.engine.alerts(self.now[0]), rules=len(self.rules)
        )

    def show(self, panel: AlertsPanel) -> None:
        panel.refresh_from(self.snapshot(), self.now[0])

    def tick(self, panel: AlertsPanel, seconds: float = 1.0, latency: float = 900.0, queue: float = 0.0):
        self.now[0] += seconds
        self.feed(latency, queue)
        transitions = self.engine.evaluate(self.now[0])
        snapshot = self.snapshot()
        panel.refresh_from(snapshot, self.now[0])
        panel.announce(snapshot, self.now[0])
        return transitions

    def apply(self, command) -> None:
        """What the recorder does with a command it finds in the room."""
        now = self.now[0]
        if isinstance(command, AckAlert):
            self.engine.ack(command.rule, command.operator, command.note, now)
        elif isinstance(command, AddSilence):
            self.engine.adopt_silence(
                Silence(command.silence_id, command.matchers, command.until, command.comment, command.operator, now),
                now,
            )
        elif isinstance(command, EndSilence):
            self.engine.unsilence(command.silence_id, command.operator, now)

    def history(self) -> list[AlertEvent]:
        return [
            AlertEvent(n, t.ts, t.rule, t.event, t.severity, t.value, t.operator or None, t.note, t.episode)
            for n, t in enumerate(self.engine.history())
        ]


class Host(App):
    def __init__(self, room: Room, compact: bool = False) -> None:
        super().__init__()
        self.room = room
        self.compact = compact
        self.bells = 0
        self.commands: list = []
        self.notices: list[tuple[str, str, bool]] = []  # (message, severity, markup)

    def compose(self) -> ComposeResult:
        yield AlertsPanel(self.room.rules, "ana", compact=self.compact, id="alerts")

    def on_submit(self, message: Submit) -> None:
        self.commands.append(message.command)
        self.room.apply(message.command)
        self.room.show(self.query_one(AlertsPanel))

    def on_reload(self, message: Reload) -> None:
        self.query_one(AlertsPanel).show_rows(self.room.history())

    def bell(self) -> None:
        self.bells += 1

    def notify(
        self, message: str, *, title: str = "", severity="information", timeout=None, markup: bool = True
    ) -> None:
        self.notices.append((message, severity, markup))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


def lines_of(widget) -> list[str]:
    """What the widget puts on screen, line by line."""
    size = widget.outer_size
    return [strip.text for strip in widget.render_lines(Region(0, 0, size.width, size.height))]


def detail(app: Host) -> str:
    return "\n".join(lines_of(app.query_one("#alerts-detail-text")))


async def test_ack_silence_unsilence_and_history_through_the_keys():
    room = Room()
    app = Host(room)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        room.tick(panel)
        await pilot.pause()
        table = app.query_one(DataTable)
        assert table.row_count == 1
        assert room.engine.alerts()[0].state == FIRING
        assert "RUNBOOK" in detail(app) and "queue page [bold]now[/bold]" in detail(app)

        # Acknowledge with a note.
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AckForm)
        await pilot.press(*"on it, scaling", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, AckForm)
        ack = room.engine.alerts()[0].ack
        assert ack is not None and (ack.operator, ack.note) == ("ana", "on it, scaling")
        assert "acked by ana" in detail(app) and "on it, scaling" in detail(app)
        assert "acked" in table.get_row("slow_pages")[1].plain

        # Silence: a bad duration is explained in the form, then a good one is accepted.
        await pilot.press("s")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SilenceForm)
        assert form.query_one("#matcher").value == "name=slow_pages"
        await pilot.press(*"soon", "enter", *"deploy rollback", "enter")
        await pilot.pause()
        assert app.screen is form and "duration" in form.error_text
        form.query_one("#duration").value = ""
        form.query_one("#duration").focus()
        await pilot.press(*"30m", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, SilenceForm)
        view = room.engine.alerts()[0]
        assert view.silence is not None and view.silence.comment == "deploy rollback"
        assert view.silence.until == room.now[0] + 1800
        text = detail(app)
        assert "deploy rollback" in text and "name=slow_pages" in text and "by ana" in text

        # The silence expires by itself once the clock passes it.
        room.tick(panel, seconds=1801)
        await pilot.pause()
        assert room.engine.alerts()[0].silence is None and room.engine.silences() == []
        assert "deploy rollback" not in detail(app)

        # Silence again, then lift it early with `u`.
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"2h", "enter", *"planned maintenance", "enter")
        await pilot.pause()
        assert room.engine.alerts()[0].silence is not None
        await pilot.press("u")
        await pilot.pause()
        assert room.engine.silences() == [] and room.engine.alerts()[0].silence is None

        # History: the ack and silence events with operator and note.
        await pilot.press("h")
        await pilot.pause()
        history = "\n".join(lines_of(app.query_one("#alerts-history-text")))
        for expected in (
            "acked",
            "ana",
            "on it, scaling",
            "silenced",
            "deploy rollback",
            "unsilenced",
            "silence expired",
            "firing",
        ):
            assert expected in history, expected
        assert not app.query_one("#alerts-detail").display
        await pilot.press("h")
        await pilot.pause()
        assert app.query_one("#alerts-detail").display


async def test_engine_errors_are_notified_not_raised():
    room = Room()
    app = Host(room)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        room.tick(panel)
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        form = app.screen
        form.query_one("#matcher").value = "name=no_such_rule"
        await pilot.press(*"5m", "enter", *"why", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, SilenceForm)
        assert any("matches no alert rule" in m and sev == "error" and not markup for m, sev, markup in app.notices)
        assert room.engine.silences() == []
        # `u` on an alert without a silence explains rather than fails.
        await pilot.press("u")
        await pilot.pause()
        assert any("not silenced" in m for m, _, _ in app.notices)


async def test_rows_follow_the_engine_order_and_update_in_place():
    room = Room()
    app = Host(room)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        table = app.query_one(DataTable)
        room.tick(panel, latency=100, queue=500)  # long_queue pending, slow_pages quiet
        await pilot.pause()
        assert [str(k.value) for k in table.rows] == ["long_queue"]
        room.tick(panel, latency=900, queue=500)
        await pilot.pause()
        order = [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]
        assert order == ["slow_pages", "long_queue"]  # firing before pending
        sev = table.get_row("slow_pages")[0]
        palette = tones(app)
        assert sev.plain == "CRIT" and sev.style == palette["crit"]
        assert table.get_row("long_queue")[0].style == palette["warn"]
        room.tick(panel, seconds=65, latency=950, queue=500)
        await pilot.pause()
        row = table.get_row("slow_pages")
        assert row[3].plain == "1m05s" and row[4].plain == "950 ms"
        # Long queue fired after its `for`: still below the critical one.
        assert room.engine.state("long_queue") == FIRING
        order = [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]
        assert order == ["slow_pages", "long_queue"]
        # The cursor stays on the selected alert, its runbook in the detail box.
        await pilot.press("down")
        await pilot.pause()
        assert panel.selected.name == "long_queue"
        assert "none written" in detail(app)


async def test_critical_alert_rings_once_per_episode():
    room = Room()
    app = Host(room)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        for _ in range(5):
            room.tick(panel)
        await pilot.pause()
        assert app.bells == 1
        critical = [n for n in app.notices if n[0].startswith("CRITICAL slow_pages")]
        assert len(critical) == 1 and critical[0][1:] == ("error", False)
        # The same snapshot again (a second panel, a repeated call) does not ring again.
        assert panel.announce(room.snapshot(), room.now[0]) == []
        assert app.bells == 1
        # Resolved, then firing again: a new episode rings again.
        room.tick(panel, latency=100)
        room.tick(panel, latency=900)
        await pilot.pause()
        assert app.bells == 2


async def test_remote_text_is_shown_as_data():
    room = Room()
    app = Host(room)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        room.tick(panel)
        await pilot.pause()
        summary = app.query_one(DataTable).get_row("slow_pages")[5]
        assert "[red]x[/red]" in summary.plain and "\x1b" not in summary.plain and "␛[31m" in summary.plain
        assert not summary.spans
        text = detail(app)
        assert "[red]x[/red]" in text and "␛[31mred" in text and "\x1b" not in text
        screen = "\n".join(lines_of(app.query_one(DataTable)))
        assert "\x1b" not in screen
        message, _, markup = next(n for n in app.notices if n[0].startswith("CRITICAL"))
        assert "[red]x[/red]" in message and "\x1b" not in message and not markup


async def test_compact_mode_fits_five_lines():
    room = Room()
    app = Host(room, compact=True)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(AlertsPanel)
        room.show(panel)
        await pilot.pause()
        assert "no alert firing" in "\n".join(lines_of(panel.query_one("#alerts-compact")))
        room.tick(panel, latency=900, queue=500)
        room.tick(panel, seconds=12, latency=900, queue=500)
        await pilot.pause()
        assert panel.region.height <= 5 and panel.region.width <= 80
        shown = "\n".join(lines_of(panel.query_one("#alerts-compact")))
        assert "2 firing" in shown
        assert "slow_pages" in shown and "long_queue" in shown and "900 ms" in shown
        # No keys in compact mode.
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, AckForm)
        assert room.engine.alerts()[0].ack is None and app.commands == []
