"""What an operator sees without looking for it: tab badges, the header's counts, a log that
follows with ticket chatter folded, search that jumps to the row, and values that keep
their cells whatever the labels (CJK) or the width."""

import dataclasses
import re
import time

from textual.geometry import Region
from textual.widgets import TabbedContent

from tests.ui.appfixtures import NOW, UiRoom, settle
from warroom.widgets.header import LaunchHeader
from warroom.widgets.incident_log import IncidentLogPanel
from warroom.widgets.messages import SnapshotArrived
from warroom.widgets.search import SearchScreen
from warroom.widgets.support import SupportPanel
from warroom.widgets.traffic import TrafficPanel

LATE = """
[[checklist]]
name = "run of show"
items = [{ title = "push sent", owner = "ops", due = "T-5m" }, { title = "retro", owner = "ops", due = "T+1d" }]
"""


def tab_labels(app) -> dict[str, str]:
    tabbed = app.query_one(TabbedContent)
    return {pane: tabbed.get_tab(pane).label.plain for pane in ("live", "alerts", "checklist", "support", "log")}


def header(app) -> str:
    return str(app.query_one(LaunchHeader).render())


def lines(widget) -> list[str]:
    size = widget.outer_size
    return [strip.text for strip in widget.render_lines(Region(0, 0, size.width, size.height))]


async def test_badges_and_header_counts(tmp_path):
    room = UiRoom(tmp_path, extra=LATE)
    with room.store() as store:  # an urgent ticket opened three hours ago: past both targets
        ticket = store.create_ticket("card declined", "bo", priority="urgent", at=NOW - 3 * 3600)
    room.clock.now += 6
    room.tick()  # the recorder sweeps the SLAs (every few seconds) and publishes the queue's figures
    app = room.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        labels = tab_labels(app)
        assert labels["alerts"] == "Alerts  1 firing "
        assert labels["checklist"] == "Checklist  1 late "
        assert labels["support"] == "Support  2 SLA "  # its reply and its resolve target
        assert labels["live"] == "Live" and labels["log"] == "Log"
        said = header(app)
        assert " 1 FIRING   errors_seen" in said  # the name, at 120 columns

        with room.store() as store:
            store.ack_alert("errors_seen", "ben", "on it")
        room.publish()
        await settle(pilot)
        assert "FIRING" not in header(app) and "1 acked" in header(app)
        assert tab_labels(app)["alerts"] == "Alerts"

        # A source down shows on the Live tab's badge.
        snapshot = app.snapshot
        down = [dataclasses.replace(s, state="error", reason="connection refused") for s in snapshot.sources]
        app.post_message(SnapshotArrived(dataclasses.replace(snapshot, sources=down)))
        await settle(pilot)
        assert tab_labels(app)["live"] == "Live  1 down "
    assert ticket.id.startswith("W-")


async def test_silenced_and_acked_are_counted_apart(tmp_path):
    room = UiRoom(tmp_path)
    with room.store() as store:
        store.add_silence("s1", (("name", "errors_seen"),), NOW + 3600, "known", "ben", NOW)
    room.publish()
    app = room.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "1 silenced" in header(app) and "FIRING" not in header(app) and "acked" not in header(app)


async def test_the_log_follows_and_folds_ticket_chatter(tmp_path):
    room = UiRoom(tmp_path, feed=False)
    with room.store() as store:
        store.add_log("note", "info", "first note", "ann", ts=NOW - 100)
        for n in range(10):
            store.add_log("ticket", "info", f"T-{n} assigned to bo", "bo", ts=NOW - 90 + n)
        store.add_log("decision", "warning", "hold the newsletter", "ann", ts=NOW - 50)
    app = room.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        panel = app.query_one(IncidentLogPanel)
        table = panel.table
        texts = [table.shown(key)[5][0] for key in table.keys]
        texts = [text for text in texts if not text.startswith("recorder:")]  # the recorder's arrival
        assert texts[0] == "hold the newsletter" and texts[2] == "first note"
        assert texts[1].startswith("▸ 10 ticket updates")  # folded by default
        assert table.cursor_row == 0

        with room.store() as store:  # following: new entries arrive at the top, under the cursor
            store.add_log("note", "info", "second note", "ann", ts=NOW + 1)
        await settle(pilot)
        assert table.cursor_row == 0 and table.shown(table.selected_key)[5][0] == "second note"

        await pilot.press("down", "down")  # reading further down: the row stays, the new are counted
        reading = table.selected_key
        with room.store() as store:
            for n in range(3):
                store.add_log("note", "info", f"late {n}", "ann", ts=NOW + 2 + n)
        await settle(pilot)
        assert table.selected_key == reading and table.cursor_row == 5
        assert "↑ 3 new · home" in str(panel.query_one("Summary").render())
        await pilot.press("home")
        await settle(pilot)
        assert table.cursor_row == 0 and "new" not in str(panel.query_one("Summary").render())

        await pilot.press("t")  # unfolded: every ticket update on its own row
        await settle(pilot)
        assert sum(table.shown(key)[2][0] == "ticket" for key in table.keys) == 10


