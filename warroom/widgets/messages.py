"""What flows into the screen from the room, and the commands panels send up to the app.

The room's door posts these from its own threads (`post_message` is thread-safe). A newer
snapshot replaces an older one still in the queue (`can_replace`, as toolong does for its
file reads), so a burst of updates never floods the screen.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widget import Widget

from warroom.commands import Command
from warroom.dashboard import RecorderStatus
from warroom.snapshot import Snapshot
from warroom.store import Launch


class SnapshotArrived(Message):
    """The recorder published what every screen shows."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived)


class LaunchChanged(Message):
    def __init__(self, launch: Launch) -> None:
        super().__init__()
        self.launch = launch

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LaunchChanged)


class RoomChanged(Message):
    """Rows of these topics changed (log, tickets, checklist, alerts)."""

    def __init__(self, topics: set[str]) -> None:
        super().__init__()
        self.topics = topics


class RecorderChanged(Message):
    def __init__(self, status: RecorderStatus) -> None:
        super().__init__()
        self.status = status


class RowsLoaded(Message):
    """The rows a panel asked for (or why they could not be read)."""

    def __init__(self, panel_id: str, rows: Any = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.panel_id = panel_id
        self.rows = rows
        self.error = error


class Reload(Message):
    """A panel changed what it wants to see (a filter): read its rows again."""

    def __init__(self, panel: Widget) -> None:
        super().__init__()
        self.panel = panel


class Submit(Message):
    """A panel asks the app to write an operator's command to the room."""

    def __init__(self, command: Command) -> None:
        super().__init__()
        self.command = command


class CommandSaved(Message):
    """A command was committed (or refused: `error`)."""

    def __init__(self, command: Command, result: Any = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.command = command
        self.result = result
        self.error = error
