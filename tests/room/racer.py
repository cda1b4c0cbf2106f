"""One of two processes racing to record the same changes in one room (test_logged_once).

    python tests/room/racer.py ROOM START ROUNDS SLOT     (ROOM: a SQLite path or URL#room name)

Round r starts at START + r * SLOT (wall clock), in both processes at once. In each round
the process records, as a recorder would: the SLA sweep (a ticket of the round has just
missed its deadline), the round's own source `web-r` going down, and the round's own rule
`flapping-r` firing. Every round's changes are its own, so a process that falls behind on a
loaded machine records news the other process may have recorded already: exactly the race
that "logged once" must win. Prints "done".
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
        for r in range(rounds):
            at = start + r * slot
            while time.time() < at:
                pass  # spin: both processes enter the round within microseconds
            store.check_sla(at, SLA)
            store.record_tick(
                TickRecord(
                    at=at,
                    source_changes=[SourceChange(f"web-{r}", True, f"source web-{r} is stale", at)],
                    transitions=[AlertEventRow(at, f"flapping-{r}", "firing", "warning")],
                )
            )
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
