"""The room store against real SQLite files and a real PostgreSQL server, in one process and
across processes. Tests that take `store` or `backend` run on both; the ones about the SQLite
file itself (modes, damage, WAL) take `db`."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.room.conftest import Backend
from warroom.config import ChecklistItemConfig, ChecklistPhaseConfig, SlaConfig, TicketsConfig
from warroom.store import APPLICATION_ID, MIGRATIONS, NotFound, RoomStore, StoreError
from warroom.tickets import MAX_SUBJECT, TicketFields, validate_ticket_record

WRITER = Path(__file__).with_name("store_writer.py")
T0 = 1_800_000_000.0  # a fixed launch-day epoch


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "launch.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: Backend, clock: Clock):
    with backend.open(clock) as s:
        yield s


def writer(backend: Backend, *args: str) -> list[str]:
    """The store_writer.py command line for this room."""
    where = str(backend.path) if backend.kind == "sqlite" else f"{backend.url}#{backend.room}"
    return [sys.executable, str(WRITER), where, *args]


PHASES = [
    ChecklistPhaseConfig(
        name="tests",
        items=[
            ChecklistItemConfig(title="page loads", owner="tech", due="T-2h"),
            ChecklistItemConfig(title="rewards paid", owner="ops", due="T-30m"),
        ],
    ),
    ChecklistPhaseConfig(
        name="run of show",
        items=[
            ChecklistItemConfig(title="announce", owner="content", due="T0"),
            ChecklistItemConfig(title="first review", owner="lead"),
        ],
    ),
]
SLA = TicketsConfig().sla


def fields(record: dict) -> TicketFields:
    result = validate_ticket_record(record)
    assert isinstance(result, TicketFields), result
    return result


def wait_until(condition, timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# --------------------------------------------------------------------------- opening


def test_new_file_is_migrated_and_in_wal_mode(db: Path) -> None:
    with RoomStore(db):
        pass
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "checklist", "tickets", "log", "alert_events", "metric_points"} <= tables
    raw.close()
    with RoomStore(db) as again:  # reopening migrates nothing and keeps working
        assert again.count_log() == 0


def test_empty_existing_file_is_migrated(db: Path) -> None:
    db.write_bytes(b"")
    with RoomStore(db) as store:
        store.add_log("note", "info", "hello", "ann")
        assert store.count_log() == 1


@pytest.mark.parametrize(("group_access", "mode"), [(False, 0o600), (True, 0o660)])
def test_file_modes(db: Path, group_access: bool, mode: int) -> None:
    old = os.umask(0o077 if group_access else 0o002)  # the mode holds whatever the umask
    try:
        with RoomStore(db, group_access=group_access) as store:
            store.add_log("note", "info", "x", "ann")
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                assert path.exists(), path
                assert stat.S_IMODE(path.stat().st_mode) == mode, path
    finally:
        os.umask(old)


def test_random_bytes_are_refused_and_left_alone(db: Path) -> None:
    data = os.urandom(8192)
    db.write_bytes(data)
    with pytest.raises(StoreError, match="not a SQLite database"):
        RoomStore(db)
    assert db.read_bytes() == data


def test_corrupt_database_is_refused_and_left_alone(db: Path) -> None:
    with RoomStore(db) as store:
        store.add_logs({"kind": "note", "severity": "info", "text": "x" * 200, "author": "ann"} for _ in range(500))
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[page : len(data) - page] = os.urandom(len(data) - 2 * page)  # keep the header page
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged|malformed|cannot use"):
        RoomStore(db)
    assert db.read_bytes() == bytes(data)


def test_newer_schema_is_refused_and_left_alone(db: Path) -> None:
    with RoomStore(db):
        pass
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    data = db.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        RoomStore(db)
    assert db.read_bytes() == data


def test_another_applications_database_is_refused(db: Path) -> None:
    raw = sqlite3.connect(db)
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    raw.commit()
    raw.close()
    data = db.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        RoomStore(db)
    assert db.read_bytes() == data


def test_file_without_write_permission_is_refused(run_unprivileged) -> None:
    def check(directory: Path) -> None:  # as a user that, unlike root, file modes apply to
        db = directory / "launch.db"
        RoomStore(db).close()
        db.chmod(0o400)
        with pytest.raises(StoreError, match="no permission"):
            RoomStore(db)

    run_unprivileged(check)


def test_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot create"):
        RoomStore(tmp_path / "nowhere" / "launch.db")


# --------------------------------------------------------------------------- change detection


class Changes:
    """What a reader of the room keeps to see changes: the topics' sequence numbers it saw."""

    def __init__(self, store: RoomStore) -> None:
        self.store = store
        self.seen: dict[str, int] | None = None

    def __call__(self) -> bool:
        """True if anything was committed, by any connection, since the previous call."""
        seqs = self.store.topic_seqs()
        moved, self.seen = seqs != self.seen, seqs
        return moved


