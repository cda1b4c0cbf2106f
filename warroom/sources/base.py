"""The contract every source implements, and the health it reports.

A source is one long-lived coroutine, `run(emit)`: it connects, reads, parses records and
hands each batch to `emit(records)`. Transport faults (refused connections, timeouts, rotated
files, bad records) never escape `run`: they are written into `health`, counted, and retried
with backoff. Only cancellation ends it. This keeps the engine's supervision trivial and
makes every fault visible on screen through one object.

`emit` is synchronous and cheap (it folds records into per-second buckets), so a source may
call it from its read loop without a queue in between; sources should yield to the event loop
between batches (`await asyncio.sleep(0)`) so a fast feed never starves the UI.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from warroom.model import Record

if TYPE_CHECKING:
    from warroom.config import SourceConfig

EmitFn = Callable[[list[Record]], None]
Clock = Callable[[], float]

# Reconnect pacing shared by the network sources: a server that accepts and drops at once
# must never get more than one attempt a second from us.
MIN_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0


def next_backoff(previous: float) -> float:
    """Exponential backoff from MIN_RETRY_DELAY to MAX_RETRY_DELAY."""
    return min(MAX_RETRY_DELAY, max(MIN_RETRY_DELAY, previous * 2))


class SourceState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass
class SourceHealth:
    """What the operator sees about one source. Mutated only by its source (and the engine's
    stale check); read by the UI on its tick."""

    name: str
    kind: str
    target: str = ""  # what it connects to, with secrets left out
    state: SourceState = SourceState.CONNECTING
    reason: str = ""  # plain text: the last error or status, never markup
    since: float = field(default_factory=time.time)  # when `state` last changed
    last_record_at: float | None = None
    records: int = 0
    bad_records: int = 0
    reconnects: int = 0
    faults: Counter[str] = field(default_factory=Counter)  # e.g. rotated, truncated, bad_json

    def set_state(self, state: SourceState, reason: str = "", now: float | None = None) -> None:
        if state != self.state:
            self.since = time.time() if now is None else now
        self.state = state
        self.reason = reason

    def note_records(self, count: int, now: float) -> None:
        self.records += count
        if count:
            self.last_record_at = now
            if self.state in (SourceState.CONNECTING, SourceState.STALE):
                self.set_state(SourceState.LIVE, now=now)

    def note_fault(self, kind: str, count: int = 1, *, bad_record: bool = False) -> None:
        """Count a fault by kind; `bad_record` also counts it as a rejected record."""
        self.faults[kind] += count
        if bad_record:
            self.bad_records += count


class Source(ABC):
    """Base class of every transport. Subclasses set `kind` and implement `run`."""

    kind: ClassVar[str]

    def __init__(self, config: SourceConfig, clock: Clock = time.time) -> None:
        self.config = config
        self.name = config.name
        self.clock = clock
        self.health = SourceHealth(name=config.name, kind=self.kind, target=config.describe())

    @abstractmethod
    async def run(self, emit: EmitFn) -> None:
        """Read forever, calling `emit` with each batch of parsed records."""
