"""`warroom room copy`: a room moved between SQLite and PostgreSQL, both ways, row for row.

A launch rehearsed on a laptop moves to the shared server; a retrospective can be exported
from a SQLite copy of a PostgreSQL room. Every table is copied with its ids (log entries,
alert events and checklist items keep theirs, so references between them hold), into a
room that must be empty, table by table in the order the references need. The change
counters and the recorder's live lease are not copied (the destination's own triggers count
its changes; nobody records a copy). Afterwards the rows of every table are counted on both
sides and a difference is an error.
"""

from __future__ import annotations

from collections.abc import Callable

from warroom.store import RoomStore, StoreError

# In the order foreign keys need (alert_events.log_id references log.id).
TABLES = (
    "meta",
    "operators",
    "checklist",
    "tickets",
    "log",
    "alert_events",
    "silences",
    "metric_names",
    "metric_points",
    "metric_state",
    "metric_buckets",
    "source_state",
    "alert_state",
    "snapshot",
    "sessions",
    "commands",
)
BATCH = 1000
BACKEND_KEYS = ("schema_version",)  # meta rows a backend keeps for itself


def copy_room(
    source: RoomStore, destination: RoomStore, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row of `source` into the empty room `destination`; rows per table."""
    if destination.has_rows():
        raise StoreError(f"{destination.label}: the room to copy into is not empty; give it an empty room")
    copied: dict[str, int] = {}
    for table in TABLES:
        copied[table] = destination.copy_rows(table, source.rows_of(table, BATCH, BACKEND_KEYS))
        if progress is not None:
            progress(table, copied[table])
    counts = {
        table: (source.row_count(table, BACKEND_KEYS), destination.row_count(table, BACKEND_KEYS)) for table in TABLES
    }
    wrong = {table: pair for table, pair in counts.items() if pair[0] != pair[1]}
    if wrong:
        detail = ", ".join(f"{table} {a} -> {b}" for table, (a, b) in wrong.items())
        raise StoreError(f"{destination.label}: the copy does not match its source: {detail}")
    return copied