def test_change_topics_track_own_and_other_writes(backend: Backend) -> None:
    with backend.open() as a, backend.open() as b:
        changed_a, changed_b = Changes(a), Changes(b)
        assert changed_a() is True  # first call: load
        assert changed_a() is False
        a.add_log("note", "info", "mine", "ann")
        assert changed_a() is True
        assert changed_a() is False
        changed_b()
        b.add_log("note", "info", "theirs", "bob")
        assert wait_until(changed_a)
        assert changed_a() is False
        assert changed_b() is True


def test_change_mark_moves_for_other_connections(backend: Backend) -> None:
    with backend.open() as a, backend.open() as b:
        mark = a.change_mark()
        assert a.change_mark() == mark
        b.add_log("note", "info", "x", "bob")
        assert wait_until(lambda: a.change_mark() != mark)


def test_state_survives_close_and_reopen(backend: Backend, clock: Clock) -> None:
    with backend.open(clock) as store:
        store.sync_checklist(PHASES)
        store.toggle_item(store.checklist()[0].id, "ann")
        store.create_ticket("refund", "ann")
        store.set_launch(T0, "ann")
    with backend.open(clock) as store:
        assert store.checklist()[0].done_by == "ann"
        assert store.get_ticket("W-0001").subject == "refund"
        assert store.launch_time() == T0
        assert store.count_log() == 3


def test_two_stores_see_each_others_changes_within_a_second(backend: Backend, clock: Clock) -> None:
    with backend.open(clock) as a, backend.open(clock) as b:
        a.sync_checklist(PHASES)
        a.upsert_ticket(fields({"id": "T-1", "subject": "reward not received"}), "helpdesk")
        changed_a, changed_b = Changes(a), Changes(b)
        changed_a(), changed_b()

        item = b.checklist()[0]
        b.toggle_item(item.id, "bob")
        assert wait_until(changed_a)
        assert a.checklist()[0].done_by == "bob"

        a.assign("T-1", "ann")
        assert wait_until(changed_b)
        assert b.get_ticket("T-1").assignee == "ann"

        entry = b.add_log("decision", "warning", "pause the ads", "bob")
        assert wait_until(changed_a)
        assert a.recent(1)[0].id == entry


def test_two_processes_see_each_others_changes_within_a_second(backend: Backend, clock: Clock) -> None:
    with backend.open(clock) as store:
        store.sync_checklist(PHASES)
        item = store.checklist()[1]
        watcher = subprocess.Popen(writer(backend, "watch", "10"), stdout=subprocess.PIPE, text=True)
        try:
            assert watcher.stdout.readline().strip() == "ready"
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(line.strip() for line in watcher.stdout), daemon=True)
            reader.start()
            store.add_log("note", "info", "from the parent", "ann")
            assert wait_until(lambda: "changed" in lines), "the other process did not see the write"
        finally:
            watcher.kill()
            watcher.wait()

        changed = Changes(store)
        changed()
        done = subprocess.run(writer(backend, "toggle", str(item.id)), capture_output=True, text=True, timeout=30)
        assert done.stdout.strip() == "done", done.stderr
        assert wait_until(changed)
        assert store.checklist()[1].done_by == "writer"


