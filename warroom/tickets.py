"""Support tickets as plain data: record validation, SLA deadlines and queue figures.

Kept apart from the store so the rules can be tested without a database and reused by the
UI (countdowns) and the export (figures). Nothing here does I/O.

Validation is deliberately forgiving about *spelling* and strict about *meaning*: help desks
name priorities and statuses in many ways ("P1", "Critical", "resolved", "on hold"), so common
synonyms are mapped to our four priorities and four statuses, while a value that maps to
nothing is rejected with a reason rather than guessed at. A rejected record never reaches the
store; the caller counts it and shows the reason.

Each record is validated on its own and in bounded time: only scalars (text, numbers, true or
false) are read, so an object or a list in a ticket field is a reason to reject that record,
never something to turn into text (the text of a list nested 1,000 deep cannot be built
without a RecursionError, and a 4 MB one is not a subject); a number is bounded before it is
written out (Python refuses to print an integer of more than 4,300 digits).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

PRIORITIES = ("urgent", "high", "normal", "low")
STATUSES = ("new", "open", "pending", "solved")

MAX_ID = 128
MAX_SUBJECT = 500
MAX_FIELD = 200
ELLIPSIS = "\u2026"
# A ticket time further ahead of our clock than this comes from a wrong clock (or a wrong
# unit): it is taken as "now" and counted, so the SLA runs from arrival instead of never
# starting. The same allowance as the pipeline's for record times.
MAX_FUTURE_SKEW = 60.0

PRIORITY_SYNONYMS: dict[str, str] = {
    **{name: "urgent" for name in ("urgent", "p0", "p1", "critical", "crit", "blocker", "highest", "sev1", "1")},
    **{name: "high" for name in ("high", "p2", "major", "sev2", "2")},
    **{name: "normal" for name in ("normal", "p3", "medium", "moderate", "default", "sev3", "3")},
    **{name: "low" for name in ("low", "p4", "p5", "minor", "lowest", "trivial", "sev4", "4")},
}
"""Lower-cased spellings -> priority. A missing priority means "normal"; anything else is
rejected, because silently filing an unknown "P7" as normal could hide an urgent ticket."""

STATUS_SYNONYMS: dict[str, str] = {
    **{name: "new" for name in ("new", "unassigned", "received")},
    **{name: "open" for name in ("open", "assigned", "active", "in_progress", "in progress", "reopened")},
    **{name: "pending" for name in ("pending", "waiting", "on_hold", "on hold", "on-hold", "hold")},
    **{name: "solved" for name in ("solved", "resolved", "closed", "done")},
}

_TEXT_FIELDS = {
    # our field: record keys tried in order
    "subject": ("subject", "title", "summary"),
    "customer_ref": ("customer_ref", "customer", "customer_id", "requester", "user"),
    "category": ("category", "type", "topic"),
    "assignee": ("assignee", "assigned_to", "agent"),
}
_TIME_FIELDS = {
    "opened_at": ("opened_at", "created_at", "opened", "created"),
    "updated_at": ("updated_at", "updated"),
    "first_response_at": ("first_response_at", "responded_at"),
    "solved_at": ("solved_at", "resolved_at", "closed_at"),
}


@dataclass(frozen=True, slots=True)
class TicketFields:
    """A validated ticket record. None means "the record does not say", which the store's
    upsert treats as "keep what is stored" (see RoomStore.upsert_ticket)."""

    id: str
    subject: str | None = None
    customer_ref: str | None = None
    category: str | None = None
    priority: str | None = None
    status: str | None = None
    assignee: str | None = None
    opened_at: float | None = None
    updated_at: float | None = None
    first_response_at: float | None = None
    solved_at: float | None = None
    truncated: bool = False
    """True when a text field was cut to its limit (the caller may count it)."""
    future_times: int = 0
    """Time fields that were ahead of `now` by more than MAX_FUTURE_SKEW and were taken as
    `now` (the caller counts them)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as stored. Times are UTC epoch seconds."""

    id: str
    opened_at: float
    subject: str
    customer_ref: str
    category: str
    priority: str
    status: str
    assignee: str | None
    first_response_at: float | None
    solved_at: float | None
    updated_at: float
    source: str
    respond_breached_at: float | None
    resolve_breached_at: float | None

    @property
    def is_open(self) -> bool:
        return self.status != "solved"


def _scalar_text(value: Any, what: str) -> str:
    """`value` as text if it is a scalar; ValueError for an object, a list or a huge integer."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, float)) or (isinstance(value, int) and value.bit_length() <= 64):
        return str(value)
    if isinstance(value, int):
        raise ValueError(f"{what}: a number too large to be one")
    raise ValueError(f"{what}: expected text or a number, got {_kind(value)}")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__


