"""Per-refresh work bounded by what is on screen: a thousand alerts and fifty thousand open
tickets cost a tick what the rows in view cost. Counted in cell writes, not timed."""

from __future__ import annotations

import dataclasses

from textual.app import App, ComposeResult
from textual.geometry import Region

from warroom.alerts import FIRING, AlertView
from warroom.config import _default_sla
from warroom.snapshot import Snapshot
from warroom.tickets import Ticket, TicketMetrics
from warroom.views import TicketRows
from warroom.widgets.alerts import AlertsPanel
from warroom.widgets.support import MAX_OPEN_ROWS, SupportPanel
from warroom.widgets.table import KeyedTable

NOW = 1_795_600_800.0
SIZE = (120, 40)


def screen(table: KeyedTable) -> list[str]:
    return [strip.text for strip in table.render_lines(Region(0, 0, table.size.width, table.size.height))]


class Counted(App):
    """One panel on its own, every cell the table writes counted."""

    def __init__(self, panel) -> None:
        super().__init__()
        self.panel = panel
        self.writes = 0

    def compose(self) -> ComposeResult:
        yield self.panel

    def on_mount(self) -> None:
        table = self.panel.query_one(KeyedTable)
        write = table.update_cell

        def counted(*args, **kwargs):
            self.writes += 1
            return write(*args, **kwargs)

        table.update_cell = counted


def alert(n: int) -> AlertView:
    return AlertView(
        name=f"rule_{n:04d}",
        state=FIRING,
        since=0.0,
        value=float(n),
        value_text=str(n),
        summary=f"rule {n} holds",
        runbook="",
        severity="warning",
        labels={},
        expr="x > 0",
        no_data=False,
        ack=None,
        silence=None,
        since_at=NOW - 100 - n,
        episode=1,
    )


async def test_a_thousand_firing_alerts_cost_a_screenful_per_tick():
    alerts = [alert(n) for n in range(1000)]
    snapshot = Snapshot(seq=1, at=NOW, launch_at=None, alerts=alerts, rules=1000)
    app = Counted(AlertsPanel([], "ana", id="alerts"))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        panel.refresh_from(snapshot, NOW)
        await pilot.pause()
        table = panel.table
        assert table.row_count == 1000
        in_view = len(table.in_view())
        assert 5 < in_view < 40
        app.writes = 0
        panel.refresh_from(snapshot, NOW + 1)  # a second later: every "for" cell is out of date
        await pilot.pause()
        assert 0 < app.writes <= in_view  # only the rows on screen were rewritten (their age)
        # One alert changes off screen: nothing is written until it scrolls into view.
        changed = [*alerts[:900], dataclasses.replace(alerts[900], value_text="9,999"), *alerts[901:]]
        app.writes = 0
        later = Snapshot(seq=2, at=NOW, launch_at=None, alerts=changed, rules=1000)
        panel.refresh_from(later, NOW + 1)
        await pilot.pause()
        assert app.writes == 0
        table.scroll_to(y=895, animate=False)
        await pilot.pause()
        panel.refresh_from(later, NOW + 1)  # the next refresh
        await pilot.pause()
        assert table.shown("rule_0900")[4][0] == "9,999"
        assert any("rule_0900" in line and "9,999" in line for line in screen(table))


def tickets(count: int) -> TicketRows:
    rows = [
        Ticket(
            id=f"T-{n:05d}",
            opened_at=NOW - 60 - n * 0.01,
            subject=f"subject {n}",
            customer_ref="c",
            category="other",
            priority=("urgent", "high", "normal", "low")[n % 4],
            status="open",
            assignee=None,
            first_response_at=None,
            solved_at=None,
            updated_at=NOW,
            source="helpdesk",
            respond_breached_at=None,
            resolve_breached_at=None,
        )
        for n in range(count)
    ]
    return TicketRows(rows, [], TicketMetrics(count, count, count, 0, 0, None, None))


async def test_fifty_thousand_open_tickets_cost_a_screenful_per_tick():
    sla = _default_sla()
    app = Counted(SupportPanel("ana", sla, id="support"))
    async with app.run_test(size=SIZE) as pilot:
        panel = app.panel
        panel.show_rows(panel.prepare(tickets(50_000)))  # sorted as on the door's thread
        panel.tick(NOW, None)
        await pilot.pause()
        table = panel.table
        assert table.row_count == MAX_OPEN_ROWS
        assert table.keys[0] == "t:T-49996"  # urgent, and opened first: the nearest deadline
        in_view = len(table.in_view())
        app.writes = 0
        panel.tick(NOW + 1, None)  # ages and countdowns move for every ticket
        await pilot.pause()
        assert 0 < app.writes <= 2 * in_view  # age and SLA cells of the rows in view only
        first = table.keys[0]
        age = table.shown(first)[3][0]
        assert age in screen(table)[1]  # and the screen shows the new age, not a cached one
        # Deadlines pass: the urgent tickets' reply targets (15 min) breach and move first.
        panel.tick(NOW + 900, None)
        await pilot.pause()
        first = table.shown(table.keys[0])
        assert first[4][0] == "BREACHED"
