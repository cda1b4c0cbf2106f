"""What the screen shows of notifications: each receiver's deliveries and the inhibited alerts.

The recorder keeps it (warroom.notify.service) and publishes it in the room's snapshot as
`Snapshot.deliveries`, so every dashboard shows the same delivery state without reading the
outbox. Plain data: no Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, RETRYING, FAILING, WAITING, IDLE = "ok", "retrying", "failing", "waiting", "idle"


@dataclass(frozen=True, slots=True)
class ReceiverView:
    name: str
    kind: str
    target: str
    """What it sends to, without tokens (the URL's scheme, host and path; a command; a file)."""
    state: str
    """idle (nothing sent yet), ok (the last delivery went through), waiting (its rate limit
    holds the next one back), retrying (the last attempt failed), failing (`failures` in a
    row, at least the config's failing_after: show it in red)."""
    last_sent_at: float | None = None
    """Wall-clock time of the last delivery the receiver accepted."""
    last_attempt_at: float | None = None
    last_error: str = ""
    failures: int = 0
    """Failed attempts in a row (0 after a delivery)."""
    waiting: int = 0
    """Notifications queued for it, not yet delivered."""
    given_up: int = 0
    """Notifications it never took within the give-up time."""
    sent: int = 0
    """Deliveries so far."""


@dataclass(frozen=True, slots=True)
class DeliveriesView:
    receivers: list[ReceiverView] = field(default_factory=list)
    inhibited: dict[str, str] = field(default_factory=dict)
    """rule -> the firing rule that inhibits it (it is not notified; show it as inhibited)."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveriesView:
        return cls([ReceiverView(**r) for r in data["receivers"]], dict(data["inhibited"]))
