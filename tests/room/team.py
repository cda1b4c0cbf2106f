"""A team on one room, as separate processes: a recorder, dashboards under pseudo-terminals,
a log writer. Shared by the team tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.faults.ptyrun import ROOT, PtyApp
from warroom.lease import FlockWatch

WRITER = ROOT / "tests" / "faults" / "log_writer.py"

KEYS = {"down": b"\x1b[B", "up": b"\x1b[A", "enter": b"\r", "tab": b"\t", "escape": b"\x1b", "space": b" "}


def write_config(directory: Path, log: Path, extra: str = "") -> Path:
    path = directory / "room.toml"
    path.write_text(
        f"""
[launch]
name = "Team drill"

[room]
db = "room.db"
history_interval = "10s"

[[sources]]
name = "web"
kind = "file"
path = "{log}"
format = "jsonl"
from_start = true
stale_after = "1h"

[[metrics]]
name = "events"
label = "events seen"
source = "web"

[[metrics]]
name = "errors"
source = "web"
where = {{ err = true }}

[[alerts]]
name = "errors_seen"
expr = "value(errors) > 0"
severity = "critical"
summary = "{{value}} failed"
runbook = "Switch checkout to the fallback provider."

[[checklist]]
name = "Run of show"
items = [{{ title = "Go or no-go", owner = "lead" }}, {{ title = "Publish the page" }}]

[panels.traffic]
metrics = ["events"]
chart = "events"
{extra}
""",
        encoding="utf-8",
    )
    return path


def start_recorder(config: Path, operator: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "warroom", "record", "--config", str(config), "--operator", operator, *extra],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_holder(db: Path, timeout: float = 20.0, other_than: int | None = None) -> float | None:
    """Seconds until some process (not `other_than`) holds the room's lease, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        holder = FlockWatch(db).holder()
        if holder is not None and holder.pid != other_than:
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_room(config: Path) -> None:
    """`warroom room stop`: whichever recorder holds the room."""
    subprocess.run(
        [sys.executable, "-m", "warroom", "room", "stop", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


class Screen:
    """A dashboard under a pty, with what it wrote since a mark."""

    def __init__(
        self, config: Path, operator: str, home: Path, columns: int = 120, rows: int = 40, extra: tuple[str, ...] = ()
    ) -> None:
        self.app = PtyApp(
            ["--config", str(config), "--operator", operator, *extra],
            {"HOME": str(home), "XDG_STATE_HOME": str(home)},
            columns=columns,
            rows=rows,
        )
        self.operator = operator
        self.mark = 0

    def press(self, *keys: str) -> None:
        for key in keys:
            os.write(self.app.fd, KEYS.get(key, key.encode()))
            self.app.read_for(0.05)

    def type(self, text: str) -> None:
        os.write(self.app.fd, text.encode())
        self.app.read_for(0.05)

    def open_form(self, key: str, title: str, timeout: float = 15.0) -> None:
        """Press `key` and wait until the form titled `title` is on screen, so that what is
        typed next goes into it (typed too early, it would be taken as the panel's keys)."""
        mark = len(self.app.output)
        self.press(key)
        started = time.monotonic()
        while title.encode() not in self.app.output[mark:]:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"the form {title!r} did not open")
            self.app.read_for(0.02)
        self.app.read_for(0.2)

    def set_mark(self) -> None:
        self.app.read_for(0.0)
        self.mark = len(self.app.output)

    def shows(self, needle: str, timeout: float) -> float | None:
        """Seconds until the screen writes `needle` after the mark, or None."""
        started = time.monotonic()
        data = needle.encode()
        while time.monotonic() - started < timeout:
            if data in self.app.output[self.mark :]:
                return time.monotonic() - started
            self.app.read_for(0.01)
        return None

    def close(self) -> None:
        if self.app.status is None:
            self.app.signal(signal.SIGTERM)
            self.app.wait(5)
        self.app.close()


def append(log: Path, records: list[dict]) -> None:
    with open(log, "a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


# --------------------------------------------------------------------------- one operator's work, seen by another


def acted(actor: Screen, saved: str, others: list[Screen], shown: str, timeout: float = 10.0) -> float:
    """Seconds from `saved` on the actor's screen to `shown` on the other screens."""
    assert actor.shows(saved, timeout) is not None, f"{saved!r} never shown: {bytes(actor.app.output[-1500:])!r}"
    started = time.monotonic()
    for other in others:
        left = timeout - (time.monotonic() - started)
        assert other.shows(shown, max(0.1, left)) is not None, f"{shown!r} never reached the other screen"
    return time.monotonic() - started


def _fill_silence_form(actor: Screen) -> None:
    actor.open_form("s", "Silence")
    actor.type("30m")
    actor.press("enter")
    actor.app.read_for(0.3)
    actor.type("maintenance window")
    actor.app.read_for(0.3)
    actor.press("enter")


def _assign_to_me(actor: Screen, timeout: float = 10.0) -> None:
    """`m` on the new ticket, as a person would: if its row is not in the table yet, the
    screen says "Select a ticket first", and they press again a moment later."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        mark = len(actor.app.output)
        actor.press("m")
        answered = time.monotonic()
        while time.monotonic() - answered < 1.0:
            actor.app.read_for(0.02)
            said = actor.app.output[mark:]
            if b"Select a ticket first" in said:
                break
            if b"assigned to" in said:
                return
        else:
            return  # no answer yet: acted() waits for it
        actor.app.read_for(0.2)


def _fill(actor: Screen, key: str, form: str, text: str) -> None:
    actor.open_form(key, form)
    actor.type(text)
    actor.press("enter")


# name -> (tab, what the actor does, what the actor's screen says, what the other screen shows)
STEPS = {
    "checklist": ("3", lambda a: a.press("down", "space"), "Saved: done", "done {me}"),
    "log entry": (
        "5",
        lambda a: _fill(a, "a", "Log entry", "gateway switched over"),
        "Saved: note logged",
        "gateway switched over",
    ),
    "new ticket": (
        "4",
        lambda a: _fill(a, "n", "New ticket", "reward missing for c42"),
        "Saved: ticket opened",
        "reward missing for c42",
    ),
    "ticket assigned": (None, _assign_to_me, "assigned to {me}", "{me}"),
    "ack with a note": (
        "2",
        lambda a: _fill(a, "a", "Acknowledge", "looking at the gateway"),
        "Acknowledged errors_seen",
        "looking at the gateway",
    ),
    "silence": (None, _fill_silence_form, "Silenced name=errors_seen", "silenced"),
}


def work_the_room(actor: Screen, other: Screen, steps: tuple[str, ...]) -> dict[str, float]:
    """The actor does each step on its screen; seconds until the other screen shows it."""
    delays = {}
    for name in steps:
        tab, act, saved, shown = STEPS[name]
        if tab is not None:
            for screen in (actor, other):
                screen.press(tab)
            for screen in (actor, other):
                screen.app.read_for(0.3)
        for screen in (actor, other):
            screen.set_mark()
        act(actor)
        delays[name] = acted(actor, saved.format(me=actor.operator), [other], shown.format(me=actor.operator))
    return delays
