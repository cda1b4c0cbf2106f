"""The contract every source implements, and the health it reports.

A source is one long-lived coroutine, `run(emit)`: it connects, reads, parses records and
hands each batch to `emit(records)` through `deliver`. Transport faults (refused
connections, timeouts, rotated files) never escape `run`: they are written into `health`,
counted, and retried with backoff. Only cancellation ends it. This keeps the engine's
supervision trivial and makes every fault visible on screen through one object.

Records are hostile until checked, and one bad record must cost only itself, so every
transport goes through the same two doors here: `reject` counts a record it could not use
(shown as "bad N" on the health line, with the last reason), and `deliver` refuses records
nested deeper than MAX_RECORD_DEPTH (the text of a 1,000-deep list cannot even be built
without a RecursionError) and survives an `emit` that raises. How big a record can be is
bounded before it is parsed, by each transport's byte limit (`max_line_bytes`,
`max_message_bytes`, `max_body_bytes`).

`emit` is synchronous and cheap (it folds records into per-second buckets), so a source may
call it from its read loop without a queue in between; sources should yield to the event loop
between batches (`await asyncio.sleep(0)`) so a fast feed never starves the UI.

Resuming: `checkpoint()` and `resume(state)` let a later process carry on exactly where
this one stopped. Only the file source implements them (a file can be read again); for a
websocket, HTTP or Prometheus source the records in flight when a process dies are gone, and
a new process starts from what the remote end sends next.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from warroom.model import Record

if TYPE_CHECKING:
    from warroom.config import SourceBase

log = logging.getLogger(__name__)

EmitFn = Callable[[list[Record]], None]
Clock = Callable[[], float]
C = TypeVar("C", bound="SourceBase")

# Reconnect pacing shared by the network sources: a server that accepts and drops at once
# must never get more than one attempt a second from us.
MIN_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0
# Event records nest a few levels; anything past this is refused as a bad record.
MAX_RECORD_DEPTH = 32
MAX_REASON = 200


def next_backoff(previous: float) -> float:
    """Exponential backoff from MIN_RETRY_DELAY to MAX_RETRY_DELAY."""
    return min(MAX_RETRY_DELAY, max(MIN_RETRY_DELAY, previous * 2))


def may_nest_too_deep(brackets: int, records: int) -> bool:
    """Whether JSON text holding `brackets` opening brackets (`{` and `[`, counted on the raw
    bytes) could have given any of its `records` objects a depth over MAX_RECORD_DEPTH.

    Each record takes at least one bracket of its own, so a record of depth d leaves
    `brackets >= d + records - 1`. Counting bytes is a C loop; when it answers no (the usual
    flat records), nobody has to walk the records in Python."""
    return brackets - records + 1 > MAX_RECORD_DEPTH


def nesting_problem(record: Any) -> str | None:
    """Why `record` is too deep to use, or None. Iterative, so it never recurses itself."""
    stack: list[tuple[Any, int]] = [(record, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_RECORD_DEPTH:
            return f"nested deeper than {MAX_RECORD_DEPTH} levels"
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return None


SILENT_FLOOR = 2.0
"""Seconds: no source is silent sooner, however fast it usually delivers."""


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
    usual_gap: float | None = None
    """Seconds between two deliveries of records, smoothed (an exponential moving average)."""

    def set_state(self, state: SourceState, reason: str = "", now: float | None = None) -> None:
        if state != self.state:
            self.since = time.time() if now is None else now
        self.state = state
        self.reason = reason

    def note_records(self, count: int, now: float) -> None:
        self.records += count
        if count:
            if self.last_record_at is not None and now > self.last_record_at:
                gap = now - self.last_record_at
                self.usual_gap = gap if self.usual_gap is None else 0.8 * self.usual_gap + 0.2 * gap
            self.last_record_at = now
            if self.state in (SourceState.CONNECTING, SourceState.STALE):
                self.set_state(SourceState.LIVE, now=now)

    def silent(self, now: float, factor: float) -> bool:
        """Live, but `factor` times later than usual with its next records (and at least
        SILENT_FLOOR seconds late): a feed that stopped before `stale_after` says so."""
        if factor <= 0 or self.state != SourceState.LIVE or self.last_record_at is None or self.usual_gap is None:
            return False
        return now - self.last_record_at > max(SILENT_FLOOR, factor * self.usual_gap)

    def note_fault(self, kind: str, count: int = 1, *, bad_record: bool = False) -> None:
        """Count a fault by kind; `bad_record` also counts it as a rejected record."""
        self.faults[kind] += count
        if bad_record:
            self.bad_records += count


class Source(ABC, Generic[C]):
    """Base class of every transport. Subclasses set `kind` and implement `run`."""

    kind: ClassVar[str]

    def __init__(self, config: C, clock: Clock = time.time) -> None:
        self.config: C = config
        self.name = config.name
        self.clock = clock
        self.health = SourceHealth(name=config.name, kind=self.kind, target=config.describe())

    @abstractmethod
    async def run(self, emit: EmitFn) -> None:
        """Read forever, calling `emit` with each batch of parsed records."""

    # ------------------------------------------------------------------ resuming

    def checkpoint(self) -> dict[str, Any] | None:
        """Where the next unread record is, as JSON-ready data, or None when a source cannot
        be read again. Called between two `emit` calls; the caller stores it together with
        what those records produced."""
        return None

    def resume(self, state: dict[str, Any]) -> None:
        """Continue from a `checkpoint()` of an earlier process; called before `run`."""

    # ------------------------------------------------------------------ records

    def reject(self, fault: str, reason: str, count: int = 1) -> None:
        """Count `count` records that could not be used and show why; the feed goes on."""
        self.health.note_fault(fault, count, bad_record=True)
        self.health.reason = reason[:MAX_REASON]

    def deliver(self, emit: EmitFn, records: list[Record], *, brackets: int | None = None) -> None:
        """Hand `records` to `emit`, minus those nested too deep; an `emit` that raises is
        counted and shown, and the feed goes on.

        `brackets`: the opening brackets in the JSON text the records came from, if they
        came from JSON (see `may_nest_too_deep`); None for records a parser built flat."""
        if brackets is not None and may_nest_too_deep(brackets, len(records)):
            kept = []
            for record in records:
                problem = nesting_problem(record)
                if problem is None:
                    kept.append(record)
                else:
                    self.reject("too_deep", f"last bad record: {problem}")
            records = kept
        if not records:
            return
        try:
            emit(records)
        except Exception as exc:  # the consumer's bug must not stop the feed; it is shown
            self.health.note_fault("emit_error")
            self.health.reason = f"records lost: {type(exc).__name__}: {exc}"[:MAX_REASON]
            log.exception("source %s: emit failed", self.name)
            return
        self.health.note_records(len(records), now=self.clock())
