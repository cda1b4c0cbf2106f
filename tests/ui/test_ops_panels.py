"""The operations panels driven as an operator would, at 80x24, against a real room database.

Each test attaches the real dashboard to a room on a file, opens the panel's tab, presses keys,
and then checks the result with a second connection to the same file, as another operator's
process would have: "saved" on screen means on disk.
"""

from __future__ import annotations

import sqlite3

import pytest
from textual.geometry import Region
from textual.widgets import Input, Select, Static

from tests.ui.appfixtures import FixedClock, UiRoom, settle
from warroom.widgets.forms import LogEntryForm, TicketForm
from warroom.widgets.table import ColumnSpec, KeyedTable, Summary, allocate

LAUNCH = 1_795_600_800.0  # 2026-11-25T10:00:00Z
NOW = LAUNCH - 20 * 60  # T-20m
SIZE = (80, 24)
HOSTILE = "[b]x\x1b[2J"
LITERAL = "[b]x␛[2J"
ROOM = """
[team]
tech = ["bob", "cy"]
lead = ["dee"]

[[checklist]]
name = "pre-launch tests"
items = [{ title = "landing page test", owner = "tech", due = "T-30m" },
         { title = "rules reviewed", owner = "content", due = "T-15m" }]

[[checklist]]
name = "run of show"
items = [{ title = "open the doors", owner = "lead", due = "T0" }, { title = "retro notes", owner = "someone else" }]
"""
TABS = {"checklist": "3", "support": "4", "incident_log": "5"}


@pytest.fixture
def room(tmp_path):
    return UiRoom(tmp_path, FixedClock(NOW), feed=False, extra=ROOM)


def cells(table: KeyedTable, key: str) -> list[str]:
    """A row's cells in the order of its columns, those left out for width included."""
    return [text for text, _ in table.shown(key)]


