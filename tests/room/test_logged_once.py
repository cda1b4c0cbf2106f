"""Two processes recording the same changes at the same moments: each is logged once.

Only the recorder writes computed state, so on a healthy room these races cannot happen; the
store still checks every "logged once" inside the write transaction that logs it, so that a
second recorder by mistake (or a bug in the lease) could not double the log either. Two real
processes race through 200 rounds (tests/room/racer.py): in every round, an SLA breach, a
source going stale and an alert firing, recorded by both processes at once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.room.conftest import Backend

RACER = Path(__file__).with_name("racer.py")
ROUNDS = 200
SLOT = 0.05


def test_two_processes_log_each_change_once(backend: Backend) -> None:
    where = str(backend.path) if backend.kind == "sqlite" else f"{backend.url}#{backend.room}"
    start = time.time() + 3.0  # both children are up and spinning by then
    with backend.open() as store:
        for r in range(ROUNDS):  # ticket r misses its first-response deadline in round r
            store.create_ticket(f"customer {r}", "desk", priority="urgent", at=start + r * SLOT - 60)
    racers = [
        subprocess.Popen(
            [sys.executable, str(RACER), where, repr(start), str(ROUNDS), str(SLOT)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0 and out.strip() == "done", err
    with backend.open() as store:
        entries = store.log_entries()
        events = store.alert_events()
    breaches = Counter(e.ticket_id for e in entries if "missed its first response target" in e.text)
    assert len(breaches) == ROUNDS and set(breaches.values()) == {1}
    sources = Counter(e.text for e in entries if e.kind == "source")
    assert len(sources) == ROUNDS and set(sources.values()) == {1}
    fired = Counter(e.rule for e in events if e.event == "firing")
    assert len(fired) == ROUNDS and set(fired.values()) == {1}
