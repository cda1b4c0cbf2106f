"""What each tab reads from the room, as plain queries the room's door runs off the screen.

A panel says what it wants to see (`ChecklistQuery`, `TicketQuery`, `LogQuery`, ...); the app
hands the query to the door, whose reader thread runs `read(store, query)` and posts the rows
back. Panels never hold the store and never run SQL themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from warroom.store import AlertEvent, ChecklistItem, LogEntry, RoomStore
from warroom.tickets import Ticket, TicketMetrics

SOLVED_SHOWN = 10
OPEN_SHOWN = 500


@dataclass(frozen=True, slots=True)
class ChecklistQuery:
    pass


@dataclass(frozen=True, slots=True)
class TicketQuery:
    solved: int = SOLVED_SHOWN
    open: int = OPEN_SHOWN
    """The most pressing open tickets shown; the figures count them all."""
    now: float | None = None
    """The screen's clock (which tickets are past their deadline); default: the wall clock."""


@dataclass(frozen=True, slots=True)
class LogQuery:
    limit: int = 200
    kind: str | None = None
    starred_only: bool = False
    count: bool = True
    """Also count every entry of that kind (the "of N" in the summary)."""


@dataclass(frozen=True, slots=True)
class AlertHistoryQuery:
    limit: int = 100


@dataclass(frozen=True, slots=True)
class TicketRows:
    open: list[Ticket]
    solved: list[Ticket]
    metrics: TicketMetrics


@dataclass(frozen=True, slots=True)
class LogRows:
    entries: list[LogEntry]
    """Oldest first."""
    total: int | None


Query = ChecklistQuery | TicketQuery | LogQuery | AlertHistoryQuery


def read(store: RoomStore, query: Query) -> Any:
    """The rows `query` asks for (runs on the door's reader thread)."""
    if isinstance(query, ChecklistQuery):
        return checklist(store)
    if isinstance(query, TicketQuery):
        solved = [t for t in store.tickets(limit=200) if not t.is_open]
        solved.sort(key=lambda t: t.solved_at or 0.0, reverse=True)
        now = time.time() if query.now is None else query.now
        return TicketRows(store.pressing_tickets(now, query.open), solved[: query.solved], store.ticket_metrics())
    if isinstance(query, LogQuery):
        kinds = None if query.kind is None else [query.kind]
        entries = store.recent(limit=query.limit, kinds=kinds, starred_only=query.starred_only)
        return LogRows(entries, store.count_log(kinds) if query.count else None)
    if isinstance(query, AlertHistoryQuery):
        return alert_history(store, query.limit)
    raise TypeError(f"not a room query: {query!r}")


def checklist(store: RoomStore) -> list[ChecklistItem]:
    return store.checklist()


def alert_history(store: RoomStore, limit: int) -> list[AlertEvent]:
    return store.recent_alert_events(limit)