def screen_text(table: KeyedTable) -> str:
    """The table exactly as rendered: the text of every segment of every line."""
    strips = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def typed(pilot, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


async def on_tab(pilot, tab: str) -> None:
    await settle(pilot)
    await pilot.press(TABS[tab])
    await settle(pilot)


# ---------------------------------------------------------------------- checklist


async def test_checklist_tick_is_on_disk(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "checklist")
        table = app.panel.table
        with room.store() as store:
            items = store.checklist()
        first = items[0]
        row = cells(table, f"item:{first.id}")
        assert row[1] == "landing page test" and row[2] == "bob, cy"
        assert row[3] == "T-30m 09:30" and row[4] == "overdue 10m00s"
        assert cells(table, f"item:{items[1].id}")[4] == "due in 5m00s"
        assert cells(table, "phase:pre-launch tests")[1] == "pre-launch tests"
        assert "T-00:20:00" in app.panel.query_one(Summary).plain

        await pilot.press("down", "space")  # row 0 is the phase heading
        await settle(pilot)
        with room.store() as other:
            item = other.checklist()[0]
            assert item.done_by == "ann" and item.done_at is not None
            assert other.recent(kinds=["checklist"])[-1].text.startswith("done:")
        assert cells(table, f"item:{first.id}")[0] == "✓"
        assert cells(table, f"item:{first.id}")[4].startswith("done ann")
        assert ("Saved: done", "information") in app.notes

        await pilot.press("space")  # pressed again: still done, nothing logged twice
        await pilot.press("x")  # undo
        await settle(pilot)
        with room.store() as other:
            assert other.checklist()[0].done_at is None
            assert [e.text.split(":")[0] for e in other.recent(kinds=["checklist"])] == ["done", "not done"]

        await pilot.press("up", "space")  # on a heading: nothing to mark
        assert app.notes[-1][1] == "warning"


async def test_checklist_sees_another_operators_tick(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "checklist")
        with room.store() as other:
            item = other.checklist()[2]
            other.set_item_done(item.id, True, "bo")
        await settle(pilot)
        assert cells(app.panel.table, f"item:{item.id}")[4].startswith("done bo")


async def test_rows_are_updated_in_place(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "checklist")
        table = app.panel.table
        with room.store() as store:
            key = f"item:{store.checklist()[0].id}"
        before = table.get_row(key)
        room.clock.now += 30  # the clock moves, the room does not change
        await settle(pilot)
        after = table.get_row(key)
        assert after[4].plain == "overdue 10m30s" and after[4] is not before[4]
        assert all(a is b for a, b in zip(after[:4], before[:4], strict=True))  # unchanged cells untouched
        assert table.row_count == 6


async def test_a_refused_write_is_shown_and_the_panel_keeps_working(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "checklist")
        # Another client makes every checklist write fail, as a broken database would.
        blocker = sqlite3.connect(room.db)
        blocker.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON checklist BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
        blocker.commit()
        await pilot.press("down", "space")
        await settle(pilot)
        message, severity = app.notes[-1]
        assert severity == "error" and "could not save" in message and "disk says no" in message
        assert app.is_running
        with room.store() as other:
            first = other.checklist()[0]
            assert first.done_at is None
        assert cells(app.panel.table, f"item:{first.id}")[0] == " "

        blocker.execute("DROP TRIGGER refuse")
        blocker.commit()
        blocker.close()
        await pilot.press("space")
        await settle(pilot)
        with room.store() as other:
            assert other.checklist()[0].done_by == "ann"


async def test_a_held_lock_keeps_the_entry_and_saves_it_after(room):
    """Another process holds the write lock for 3 s: the screen keeps refreshing, keys are
    answered, the header says "saving…", and the entry is saved once the lock is gone."""
    import time

    app = room.app("ann")
    refreshed: list[float] = []
    refresh = app.refresh_view

    def counted() -> None:
        refreshed.append(time.monotonic())
        refresh()

    app.refresh_view = counted
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "checklist")
        holder = sqlite3.connect(room.db, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process's long write
        locked_at = time.monotonic()
        await pilot.press("down", "space")
        for _ in range(20):
            await pilot.pause(0.05)
        assert "saving…" in str(app.query_one("#header").render())
        pressed = time.monotonic()
        await pilot.press("4")  # keys are still answered while the write waits
        answered = time.monotonic() - pressed
        assert app.query_one("#support-panel").display
        while time.monotonic() - locked_at < 3.0:
            await pilot.pause(0.05)
        holder.execute("COMMIT")
        holder.close()
        await settle(pilot)
        with room.store() as other:
            assert other.checklist()[0].done_by == "ann"
        assert ("Saved: done", "information") in app.notes
    during = [t for t in refreshed if locked_at <= t <= locked_at + 3.0]
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    print(
        f"\n3 s write lock: {len(during)} refreshes, longest gap {max(gaps) * 1000:.0f} ms, "
        f"key answered in {answered * 1000:.0f} ms"
    )
    assert len(during) >= 6 and max(gaps) < 1.0  # a frozen screen would show one 3 s gap


# ---------------------------------------------------------------------- support queue


async def test_create_assign_and_solve_a_ticket(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "support")
        await pilot.press("n")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TicketForm)
        await typed(pilot, "reward missing")
        await pilot.press("tab")
        await typed(pilot, "c42")
        await pilot.press("tab", "tab")  # past the category, to the priority
        assert app.focused is form.query_one("#priority", Select)
        await pilot.press("enter", "up", "up", "enter")  # normal -> urgent
        await pilot.pause()
        await pilot.click("#save")
        await settle(pilot)
        assert not isinstance(app.screen, TicketForm)
        with room.store() as other:
            (ticket,) = other.tickets()
            assert (ticket.subject, ticket.customer_ref, ticket.priority) == ("reward missing", "c42", "urgent")
            assert ticket.category == "reward not received" and ticket.status == "new"
        row = cells(app.panel.table, f"t:{ticket.id}")
        assert row[:3] == [ticket.id, "urgent", "new"]
        assert row[4].startswith("reply ")

        await pilot.press("m")
        await settle(pilot)
        with room.store() as other:
            assert other.get_ticket(ticket.id).assignee == "ann"
        await pilot.press("s")
        await settle(pilot)
        with room.store() as other:
            assert other.get_ticket(ticket.id).status == "solved"
        assert cells(app.panel.table, f"t:{ticket.id}")[2] == "solved"
        assert app.panel.query_one(Summary).plain.startswith("0 open")


async def test_ticket_form_refuses_an_empty_subject_and_escape_cancels(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "support")
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TicketForm)
        assert "subject" in str(form.query_one("#error", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TicketForm)
        with room.store() as other:
            assert other.tickets() == []


async def test_queue_order_priority_and_sla(room):
    with room.store() as store:
        old = store.create_ticket("late one", "bo", priority="normal", at=NOW - 3 * 3600)
        low = store.create_ticket("low one", "bo", priority="low", at=NOW - 60)
        high = store.create_ticket("high one", "bo", priority="high", at=NOW - 60)
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "support")
        table = app.panel.table
        order = [row.key.value for row in table.ordered_rows]
        assert order == [f"t:{old.id}", f"t:{high.id}", f"t:{low.id}"]
        assert cells(table, f"t:{old.id}")[4] == "BREACHED"
        assert cells(table, f"t:{high.id}")[4] == "reply 29m00s"
        room.recorder.rejected_tickets = 3  # what the recorder counted of a broken feed
        room.publish()
        for _ in range(100):  # until the snapshot that carries the count has arrived
            await settle(pilot)
            if app.snapshot is not None and app.snapshot.rejected_tickets == 3:
                break
        app.refresh_view()
        await pilot.pause()
        assert "3 rejected records" in app.panel.query_one(Summary).plain

        table.select_key(f"t:{low.id}")
        await pilot.press("p")  # low -> normal, and the row keeps the cursor
        await settle(pilot)
        with room.store() as other:
            assert other.get_ticket(low.id).priority == "normal"
        assert table.selected_key == f"t:{low.id}"
        await pilot.press("P")
        await settle(pilot)
        await pilot.press("P")  # back to low; there is nothing below it
        await settle(pilot)
        with room.store() as other:
            assert other.get_ticket(low.id).priority == "low"
        assert ("Already low", "warning") in app.notes[-2:]  # a "Saved" may land after it
        await pilot.press("r")
        await settle(pilot)
        with room.store() as other:
            assert other.get_ticket(low.id).first_response_at is not None


