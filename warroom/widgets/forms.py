"""Small modal forms for what operators type in: a new ticket, a log entry.

Each form is a ModalScreen that dismisses with a plain dataclass, or None when cancelled
(escape), so a panel opens it with `app.push_screen(Form(), callback)` and writes to the store
in the callback. Validation happens here, before anything reaches the store: an empty subject
or text is refused with a message under the fields and the form stays open. The forms are
kept to about 20 rows so they fit an 80x24 terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from warroom import format as fmt
from warroom.config import TICKET_CATEGORIES
from warroom.textsafe import clean
from warroom.tickets import MAX_FIELD, MAX_SUBJECT, PRIORITIES

CATEGORIES = TICKET_CATEGORIES
"""Used when the config names none (`[tickets] categories`)."""
LOG_KINDS = ("note", "decision", "action", "lesson")
"""The kinds an operator writes by hand; the others are written by warroom itself."""
SEVERITIES = ("info", "warning", "critical")
MAX_TEXT = 2000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewTicket:
    subject: str
    customer_ref: str
    category: str
    priority: str


@dataclass(frozen=True, slots=True)
class NewLogEntry:
    kind: str
    severity: str
    text: str
    owner: str | None
    """Who is to do it (action items only)."""


def _choices(values: Sequence[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class Form(ModalScreen[T | None], Generic[T]):
    """The frame shared by the forms: a titled box, fields, an error line, Save and Cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save"),
    ]
    DEFAULT_CSS = """
    Form { align: center middle; }
    Form > #form {
        width: 70; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; border-title-style: bold; background: $panel; padding: 0 1;
    }
    Form .field { height: auto; }
    Form .field > Label { width: 10; padding: 1 1 0 0; }
    Form .field > Input, Form .field > Select { width: 1fr; }
    Form #error { color: $error; height: auto; }
    Form #buttons { height: auto; align-horizontal: right; }
    Form #buttons Button { margin-left: 1; min-width: 10; }
    """
    TITLE_TEXT = "Form"
    focus_on: str | None = None
    """The field that takes the keys when the form opens, when it is not AUTO_FOCUS."""

    def compose(self) -> ComposeResult:
        with Vertical(id="form") as box:
            box.border_title = self.TITLE_TEXT
            yield from self.fields()
            yield Static("", id="error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    @staticmethod
    def field(label: str, widget: Input | Select, row_id: str | None = None) -> Horizontal:
        return Horizontal(Label(label), widget, classes="field", id=row_id)

    def result(self) -> T | str:
        """The form's value, or the message saying what is missing."""
        raise NotImplementedError

    def on_mount(self) -> None:
        # AUTO_FOCUS alone waits for the terminal to report focus; a form must take the
        # keys at once, whatever the terminal says.
        target = self.focus_on or self.AUTO_FOCUS
        if target:
            self.query_one(target).focus()

    def refuse(self, message: str, focus: str) -> None:
        self.query_one("#error", Static).update(message)
        self.query_one(focus).focus()

    def action_save(self) -> None:
        value = self.result()
        if not isinstance(value, str):
            self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def value_of(self, selector: str) -> str:
        widget = self.query_one(selector)
        if isinstance(widget, Select):
            return "" if widget.is_blank() else str(widget.value)
        assert isinstance(widget, Input)
        return widget.value.strip()


class TicketForm(Form[NewTicket]):
    """A ticket opened by an operator (e.g. from a phone call or a chat)."""

    AUTO_FOCUS = "#subject"
    TITLE_TEXT = "New ticket"

    def __init__(self, categories: Sequence[str] = CATEGORIES, priority: str = "normal") -> None:
        super().__init__()
        self.categories = tuple(clean(c, limit=60) for c in categories) or CATEGORIES
        self.priority = priority

    def fields(self) -> ComposeResult:
        yield self.field(
            "Subject", Input(placeholder="what the customer reports", id="subject", max_length=MAX_SUBJECT)
        )
        yield self.field("Customer", Input(placeholder="customer ref (optional)", id="customer", max_length=MAX_FIELD))
        yield self.field(
            "Category", Select(_choices(self.categories), value=self.categories[0], allow_blank=False, id="category")
        )
        yield self.field(
            "Priority", Select(_choices(PRIORITIES), value=self.priority, allow_blank=False, id="priority")
        )

    def result(self) -> NewTicket | str:
        subject = self.value_of("#subject")
        if not subject:
            self.refuse("A ticket needs a subject.", "#subject")
            return "subject"
        return NewTicket(
            subject, self.value_of("#customer"), self.value_of("#category"), self.value_of("#priority") or "normal"
        )


class LogEntryForm(Form[NewLogEntry]):
    """A hand-written incident log entry; action items also name their owner."""

    AUTO_FOCUS = "#text"
    TITLE_TEXT = "Log entry"
    DEFAULT_CSS = """
    LogEntryForm #kinds > Select { width: 1fr; }
    LogEntryForm #owner-row { display: none; }
    LogEntryForm.-action #owner-row { display: block; }
    """

    def __init__(self, kind: str = "note") -> None:
        super().__init__()
        self.kind = kind if kind in LOG_KINDS else "note"

    def fields(self) -> ComposeResult:
        with Horizontal(classes="field", id="kinds"):
            yield Label("Kind")
            yield Select(_choices(LOG_KINDS), value=self.kind, allow_blank=False, id="kind")
            yield Select(_choices(SEVERITIES), value="info", allow_blank=False, id="severity")
        yield self.field("Text", Input(placeholder="what happened, what was decided", id="text", max_length=MAX_TEXT))
        yield self.field(
            "Owner", Input(placeholder="who does it", id="owner", max_length=MAX_FIELD), row_id="owner-row"
        )

    def on_mount(self) -> None:
        self.set_class(self.kind == "action", "-action")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "kind":
            self.set_class(event.value == "action", "-action")

    def result(self) -> NewLogEntry | str:
        kind = self.value_of("#kind") or "note"
        text = self.value_of("#text")
        owner = self.value_of("#owner") if kind == "action" else ""
        if not text:
            self.refuse("The entry needs some text.", "#text")
            return "text"
        if kind == "action" and not owner:
            self.refuse("An action item needs an owner.", "#owner")
            return "owner"
        return NewLogEntry(kind, self.value_of("#severity") or "info", text, owner or None)


class LaunchConfirm(ModalScreen[bool]):
    """Moving T0 after a launch time is set: says when T0 is now and how far it moves, and
    only a deliberate choice of "Move T0" moves it (Enter on the focused "Keep" keeps it)."""

    BINDINGS = [Binding("escape", "keep", "Keep", show=False)]
    DEFAULT_CSS = """
    LaunchConfirm { align: center middle; }
    LaunchConfirm > Vertical {
        width: 70; max-width: 100%; height: auto; max-height: 100%;
        border: round $error; border-title-style: bold; background: $panel; padding: 0 1;
    }
    LaunchConfirm Static { height: auto; margin-bottom: 1; }
    LaunchConfirm Horizontal { height: auto; align-horizontal: right; }
    LaunchConfirm Button { margin-left: 1; }
    """

    def __init__(self, launch_at: float, now: float) -> None:
        super().__init__()
        self.launch_at = launch_at
        self.now = now

    def compose(self) -> ComposeResult:
        when = fmt.clock_time(self.launch_at)
        moved = fmt.shift(self.now - self.launch_at)
        if self.now >= self.launch_at:
            said = (
                f"The launch clock started at {when} ({fmt.launch_clock(self.now, self.launch_at)} now). "
                f"Launching again moves T0 to now, {moved}, for every operator: the clock restarts at "
                "T+00:00:00 and totals and targets count from the new T0."
            )
        else:
            said = (
                f"The launch is set for {when} ({fmt.launch_clock(self.now, self.launch_at)}). Launching now "
                f"moves T0 {moved.lstrip('-')} earlier, to now, for every operator."
            )
        with Vertical() as box:
            box.border_title = "Move the launch clock?"
            yield Static(said, markup=False, id="launch-text")
            with Horizontal():
                yield Button("Keep T0", variant="primary", id="keep")
                yield Button(f"Move T0 ({moved})", variant="error", id="move")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "move")

    def action_keep(self) -> None:
        self.dismiss(False)
