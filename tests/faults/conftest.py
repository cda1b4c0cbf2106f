"""Shared pieces of the fault suite: a tally of what was injected, crashes counted for real,
and quiet transport loggers.

Every test adds what it injects to `tally` (faults injected, bad inputs tried, records lost,
operator entries lost). Crashes are not declared by the tests but seen: `crash_watch`
(tests/faults/helpers.py) watches every fault test, and a test during which warroom code
crashed fails, listing the crashes. The totals of the run are printed at the end of the
terminal summary (the README's reliability figures come from there) and, with
WARROOM_FAULT_TALLY=<file>, written to that file as JSON.
"""

from __future__ import annotations

import gc
import json
import os
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.faults.helpers import crash_watch

_TOTALS: Counter[str] = Counter()
KEYS = ("tests", "faults_injected", "bad_inputs", "hypothesis_examples", "records_lost", "entries_lost", "crashes")


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
def tally() -> Iterator[Tally]:
    counter = Tally()
    yield counter
    _TOTALS.update(counter.counts)


@pytest.fixture(autouse=True)
def _count_crashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test during which warroom code crashed; count it in the run's totals."""
    # Where a `warroom` child of the test writes its log (HOME is the test's tmp_path).
    directory = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    with crash_watch.watching(monkeypatch):
        yield
        gc.collect()  # a task that died unawaited reports its exception when it is collected
    if directory is not None:
        crash_watch.read_app_logs(directory)
    _TOTALS["tests"] += 1
    _TOTALS["crashes"] += len(crash_watch.crashes)
    if crash_watch.crashes:
        pytest.fail("warroom crashed during this fault test:\n" + "\n".join(crash_watch.crashes), pytrace=False)


@pytest.fixture(autouse=True)
def _quiet_transport_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="websockets")
    caplog.set_level("CRITICAL", logger="httpx")


def _totals() -> dict[str, int]:
    return {key: _TOTALS.get(key, 0) for key in KEYS}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TOTALS["tests"]:
        totals = _totals()
        terminalreporter.write_line(
            f"fault suite: {totals['tests']} tests, {totals['faults_injected']} faults injected, "
            f"{totals['bad_inputs']} bad inputs ({totals['hypothesis_examples']} hypothesis examples), "
            f"{totals['records_lost']} records lost, {totals['entries_lost']} operator entries lost, "
            f"{totals['crashes']} crashes"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("WARROOM_FAULT_TALLY")
    if target and _TOTALS["tests"]:
        with open(target, "w", encoding="utf-8") as f:
            json.dump(_totals(), f, indent=2)
