"""Process faults against real SQLite files: signals, SIGKILL, a full disk, a read-only
filesystem, a corrupt database, and the real `warroom` under a pty receiving SIGHUP.

tests/test_store.py::test_sigkill_mid_stream_loses_no_reported_entry covers SIGKILL for log
entries written by the store alone; here the child runs a whole room (a recorder and its
door, operators' commands through it; tests/faults/room_child.py) and the SIGKILL test
extends to checklist marks and tickets. "Reported" means the child printed it after the
write was committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.ptyrun import ROOT, PtyApp
from warroom.commands import AddLogEntry
from warroom.config import parse_config
from warroom.lease import FlockWatch
from warroom.recorder import Recorder
from warroom.store import RoomStore, StoreError

pytestmark = pytest.mark.faults

CHILD = Path(__file__).with_name("room_child.py")


def room_config(directory: Path, db: Path, extra: str = "") -> Path:
    path = directory / "room.toml"
    path.write_text(f"""
[launch]
name = "Fault drill"

[room]
db = "{db}"
history_interval = "1s"

[[checklist]]
name = "tests"
items = [{{ title = "page loads" }}, {{ title = "rewards paid" }}, {{ title = "stress test" }}]
{extra}
""")
    return path


def start_child(config: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(config), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_lines(child: subprocess.Popen, count: int) -> list[str]:
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if len(lines) >= count:
            break
    return lines


def checkpointed(db: Path) -> None:
    """After a clean close: no WAL content left behind and the file passes integrity_check."""
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_closes_the_room_cleanly(tmp_path, tally, signum):
    db = tmp_path / "room.db"
    child = start_child(room_config(tmp_path, db), "log")
    try:
        lines = read_lines(child, 300)
        child.send_signal(signum)
        out, err = child.communicate(timeout=5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
    tally.fault()
    lines += out.split("\n")
    assert child.returncode == 0, err
    assert lines[-2:] == ["closed", ""] or "closed" in lines
    reported = {int(line.split()[1]) for line in lines if line.startswith("log ")}
    checkpointed(db)
    with RoomStore(db) as store:
        stored = {entry.id for entry in store.log_entries()}
    tally.lost(entries=len(reported - stored))
    assert reported <= stored
    assert len(reported) >= 300


def test_sigkill_loses_no_reported_checklist_toggle_ticket_or_entry(tmp_path, tally):
    db = tmp_path / "room.db"
    child = start_child(room_config(tmp_path, db), "mixed")
    try:
        lines = read_lines(child, 600)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    tally.fault()
    lines += child.stdout.read().split("\n")  # what was flushed before the kill
    child.stdout.close()
    child.stderr.close()
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    items: dict[int, str] = {}
    tickets: dict[str, str] = {}
    logs: set[int] = set()
    for line in filter(None, lines):
        kind, key, value = (line.split() + [""])[:3]
        if kind == "log":
            logs.add(int(key))
        elif kind == "item":
            items[int(key)] = value  # the last toggle reported wins
        elif kind == "ticket":
            tickets[key] = value
    with RoomStore(db) as store:
        stored_logs = {entry.id for entry in store.log_entries()}
        stored_items = {item.id: str(item.done_at) for item in store.checklist()}
        stored_tickets = {ticket.id: ticket.status for ticket in store.tickets()}
    lost = len(logs - stored_logs) + sum(stored_items.get(k) != v for k, v in items.items())
    lost += sum(k not in stored_tickets for k in tickets)
    tally.lost(entries=lost)
    assert logs <= stored_logs
    for item_id, done_at in items.items():
        # The child may have committed one more toggle after its last report, never fewer.
        assert stored_items[item_id] == done_at or len(logs) < len(stored_logs)
    for ticket_id, status in tickets.items():
        assert ticket_id in stored_tickets
        assert stored_tickets[ticket_id] in (status, "open")
    assert len(tickets) >= 50


# --------------------------------------------------------------------------- full and read-only


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "512k"):
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def test_disk_full_keeps_every_write_and_says_why_until_space_is_freed(tmp_path, tally):
    with small_tmpfs(tmp_path / "small", size="2m") as mount:
        db = mount / "room.db"
        config = parse_config(room_config(tmp_path, db).read_text(), tmp_path / "room.toml")
        recorder = Recorder(config, "operator")
        recorder.open()
        door = recorder.door

        def note(text: str):
            return door.submit(AddLogEntry(operator="operator", log_kind="note", severity="info", text=text))

        try:
            first = note("before the disk filled up").result(timeout=10)
            filler = fill(mount)
            tally.fault()
            waiting = [note("x" * 1000) for _ in range(10)]  # the full disk takes none of them
            assert not wait_until(lambda: all(f.done() for f in waiting), timeout=3)
            status = door.status()
            assert status.waiting >= 1 and status.error is not None
            assert "could not save" in status.error and "full" in status.error and str(db) in status.error
            # The recorder's ticks wait behind them, in order, and nothing raises.
            recorder.engine.metrics.add(recorder.engine.metrics.names()[0], time.time(), 1.0)
            ticks = [recorder.tick(time.time() + 10 * step) for step in range(3)]
            filler.unlink()  # the operator frees space
            last = note("after space was freed")
            assert last.result(timeout=30) > first
            assert all(f.result(timeout=30) is not None for f in waiting)
            for future in ticks:
                future.result(timeout=30)
            assert door.status().error is None
            with RoomStore(db) as store:
                texts = [e.text for e in store.log_entries() if e.kind == "note"]
            tally.lost(entries=12 - len(texts))
            assert len(texts) == 12 and texts[0] == "before the disk filled up"
            assert texts[-1] == "after space was freed"
        finally:
            recorder.close()
        checkpointed(db)


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_read_only_filesystem_is_a_clear_store_error(tmp_path, tally):
    """The database's filesystem remounted read-only (a full or failing disk often ends
    so): opening the room is refused with a message that says so, the file is untouched."""
    with small_tmpfs(tmp_path / "ro", size="4m") as mount:
        db = mount / "room.db"
        with RoomStore(db) as store:
            store.add_log("note", "info", "written before", "operator")
        before = hashlib.sha256(db.read_bytes()).hexdigest()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        tally.fault()
        with pytest.raises(StoreError) as caught:
            RoomStore(db)
        message = str(caught.value)
        assert str(db) in message and "read-only" in message
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_cli_refuses_a_corrupt_database_and_leaves_it_alone(tmp_path, tally):
    db = tmp_path / "room.db"
    with RoomStore(db) as store:
        for n in range(200):
            store.add_log("note", "info", f"entry {n} " + "x" * 200, "operator")
    data = bytearray(db.read_bytes())
    data[4096 : 4096 + 16] = b"\xff" * 16  # damage the second page's header
    db.write_bytes(bytes(data))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    config = room_config(tmp_path, db)
    done = subprocess.run(
        [sys.executable, "-m", "warroom", "run", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    tally.bad()
    assert done.returncode == 2
    assert "the database is damaged" in done.stderr and "left as it is" in done.stderr
    assert "Traceback" not in done.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not Path(f"{db}-wal").exists()


# --------------------------------------------------------------------------- the real app


def app_config(tmp_path: Path) -> Path:
    log = tmp_path / "app.log"
    log.write_text('{"kind": "visit", "channel": "ads"}\n')
    return room_config(
        tmp_path,
        tmp_path / "room.db",
        f"""
