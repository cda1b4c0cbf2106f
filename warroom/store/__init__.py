"""The room store: one SQLite file per launch, shared by every operator process on the host.

Why SQLite in WAL mode: each operator runs their own warroom in their own SSH session, and
all of them must see the same checklist, queue and log, survive a crash of any of them, and
keep writing while others read. WAL gives concurrent readers with one writer at a time,
`synchronous=NORMAL` keeps every commit across an application crash (not a power cut), and
the busy timeout makes writers queue instead of failing. It does not work on network
filesystems; the file must live on the host the operators log into.

Rules the whole module follows:

- Every write method runs one short `BEGIN IMMEDIATE` transaction and commits before it
  returns, so "saved" on screen means on disk. Database errors come out as StoreError, so
  the UI can report them in one place; bad arguments (an unknown log kind) are ValueError.
- Nothing already on disk is ever replaced: a file that is not a SQLite database, is corrupt,
  belongs to another application or has a newer schema is refused with StoreError.
- `changed()` is the cross-process signal for the UI poll: `PRAGMA data_version` moves when
  another connection commits, and our own commits are counted here.
- Times are UTC epoch seconds. Text is stored exactly as given; escaping is the job of
  whatever displays or exports it.

Threading: a RoomStore belongs to the thread that opened it (the asyncio loop thread in the
app); sqlite3's `check_same_thread` enforces that. Other processes open their own RoomStore.

Layout: `schema.py` (tables, migrations, row types), `base.py` (opening, transactions,
change detection), and one part per concern: `room_state.py` (launch, operators, checklist,
metric history), `journal.py` (incident log, alert history, silences), `queue.py` (tickets
and SLA). `RoomStore` is all of them together.
"""

from __future__ import annotations

from warroom.store.base import StoreBase
from warroom.store.journal import JournalStore
from warroom.store.ledger import CommandLedger
from warroom.store.live import AlertEventRow, AlertStateRow, LiveStore, SourceChange, SourceRow, TickRecord
from warroom.store.queue import TicketQueueStore
from warroom.store.room_state import RoomStateStore
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
    LogEntry,
    NotFound,
    Session,
    SharedSilence,
    StoreBusy,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "ACTIVE_STATES", "ALERT_EVENTS", "APPLICATION_ID", "LOG_KINDS", "MIGRATIONS", "MUTE_EVENTS",
    "SEVERITIES", "STATE_EVENTS", "AlertEvent", "AlertEventRow", "AlertStateRow", "Breach",
    "ChecklistItem", "Launch", "LogEntry", "NotFound", "RoomStore", "Session", "SharedSilence",
    "SourceChange", "SourceRow", "StoreBusy", "StoreError", "StoreUnavailable", "TickRecord",
]


class RoomStore(CommandLedger, LiveStore, RoomStateStore, JournalStore, TicketQueueStore, StoreBase):
    """Checklist, tickets, incident log, alert history, metric history, the recorder's state
    and the snapshot it publishes, of one launch."""
