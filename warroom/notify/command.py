"""`warroom notify test RECEIVER`: send a test notification now, for the rehearsal.

It goes straight to the receiver, not through the room's outbox, so it works from any
machine with the config (no recorder needed) and says at once whether the receiver took it:
exit status 0 when it did, 1 with the reason when it did not, 2 for a receiver the config
does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

from warroom.config import Config
from warroom.notify.message import Notification
from warroom.notify.receivers import DeliveryError, Receiver

EXIT_FAILED, EXIT_USAGE = 1, 2


def test_notification(config: Config, receiver: str, operator: str = "", now: float | None = None) -> Notification:
    now = time.time() if now is None else now
    by = f" by {operator}" if operator else ""
    return Notification(
        f"test-{uuid.uuid4().hex[:12]}",
        receiver,
        "test",
        "test",
        config.launch.name,
        now,
        note=f"Sent with `warroom notify test`{by}: if you read this, {receiver} reaches you.",
    )


def notify_command(config: Config, args: argparse.Namespace) -> int:
    """`args.receiver`: its name; `args.operator` (optional): who sends the test."""
    names = [r.name for r in config.notify.receivers]
    if args.receiver not in names:
        known = ", ".join(names) or "none: add [[notify.receivers]] to the config"
        print(f"warroom notify: no receiver {args.receiver!r} in {config.path} (receivers: {known})", file=sys.stderr)
        return EXIT_USAGE
    base_dir = config.path.parent if config.path is not None else Path.cwd()
    receiver = Receiver(config.notify.receiver(args.receiver), base_dir=base_dir, scrub=config.scrub)
    note = test_notification(config, receiver.name, getattr(args, "operator", None) or "")
    try:
        asyncio.run(receiver.send(note))
    except DeliveryError as error:
        print(
            f"warroom notify: {receiver.name} ({receiver.describe()}) did not take the test: {error.reason}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"sent a test notification to {receiver.name} ({receiver.describe()}), id {note.id}")
    return 0
