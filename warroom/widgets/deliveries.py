"""Notifications on the Alerts tab: each receiver's last delivery, its failures, and what waits.

The recorder sends notifications and publishes their state in the snapshot
(`Snapshot.deliveries`, see warroom.notify.view); this panel draws it, one line per
receiver: failing in the critical tone with the last error, retrying or held back by its
rate limit in the warning tone. Errors come from remote servers and commands, so they are
data: cleaned by `warroom.textsafe.clean` and cut to the line. Hidden when the room has no
receiver.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text

from warroom import format as fmt
from warroom.notify.view import FAILING, IDLE, OK, RETRYING, WAITING, DeliveriesView, ReceiverView
from warroom.textsafe import clean
from warroom.widgets.panel import Panel

STATE_TONE = {FAILING: "crit", RETRYING: "warn", WAITING: "warn", OK: "ok", IDLE: "muted"}


def receiver_line(text: Text, receiver: ReceiverView, now: float, palette: dict[str, str], width: int) -> None:
    """One receiver: name, state, last delivery, failures and the last error."""
    start = len(text.plain)
    text.append(clean(receiver.name, limit=24), style="bold")
    text.append(f" {clean(receiver.kind, limit=12)}  ")
    text.append(receiver.state, style=palette.get(STATE_TONE.get(receiver.state, ""), ""))
    if receiver.failures:
        text.append(f", {receiver.failures} in a row", style=palette["crit" if receiver.state == FAILING else "warn"])
    if receiver.waiting:
        text.append(f"  {receiver.waiting} waiting", style=palette["warn"])
    if receiver.given_up:
        text.append(f"  {receiver.given_up} given up", style=palette["crit"])
    text.append(f"  sent {receiver.sent}")
    if receiver.last_sent_at is not None:
        text.append(f", last {fmt.ago(max(0.0, now - receiver.last_sent_at))} ago")
    room = width - (len(text.plain) - start) - 2
    if receiver.last_error and receiver.state != OK and room > 8:
        text.append("  ")
        text.append(clean(receiver.last_error, limit=room), style="dim")


def deliveries_text(view: DeliveriesView, now: float, palette: dict[str, str], width: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, receiver in enumerate(view.receivers):
        if index:
            text.append("\n")
        receiver_line(text, receiver, now, palette, width)
    if view.inhibited:
        text.append("\n")
        text.append(f"{len(view.inhibited)} inhibited, not sent: ", style="dim")
        text.append(
            ", ".join(f"{clean(rule, limit=40)} by {clean(cause, limit=40)}" for rule, cause in view.inhibited.items()),
            style="dim",
        )
    return text


class DeliveriesPanel(Panel):
    """The receivers of the room's notifications (see the module docstring)."""

    DEFAULT_CSS = """
    DeliveriesPanel { height: auto; max-height: 8; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("Notifications", **kwargs)
        self.display = False

    def show_deliveries(self, view: DeliveriesView | None) -> None:
        """Times of deliveries are the wall clock's (the demo's screen clock is simulated)."""
        self.display = view is not None and bool(view.receivers)
        if view is not None and self.display:
            self.show(deliveries_text(view, time.time(), self.tones, self.inner_width))
