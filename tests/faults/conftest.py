"""Shared pieces of the fault suite: a tally of what was injected, and quiet loggers.

Every test adds what it injects to `tally` (faults injected, bad inputs tried, records lost,
operator entries lost, crashes). Nothing is printed; with WARROOM_FAULT_TALLY=<file> the
totals of the run are written there as JSON, which is where the README's reliability
figures come from.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

_TOTALS: Counter[str] = Counter()
KEYS = ("faults_injected", "bad_inputs", "hypothesis_examples", "records_lost", "entries_lost", "crashes")


class Tally:
    """What one test injected; added to the run's totals when the test ends."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def fault(self, count: int = 1) -> None:
        self.counts["faults_injected"] += count

    def bad(self, count: int = 1) -> None:
        self.counts["bad_inputs"] += count

    def example(self, count: int = 1) -> None:
        self.counts["hypothesis_examples"] += count
        self.counts["bad_inputs"] += count

    def lost(self, records: int = 0, entries: int = 0) -> None:
        self.counts["records_lost"] += records
        self.counts["entries_lost"] += entries

    def crash(self, count: int = 1) -> None:
        self.counts["crashes"] += count


@pytest.fixture
def tally():
    counter = Tally()
    yield counter
    _TOTALS.update(counter.counts)


@pytest.fixture(autouse=True)
def _quiet_transport_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="websockets")
    caplog.set_level("CRITICAL", logger="httpx")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("WARROOM_FAULT_TALLY")
    if target and _TOTALS:
        totals = {key: _TOTALS.get(key, 0) for key in KEYS}
        totals["tests"] = session.testscollected
        with open(target, "w", encoding="utf-8") as f:
            json.dump(totals, f, indent=2)
