"""The two small forms of the alerts panel: acknowledge (an optional note) and silence.

The ack form follows its alert while it is open (`alert_changed`): when the alert is no
longer active (it resolved while the note was typed), the form says so, keeps what was
typed, and Save writes the note to the incident log instead of acknowledging.

Each is a `Form` (the modal frame the operations forms use) that returns its result through
`dismiss`, so the panel keeps the one place where the engine is called and its errors are
shown. The forms check only what they
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
from textual.widgets import Button, Input, Static

from warroom.alerts import FIRING, NODATA, PENDING, AlertView, parse_matcher
from warroom.model import parse_duration
from warroom.textsafe import clean
from warroom.widgets.forms import Form
from warroom.widgets.tones import tones


@dataclass(frozen=True, slots=True)
class AckRequest:
    note: str  # "" for none
    to_log: bool = False
    """The alert ended while the form was open: log the note rather than acknowledge."""


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matcher: str
    duration_s: float
    comment: str


class AckForm(Form[AckRequest]):
    """Asks for an optional note; None if cancelled."""

    AUTO_FOCUS = "#note"
    ACTIVE = (FIRING, PENDING, NODATA)

    def __init__(self, rule: str, summary: str = "", note: str = "", view: AlertView | None = None) -> None:
        super().__init__()
        self.rule = rule
        self.TITLE_TEXT = f"Acknowledge {clean(rule, limit=50)}"
        self.summary = summary
        self.note = note
        self.ended: str | None = None
        """The alert's state once it is no longer active (None while it is)."""
        self._view = view

    def fields(self) -> ComposeResult:
        if self.summary:
            yield Static(Text(clean(self.summary, limit=200)), classes="hint")
        yield Static("", id="alert-state", classes="hint")
        yield self.field("Note", Input(self.note, placeholder="who is on it, what is tried (optional)", id="note"))

    def on_mount(self) -> None:
        super().on_mount()
        self.alert_changed(self._view)

    def alert_changed(self, view: AlertView | None) -> None:
        """The alert as the latest snapshot has it (None: no longer active at all)."""
        self._view = view
        if not self.is_mounted:
            return
        state = view.state if view is not None else "inactive"
        line = Text()
        if state in self.ACTIVE:
            self.ended = None
            line.append(f"{clean(self.rule, limit=50)} is {state}", style="dim")
            self.query_one("#save", Button).label = "Save"
        else:
            self.ended = state
            line.append(f"{clean(self.rule, limit=50)} is {state} now. ", style=tones(self.app)["warn"])
            line.append("Your note is kept; Save writes it to the log.")
            self.query_one("#save", Button).label = "Log note"
        self.query_one("#alert-state", Static).update(line)

    def result(self) -> AckRequest | str:
        note = self.value_of("#note")
        if self.ended is not None:
            if not note:
                self.refuse("The alert is no longer active: there is nothing to acknowledge.", "#note")
                return "note"
            return AckRequest(note, to_log=True)
        return AckRequest(note)


class SilenceForm(Form[SilenceRequest]):
    """Asks for a matcher, a duration and a required comment; None if cancelled.

    Enter moves to the next empty field and, on the last one, submits. A field that does
    not parse keeps the form open with the reason under it and the cursor in that field.
    """

    FIELDS = ("matcher", "duration", "comment")

    def __init__(self, matcher: str = "", title: str = "") -> None:
        super().__init__()
        self.matcher = matcher
        self.TITLE_TEXT = f"Silence {clean(title or 'alerts', limit=50)}"
        # The matcher is usually right as prefilled; start where typing is needed.
        self.focus_on = "#duration" if matcher else "#matcher"

    def fields(self) -> ComposeResult:
        yield self.field(
            "Matcher", Input(self.matcher, placeholder="rule, name=high_*, severity=warning", id="matcher")
        )
        yield self.field("For", Input(placeholder="30m, 2h", id="duration"))
        yield self.field("Why", Input(placeholder="required: why it is silenced", id="comment"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.prevent_default()  # instead of the Form's own Enter handling, not as well
        field = event.input.id or ""
        if field in self.FIELDS[:-1]:
            following = self.query_one(f"#{self.FIELDS[self.FIELDS.index(field) + 1]}", Input)
            if not following.value.strip():
                following.focus()
                return
        self.action_save()

    def result(self) -> SilenceRequest | str:
        matcher, comment = self.value_of("#matcher"), self.value_of("#comment")
        try:
            parse_matcher(matcher)
        except ValueError as exc:
            self.refuse(clean(str(exc), limit=300), "#matcher")
            return "matcher"
        try:
            duration = parse_duration(self.value_of("#duration") or "0")
        except ValueError as exc:
            self.refuse(clean(str(exc), limit=300), "#duration")
            return "duration"
        if duration <= 0:
            self.refuse("a silence needs a duration such as 30m or 2h", "#duration")
            return "duration"
        if not comment:
            self.refuse("a silence needs a comment saying why", "#comment")
            return "comment"
        return SilenceRequest(matcher, duration, comment)

    @property
    def error_text(self) -> str:
        """The message shown under the fields ("" when none)."""
        return str(self.query_one("#error", Static).render())
