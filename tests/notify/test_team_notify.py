"""Notifications from a team on one room, as separate processes: a `warroom record` process
sends, dashboards under pseudo-terminals only watch, and a recorder killed with SIGKILL is
replaced by another that carries on from the room's outbox."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

from tests.notify.inbox import Inbox
from tests.room.helpers import wait_until
from tests.room.team import Screen, append, start_recorder, stop, stop_room, wait_for_holder, write_config
from tests.room.test_team import published_by
from warroom.lease import FlockWatch
from warroom.store import RoomStore

ROUTE = """
[[notify.routes]]
receiver = "{receiver}"
group_by = ["name"]
group_wait = "0s"
group_interval = "0s"
repeat_interval = "1h"
continue = true
"""


def notify_config(*receivers: tuple[str, str]) -> str:
    text = ""
    for name, url in receivers:
        text += f'\n[[notify.receivers]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}/{name}"\n'
        text += ROUTE.format(receiver=name)
    return text


def notify_log(db: Path) -> list[str]:
    with RoomStore(db) as store:
        return [e.text for e in store.log_entries(kinds=["notify"])]


RECENT_ERRORS = """
[[alerts]]
name = "recent_errors"
expr = "sum(errors, 3s) > 0"
severity = "warning"
summary = "errors in the last 3 s"
"""


def test_three_dashboards_each_event_reaches_each_receiver_once(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, [{"kind": "visit"}] * 5)
    db = tmp_path / "room.db"
    with Inbox((200, "{}")) as inbox:
        config = write_config(tmp_path, log, RECENT_ERRORS + notify_config(("ops", inbox.url), ("lead", inbox.url)))
        recorder = start_recorder(config, "rec")
        screens: list[Screen] = []
        try:
            assert wait_for_holder(db) is not None
            screens = [Screen(config, name, tmp_path / name) for name in ("anouk", "benno", "chen")]
            for screen in screens:
                assert screen.shows("events seen", 30), bytes(screen.app.output[-1500:])
            append(log, [{"kind": "visit", "err": True}])  # errors_seen and recent_errors fire
            # ... and recent_errors resolves 3 s later: three events for each receiver
            assert wait_until(lambda: len(inbox.received) >= 6, timeout=20), [r.body["title"] for r in inbox.received]
            # every send marked done in the room before the kill, so none is in flight
            assert wait_until(lambda: sum(": sent " in line for line in notify_log(db)) == 6, timeout=20)
            first = recorder.pid
            recorder.send_signal(signal.SIGKILL)  # a dashboard starts another recorder
            recorder.wait()
            assert wait_for_holder(db, timeout=15, other_than=first) is not None
            holder = FlockWatch(db).holder()
            assert holder is not None and holder.operator in ("anouk", "benno", "chen")
            assert published_by(db, holder.pid, timeout=15) is not None
            time.sleep(4.0)  # the new recorder's ticks: nothing is sent again
        finally:
            for screen in screens:
                screen.close()
            stop(recorder)
            stop_room(config)
        got = Counter(
            (r.path, r.body["title"].split(" Team drill")[0], tuple(a["name"] for a in r.body["alerts"]))
            for r in inbox.received
        )
    expected = {
        (f"/{name}", title, (alert,))
        for name in ("ops", "lead")
        for title, alert in [
            ("[FIRING:1]", "errors_seen"),
            ("[FIRING:1]", "recent_errors"),
            ("[RESOLVED]", "recent_errors"),
        ]
    }
    assert set(got) == expected and set(got.values()) == {1}, got
    assert len({r.body["id"] for r in inbox.received}) == 6
    sent = [line for line in notify_log(db) if ": sent " in line]
    assert len(sent) == 6


def test_a_recorder_killed_mid_send_the_next_one_sends_that_one_again_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    append(log, [{"kind": "visit"}] * 5)
    db = tmp_path / "room.db"
    many = '\n[[alerts]]\nname = "many_events"\nexpr = "value(events) > 20"\nseverity = "info"\n'
    with Inbox((200, "{}")) as inbox:
        inbox.hold_next = True  # the first request gets no answer: the send is under way
        config = write_config(tmp_path, log, many + notify_config(("ops", inbox.url)))
        first = start_recorder(config, "first")
        second = None
        try:
            assert wait_for_holder(db) is not None
            append(log, [{"kind": "visit", "err": True}])
            inbox.wait_for(1)
            first.send_signal(signal.SIGKILL)
            first.wait()
            inbox.held.set()  # its answer now goes nowhere
            second = start_recorder(config, "second")
            inbox.wait_for(2)
            append(log, [{"kind": "visit"}] * 30)  # a new event, after the hand-over
            inbox.wait_for(3)
            time.sleep(3.0)
        finally:
            stop(first)
            if second is not None:
                stop(second)
        ids = Counter(r.body["id"] for r in inbox.received)
        titles = [r.body["title"] for r in inbox.received]
    (again,) = [key for key, count in ids.items() if count == 2]
    assert sorted(ids.values()) == [1, 2] and inbox.received[0].body["id"] == again, titles
    assert titles[0].startswith("[FIRING:1] Team drill: errors_seen") and "many_events" in titles[2]
    lines = notify_log(db)
    (said,) = [line for line in lines if "was being sent when recorder" in line]
    assert f"(id {again}) was being sent when recorder first@" in said
    assert said.endswith("stopped; sending it again (the receiver may get it twice, with the same id)")


def test_the_alerts_tab_shows_each_receivers_deliveries_and_the_inhibited_alerts(tmp_path: Path) -> None:
    """A receiver that keeps failing is shown failing with its last error, kept inert; one
    that takes its notifications is shown ok; an inhibited alert stays in the table, saying
    by which alert."""
    log = tmp_path / "events.jsonl"
    append(log, [{"kind": "visit"}] * 5)
    db = tmp_path / "room.db"
    hostile = "\x1b[31mdown [red]for[/red] maintenance"
    settings = '\n[notify]\nretry_backoff = "0.2s"\nretry_max_backoff = "0.5s"\nfailing_after = 2\n'
    extra = (
        '\n[[alerts]]\nname = "many_errors"\nexpr = "value(errors) > 0"\nseverity = "warning"\n'
        '\n[[notify.inhibit]]\nsource = "errors_seen"\ntarget = ["many_errors"]\n'
    )
    with Inbox(lambda request: (500, hostile) if request.path == "/pager" else (200, "{}")) as inbox:
        config = write_config(tmp_path, log, settings + notify_config(("ops", inbox.url), ("pager", inbox.url)) + extra)
        recorder = start_recorder(config, "rec")
        screen = None
        try:
            assert wait_for_holder(db) is not None
            screen = Screen(config, "anouk", tmp_path / "anouk")
            assert screen.shows("events seen", 30), bytes(screen.app.output[-1500:])
            screen.press("2")
            append(log, [{"kind": "visit", "err": True}])
            assert screen.shows("in a row", 20), bytes(screen.app.output[-3000:])
            assert screen.shows("down [red]for[/red] maintenance", 10)
            assert screen.shows("inhibited by errors_seen", 10)
            assert screen.shows("sent 1, last", 10)
            assert b"\x1b[31mdown" not in screen.app.output
        finally:
            if screen is not None:
                screen.close()
            stop(recorder)
    assert {r.path for r in inbox.received} == {"/ops", "/pager"}