[[sources]]
name = "web"
kind = "file"
path = "{log}"
from_start = true
poll_interval = "100ms"

[[metrics]]
name = "visits"
source = "web"
split_by = "channel"
""",
    )


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_the_app_under_a_pty_exits_cleanly_on_a_dropped_session(tmp_path, tally, signum):
    config = app_config(tmp_path)
    app = PtyApp(["run", "--config", str(config)], {"HOME": str(tmp_path)})
    try:
        assert app.until(b"visits", timeout=15), bytes(app.output[-2000:])
        app.read_for(1.0)
        with RoomStore(tmp_path / "room.db") as other:  # another operator adds an entry
            other.add_log("note", "info", "written by a colleague", "colleague")
        app.signal(signum)
        tally.fault()
        started = time.monotonic()
        status = app.wait(5)
        assert status == 0, (status, bytes(app.output[-2000:]))
        assert time.monotonic() - started < 5
    finally:
        app.close()
        stop_the_recorder(config)
    checkpointed(tmp_path / "room.db")
    with RoomStore(tmp_path / "room.db") as store:
        assert [e.text for e in store.log_entries() if e.author == "colleague"] == ["written by a colleague"]


def test_the_documented_command_line_warroom_dash_dash_config_starts_the_app(tmp_path):
    config = app_config(tmp_path)
    app = PtyApp(["--config", str(config)], {"HOME": str(tmp_path)})
    try:
        assert app.until(b"visits", timeout=15), bytes(app.output[-500:])
        app.signal(signal.SIGHUP)
        assert app.wait(5) == 0
        assert FlockWatch(tmp_path / "room.db").running()  # the dashboard started one; it records on
    finally:
        app.close()
        stop_the_recorder(config)
    checkpointed(tmp_path / "room.db")


def stop_the_recorder(config: Path) -> None:
    """`warroom room stop`, as the operator would."""
    subprocess.run(
        [sys.executable, "-m", "warroom", "room", "stop", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
