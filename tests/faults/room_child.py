"""A warroom room in its own process, for the signal and crash tests.

    python room_child.py CONFIG log       open the room (store, engine, recorder), then add
                                          log entries and run recorder ticks until SIGTERM or
                                          SIGHUP; prints each entry id once it is committed
    python room_child.py CONFIG mixed     the same with operator work: toggle checklist
                                          items, open tickets and act on them; prints
                                          "log ID", "item ID DONE_AT", "ticket ID STATUS"

A signal only sets a flag; the loop finishes the write in hand and closes the room
(RoomStore.close checkpoints the WAL), which is the contract the app keeps on SIGHUP: close
from the main flow, never from inside a signal handler that may have interrupted a commit.
Prints "closed" last.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from warroom.config import load_config  # noqa: E402
from warroom.room import open_room  # noqa: E402


def main(argv: list[str]) -> int:
    config, mode = load_config(argv[1]), argv[2]
    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    room = open_room(config, "child")
    store, recorder = room.store, room.recorder
    try:
        items = [item.id for item in store.checklist()]
        n = 0
        while stop["signal"] is None:
            n += 1
            entry = store.add_log("note", "info", f"entry {n}", "child")
            print(f"log {entry}", flush=True)
            if mode == "mixed":
                if items:
                    item = store.toggle_item(items[n % len(items)], "child")
                    print(f"item {item.id} {item.done_at}", flush=True)
                ticket = store.create_ticket(f"customer {n}: reward not received", "child")
                print(f"ticket {ticket.id} {ticket.status}", flush=True)
                ticket = store.respond(ticket.id, "child")
                print(f"ticket {ticket.id} {ticket.status}", flush=True)
            if n % 20 == 0:
                recorder.tick(time.time())
    finally:
        room.close()
    print("closed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