def normalize_priority(value: Any) -> str:
    """One of PRIORITIES from a help desk's spelling; ValueError if it maps to none."""
    key = _scalar_text(value, "priority").strip().lower()
    if key in PRIORITY_SYNONYMS:
        return PRIORITY_SYNONYMS[key]
    raise ValueError(f"unknown priority {_mention(value)} (use urgent, high, normal or low)")


def normalize_status(value: Any) -> str:
    """One of STATUSES from a help desk's spelling; ValueError if it maps to none."""
    key = _scalar_text(value, "status").strip().lower()
    if key in STATUS_SYNONYMS:
        return STATUS_SYNONYMS[key]
    raise ValueError(f"unknown status {_mention(value)} (use new, open, pending or solved)")


def parse_time(value: Any) -> float:
    """Epoch seconds from epoch seconds, epoch milliseconds or ISO 8601 (naive means UTC)."""
    if isinstance(value, bool):
        raise ValueError("not a time")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"not a time: {_mention(value)}") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    if isinstance(value, int) and value.bit_length() > 64:
        raise ValueError("not a time: a number too large")
    if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
        return value / 1000.0 if value > 1e11 else float(value)  # 1e11 s is the year 5138
    raise ValueError(f"not a time: {_mention(value)}")


def clamp_future(ts: float, now: float) -> float:
    """`ts`, or `now` when `ts` is more than MAX_FUTURE_SKEW ahead of it."""
    return now if ts > now + MAX_FUTURE_SKEW else ts


def validate_ticket_record(
    record: Mapping[str, Any], id_field: str = "id", now: float | None = None
) -> TicketFields | str:
    """TicketFields from a source record, or the reason it is rejected.

    Rejected: no id (or an empty, non-scalar or over-long one), a priority or status that maps
    to none of ours, a time field that is not a time, an object or a list where text is
    expected. Text fields are cut to MAX_SUBJECT (subject) or MAX_FIELD characters rather than
    rejected: a long subject is still a ticket. With `now` (the arrival time), a time from
    the far future is taken as `now` and counted in `future_times`.
    """
    if not isinstance(record, Mapping):
        return "record is not an object"
    raw_id = record.get(id_field)
    if raw_id is None:
        return f"missing ticket id (field {id_field!r})"
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        return f"ticket id (field {id_field!r}) is not a string or an integer"
    if isinstance(raw_id, int) and raw_id.bit_length() > 64:
        return f"ticket id longer than {MAX_ID} characters"
    ticket_id = str(raw_id).strip()
    if not ticket_id:
        return f"empty ticket id (field {id_field!r})"
    if len(ticket_id) > MAX_ID:
        return f"ticket id longer than {MAX_ID} characters"
    values: dict[str, Any] = {"id": ticket_id}
    truncated = False
    try:
        for name, keys in _TEXT_FIELDS.items():
            value = _first(record, keys)
            if value is not None:
                text = _scalar_text(value, name).strip()
                limit = MAX_SUBJECT if name == "subject" else MAX_FIELD
                if len(text) > limit:
                    text, truncated = text[: limit - 1] + ELLIPSIS, True
                values[name] = text
        priority = _first(record, ("priority",))
        if priority is not None:
            values["priority"] = normalize_priority(priority)
        status = _first(record, ("status", "state"))
        if status is not None:
            values["status"] = normalize_status(status)
        for name, keys in _TIME_FIELDS.items():
            value = _first(record, keys)
            if value is not None:
                try:
                    values[name] = parse_time(value)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
    except ValueError as exc:
        return str(exc)
    future = 0
    if now is not None:
        for name in _TIME_FIELDS:
            if name in values and values[name] != clamp_future(values[name], now):
                values[name], future = now, future + 1
    return TicketFields(**values, truncated=truncated, future_times=future)


