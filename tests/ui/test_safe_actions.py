"""Actions that must not surprise, each driven through the keys against a real room:
moving T0 after it is set, the alert row under the cursor, an ack note typed while the alert
resolves, keys that do what the key table says, and messages that never cover a row."""

from textual.widgets import Input, TabbedContent

from tests.ui.appfixtures import LAUNCH, NOW, UiRoom, settle
from warroom.widgets.alert_forms import AckForm
from warroom.widgets.alerts import AlertsPanel
from warroom.widgets.forms import LaunchConfirm
from warroom.widgets.status import StatusLine

RULES = """
[[alerts]]
name = "visits_seen"
expr = "value(visits) > 0"
severity = "warning"
summary = "{value} visits"

[[alerts]]
name = "visits_fresh"
expr = "age(visits) < 100"
severity = "warning"
summary = "last visit {value} ago"

[[alerts]]
name = "visits_quiet"
expr = "age(visits) > 100"
severity = "critical"
summary = "no visit for {value}"
"""


async def alerts_tab(pilot) -> AlertsPanel:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    return pilot.app.query_one("#alerts-panel", AlertsPanel)


async def test_moving_t0_after_the_launch_asks_first_and_says_by_how_much(tmp_path):
    room = UiRoom(tmp_path)  # launched at LAUNCH; the clock is at T+00:12:34
    app = room.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, LaunchConfirm)
        said = str(app.screen.query_one("#launch-text").render())
        assert "started at 10:00:00" in said and "T+00:12:34" in said and "+12m34s" in said
        await pilot.press("enter")  # "Keep T0" has the focus: Enter never moves T0
        await settle(pilot)
        assert not isinstance(app.screen, LaunchConfirm)
        assert app.launch.at == LAUNCH
        await pilot.press("L")
        await pilot.pause()
        await pilot.click("#move")
        await settle(pilot)
        assert app.launch.at == NOW  # moved, for everyone: read back from the room
    with room.store() as other:
        assert other.launch_time() == NOW


async def test_the_alert_under_the_cursor_stays_put(tmp_path):
    room = UiRoom(tmp_path, extra=RULES)
    app = room.app()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await alerts_tab(pilot)
        table = panel.table
        assert table.keys == ["errors_seen", "visits_fresh", "visits_seen"]
        await pilot.press("down", "down")
        assert table.selected_key == "visits_seen"
        # A critical alert starts firing and visits_fresh resolves: the recorder re-sorts.
        room.clock.now += 200
        room.tick()
        await settle(pilot)
        assert [a.name for a in app.snapshot.alerts][:2] == ["errors_seen", "visits_quiet"]
        assert table.cursor_row == 2 and table.selected_key == "visits_seen"  # the row did not move
        assert table.keys == ["errors_seen", "visits_fresh", "visits_seen", "visits_quiet"]  # new at the bottom
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AckForm) and app.screen.rule == "visits_seen"
        await pilot.press("escape")
        # Once the operator leaves the table alone, it takes the recorder's order again.
        table.touched_at -= 60
        app.refresh_view()
        await pilot.pause()
        assert table.keys == [a.name for a in app.snapshot.alerts]
        assert table.selected_key == "visits_seen"


async def test_an_ack_note_survives_its_alert_resolving(tmp_path):
    room = UiRoom(tmp_path, extra=RULES)
    app = room.app()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await alerts_tab(pilot)
        panel.select("visits_fresh")
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, AckForm)
        form.query_one("#note", Input).value = "looking at the feed"
        room.clock.now += 200  # no visit for 200 s: visits_fresh resolves while the note is typed
        room.tick()
        await settle(pilot)
        assert app.screen is form and form.ended == "resolved"
        assert form.query_one("#note", Input).value == "looking at the feed"
        assert "resolved now" in str(form.query_one("#alert-state").render())
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, AckForm)
    with room.store() as other:
        assert not [e for e in other.alert_events() if e.event == "acked"]
        assert other.recent(kinds=["note"])[-1].text == "visits_fresh: looking at the feed"


async def test_a_refused_ack_keeps_its_note_for_the_next_try(tmp_path):
    room = UiRoom(tmp_path, extra=RULES)
    app = room.app()
    async with app.run_test(size=(100, 30)) as pilot:
        panel = await alerts_tab(pilot)
        with room.store() as other:  # another operator acknowledges first
            other.ack_alert("errors_seen", "ben", "mine")
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#note", Input).value = "on it too"
        await pilot.press("enter")
        await settle(pilot)
        assert any("already acknowledged by ben" in note and "note is kept" in note for note, _ in app.notes)
        await pilot.press("a")
        await pilot.pause()
        assert app.screen.query_one("#note", Input).value == "on it too"
        assert panel.selected.name == "errors_seen"


async def test_number_keys_switch_tabs_from_any_tab(tmp_path):
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(80, 24)) as pilot:
        tabs = app.query_one(TabbedContent)
        for key, tab in (
            ("2", "alerts"),
            ("1", "live"),
            ("4", "support"),
            ("2", "alerts"),
            ("5", "log"),
            ("3", "checklist"),
            ("1", "live"),
        ):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == tab, (key, tab)


async def test_messages_go_to_the_status_line_not_over_a_row(tmp_path):
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4", "n")
        await pilot.pause()
        await pilot.press(*"card declined", "enter")
        await settle(pilot)
        line = app.query_one(StatusLine)
        assert line.message == "Saved: ticket opened" and line.display
        assert not app.query("Toast")  # nothing drawn over the tables
        assert line.region.y == 23  # the footer's row, under the table
