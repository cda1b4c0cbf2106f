"""Child process for the store tests: writes to a room database and reports what it saved.

    python tests/room/store_writer.py ROOM log [N]        add N log entries (default: until killed),
                                                   printing each id after add_log returns
    python tests/room/store_writer.py ROOM toggle ITEM    toggle a checklist item, print "done"
    python tests/room/store_writer.py ROOM watch SECONDS  print "changed" each time the room's change
                                                   topics move after the first load

Each line is flushed at once, so a line the parent has read is a write already committed.
"""

from __future__ import annotations

import sys
import time

from warroom.store import RoomStore


def open_room(where: str) -> RoomStore:
    """A SQLite path, or `postgresql://...#room name`."""
    if where.startswith("postgresql://"):
        from warroom.store.postgres import PostgresDatabase

        url, _, room = where.partition("#")
        return RoomStore(PostgresDatabase(url, room))
    return RoomStore(where)


def main(argv: list[str]) -> int:
    where, command = argv[1], argv[2]
    with open_room(where) as store:
        if command == "log":
            limit = int(argv[3]) if len(argv) > 3 else None
            n = 0
            while limit is None or n < limit:
                n += 1
                entry_id = store.add_log("note", "info", f"entry {n}", "writer")
                print(entry_id, flush=True)
        elif command == "toggle":
            store.toggle_item(int(argv[3]), "writer")
            print("done", flush=True)
        elif command == "watch":
            seen = store.topic_seqs()
            print("ready", flush=True)
            deadline = time.monotonic() + float(argv[3])
            while time.monotonic() < deadline:
                seqs = store.topic_seqs()
                if seqs != seen:
                    seen = seqs
                    print("changed", flush=True)
                time.sleep(0.02)
        else:
            print(f"unknown command {command!r}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
