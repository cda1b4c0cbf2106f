"""A list of problems to read before going on: a config that was refused, line by line.

Each problem is `file:line field: message` as `warroom check` prints it, shown as plain
text (a config can hold anything) in a scrolling box; escape or Enter closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from warroom.textsafe import clean


class ProblemsScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    ProblemsScreen { align: center middle; }
    ProblemsScreen > VerticalScroll {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; border-title-style: bold; background: $panel; padding: 0 1;
    }
    ProblemsScreen Static { height: auto; }
    """

    def __init__(self, title: str, problems: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.problems = list(problems)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = clean(self.title_text, limit=80)
            box.border_subtitle = "esc closes"
            text = Text()
            for problem in self.problems:
                text.append("• ")
                text.append(clean(problem, limit=500))
                text.append("\n")
            text.rstrip()
            yield Static(text, id="problems-text")