def test_sigkill_mid_stream_loses_no_reported_entry(backend: Backend) -> None:
    backend.open().close()
    child = subprocess.Popen(writer(backend, "log"), stdout=subprocess.PIPE, text=True)
    reported = []
    try:
        for line in child.stdout:
            reported.append(int(line))
            if len(reported) >= 1000:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    reported.extend(int(line) for line in child.stdout.read().split())  # lines already flushed
    child.stdout.close()

    if backend.kind == "sqlite":
        raw = sqlite3.connect(backend.path)
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        raw.close()
    with backend.open() as store:
        stored = {entry.id for entry in store.log_entries()}
    assert set(reported) <= stored


# --------------------------------------------------------------------------- launch, checklist


def test_launch_from_config_then_launch_now(store: RoomStore, clock: Clock) -> None:
    store.configure_launch("Winter sale", T0 + 3600)
    assert store.launch_time() == T0 + 3600
    store.set_launch(T0 + 60, "ann")
    store.configure_launch("Winter sale", T0 + 3600)  # a restart does not move the clock
    launch = store.launch()
    assert (launch.name, launch.at, launch.set_by) == ("Winter sale", T0 + 60, "ann")
    [entry] = store.log_entries(kinds=["launch"])
    assert entry.author == "ann" and "2027-01-15T08:01:00Z" in entry.text
    assert store.operators() == ["ann"]


def test_checklist_sync_is_idempotent_and_keeps_done_state(store: RoomStore) -> None:
    store.sync_checklist(PHASES)
    first = store.checklist()
    assert [i.title for i in first] == ["page loads", "rewards paid", "announce", "first review"]
    assert [i.due_offset for i in first] == [-7200, -1800, 0, None]
    store.toggle_item(first[0].id, "ann")
    changed = Changes(store)
    changed()
    store.sync_checklist(PHASES)
    assert changed() is False  # nothing to write, nothing written
    again = store.checklist()
    assert [i.id for i in again] == [i.id for i in first]
    assert again[0].done_by == "ann"

    edited = [
        PHASES[0].model_copy(update={"items": [ChecklistItemConfig(title="page loads", owner="ops", due="T-3h")]}),
        PHASES[1],
    ]
    store.sync_checklist(edited)
    items = store.checklist()
    assert [i.title for i in items] == ["page loads", "announce", "first review"]
    assert (items[0].owner, items[0].due_offset, items[0].done_by) == ("ops", -10800, "ann")
    store.sync_checklist(PHASES)  # an item put back keeps its id
    assert store.checklist()[1].id == first[1].id


def test_duplicate_titles_in_a_phase_are_separate_items(store: RoomStore) -> None:
    phase = ChecklistPhaseConfig(
        name="p", items=[ChecklistItemConfig(title="check"), ChecklistItemConfig(title="check")]
    )
    store.sync_checklist([phase])
    store.sync_checklist([phase])
    assert len(store.checklist()) == 2


def test_toggling_logs_who_and_when(store: RoomStore, clock: Clock) -> None:
    store.sync_checklist(PHASES)
    item = store.checklist()[2]
    clock.now = T0 + 5
    done = store.toggle_item(item.id, "ann")
    assert (done.done_at, done.done_by) == (T0 + 5, "ann")
    assert done.due_at(T0 + 100) == T0 + 100
    undone = store.toggle_item(item.id, "bob")
    assert undone.done_at is None and store.checklist()[2].done_at is None
    log = store.log_entries(kinds=["checklist"])
    assert [(e.author, e.text) for e in log] == [
        ("ann", "done: run of show / announce"),
        ("bob", "not done: run of show / announce"),
    ]
    with pytest.raises(NotFound):
        store.toggle_item(9999, "ann")


# --------------------------------------------------------------------------- tickets


def test_upsert_updates_the_same_ticket(store: RoomStore) -> None:
    record = {
        "id": "ZD-1",
        "subject": "reward not received",
        "priority": "P1",
        "status": "new",
        "created_at": T0 - 60,
        "customer": "c-42",
    }
    assert store.upsert_ticket(fields(record), "helpdesk") == "created"
    assert store.upsert_ticket(fields(record), "helpdesk") == "unchanged"
    assert store.upsert_ticket(fields({**record, "subject": "still no reward"}), "helpdesk") == "updated"
    [ticket] = store.tickets()
    assert (ticket.id, ticket.subject, ticket.priority, ticket.customer_ref, ticket.opened_at) == (
        "ZD-1",
        "still no reward",
        "urgent",
        "c-42",
        T0 - 60,
    )
    assert ticket.source == "helpdesk"


