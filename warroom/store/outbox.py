"""The notification outbox: what the room's recorder has to send, and what became of it.

Notifications are queued in the room, in the same transaction as the routing state that
decided them (`queue_notifications`): a recorder that dies before that commit leaves the
state as it was, so the one that takes over decides the same again, and once committed a
notification is never decided twice (its key is unique besides).

Each receiver's queue is sent in order, one at a time. A send is claimed (state `sending`,
committed) before the request leaves and marked `sent` only after the receiver accepted
it, so a recorder killed in the middle of a send leaves that one notification claimed: the
next recorder sends it again and the incident log says so (the only duplicate there can be;
it carries the same id). A failed attempt goes back to `pending` with the time of its next
try; one not delivered within the give-up time is `failed`. Every send, retry and failure
is written to the incident log (kind "notify") in the transaction that records it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from warroom.store.base import StoreCore
from warroom.store.db import Database, upsert

T = TypeVar("T")
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
AUTHOR = "notify"


@dataclass(frozen=True, slots=True)
class Queued:
    """A notification to queue: its id (unique: queued once), receiver, group and body."""

    key: str
    receiver: str
    group_key: str
    created_at: float
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    key: str
    receiver: str
    group_key: str
    body: dict[str, Any]
    state: str
    attempts: int
    next_at: float
    """Wall-clock time of its next try."""
    queued_at: float
    """Wall-clock time it was queued."""
    claimed_by: str | None


@dataclass(frozen=True, slots=True)
class ReceiverSummary:
    """One receiver's deliveries, as a recorder taking over finds them."""

    receiver: str
    waiting: int
    last_sent_at: float | None
    failed: int
    recent_sends: list[float]
    """Wall-clock times of the sends of the last minute (its rate limit)."""


LogLine = tuple[str, str, str | None]
"""(severity, text, alert) of an incident log entry."""

_COLS = "id, key, receiver, group_key, body, state, attempts, next_at, queued_at, claimed_by"