async def test_search_jumps_to_the_row(tmp_path):
    room = UiRoom(tmp_path)
    with room.store() as store:
        ticket = store.create_ticket("Card declined at checkout", "bo", customer_ref="C-77")
        store.add_log("decision", "warning", "Switch checkout to the fallback provider", "ann")
    app = room.app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"card declined")
        deadline = time.monotonic() + 10
        while not app.screen.hits and time.monotonic() < deadline:
            await pilot.pause(0.05)
        hits = [(h.kind, h.key) for h in app.screen.hits]
        assert hits[0] == ("ticket", ticket.id) and [kind for kind, _ in hits] == ["ticket", "log"]  # and its log line
        await pilot.press("enter")
        await settle(pilot)
        assert app.query_one(TabbedContent).active == "support"
        assert app.query_one(SupportPanel).table.selected_key == f"t:{ticket.id}"

        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"fallback provider")
        deadline = time.monotonic() + 10
        while not app.screen.hits and time.monotonic() < deadline:
            await pilot.pause(0.05)
        (hit,) = app.screen.hits  # the log entry (an alert's runbook is not searched)
        assert hit.kind == "log"
        await pilot.press("enter")
        await settle(pilot)
        assert app.query_one(TabbedContent).active == "log"
        assert app.query_one(IncidentLogPanel).table.selected_key == f"log:{hit.key}"


def with_cjk(text: str) -> str:
    """A participants metric labelled in Chinese, shown third on the traffic panel."""
    text = text.replace('metrics = ["visits", "error_rate"]', 'metrics = ["visits", "error_rate", "participants"]')
    return text + '\n[[metrics]]\nname = "participants"\nlabel = "参与人数"\nsource = "web"\nwhere = { status = 200 }\n'


async def test_cjk_labels_keep_their_values(tmp_path):
    room = UiRoom(tmp_path, edit=with_cjk)
    for width in (60, 80, 100):
        app = room.app()
        async with app.run_test(size=(width, 30)) as pilot:
            await settle(pilot)
            shown = lines(app.query_one(TrafficPanel))
            row = next(line for line in shown if "参与" in line)
            assert re.search(r" \d[\d,.]*k?/(s|min) +[\d,.]+k? +│$", row), (width, row)  # rate and total whole


async def test_a_queue_longer_than_the_rows_shown_is_counted_whole(tmp_path):
    """The room sends the most pressing open tickets only; the summary counts every one."""
    from warroom.widgets.support import MAX_OPEN_ROWS

    room = UiRoom(tmp_path)
    with room.store() as store:
        for n in range(MAX_OPEN_ROWS + 20):
            store.create_ticket(
                f"Question {n}", "bo", priority="urgent" if n == MAX_OPEN_ROWS + 10 else "low", at=NOW - 60
            )
    app = room.app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        panel = app.query_one(SupportPanel)
        summary = str(panel.query_one("Summary").render())
        assert f"{MAX_OPEN_ROWS + 20} open" in summary and f"top {MAX_OPEN_ROWS} shown" in summary
        assert len(panel.table.keys) == MAX_OPEN_ROWS
        assert panel.tickets[0].subject == f"Question {MAX_OPEN_ROWS + 10}"  # the urgent one, made last