def test_upsert_keeps_operator_changes_until_the_source_changes_them(store: RoomStore) -> None:
    record = {"id": "ZD-2", "subject": "page error", "priority": "normal", "status": "new"}
    store.upsert_ticket(fields(record), "helpdesk")
    store.assign("ZD-2", "ann")
    store.set_priority("ZD-2", "high", "ann")
    store.upsert_ticket(fields(record), "helpdesk")  # the feed repeats itself
    ticket = store.get_ticket("ZD-2")
    assert (ticket.assignee, ticket.status, ticket.priority) == ("ann", "open", "high")

    store.upsert_ticket(fields({**record, "status": "pending", "assignee": "zoe"}), "helpdesk")
    ticket = store.get_ticket("ZD-2")
    assert (ticket.assignee, ticket.status, ticket.priority) == ("zoe", "pending", "high")

    store.upsert_ticket(fields({**record, "status": "resolved", "solved_at": T0 + 30}), "helpdesk")
    ticket = store.get_ticket("ZD-2")
    assert (ticket.status, ticket.solved_at, ticket.first_response_at) == ("solved", T0 + 30, T0 + 30)


def test_stale_records_are_ignored(store: RoomStore) -> None:
    store.upsert_ticket(fields({"id": "A", "subject": "new", "updated_at": T0 + 10}), "hd")
    assert store.upsert_ticket(fields({"id": "A", "subject": "old", "updated_at": T0}), "hd") == "stale"
    assert store.get_ticket("A").subject == "new"


def test_operator_tickets_and_actions_are_logged(store: RoomStore, clock: Clock) -> None:
    first = store.create_ticket("cannot log in", "ann", category="page error", priority="critical")
    second = store.create_ticket("x" * 2000, "bob")
    assert (first.id, second.id) == ("W-0001", "W-0002")
    assert first.priority == "urgent" and first.status == "new" and first.source == "operator"
    assert len(second.subject) == MAX_SUBJECT
    clock.now = T0 + 90
    responded = store.respond("W-0001", "bob")
    assert (responded.first_response_at, responded.assignee, responded.status) == (T0 + 90, "bob", "open")
    assert store.respond("W-0001", "ann").first_response_at == T0 + 90  # the first one counts
    clock.now = T0 + 600
    solved = store.solve("W-0001", "bob")
    assert (solved.status, solved.solved_at) == ("solved", T0 + 600)
    texts = [e.text for e in store.log_entries(kinds=["ticket"])]
    assert texts == [
        "W-0001 opened: cannot log in",
        f"W-0002 opened: {second.subject}",
        "W-0001 responded after 1m30s",
        "W-0001 solved after 10m00s",
    ]
    with pytest.raises(NotFound):
        store.assign("nope", "ann")
    with pytest.raises(ValueError):
        store.set_priority("W-0001", "p9", "ann")
    with pytest.raises(ValueError, match="subject"):
        store.create_ticket("   ", "ann")
    metrics = store.ticket_metrics()
    assert (metrics.total, metrics.open, metrics.unassigned) == (2, 1, 1)
    assert metrics.median_first_response == 90 and metrics.median_resolution == 600
    assert metrics.as_metrics()["open_tickets"] == 1.0


def test_sla_breach_is_logged_once(backend: Backend, clock: Clock) -> None:
    with backend.open(clock) as a, backend.open(clock) as b:
        a.upsert_ticket(fields({"id": "U", "priority": "urgent", "opened_at": T0}), "hd")
        a.upsert_ticket(fields({"id": "N", "priority": "normal", "opened_at": T0}), "hd")
        assert a.check_sla(T0 + 14 * 60, SLA) == []
        [breach] = a.check_sla(T0 + 16 * 60, SLA)
        assert (breach.ticket_id, breach.kind, breach.due) == ("U", "respond", T0 + 15 * 60)
        assert a.check_sla(T0 + 17 * 60, SLA) == []
        assert b.check_sla(T0 + 17 * 60, SLA) == []  # another process does not log it again
        a.respond("U", "ann", at=T0 + 20 * 60)
        a.solve("N", "ann", at=T0 + 60)
        breaches = b.check_sla(T0 + 3 * 3600, SLA)
        assert [(x.ticket_id, x.kind) for x in breaches] == [("U", "resolve")]
        assert a.check_sla(T0 + 100 * 3600, SLA) == []
        log = a.log_entries(kinds=["ticket"])
        sla_entries = [e for e in log if e.author == "sla"]
        assert [(e.ts, e.severity) for e in sla_entries] == [(T0 + 900, "critical"), (T0 + 7200, "critical")]
        ticket = a.get_ticket("U")
        assert (ticket.respond_breached_at, ticket.resolve_breached_at) == (T0 + 900, T0 + 7200)
        assert a.ticket_metrics().breaches == 2


