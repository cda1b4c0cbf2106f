"""A log-writing process for the file-source fault tests, like a web server's access log.

    python log_writer.py PATH COUNT [BATCH] [PAUSE]

Appends COUNT JSON lines {"n": <sequence>} to PATH through one O_APPEND descriptor, BATCH
lines per write, one write every PAUSE seconds on a fixed schedule (a late write is caught up
at once, so BATCH / PAUSE is the rate whenever the machine keeps up). On SIGHUP it reopens
PATH (what nginx does on USR1 after logrotate renamed its log), so the lines after a rotation
go to the new file. Prints "done <seconds>" when every line is written.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main(argv: list[str]) -> int:
    path, count = argv[1], int(argv[2])
    batch = int(argv[3]) if len(argv) > 3 else 50
    pause = float(argv[4]) if len(argv) > 4 else 0.002
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    state = {"fd": os.open(path, flags, 0o644), "reopen": False}

    def on_hup(signum, frame):
        state["reopen"] = True

    signal.signal(signal.SIGHUP, on_hup)
    n = 0
    started = time.monotonic()
    due = started
    while n < count:
        if state["reopen"]:
            state["reopen"] = False
            old, state["fd"] = state["fd"], os.open(path, flags, 0o644)
            os.close(old)
        stop = min(count, n + batch)
        os.write(state["fd"], b"".join(b'{"n": %d}\n' % i for i in range(n, stop)))
        n = stop
        due += pause
        time.sleep(max(0.0, due - time.monotonic()))
    os.close(state["fd"])
    print(f"done {time.monotonic() - started:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
