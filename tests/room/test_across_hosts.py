"""A room on PostgreSQL, worked from "several hosts": every process has its own HOME and
operator, and shares nothing with the others but the database server on 127.0.0.1 (the log
file the recorders read stands for a feed every host can reach).

Two recorders (one records, one stands by) and two dashboards, all separate processes: an
action on one screen reaches the other within a second; the recorder killed with -9, or its
lease connection closed by the server (`pg_terminate_backend`, what a network cut looks like
to PostgreSQL), is replaced by the standby within ten seconds with totals continuing; and a
restart of PostgreSQL loses no entry an operator saw saved.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.room.conftest import Backend
from tests.room.team import Screen, append, stop, work_the_room, write_config
from warroom import snapshot
from warroom.lease import PostgresWatch
from warroom.store.postgres import schema_name

HANDOVER = 10.0  # seconds: what the README promises across hosts


def write_room_config(tmp_path: Path, backend: Backend, log: Path) -> Path:
    config = write_config(tmp_path, log)
    text = config.read_text().replace('db = "room.db"\n', f'url = "{backend.url}"\nname = "{backend.room}"\n')
    config.write_text(text)
    return config


def holder_pid(backend: Backend) -> int | None:
    watch = PostgresWatch(backend.url, schema_name(backend.room))
    try:
        holder = watch.holder()
    finally:
        watch.close()
    return holder.pid if holder else None


def published_by(backend: Backend, pid: int, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with backend.open() as store:
            row = store.snapshot()
        if row is not None:
            recorder = snapshot.decode(row[2]).recorder
            if recorder is not None and recorder.pid == pid:
                return time.monotonic() - started
        time.sleep(0.05)
    return None


def total(backend: Backend) -> float | None:
    with backend.open() as store:
        return store.metric_states().get("events", {}).get("total")


def recorder_env(home: Path) -> dict[str, str]:
    return {"HOME": str(home), "XDG_STATE_HOME": str(home)}


def start_host_recorder(config: Path, operator: str, home: Path) -> subprocess.Popen[str]:
    import os
    import sys

    from tests.faults.ptyrun import ROOT

    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "warroom", "record", "--config", str(config), "--operator", operator],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **recorder_env(home)},
    )


@pytest.fixture
def hosts(pg_cluster, tmp_path: Path):
    backend = Backend("postgresql", url=pg_cluster.url(), room=pg_cluster.room())
    log = tmp_path / "events.jsonl"
    append(log, [{"kind": "visit"}] * 5 + [{"kind": "visit", "err": True}])
    config = write_room_config(tmp_path, backend, log)
    active = start_host_recorder(config, "rec-a", tmp_path / "host-a")
    deadline = time.monotonic() + 30
    while holder_pid(backend) != active.pid and time.monotonic() < deadline:
        assert active.poll() is None, active.stderr.read() if active.stderr else ""
        time.sleep(0.1)
    assert holder_pid(backend) == active.pid, "the first recorder never held the room"
    standby = start_host_recorder(config, "rec-b", tmp_path / "host-b")
    yield backend, config, log, active, standby
    for process in (active, standby):
        stop(process)


def test_actions_cross_hosts_within_a_second(hosts, tmp_path: Path) -> None:
    backend, config, log, active, standby = hosts
    anouk = Screen(config, "anouk", tmp_path / "host-c", extra=("--no-recorder",))
    benno = Screen(config, "benno", tmp_path / "host-d", extra=("--no-recorder",))
    try:
        for screen in (anouk, benno):
            assert screen.shows("events seen", 30), bytes(screen.app.output[-1500:])
        delays = work_the_room(anouk, benno, ("checklist", "log entry", "ack with a note"))
        print(
            "\nPostgreSQL room, saved on one screen -> shown on the other:",
            ", ".join(f"{what} {seconds * 1000:.0f} ms" for what, seconds in delays.items()),
        )
        assert max(delays.values()) <= 1.0, delays
    finally:
        anouk.close()
        benno.close()


def test_kill_9_of_the_recorder_the_standby_carries_on(hosts) -> None:
    backend, config, log, active, standby = hosts
    for _ in range(20):
        append(log, [{"kind": "visit"}] * 100)
        time.sleep(0.03)
    active.send_signal(signal.SIGKILL)
    active.wait()
    took = published_by(backend, standby.pid, timeout=HANDOVER + 5)
    for _ in range(20):
        append(log, [{"kind": "visit"}] * 100)
        time.sleep(0.03)
    print(f"\nPostgreSQL room: kill -9 of the recorder -> the standby publishes after {took:.2f} s")
    assert took is not None and took <= HANDOVER
    expected = 6 + 40 * 100
    deadline = time.monotonic() + 20
    while total(backend) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert total(backend) == expected  # totals continue: nothing counted twice, nothing lost


def test_a_closed_lease_connection_hands_the_room_over(hosts, pg_cluster) -> None:
    backend, config, log, active, standby = hosts
    schema = schema_name(backend.room)
    pg_cluster.psql("warroom", f"SELECT pg_terminate_backend(backend_pid::int) FROM {schema}.lease_holder")
    took = published_by(backend, standby.pid, timeout=HANDOVER + 5)
    print(f"\nPostgreSQL room: lease connection closed by the server -> the standby publishes after {took:.2f} s")
    assert took is not None and took <= HANDOVER
    assert active.wait(15) == 3  # the old recorder stopped: it no longer held the room
    with backend.open() as store:
        handovers = [e.text for e in store.log_entries(kinds=["room"]) if "took over" in e.text]
    assert len(handovers) == 1 and "rec-b@" in handovers[0]


def test_a_restart_of_postgresql_loses_no_saved_entry(hosts, pg_cluster, tmp_path: Path) -> None:
    backend, config, log, active, standby = hosts
    anouk = Screen(config, "anouk", tmp_path / "host-c", extra=("--no-recorder",))
    try:
        assert anouk.shows("events seen", 30)
        anouk.press("5")
        anouk.app.read_for(0.5)
        pg_cluster.stop()
        written = []
        for n in range(3):  # entries written while the database is away
            anouk.set_mark()
            anouk.open_form("a", "Log entry")
            text = f"written while the database restarts {n}"
            anouk.type(text)
            anouk.press("enter")
            written.append(text)
            anouk.app.read_for(0.5)
        assert anouk.shows("NOT SAVING", 15) is not None  # the screen says so
        assert anouk.shows("room unreachable", 15) is not None
        time.sleep(2)
        pg_cluster.start()
        for text in written:
            assert anouk.shows(text, 30) is not None
        with backend.open() as store:
            texts = [e.text for e in store.log_entries(kinds=["note"])]
        assert texts[-3:] == written  # all of them, in order
    finally:
        anouk.close()