def test_sla_target_met_late_is_still_a_breach(store: RoomStore) -> None:
    store.upsert_ticket(fields({"id": "H", "priority": "high", "opened_at": T0}), "hd")
    store.respond("H", "ann", at=T0 + 45 * 60)  # target 30m, nobody checked in between
    [breach] = store.check_sla(T0 + 46 * 60, {"high": SlaConfig(respond=1800, resolve=14400)})
    assert (breach.kind, breach.due) == ("respond", T0 + 1800)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"subject": "no id"}, "missing ticket id"),
        ({"id": "  "}, "empty ticket id"),
        ({"id": True}, "not a string or an integer"),
        ({"id": 1.5}, "not a string or an integer"),
        ({"id": "x" * 500}, "longer than"),
        ({"id": "1", "priority": "whenever"}, "unknown priority"),
        ({"id": "1", "status": "exploded"}, "unknown status"),
        ({"id": "1", "opened_at": "yesterday"}, "opened_at: not a time"),
        ([1, 2], "not an object"),
    ],
)
def test_bad_ticket_records_are_rejected_with_a_reason(record, reason: str) -> None:
    result = validate_ticket_record(record)
    assert isinstance(result, str) and reason in result


def test_ticket_record_synonyms_and_truncation() -> None:
    ok = validate_ticket_record(
        {
            "ticket": 42,
            "title": "s" * 10_000,
            "priority": " Critical ",
            "state": "on hold",
            "created": "2027-01-15T08:00:00+00:00",
            "updated_at": (T0 + 5) * 1000,
        },
        id_field="ticket",
    )
    assert isinstance(ok, TicketFields)
    assert (ok.id, ok.priority, ok.status, ok.opened_at, ok.updated_at) == ("42", "urgent", "pending", T0, T0 + 5)
    assert len(ok.subject) == MAX_SUBJECT and ok.truncated
    for spelling, priority in (("p2", "high"), ("Medium", "normal"), ("minor", "low"), (1, "urgent")):
        assert validate_ticket_record({"id": "x", "priority": spelling}).priority == priority


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "subject", "priority", "status", "opened_at", "assignee"]),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.lists(st.integers(), max_size=3),
    )
)
def test_validation_never_raises(record: dict) -> None:
    result = validate_ticket_record(record)
    assert isinstance(result, (str, TicketFields))


# --------------------------------------------------------------------------- log, alerts, metrics


def test_log_filtering_starring_and_windows(store: RoomStore, clock: Clock) -> None:
    ids = []
    for n, kind in enumerate(["note", "decision", "note", "lesson", "action"]):
        ids.append(
            store.add_log(kind, "info", f"entry {n}", "ann", ts=T0 + n, owner="bob" if kind == "action" else None)
        )
    store.star(ids[1])
    store.star(ids[3])
    store.star(ids[3], starred=False)
    assert [e.id for e in store.recent(2)] == ids[3:]
    assert [e.text for e in store.recent(kinds=["note"])] == ["entry 0", "entry 2"]
    assert [e.id for e in store.recent(starred_only=True)] == [ids[1]]
    assert [e.id for e in store.log_entries(T0 + 1, T0 + 3)] == ids[1:4]
    assert store.log_entries(kinds=["action"])[0].owner == "bob"
    assert store.count_log() == 5 and store.count_log(["note"]) == 2
    with pytest.raises(ValueError, match="unknown log kind"):
        store.add_log("gossip", "info", "x", "ann")
    with pytest.raises(ValueError, match="unknown severity"):
        store.add_log("note", "loud", "x", "ann")
    with pytest.raises(NotFound):
        store.star(12345)


