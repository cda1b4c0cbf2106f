"""Pinned screens: every tab, every form and the help screen at 80x24, 120x40 and 200x50,
plus NO_COLOR and a config in Chinese, on a room with a fixed clock and fixed data (alerts
firing, acknowledged and silenced, tickets past their SLA, an overdue checklist item,
ticket chatter in the log). A change to what the dashboard looks like shows up as a diff.

Update after an intended change with: pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time

import pytest
from textual.widgets import Input

from tests.ui.appfixtures import NOW, UiRoom, settle

SIZES = [(80, 24), (120, 40), (200, 50)]

ROOM = """
[[alerts]]
name = "visits_seen"
expr = "value(visits) > 0"
severity = "warning"
summary = "{value} visits since launch"
runbook = "Nothing to do: it shows the warning colours."

[[alerts]]
name = "error_rate_high"
expr = "value(error_rate) > 1%"
severity = "critical"
summary = "error rate at {value}"

[[alerts]]
name = "orders_slow"
expr = "rate(orders, 1m) < 1"
severity = "info"
summary = "{value} orders"

[team]
ops = ["Sam Okafor"]
support = ["Elif Demir"]

[[checklist]]
name = "Run of show"
items = [
    { title = "Push notification sent", owner = "ops", due = "T-5m" },
    { title = "First orders checked end to end", owner = "ops", due = "T+15m" },
    { title = "Export the retrospective", owner = "support", due = "T+1d" },
]
"""


def rich_room(directory, edit=None) -> UiRoom:
    room = UiRoom(directory, extra=edit(ROOM) if edit else ROOM, edit=edit)
    with room.store() as store:
        store.ack_alert("visits_seen", "ben", "expected during the launch", at=NOW - 30)
        store.add_silence(
            "quiet", (("name", "orders_slow"),), NOW + 1800, "known: orders are slow at night", "ben", NOW - 60
        )
        for n, (subject, priority, age) in enumerate(
            (
                ("Reward code missing after purchase", "urgent", 3 * 3600),
                ("Checkout says something went wrong", "high", 1200),
                ("Does the offer apply to gift cards?", "normal", 300),
                ("Too many emails", "low", 60),
            )
        ):
            ticket = store.create_ticket(
                subject, "elif", customer_ref=f"C-{1000 + n}", category="other", priority=priority, at=NOW - age
            )
            if n == 1:
                store.assign(ticket.id, "elif", at=NOW - 600)
        store.add_log("decision", "warning", "Switch checkout to the fallback provider", "ana", ts=NOW - 400)
        for n in range(6):
            store.add_log("ticket", "info", f"W-000{n % 4 + 1} assigned to Elif Demir", "elif", ts=NOW - 300 + n)
        store.add_log("note", "info", "Fallback answers in 200 ms", "ben", ts=NOW - 100)
        store.add_log("lesson", "info", "Test the payment fallback before the launch", "ana", ts=NOW - 50)
    room.clock.now += 6
    room.tick()  # the recorder takes the ack and the silence, sweeps the SLAs
    room.clock.now -= 6
    room.tick()
    return room


async def quiet_inputs(pilot) -> None:
    """No blinking cursor in a picture."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


async def steady(pilot) -> None:
    """Settled, drawn, and drawn again: auto-height panels take a second frame to grow. The
    snapshot counts as just arrived: on a slow machine the header would say "figures 6s
    old", which is true of the test's recorder and of no screen."""
    await settle(pilot)
    for _ in range(2):
        await pilot.pause(0.1)
        pilot.app.snapshot_arrived = time.monotonic()
        pilot.app.refresh_view()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


def showing(*keys: str):
    async def run_before(pilot) -> None:
        await steady(pilot)
        for key in keys:
            await pilot.press(key)
            await steady(pilot)
        await quiet_inputs(pilot)

    return run_before


SCREENS = {
    "live": showing(),
    "alerts": showing("2"),
    "checklist": showing("3"),
    "support": showing("4"),
    "log": showing("5"),
    "ack_form": showing("2", "a"),
    "silence_form": showing("2", "s"),
    "ticket_form": showing("4", "n"),
    "log_form": showing("5", "a"),
    # Over the Log tab: a dialog drawn over Live would pin how far the panels behind it had
    # grown when the picture was taken, which is not what these pictures are of.
    "launch_confirm": showing("5", "L"),
    "help": showing("5", "question_mark"),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, screen, size, tmp_path):
    assert snap_compare(rich_room(tmp_path).app(), terminal_size=size, run_before=SCREENS[screen])


@pytest.mark.parametrize("screen", ["live", "alerts", "support"])
def test_no_color(snap_compare, screen, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(rich_room(tmp_path).app(), terminal_size=(80, 24), run_before=SCREENS[screen])


def in_chinese(text: str) -> str:
    """The launch, the metrics and the checklist named in Chinese."""
    for name, label in (("visits", "访问量"), ("errors", "错误"), ("orders", "订单"), ("revenue", "收入")):
        text = text.replace(f'name = "{name}"\n', f'name = "{name}"\nlabel = "{label}"\n', 1)
    text = text.replace('name = "Test launch"', 'name = "春季发布"').replace(
        'name = "error_rate"', 'name = "error_rate"\nlabel = "错误率"'
    )
    return text.replace("Push notification sent", "推送通知已发送").replace("Run of show", "发布流程")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("screen", ["live", "checklist"])
def test_chinese_config(snap_compare, screen, size, tmp_path):
    assert snap_compare(rich_room(tmp_path, edit=in_chinese).app(), terminal_size=size, run_before=SCREENS[screen])
