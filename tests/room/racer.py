"""One of two processes racing to record the same changes in one room (test_logged_once).

    python tests/room/racer.py ROOM START ROUNDS SLOT     (ROOM: a SQLite path or URL#room name)

Round r starts at START + r * SLOT (wall clock), in both processes at once. In each round
the process records, as a recorder would: the SLA sweep (a ticket of the round has just
missed its deadline), the web source going down (even rounds) or coming back (odd rounds),
and the rule `flapping` firing (even rounds) or resolving (odd rounds). A process that
reaches a round more than half a slot late skips it (on a loaded machine it would otherwise
report old news after the other process moved on). Prints the rounds it played, then "done".
"""

from __future__ import annotations

import sys
import time

from warroom.config import SlaConfig
from warroom.store import AlertEventRow, RoomStore, SourceChange, TickRecord

SLA = {"urgent": SlaConfig(respond=60, resolve=3600)}


def open_room(where: str) -> RoomStore:
    if where.startswith("postgresql://"):
        from warroom.store.postgres import PostgresDatabase

        url, _, room = where.partition("#")
        return RoomStore(PostgresDatabase(url, room))
    return RoomStore(where)


def main(argv: list[str]) -> int:
    where, start, rounds, slot = argv[1], float(argv[2]), int(argv[3]), float(argv[4])
    with open_room(where) as store:
        played = []
        for r in range(rounds):
            at = start + r * slot
            while time.time() < at:
                pass  # spin: both processes enter the round within microseconds
            if time.time() > at + slot / 2:
                continue
            played.append(r)
            down = r % 2 == 0
            store.check_sla(at, SLA)
            store.record_tick(TickRecord(
                at=at,
                source_changes=[SourceChange("web", down, f"source web is {'stale' if down else 'live again'}", at)],
                transitions=[AlertEventRow(at, "flapping", "firing" if down else "resolved", "warning")],
            ))
    print(" ".join(map(str, played)), flush=True)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