def test_text_is_stored_exactly_as_given(store: RoomStore) -> None:
    text = "**bold** <script>alert(1)</script> \x1b[31mred\x1b[0m [b]markup[/b] \u202e\n'; DROP TABLE log;--"
    entry_id = store.add_log("note", "info", text, "ann")
    assert store.get_log(entry_id).text == text


def test_ten_thousand_log_entries(store: RoomStore) -> None:
    ids = store.add_logs(
        {"kind": "note", "severity": "info", "text": f"entry {n}", "author": "load", "ts": T0 + n / 10}
        for n in range(10_000)
    )
    assert len(ids) == len(set(ids)) == 10_000
    assert store.count_log() == 10_000
    window = store.recent(200)
    assert len(window) == 200 and window[-1].text == "entry 9999"
    assert len(store.log_entries()) == 10_000


def test_alert_events_round_trip_and_are_logged(store: RoomStore) -> None:
    store.record_alert_event(T0, "error_rate", "firing", "critical", value=0.07)
    store.record_alert_event(T0 + 30, "error_rate", "acked", "critical", operator="ann", note="on it")
    store.record_alert_event(T0 + 90, "error_rate", "resolved", "critical", value=0.01)
    events = store.alert_events(T0, T0 + 60)
    assert [(e.event, e.operator, e.note) for e in events] == [("firing", None, ""), ("acked", "ann", "on it")]
    log = store.log_entries(kinds=["alert"])
    assert [(e.severity, e.text, e.alert) for e in log] == [
        ("critical", "error_rate firing (value 0.07)", "error_rate"),
        ("info", "error_rate acked by ann: on it", "error_rate"),
        ("info", "error_rate resolved (value 0.01)", "error_rate"),
    ]
    with pytest.raises(ValueError):
        store.record_alert_event(T0, "x", "exploded", "info")


def test_metric_history_round_trip(store: RoomStore) -> None:
    points = [(T0 + 10 * i, name, float(i * k)) for i in range(100) for k, name in ((1, "visits"), (2, "orders"))]
    assert store.write_metric_points(points) == 200
    assert store.write_metric_points([(T0, "visits", 7.0), (T0 + 5, "visits", math.nan)]) == 1
    assert store.metric_names() == ["orders", "visits"]
    history = store.metric_history("visits")
    assert len(history) == 100 and history[0] == (T0, 7.0) and history[-1] == (T0 + 990, 99.0)
    assert store.metric_history("orders", T0 + 100, T0 + 120) == [(T0 + 100, 20.0), (T0 + 110, 22.0), (T0 + 120, 24.0)]
    assert store.metric_history("nothing") == []


def test_a_recorder_that_lost_the_room_cannot_write_over_it(store: RoomStore) -> None:
    """On PostgreSQL a recorder hears that its lease died only at its next check; its ticks
    and snapshots carry (pid, host), and once the room's lease holder is another process
    they are refused."""
    from warroom.store import LeaseLost, TickRecord

    with store._write() as db:
        db.execute(
            "INSERT INTO lease_holder(id, pid, operator, host, since, backend_pid) "
            "VALUES (1, 100, 'ana', 'host-a', 0, 0)"
        )
    store.record_tick(TickRecord(at=T0, fence=(100, "host-a")))
    store.publish_snapshot(T0, b"{}", (100, "host-a"))
    with pytest.raises(LeaseLost, match="pid 100 on host-a"):
        store.record_tick(TickRecord(at=T0 + 1, fence=(200, "host-b")))
    with pytest.raises(LeaseLost):
        store.publish_snapshot(T0 + 1, b"{}", (200, "host-b"))
    assert store.snapshot()[0] == 1  # the refused snapshot was not written


# --------------------------------------------------------------------------- a PostgreSQL room


