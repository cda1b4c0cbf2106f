"""Search (`/`) across the alerts, the tickets and the incident log, and jump to a hit.

The screen only asks: it hands what was typed to the app's `search` callback, which reads
what it needs through the room's door (off the screen) and posts `SearchResults` back. What
is searched is bounded, and the screen says so: every active alert, every open ticket and
the recently solved ones, and the newest LOG_ENTRIES entries of the log. Choosing a hit
dismisses the screen with it; the app switches to its tab and puts the cursor on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from warroom.textsafe import clean

LOG_ENTRIES = 5000
"""The newest log entries a search looks through."""
PER_KIND = 30
"""Hits listed per kind (alerts, tickets, log)."""
TYPING_PAUSE = 0.25
"""Seconds after the last key before a search runs."""


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    """alert, ticket or log."""
    key: str
    """The alert's name, the ticket's id, the log entry's id."""
    label: str
    """One line, already clean."""


def matches(needle: str, *fields: object) -> bool:
    """Case-insensitive: every word of `needle` is in one of the fields."""
    haystack = " ".join(str(f) for f in fields if f).casefold()
    return all(word in haystack for word in needle.casefold().split())


def first(hits: Iterable[Hit], limit: int = PER_KIND) -> list[Hit]:
    out: list[Hit] = []
    for hit in hits:
        out.append(hit)
        if len(out) >= limit:
            break
    return out


class SearchResults(Message):
    """The hits for one search (posted from the door's thread)."""

    def __init__(self, needle: str, hits: list[Hit], note: str = "") -> None:
        super().__init__()
        self.needle = needle
        self.hits = hits
        self.note = note


Searcher = Callable[[str, "SearchScreen"], None]


class SearchScreen(ModalScreen[Hit | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Close", show=False)]
    DEFAULT_CSS = """
    SearchScreen { align: center top; }
    SearchScreen > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 100%; margin-top: 1;
        border: round $accent; border-title-style: bold; background: $panel; padding: 0 1;
    }
    SearchScreen OptionList { height: auto; max-height: 20; }
    SearchScreen #search-note { color: $text-muted; height: auto; }
    """

    def __init__(self, searcher: Searcher, needle: str = "") -> None:
        super().__init__()
        self.searcher = searcher
        self.needle = needle
        self.hits: list[Hit] = []
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Search alerts, tickets and the log"
            yield Input(self.needle, placeholder="words to find (enter: first hit, down: the list)", id="needle")
            yield Static("", id="search-note")
            yield OptionList(id="hits")

    def on_mount(self) -> None:
        self.query_one("#needle", Input).focus()
        if self.needle:
            self._run()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.needle = event.value
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(TYPING_PAUSE, self._run)

    def _run(self) -> None:
        if self.needle.strip():
            self.searcher(self.needle.strip(), self)
        else:
            self._show([], "")

    def on_search_results(self, message: SearchResults) -> None:
        if message.needle == self.needle.strip():
            self._show(message.hits, message.note)

    def _show(self, hits: list[Hit], note: str) -> None:
        self.hits = hits
        options = self.query_one("#hits", OptionList)
        options.clear_options()
        options.add_options(
            [Option(Text(f"{hit.kind:<7}{hit.label}", no_wrap=True, overflow="ellipsis")) for hit in hits]
        )
        count = f"{len(hits)} found" if hits else "nothing found" if self.needle.strip() else ""
        self.query_one("#search-note", Static).update(clean(f"{count}  {note}".strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.hits:
            self.dismiss(self.hits[0])

    def on_key(self, event: events.Key) -> None:
        if event.key == "down" and isinstance(self.focused, Input) and self.hits:
            event.stop()
            self.query_one("#hits", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.hits[event.option_index])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