def sla_due(ticket: Ticket, sla: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(first response due, resolution due) for the ticket's priority; None where no SLA.

    `sla` maps priority -> an object with `respond` and `resolve` seconds (SlaConfig)."""
    target = sla.get(ticket.priority)
    if target is None:
        return None, None
    return ticket.opened_at + target.respond, ticket.opened_at + target.resolve


@dataclass(frozen=True, slots=True)
class TicketMetrics:
    """Queue figures for the screen, the alert engine and the export."""

    total: int
    open: int
    unassigned: int
    respond_breaches: int
    resolve_breaches: int
    median_first_response: float | None
    median_resolution: float | None

    @property
    def breaches(self) -> int:
        return self.respond_breaches + self.resolve_breaches

    def as_metrics(self) -> dict[str, float | None]:
        """Flat names the alert engine can use in rules (e.g. `open_tickets > 50`)."""
        return {
            "open_tickets": float(self.open),
            "unassigned_tickets": float(self.unassigned),
            "sla_breaches": float(self.breaches),
            "median_first_response": self.median_first_response,
            "median_resolution": self.median_resolution,
        }


def summarize(tickets: Iterable[Ticket]) -> TicketMetrics:
    """TicketMetrics over the given tickets. Medians are over tickets that have the time."""
    total = open_ = unassigned = respond_breaches = resolve_breaches = 0
    responses: list[float] = []
    resolutions: list[float] = []
    for t in tickets:
        total += 1
        if t.is_open:
            open_ += 1
            unassigned += t.assignee is None
        respond_breaches += t.respond_breached_at is not None
        resolve_breaches += t.resolve_breached_at is not None
        if t.first_response_at is not None:
            responses.append(max(0.0, t.first_response_at - t.opened_at))
        if t.solved_at is not None:
            resolutions.append(max(0.0, t.solved_at - t.opened_at))
    return TicketMetrics(
        total=total,
        open=open_,
        unassigned=unassigned,
        respond_breaches=respond_breaches,
        resolve_breaches=resolve_breaches,
        median_first_response=statistics.median(responses) if responses else None,
        median_resolution=statistics.median(resolutions) if resolutions else None,
    )


def _first(record: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value
    return None


def _mention(value: Any) -> str:
    """A rejected value for a message: a short quote, never the text of an object or a list."""
    try:
        text = _scalar_text(value, "value")
    except ValueError:
        return _kind(value)
    return repr(text if len(text) <= 40 else text[:39] + ELLIPSIS)


# --------------------------------------------------------------------------- source merge


def _without_future_times(fields: TicketFields, now: float) -> TicketFields:
    changed: dict[str, Any] = {
        name: now for name in _TIME_FIELDS if (ts := getattr(fields, name)) is not None and clamp_future(ts, now) != ts
    }
    return replace(fields, **changed) if changed else fields


OPERATOR_FIELDS = ("priority", "status", "assignee")
"""Fields an operator can change in warroom. For these, stored rows also keep the value the
source last reported (`src_<field>`), so an upsert can tell a real change at the help desk
from the feed repeating itself."""


def merge_record(
    stored: Mapping[str, Any] | None, fields: TicketFields, source: str, now: float
) -> tuple[str, dict[str, Any] | None]:
    """The row to store for a source record: ("created" | "updated", row), or
    ("unchanged" | "stale", None) when nothing is to be written.

    The rule, field by field:

    - subject, customer ref, category, opened time: the record wins when it has the field;
      a field the record leaves out keeps its stored value.
    - priority, status, assignee: the record wins only when its value differs from what
      the source said last time. A feed that re-sends the same full ticket every poll
      therefore never undoes an operator's "assign to me" or escalation, while a real
      change made at the help desk still comes through.
    - first response: the earliest known time is kept. Solved: solved_at is the record's,
      or the time we first saw it solved; leaving "solved" clears it. Solving counts as
      the first response if there was none.
    - a record whose updated_at is older than one already applied is "stale" and ignored.
    - SLA breach marks are never cleared: a breach is a fact about the past.
    - a time from the far future (see MAX_FUTURE_SKEW) is taken as `now`.
    """
    fields = _without_future_times(fields, now)
    if (
        stored is not None
        and fields.updated_at is not None
        and stored["src_updated_at"] is not None
        and fields.updated_at < stored["src_updated_at"]
    ):
        return "stale", None
    row: dict[str, Any] = (
        dict(stored)
        if stored is not None
        else {
            "id": fields.id,
            "opened_at": fields.opened_at or fields.updated_at or now,
            "subject": "",
            "customer_ref": "",
            "category": "",
            "priority": "normal",
            "status": "new",
            "assignee": None,
            "first_response_at": None,
            "solved_at": None,
            "updated_at": now,
            "source": source,
            "respond_breached_at": None,
            "resolve_breached_at": None,
            "src_priority": None,
            "src_status": None,
            "src_assignee": None,
            "src_updated_at": None,
        }
    )
    for name in ("subject", "customer_ref", "category", "opened_at"):
        value = getattr(fields, name)
        if value is not None:
            row[name] = value
    for name in OPERATOR_FIELDS:
        value = getattr(fields, name)
        if value is not None and value != row["src_" + name]:
            row[name] = row["src_" + name] = value
    if fields.first_response_at is not None:
        known = row["first_response_at"]
        row["first_response_at"] = fields.first_response_at if known is None else min(known, fields.first_response_at)
    if row["status"] == "solved":
        if fields.solved_at is not None:
            row["solved_at"] = fields.solved_at
        elif row["solved_at"] is None:
            row["solved_at"] = now
        if row["first_response_at"] is None:
            row["first_response_at"] = row["solved_at"]
    else:
        row["solved_at"] = None
    if fields.updated_at is not None:
        row["src_updated_at"] = fields.updated_at
    if stored is not None and all(row[k] == stored[k] for k in row):
        return "unchanged", None
    changed_at = fields.updated_at if fields.updated_at is not None else now
    row["updated_at"] = changed_at if stored is None else max(stored["updated_at"], changed_at)
    return ("created" if stored is None else "updated"), row