def test_postgresql_room_refuses_a_newer_schema_and_a_stranger(pg_cluster) -> None:
    from warroom.store.postgres import PostgresDatabase, schema_name

    room = pg_cluster.room()
    RoomStore(PostgresDatabase(pg_cluster.url(), room)).close()
    pg_cluster.psql("warroom", f"UPDATE {schema_name(room)}.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        PostgresDatabase(pg_cluster.url(), room)
    stranger = pg_cluster.room()
    pg_cluster.psql(
        "warroom", f"CREATE SCHEMA {schema_name(stranger)}; CREATE TABLE {schema_name(stranger)}.customers (id int)"
    )
    with pytest.raises(StoreError, match="not a warroom room"):
        PostgresDatabase(pg_cluster.url(), stranger)


def test_postgresql_password_never_shows_and_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    from tests.pg import free_port
    from warroom.store import StoreUnavailable
    from warroom.store.postgres import PostgresDatabase

    url = f"postgresql://warroom:s3cret-pw@127.0.0.1:{free_port()}/warroom"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresDatabase(url, "spring")
    assert "cannot reach the database" in str(caught.value) and "s3cret-pw" not in str(caught.value)
    config = tmp_path / "room.toml"
    config.write_text(f'[room]\nurl = "{url}"\nname = "spring"\n')
    done = subprocess.run(
        [sys.executable, "-m", "warroom", "export", "--config", str(config), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "cannot reach the database" in done.stderr
    assert "s3cret-pw" not in done.stderr and "Traceback" not in done.stderr


def test_postgresql_room_needs_only_connect_and_create_on_its_database(pg_cluster) -> None:
    """The grants the README names: a role that may connect and create schemas in the
    database, nothing more (not a superuser), records and works a room."""
    from urllib.parse import urlsplit

    from warroom.lease import PostgresLease, PostgresWatch
    from warroom.store.postgres import PostgresDatabase, schema_name

    role = f"team_{uuid.uuid4().hex[:8]}"
    pg_cluster.psql(
        "warroom", f"CREATE ROLE {role} LOGIN NOSUPERUSER; GRANT CONNECT, CREATE ON DATABASE warroom TO {role}"
    )
    parts = urlsplit(pg_cluster.url())
    url = f"postgresql://{role}@{parts.hostname}:{parts.port}/warroom"
    room = pg_cluster.room()
    with RoomStore(PostgresDatabase(url, room)) as store:
        store.add_log("note", "info", "hello", "ana")
        store.check_sla(T0, SLA)
        assert store.count_log() == 1 and store.change_mark() >= 1
    lease, watch = PostgresLease(url, schema_name(room)), PostgresWatch(url, schema_name(room))
    try:
        assert lease.acquire("ana") and lease.alive()
        assert watch.holder() is not None and watch.holder().operator == "ana"
    finally:
        lease.release()
        watch.close()


def test_postgresql_url_options_reach_the_driver(pg_cluster) -> None:
    from warroom.store.postgres import PostgresDatabase

    with pytest.raises(StoreError, match="SSL"):  # our test server speaks no TLS
        PostgresDatabase(pg_cluster.url() + "?sslmode=require", pg_cluster.room())


def test_pressing_tickets_come_in_the_queue_order_and_the_figures_count_all(store: RoomStore) -> None:
    store.configure_sla(SLA)
    late = store.create_ticket("late normal", "bo", priority="normal", at=T0 - 3 * 3600)
    old_low = store.create_ticket("old low", "bo", priority="low", at=T0 - 600)
    high = store.create_ticket("high", "bo", priority="high", at=T0 - 60)
    urgent = store.create_ticket("urgent", "bo", priority="urgent", at=T0 - 30)
    solved = store.create_ticket("done", "bo", priority="urgent", at=T0 - 30)
    store.solve(solved.id, "ann", at=T0)
    store.respond(high.id, "ann", at=T0)  # now it waits on its resolution, hours away
    order = [t.id for t in store.pressing_tickets(T0, 10)]
    assert order == [late.id, urgent.id, high.id, old_low.id]  # past its deadline first
    assert [t.id for t in store.pressing_tickets(T0, 2)] == [late.id, urgent.id]
    figures = store.ticket_metrics()
    assert (figures.total, figures.open, figures.unassigned) == (5, 4, 3)
    assert figures.median_first_response == 45.0  # 30 s (solved) and 60 s (high): their mean
    assert figures.median_resolution == 30.0
