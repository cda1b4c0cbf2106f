"""The dashboard driven as an operator would, at 80x24 and 160x48, attached to a room whose
recorder the test drives."""

import pytest

from tests.ui.appfixtures import FixedClock, UiRoom, make_app, settle
from warroom.widgets.conversion import ConversionPanel
from warroom.widgets.header import LaunchHeader
from warroom.widgets.help import HelpScreen
from warroom.widgets.sources import SourcesPanel
from warroom.widgets.traffic import TrafficPanel


def text_of(widget) -> str:
    return str(widget.render())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_live_panels_show_the_numbers(size, tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        header = text_of(app.query_one(LaunchHeader))
        assert "T+00:12:34" in header and "Test launch" in header
        traffic = text_of(app.query_one(TrafficPanel))
        assert "visits" in traffic and "1/s" in traffic  # 600 visits over the last 10 minutes
        assert "social" in traffic and "33%" in traffic  # three channels, a third each
        conversion = text_of(app.query_one(ConversionPanel))
        assert "orders" in conversion and "150/400" in conversion  # 150 orders of a 400 target
        assert "25.0%" in conversion  # orders per visit in the funnel
        sources = text_of(app.query_one(SourcesPanel))
        assert "web" in sources and "connecting" in sources  # the test runs no source
        assert "recorder recorder@warroom-test since 09:50:00" in sources
        # Every panel is on screen, none is squeezed to nothing.
        for panel in (TrafficPanel, ConversionPanel, SourcesPanel):
            region = app.query_one(panel).region
            assert region.width >= 20 and region.height >= 3
            assert region.right <= size[0] and region.bottom <= size[1]


async def test_wide_layout_uses_the_space(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.screen.has_class("-wide")
        assert app.query_one(TrafficPanel).region.width < 80


async def test_keys_help_and_quit(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_launch_now_needs_two_presses_and_is_shared(tmp_path):
    clock = FixedClock()
    room = UiRoom(tmp_path, clock, launched=False)
    app = room.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        assert app.launch.at is None  # one press only arms it
        await pilot.press("L")
        await settle(pilot)
        assert app.launch.at == clock.now  # read back from the room, not set on screen
        assert "T+00:00:00" in text_of(app.query_one(LaunchHeader))
        assert ("Launched: the clock now counts from T0 for everyone", "information") in app.notes
    with room.store() as other:  # another operator's process sees it on disk
        assert other.launch_time() == clock.now
    room.recorder.follow_room()
    assert room.recorder.engine.launch_at == clock.now  # and the recorder takes it on


async def test_alert_acknowledged_through_the_keys_reaches_every_screen(tmp_path):
    from textual.widgets import Input

    from warroom.widgets.alerts import AlertsPanel

    room = UiRoom(tmp_path)
    ana, ben = room.app("ana"), room.app("ben")
    async with ana.run_test(size=(80, 24)) as pilot, ben.run_test(size=(80, 24)) as ben_pilot:
        await settle(pilot)
        assert "1 FIRING" in text_of(ana.query_one(LaunchHeader))
        await pilot.press("2")
        await settle(pilot)
        panel = ana.query_one("#alerts-panel", AlertsPanel)
        assert "payment gateway" in str(panel.query_one("#alerts-detail-text").render())
        await pilot.press("a")
        await pilot.pause()
        ana.screen.query_one(Input).value = "looking at it"
        await pilot.press("enter")
        await settle(pilot)
        assert ("Acknowledged errors_seen", "information") in ana.notes  # committed first
        with room.store() as other:
            acked = [e for e in other.alert_events() if e.event == "acked"]
            assert [(e.operator, e.note) for e in acked] == [("ana", "looking at it")]
        room.publish()  # the recorder takes the ack from the room and publishes it
        for each, each_pilot in ((ana, pilot), (ben, ben_pilot)):
            await settle(each_pilot)
            (view,) = each.snapshot.alerts
            assert view.ack is not None and view.ack.operator == "ana"
            assert "1 FIRING" not in text_of(each.query_one(LaunchHeader))


async def test_export_key_writes_the_retrospective(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("E")
        for _ in range(200):  # the export runs in a thread; wait until it says it is done
            await pilot.pause(0.05)
            if any(note.startswith("Retrospective written") for note, _ in app.notes):
                break
    written = sorted(p.suffix for p in (tmp_path / "retrospective").iterdir())
    assert written == [".html", ".json", ".md"]
    markdown = next((tmp_path / "retrospective").glob("*.md")).read_text()
    assert "errors_seen" in markdown  # the alert that fired is in the incidents


async def test_a_message_after_the_app_closed_is_logged_not_raised(tmp_path, caplog):
    """An export that finishes as the operator quits says so to a screen that is gone: that
    used to raise inside the export's worker."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
    with caplog.at_level("INFO", logger="warroom.app"):
        app.notify("Retrospective written: late.md", severity="information")
    assert "Retrospective written: late.md" in caplog.text


async def test_wide_live_tab_shows_the_latest_log_entries(tmp_path):
    from warroom.widgets.recent_log import RecentLogPanel

    room = UiRoom(tmp_path)
    app = room.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        with room.store() as other:
            other.add_log("decision", "critical", "Switch to the queue page [now]\x1b[2J", "ben")
        await settle(pilot)
        shown = text_of(app.query_one(RecentLogPanel))
        assert "Switch to the queue page [now]␛[2J" in shown  # markup and escapes stay inert


async def test_a_target_keeps_its_name_when_its_figures_fill_the_line(tmp_path):
    """At 60 columns a target's figures leave no room for its name: it goes before the bar."""
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(60, 30)) as pilot:
        await settle(pilot)
        lines = text_of(app.query_one(ConversionPanel)).splitlines()
        (figures,) = [n for n, line in enumerate(lines) if "150/400" in line]
        assert "orders" in lines[figures] or lines[figures + 1].startswith("orders ")


async def test_the_narrow_alert_strip_goes_when_the_screen_turns_wide(tmp_path):
    """A refresh made before the screen knew it was wide (at start-up) showed the narrow
    layout's strip; the next refresh on the wide screen must hide it again."""
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        narrow = app.query_one("#alerts-strip-narrow")
        narrow.display = True  # what that early refresh left (alerts are firing)
        app.refresh_view()
        await pilot.pause()
        assert app.wide and not narrow.display
