"""The dashboard driven as an operator would, at 80x24 and 160x48."""

import pytest

from tests.ui.appfixtures import make_app
from warroom.widgets.conversion import ConversionPanel
from warroom.widgets.header import LaunchHeader
from warroom.widgets.sources import SourcesPanel
from warroom.widgets.traffic import TrafficPanel


def text_of(widget) -> str:
    return str(widget.render())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_live_panels_show_the_numbers(size, tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        header = text_of(app.query_one(LaunchHeader))
        assert "T+00:12:34" in header and "Test launch" in header
        traffic = text_of(app.query_one(TrafficPanel))
        assert "visits" in traffic and "1/s" in traffic  # 600 visits over the last 10 minutes
        assert "social" in traffic and "33%" in traffic  # three channels, a third each
        conversion = text_of(app.query_one(ConversionPanel))
        assert "orders" in conversion and "150/400" in conversion  # 150 orders of a 400 target
        assert "25.0%" in conversion  # orders per visit in the funnel
        sources = text_of(app.query_one(SourcesPanel))
        assert "web" in sources and "waiting for" in sources
        # Every panel is on screen, none is squeezed to nothing.
        for panel in (TrafficPanel, ConversionPanel, SourcesPanel):
            region = app.query_one(panel).region
            assert region.width >= 20 and region.height >= 3
            assert region.right <= size[0] and region.bottom <= size[1]


async def test_wide_layout_uses_the_space(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-wide")
        assert app.query_one(TrafficPanel).region.width < 80


async def test_keys_help_and_quit(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_launch_now_needs_two_presses_and_is_shared(tmp_path):
    from tests.ui.appfixtures import FixedClock
    from warroom.store import RoomStore

    clock = FixedClock()
    app = make_app(tmp_path, clock=clock, launched=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("L")
        await pilot.pause()
        assert app.engine.launch_at is None  # one press only arms it
        await pilot.press("L")
        await pilot.pause()
        assert app.engine.launch_at == clock.now
        assert "T+00:00:00" in text_of(app.query_one(LaunchHeader))
    # Another operator's store sees the launch time on disk.
    with RoomStore(tmp_path / "room.db") as other:
        assert other.launch_time() == clock.now


async def test_alert_acknowledged_through_the_keys_reaches_the_store(tmp_path):
    from textual.widgets import Input

    from tests.ui.appfixtures import FixedClock
    from warroom.store import RoomStore
    from warroom.widgets.alerts import AlertsPanel

    clock = FixedClock()
    app = make_app(tmp_path, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.room.recorder.tick(clock.now)
        await pilot.pause()
        app.refresh_view()
        assert "1 FIRING" in text_of(app.query_one(LaunchHeader))
        await pilot.press("2")
        await pilot.pause()
        panel = app.query_one("#alerts-panel", AlertsPanel)
        assert "payment gateway" in str(panel.query_one("#alerts-detail-text").render())
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one(Input).value = "looking at it"
        await pilot.press("enter")
        await pilot.pause()
        (view,) = app.room.alerts.alerts(clock.now)
        assert view.ack is not None and view.ack.operator == "ana"
        clock.now += 1
        app.room.recorder.tick(clock.now)  # the next tick writes the ack to the shared log
    with RoomStore(tmp_path / "room.db") as other:
        events = [(e.rule, e.event) for e in other.alert_events()]
        assert ("errors_seen", "firing") in events and ("errors_seen", "acked") in events
        acked = [e for e in other.alert_events() if e.event == "acked"][0]
        assert acked.operator == "ana" and acked.note == "looking at it"


async def test_export_key_writes_the_retrospective(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.room.recorder.tick(app.engine.clock())
        await pilot.press("E")
        for _ in range(100):  # the export runs in a thread; wait for its files
            await pilot.pause(0.05)
            if len(list((tmp_path / "retrospective").glob("*"))) == 3:
                break
    written = sorted(p.suffix for p in (tmp_path / "retrospective").iterdir())
    assert written == [".html", ".json", ".md"]
    markdown = next((tmp_path / "retrospective").glob("*.md")).read_text()
    assert "errors_seen" in markdown  # the alert that fired is in the incidents


async def test_wide_live_tab_shows_the_latest_log_entries(tmp_path):
    from warroom.widgets.recent_log import RecentLogPanel

    app = make_app(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        app.store.add_log("decision", "critical", "Switch to the queue page [now]\x1b[2J", "ben")
        await pilot.pause(0.5)
        app.refresh_view()
        shown = text_of(app.query_one(RecentLogPanel))
        assert "Switch to the queue page [now]␛[2J" in shown  # markup and escapes stay inert
