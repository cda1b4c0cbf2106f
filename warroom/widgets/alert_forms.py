"""The two small forms of the alerts panel: acknowledge (an optional note) and silence.

Each is a ModalScreen that returns its result through `dismiss`, so the panel keeps the one
place where the engine is called and its errors are shown. The forms check only what they
can check alone (the matcher's syntax, a duration such as 30m or 2h, a comment that is not
empty) and say what is wrong inside the form; the engine still has the last word (a matcher
that matches no rule is its error, shown by the panel).

Everything shown here that came from elsewhere (rule names, summaries, error messages that
quote what was typed) is appended to a `Text` as a plain string through `clean`, never
parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from warroom.alerts import parse_matcher
from warroom.model import parse_duration
from warroom.textsafe import clean

FORM_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 70;
    max-width: 100%;
    height: auto;
    border: thick $primary;
    background: $surface;
    padding: 0 1;
}}
{name} Label {{
    width: 100%;
    margin-top: 1;
}}
{name} .title {{
    text-style: bold;
    margin-top: 0;
}}
{name} .error {{
    color: $error;
    height: auto;
}}
{name} Horizontal {{
    height: auto;
    align-horizontal: right;
}}
{name} Button {{
    margin-left: 1;
}}
"""


def _line(*parts: tuple[str, str]) -> Text:
    text = Text(no_wrap=False)
    for part, style in parts:
        text.append(part, style=style)
    return text


class AckForm(ModalScreen[str | None]):
    """Asks for an optional note; dismisses with the note ("" for none), or None if cancelled."""

    DEFAULT_CSS = FORM_CSS.format(name="AckForm")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="alerts.form.cancel")]

    def __init__(self, rule: str, summary: str = "") -> None:
        super().__init__()
        self.rule = rule
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(_line(("Acknowledge ", ""), (clean(self.rule, limit=60), "bold")), classes="title")
            if self.summary:
                yield Label(Text(clean(self.summary, limit=200)))
            yield Label(Text("Note (optional), e.g. who is on it or what is being tried:"))
            yield Input(placeholder="note", id="note")
            with Horizontal():
                yield Button("Acknowledge", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.dismiss(self.query_one("#note", Input).value.strip())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matcher: str
    duration_s: float
    comment: str


class SilenceForm(ModalScreen[SilenceRequest | None]):
    """Asks for a matcher, a duration and a required comment; None if cancelled.

    Enter moves to the next field and, on the last one, submits. A field that does not
    parse keeps the form open with the reason under it and the cursor in that field.
    """

    DEFAULT_CSS = FORM_CSS.format(name="SilenceForm")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="alerts.form.cancel")]
    FIELDS = ("matcher", "duration", "comment")

    def __init__(self, matcher: str = "", title: str = "") -> None:
        super().__init__()
        self.matcher = matcher
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(_line(("Silence ", ""), (clean(self.title_text or "alerts", limit=60), "bold")),
                        classes="title")
            yield Label(Text("Matcher: a rule name, or name=high_*, severity=warning, team=web"))
            yield Input(self.matcher, placeholder="name=rule", id="matcher")
            yield Label(Text("Duration, e.g. 30m or 2h:"))
            yield Input(placeholder="30m", id="duration")
            yield Label(Text("Comment (required): why it is silenced"))
            yield Input(placeholder="comment", id="comment")
            yield Static("", id="error", classes="error")
            with Horizontal():
                yield Button("Silence", variant="warning", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        # The matcher is usually right as prefilled; start where typing is needed.
        self.query_one("#duration" if self.matcher else "#matcher", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        field = event.input.id or ""
        if field in self.FIELDS[:-1] and not self.query_one(f"#{self._next(field)}", Input).value.strip():
            self.query_one(f"#{self._next(field)}", Input).focus()
            return
        self._submit()

    def _next(self, field: str) -> str:
        return self.FIELDS[self.FIELDS.index(field) + 1]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        values = {name: self.query_one(f"#{name}", Input).value.strip() for name in self.FIELDS}
        problem: tuple[str, str] | None = None
        duration = 0.0
        try:
            parse_matcher(values["matcher"])
        except ValueError as exc:
            problem = ("matcher", str(exc))
        if problem is None:
            try:
                duration = parse_duration(values["duration"]) if values["duration"] else 0.0
            except ValueError as exc:
                problem = ("duration", str(exc))
            else:
                if duration <= 0:
                    problem = ("duration", "a silence needs a duration such as 30m or 2h")
        if problem is None and not values["comment"]:
            problem = ("comment", "a silence needs a comment saying why")
        if problem is not None:
            field, message = problem
            self.query_one("#error", Static).update(Text(clean(message, limit=300)))
            self.query_one(f"#{field}", Input).focus()
            return
        self.dismiss(SilenceRequest(values["matcher"], duration, values["comment"]))

    @property
    def error_text(self) -> str:
        """The message shown under the fields ("" when none); for tests and screen readers."""
        content = self.query_one("#error", Static).content
        return content.plain if isinstance(content, Text) else str(content)
