"""What a notification says: the one message every receiver formats in its own way.

A `Notification` is plain data, stored whole in the room's outbox (as `to_json()`, the
documented body the generic webhook receives), so a recorder that takes over sends exactly
what the one before it queued. Its `id` is made from the group and the group's message
number: the same on every retry and after a hand-over, so a receiver can drop the one
duplicate a recorder killed in the middle of a send may cause.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from warroom.model import format_duration

VERSION = 1
SEVERITY_SHORT = {"critical": "CRIT", "warning": "WARN", "info": "INFO"}


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One alert as a notification tells it."""

    name: str
    status: str
    """firing or resolved"""
    severity: str
    labels: dict[str, str]
    summary: str
    runbook: str
    value: str
    since: float
    """When it started firing (epoch seconds)."""
    episode: int
    acked_by: str | None = None
    ack_note: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    receiver: str
    kind: str
    """alert, sla (an SLA breach) or test"""
    reason: str
    """new, update, repeat, escalation, resolved, sla or test"""
    launch: str
    created_at: float
    group: dict[str, str] = field(default_factory=dict)
    alerts: list[AlertItem] = field(default_factory=list)
    ticket: dict[str, Any] | None = None
    """An SLA breach: id, subject, priority, breach (respond or resolve), due."""
    note: str = ""
    """Said once at the top of the text (an escalation's why, a test's words)."""

    @property
    def status(self) -> str:
        if self.kind == "alert":
            return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"
        return "firing" if self.kind == "sla" else "test"

    @property
    def title(self) -> str:
        if self.kind == "test":
            return f"[TEST] {self.launch}: a test notification to {self.receiver}"
        if self.kind == "sla" and self.ticket is not None:
            what = "first response" if self.ticket.get("breach") == "respond" else "resolution"
            return f"[SLA] {self.launch}: {self.ticket['id']} missed its {what} target ({self.ticket['priority']})"
        firing = [a for a in self.alerts if a.status == "firing"]
        label = {"repeat": "FIRING, again", "escalation": "ESCALATED"}.get(self.reason, "FIRING")
        head = f"[{label}:{len(firing)}]" if firing else "[RESOLVED]"
        names = ", ".join(a.name for a in (firing or self.alerts))
        group = " ".join(f"{k}={v}" for k, v in self.group.items())
        return f"{head} {self.launch}: {names}" + (f" ({group})" if group else "")

    @property
    def text(self) -> str:
        """The title and one line per alert (its runbook under it while it fires)."""
        lines = [self.title]
        if self.note:
            lines.append(self.note)
        if self.ticket is not None and self.ticket.get("subject"):
            lines.append(f"{self.ticket['id']}: {self.ticket['subject']}")
        for alert in self.alerts:
            lines.append(_alert_line(alert, self.created_at))
            if alert.status == "firing" and alert.runbook:
                lines.append(f"  runbook: {alert.runbook}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The documented body: what the generic webhook receives and the outbox keeps."""
        return {
            "version": VERSION,
            "id": self.id,
            "kind": self.kind,
            "reason": self.reason,
            "status": self.status,
            "launch": self.launch,
            "receiver": self.receiver,
            "group": dict(self.group),
            "created_at": iso_time(self.created_at),
            "title": self.title,
            "text": self.text,
            "note": self.note,
            "alerts": [{**asdict(a), "since": iso_time(a.since)} for a in self.alerts],
            "ticket": self.ticket,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        alerts = [AlertItem(**{**a, "since": from_iso(a["since"])}) for a in data["alerts"]]
        return cls(
            data["id"],
            data["receiver"],
            data["kind"],
            data["reason"],
            data["launch"],
            from_iso(data["created_at"]),
            dict(data["group"]),
            alerts,
            data.get("ticket"),
            data.get("note", ""),
        )


def _alert_line(alert: AlertItem, now: float) -> str:
    short = SEVERITY_SHORT.get(alert.severity, alert.severity.upper())
    if alert.status == "resolved":
        return f"RESOLVED {alert.name}: {alert.summary}"
    state = f"firing for {format_duration(max(0.0, now - alert.since))}"
    if alert.acked_by:
        state += f", acked by {alert.acked_by}" + (f": {alert.ack_note}" if alert.ack_note else "")
    return f"{short} {alert.name} ({state}): {alert.summary}"


def iso_time(epoch: float) -> str:
    """RFC 3339 in UTC with milliseconds (what Alertmanager's API and most receivers parse)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
