"""`warroom room copy`: a room from SQLite to PostgreSQL and back, every row, ids kept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.ptyrun import ROOT
from tests.room.helpers import LAUNCH, Clock, write_config
from warroom.commands import AckAlert, AddLogEntry, CreateTicket, SetItemDone
from warroom.recorder import Recorder
from warroom.store import RoomStore, StoreError
from warroom.store.copy import copy_room
from warroom.store.postgres import PostgresDatabase


def rehearsal(directory: Path) -> Path:
    """A rehearsed launch on a laptop: a recorder's figures and alerts, operators' work."""
    clock = Clock(LAUNCH + 60)
    recorder = Recorder(write_config(directory), "ana", clock=clock)
    recorder.open()
    try:
        recorder.engine.pipeline.ingest("web", [{"status": 503, "ts": clock.now}] * 10, clock.now)
        recorder.tick(clock.now).result(timeout=10)
        door = recorder.door
        door.submit(AckAlert(operator="ana", rule="high_error_rate", note="provider", at=clock.now)).result()
        door.submit(CreateTicket(operator="ana", subject="reward missing", at=clock.now)).result()
        door.submit(
            AddLogEntry(operator="ben", log_kind="decision", severity="warning", text="pause the ads", at=clock.now)
        ).result()
        items = door.read(lambda s: s.checklist()).result()
        door.submit(SetItemDone(operator="ben", item_id=items[0].id, done=True, at=clock.now)).result()
        recorder.follow_room()
        clock.now += 1
        recorder.tick(clock.now).result(timeout=10)
        recorder.publish(clock.now).result(timeout=10)
    finally:
        recorder.close()
    return directory / "room.db"


def contents(store: RoomStore) -> dict:
    return {
        "log": [(e.id, e.ts, e.kind, e.text, e.author) for e in store.log_entries()],
        "events": [(e.id, e.rule, e.event, e.operator, e.note, e.episode) for e in store.alert_events()],
        "tickets": [(t.id, t.subject, t.status) for t in store.tickets()],
        "checklist": [(i.id, i.title, i.done_by) for i in store.checklist()],
        "metrics": store.metric_states(),
        "launch": store.launch(),
        "snapshot": store.snapshot(),
        "alert_state": store.alert_states(),
    }


def test_a_room_goes_to_postgresql_and_back_row_for_row(tmp_path: Path, pg_cluster) -> None:
    sqlite_room = rehearsal(tmp_path)
    room = pg_cluster.room()
    with RoomStore(sqlite_room) as src, RoomStore(PostgresDatabase(pg_cluster.url(), room)) as dst:
        copied = copy_room(src, dst)
        assert copied["log"] >= 5 and copied["alert_events"] == 2 and copied["metric_buckets"] > 0
        assert contents(dst) == contents(src)
        dst.add_log("note", "info", "written on the server", "carla")  # ids go on after the copied ones
        assert dst.recent(1)[0].id == max(e.id for e in src.log_entries()) + 1
        with pytest.raises(StoreError, match="not empty"):
            copy_room(src, dst)
    back = tmp_path / "back.db"
    done = subprocess.run(
        [sys.executable, "-m", "warroom", "room", "copy", f"{pg_cluster.url()}#{room}", str(back)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "every table counted on both sides" in done.stdout
    with RoomStore(back) as copy, RoomStore(PostgresDatabase(pg_cluster.url(), room)) as server:
        assert contents(copy) == contents(server)
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "warroom",
            "export",
            "--db",
            str(back),
            "--format",
            "json",
            "--out",
            str(tmp_path / "retro"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    document = json.loads(next((tmp_path / "retro").glob("*.json")).read_text())
    assert any(i["rule"] == "high_error_rate" and i["acked_by"] == "ana" for i in document["incidents"])


def test_copy_needs_a_room_name_and_an_existing_source(tmp_path: Path) -> None:
    for args, message in (
        (["postgresql://warroom@127.0.0.1:9/warroom", str(tmp_path / "x.db")], "name the room after a #"),
        ([str(tmp_path / "missing.db"), str(tmp_path / "x.db")], "no room database there"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "warroom", "room", "copy", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