class OutboxStore(StoreCore):
    """The room's notification outbox (a part of RoomStore)."""

    def queue_notifications(
        self,
        queued: Iterable[Queued],
        states: Mapping[str, str],
        logs: Iterable[LogLine],
        *,
        at: float,
        queued_at: float,
        fence: tuple[int, str] | None = None,
    ) -> int:
        """Queue notifications (one already queued under the same key is left alone), keep
        the routing state that decided them and log, all in one transaction; returns how
        many were queued. `fence`: see LiveStore.check_fence."""
        with self._write() as db:
            self.check_fence(fence)
            return self._queue(db, queued, states, logs, at, queued_at)

    def queue_with(
        self,
        work: Callable[[], T],
        decide: Callable[[T], Iterable[Queued]],
        *,
        at: float,
        queued_at: float,
        fence: tuple[int, str] | None = None,
    ) -> T:
        """Run `work` (a write of the room, e.g. marking SLA breaches) and queue what `decide`
        makes of its result, in one transaction: what was marked is notified, exactly once."""
        with self._write() as db:
            self.check_fence(fence)
            result = work()
            self._queue(db, decide(result), {}, (), at, queued_at)
        return result

    def _queue(
        self,
        db: Database,
        queued: Iterable[Queued],
        states: Mapping[str, str],
        logs: Iterable[LogLine],
        at: float,
        queued_at: float,
    ) -> int:
        count = 0
        for q in queued:
            count += db.execute(
                "INSERT INTO notify_outbox(key, receiver, group_key, created_at, queued_at, body, next_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
                (q.key, q.receiver, q.group_key, q.created_at, queued_at, json.dumps(q.body), queued_at),
            ).rowcount
        db.executemany(upsert("notify_state", ("key", "body"), ("key",)), list(states.items()))
        for severity, text, alert in logs:
            self._log(db, "notify", severity, text, AUTHOR, ts=at, alert=alert)
        return count

    def notify_states(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, body FROM notify_state").fetchall())

    # ------------------------------------------------------------------ sending

    def next_notification(self, receiver: str) -> OutboxEntry | None:
        """The head of a receiver's queue: the oldest not yet sent nor given up."""
        row = self._db.execute(
            f"SELECT {_COLS} FROM notify_outbox WHERE receiver = ? AND state IN (?, ?) ORDER BY id LIMIT 1",
            (receiver, PENDING, SENDING),
        ).fetchone()
        return _entry(row) if row else None

    def claim_notification(
        self,
        entry_id: int,
        session_id: str,
        *,
        at: float,
        in_flight: LogLine | None = None,
        fence: tuple[int, str] | None = None,
    ) -> bool:
        """Mark it as being sent by this session (committed before the request leaves);
        `in_flight`: the log line for a send another recorder had started. False if it is
        no longer waiting. `fence`: a recorder that lost the room cannot claim (and send)."""
        with self._write() as db:
            self.check_fence(fence)
            claimed = db.execute(
                "UPDATE notify_outbox SET state = ?, attempts = attempts + 1, claimed_by = ? "
                "WHERE id = ? AND state IN (?, ?)",
                (SENDING, session_id, entry_id, PENDING, SENDING),
            ).rowcount
            if claimed and in_flight is not None:
                self._log(db, "notify", in_flight[0], in_flight[1], AUTHOR, ts=at, alert=in_flight[2])
        return bool(claimed)

    def finish_notification(
        self,
        entry_id: int,
        state: str,
        log: LogLine,
        *,
        at: float,
        wall: float,
        error: str | None = None,
        next_at: float | None = None,
    ) -> None:
        """Record the outcome of a send and log it: SENT, PENDING again (with the time of its
        next try) or FAILED (given up)."""
        with self._write() as db:
            db.execute(
                "UPDATE notify_outbox SET state = ?, sent_at = ?, last_error = ?, next_at = ? WHERE id = ?",
                (state, wall if state == SENT else None, error, next_at if next_at is not None else wall, entry_id),
            )
            self._log(db, "notify", log[0], log[1], AUTHOR, ts=at, alert=log[2])

    def session_who(self, session_id: str) -> str | None:
        """operator@host of a session, if the room knows it."""
        row = self._db.execute("SELECT operator, host FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return f"{row[0]}@{row[1]}" if row else None

    # ------------------------------------------------------------------ reading

    def outbox(self, receiver: str | None = None) -> list[OutboxEntry]:
        """Every queued notification (of one receiver), oldest first."""
        where, params = ("WHERE receiver = ?", (receiver,)) if receiver else ("", ())
        return [_entry(r) for r in self._db.execute(f"SELECT {_COLS} FROM notify_outbox {where} ORDER BY id", params)]

    def undelivered_groups(self) -> set[str]:
        """Groups with a notification not yet sent (nor given up)."""
        return {
            r[0]
            for r in self._db.execute(
                "SELECT DISTINCT group_key FROM notify_outbox WHERE state IN (?, ?)", (PENDING, SENDING)
            )
        }

    def receiver_summaries(self, since: float | None) -> dict[str, ReceiverSummary]:
        """Per receiver: waiting, last sent, given up, and the sends since `since` (wall time;
        None: no list of sends)."""
        rows = self._db.execute(
            "SELECT receiver, sum(CASE WHEN state IN (?, ?) THEN 1 ELSE 0 END), max(sent_at), "
            "sum(CASE WHEN state = ? THEN 1 ELSE 0 END) FROM notify_outbox GROUP BY receiver",
            (PENDING, SENDING, FAILED),
        ).fetchall()
        recent: dict[str, list[float]] = {}
        for receiver, sent_at in self._db.execute(
            "SELECT receiver, sent_at FROM notify_outbox WHERE sent_at >= ? ORDER BY sent_at", (since,)
        ):
            recent.setdefault(receiver, []).append(float(sent_at))
        return {
            r: ReceiverSummary(r, int(waiting or 0), last, int(failed or 0), recent.get(r, []))
            for r, waiting, last, failed in rows
        }


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    return OutboxEntry(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:])
