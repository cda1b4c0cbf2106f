"""Opening the room twice in one process must not cost the other processes their WAL.

On POSIX, closing any descriptor of a file drops every lock the process holds on it. A store
that read the database header with a plain open()/close() in a process that already held a
connection dropped that connection's locks; the next process to open and close the database
then thought itself the last user, checkpointed and deleted the live -wal and -shm files, and
from then on the two processes wrote to different files. These tests hold a connection, open
the room a second time in the same process, let another process open and close it, and check
that the WAL files are still there and that writes cross both ways.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from warroom.store import RoomStore

CHILD = """
import sys
from warroom.store import RoomStore
with RoomStore(sys.argv[1]) as store:
    if sys.argv[2] == "write":
        store.add_log("note", "info", "from the other process", "bob")
    print(store.count_log())
"""


def other_process(db: Path, action: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), action], capture_output=True, text=True, timeout=60, check=True
    )
    return int(done.stdout.strip())


def test_second_open_in_one_process_keeps_the_wal_for_everyone(tmp_path: Path) -> None:
    db = tmp_path / "launch.db"
    first = RoomStore(db)
    try:
        first.add_log("note", "info", "before", "ana")
        RoomStore(db).close()  # a second open in the same process (the E key, the demo crew)
        assert other_process(db, "read") == 1  # another process opens and closes the room
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists(), "the live WAL was deleted under an open connection"
        first.add_log("note", "info", "after", "ana")
        assert other_process(db, "write") == 3  # it sees both of ours, plus its own
        assert first.count_log() == 3  # and we see its entry
    finally:
        first.close()
    with RoomStore(db) as again:
        assert [e.text for e in again.recent()] == ["before", "after", "from the other process"]
