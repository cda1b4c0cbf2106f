"""A warroom room in its own process, for the signal and crash tests.

    python room_child.py CONFIG log       open the room as its recorder, then add log entries
                                          as an operator's commands and run recorder ticks
                                          until SIGTERM or SIGHUP; prints each entry id once
                                          it is committed
    python room_child.py CONFIG mixed     the same with operator work: mark checklist items
                                          done and not done, open tickets and act on them;
                                          prints "log ID", "item ID DONE_AT", "ticket ID STATUS"

Everything goes through the recorder's door, the process's one way to the room. A signal
only sets a flag; the loop finishes the write in hand and closes the room (the door closes
its connections, which checkpoints the WAL), which is the contract the app keeps on SIGHUP:
close from the main flow, never from inside a signal handler that may have interrupted a
commit. Prints "closed" last.
"""

from __future__ import annotations

import signal
import sys
import time

from warroom.commands import AddLogEntry, CreateTicket, SetItemDone, TicketChange
from warroom.config import load_config
from warroom.recorder import Recorder


def main(argv: list[str]) -> int:
    config, mode = load_config(argv[1]), argv[2]
    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    recorder = Recorder(config, "child")
    recorder.open()
    door = recorder.door

    def apply(command):
        return door.submit(command).result()

    try:
        items = [item.id for item in door.read(lambda s: s.checklist()).result()]
        n = 0
        while stop["signal"] is None:
            n += 1
            entry = apply(AddLogEntry(operator="child", log_kind="note", severity="info", text=f"entry {n}"))
            print(f"log {entry}", flush=True)
            if mode == "mixed":
                if items:
                    item = apply(SetItemDone(operator="child", item_id=items[n % len(items)], done=n % 2 == 0))
                    print(f"item {item.id} {item.done_at}", flush=True)
                ticket = apply(CreateTicket(operator="child", subject=f"customer {n}: reward not received"))
                print(f"ticket {ticket.id} {ticket.status}", flush=True)
                ticket = apply(TicketChange(operator="child", ticket_id=ticket.id, action="respond"))
                print(f"ticket {ticket.id} {ticket.status}", flush=True)
            if n % 20 == 0:
                recorder.tick(time.time()).result()
    finally:
        recorder.close()
    print("closed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
