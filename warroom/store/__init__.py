"""The room store: everything a launch's operators share, in one database per room.

`RoomStore` is the room as its callers see it; its parts each own one concern and share one
connection through `StoreCore` (base.py): `room_state.py` (launch, operators, checklist,
metric history), `journal.py` (incident log, alert history, silences), `queue.py` (tickets
and SLA), `live.py` (what the recorder computes and keeps, the published snapshot, the
sessions of who is attached), `ledger.py` (operators' commands, each applied once). The
database behind it is a backend (`db.py`): a SQLite file on one host (`sqlite.py`).

Rules the whole package follows:

- Every write method runs in one write transaction and commits before it returns, so
  "saved" on screen means on disk; writers of a room never overlap, so a "logged once" check
  made inside the transaction holds. Database errors come out as StoreError (with a kind a
  caller can retry: StoreBusy, StoreUnavailable); bad arguments are ValueError.
- Nothing already on disk is ever replaced: a database that is not warroom's, is damaged or
  has a newer schema is refused with StoreError and left as it is.
- Every write to a table a screen shows bumps its change topic (schema triggers), so a reader
  that saw the database change reads only the topics that moved.
- Times are UTC epoch seconds. Text is stored exactly as given; escaping is the job of
  whatever displays or exports it.

Threading: a RoomStore belongs to the thread that opened it (the room's door opens one per
thread); other processes open their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from warroom.store.db import Database
from warroom.store.ledger import CommandLedger
from warroom.store.live import AlertEventRow, AlertStateRow, LiveStore, SourceChange, SourceRow, TickRecord
from warroom.store.outbox import OutboxStore
from warroom.store.schema import (
    ACTIVE_STATES,
    ALERT_EVENTS,
    APPLICATION_ID,
    LOG_KINDS,
    MIGRATIONS,
    MUTE_EVENTS,
    SEVERITIES,
    STATE_EVENTS,
    AlertEvent,
    Breach,
    ChecklistItem,
    Launch,
    LeaseLost,
    LogEntry,
    NotFound,
    Session,
    SharedSilence,
    StoreBusy,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "ACTIVE_STATES",
    "ALERT_EVENTS",
    "APPLICATION_ID",
    "LOG_KINDS",
    "MIGRATIONS",
    "MUTE_EVENTS",
    "SEVERITIES",
    "STATE_EVENTS",
    "AlertEvent",
    "AlertEventRow",
    "AlertStateRow",
    "Breach",
    "ChecklistItem",
    "Launch",
    "LeaseLost",
    "LogEntry",
    "NotFound",
    "RoomStore",
    "Session",
    "SharedSilence",
    "SourceChange",
    "SourceRow",
    "StoreBusy",
    "StoreError",
    "StoreUnavailable",
    "TickRecord",
]


class RoomStore(CommandLedger, LiveStore, OutboxStore):
    """Checklist, tickets, incident log, alert history, metric history, the recorder's state
    and the snapshot it publishes, of one launch.

    `where`: the SQLite file of the room (created if missing), or an opened Database."""

    def __init__(
        self,
        where: str | os.PathLike[str] | Database,
        *,
        group_access: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(where, Database):
            from warroom.store.sqlite import SqliteDatabase

            where = SqliteDatabase(where, group_access=group_access)
        super().__init__(where, clock=clock)