# ---------------------------------------------------------------------- incident log


async def test_add_and_star_a_log_entry(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "incident_log")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, LogEntryForm)
        await typed(pilot, "switched cdn")
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, LogEntryForm)
        with room.store() as other:
            entry = other.recent(kinds=["note"])[-1]
            assert (entry.text, entry.author, entry.starred) == ("switched cdn", "ann", False)
        table = app.panel.table
        table.select_key(f"log:{entry.id}")
        await pilot.press("asterisk")
        await settle(pilot)
        with room.store() as other:
            assert other.get_log(entry.id).starred
        assert cells(table, f"log:{entry.id}")[0] == "★"

        await pilot.press("o")  # starred only
        await settle(pilot)
        assert [r.key.value for r in table.ordered_rows] == [f"log:{entry.id}"]
        await pilot.press("o", "f", "f")  # all entries, then "note", then "decision"
        await settle(pilot)
        assert app.panel.kind == "decision" and table.row_count == 0


async def test_action_item_needs_an_owner(room):
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "incident_log")
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        form.query_one("#kind", Select).value = "action"
        await pilot.pause()
        await typed(pilot, "call the cdn")
        await pilot.press("enter")
        await pilot.pause()
        assert "owner" in str(form.query_one("#error", Static).render())
        form.query_one("#owner", Input).focus()
        await typed(pilot, "bob")
        await pilot.press("enter")
        await settle(pilot)
        with room.store() as other:
            entry = other.recent(kinds=["action"])[-1]
            assert (entry.text, entry.owner) == ("call the cdn", "bob")


# ---------------------------------------------------------------------- hostile text, layout


async def test_markup_and_escapes_render_literally(room):
    with room.store() as store:
        ticket = store.create_ticket(HOSTILE, "bo", customer_ref="[i]\x07")
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "support")
        table = app.panel.table
        row = cells(table, f"t:{ticket.id}")
        assert row[5] == LITERAL and row[6] == "[i]␇"
        shown = screen_text(table)
        assert LITERAL in shown and "\x1b" not in shown and "\x07" not in shown

    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, "incident_log")
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#text", Input).value = "see " + HOSTILE
        await pilot.press("enter")
        await settle(pilot)
        with room.store() as other:
            entry = other.recent(kinds=["note"])[-1]
            assert entry.text == "see " + HOSTILE  # stored exactly as given
        table = app.panel.table
        assert cells(table, f"log:{entry.id}")[5] == "see " + LITERAL
        shown = screen_text(table)
        assert "see " + LITERAL in shown and "\x1b" not in shown


@pytest.mark.parametrize(
    ("tab", "essential"),
    [
        ("checklist", ("mark", "due", "state")),
        ("support", ("id", "priority", "status", "age", "sla")),
        ("incident_log", ("star", "time", "kind", "severity")),
    ],
)
async def test_every_column_is_visible_at_80x24(room, tab, essential):
    with room.store() as store:
        store.create_ticket("reward missing", "bo", customer_ref="c1", category="reward not received")
        store.add_log("decision", "warning", "hold the newsletter", "bo")
    app = room.app("ann")
    async with app.run_test(size=SIZE) as pilot:
        await on_tab(pilot, tab)
        table = app.panel.table
        assert table.region.width == SIZE[0] and table.region.height >= 12
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert all(width >= 2 for width in widths), widths
        assert sum(widths) <= table.size.width - table.styles.scrollbar_size_vertical
        header = screen_text(table).splitlines()[0]
        for spec in table.specs:  # only the columns marked to give way are left out
            assert spec.label in header or spec.drop, spec
        for spec in table.shown_specs:  # and what is left keeps its wanted width
            if spec.max is None:
                assert table.columns[spec.key].width > spec.want, spec
        for row in table.ordered_rows:  # the essential columns are never cut
            for key in essential:
                assert table.get_cell(row.key, key).cell_len < table.columns[key].width


def test_column_allocation():
    specs = [ColumnSpec("a", "A", 2, 4), ColumnSpec("b", "B", 5), ColumnSpec("c", "C", 3, 10)]
    assert allocate(specs, 20) == [4, 5, 8]  # fixed columns grow first, in order
    assert allocate(specs, 40) == [4, 23, 10]  # then the flexible one takes the rest
    assert allocate(specs, 5) == [2, 5, 3]  # never below the minimum
