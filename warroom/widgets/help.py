"""The help screen (`?`): the keys as they are bound now, what the states and marks mean,
the alert expression language, and how the SLA timers count.

The key table is built from the bindings themselves with the config's `[keymap]` applied,
so what it says is what the keys do. Everything fits 80 columns and scrolls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from warroom import format as fmt
from warroom.config import Config
from warroom.widgets.tones import GLYPH, tones

KEY_NAMES = {"question_mark": "?", "slash": "/", "asterisk": "*", "space": "space", "escape": "esc"}

STATES = (
    (
        "Metrics",
        (
            (
                GLYPH["crit"].strip(),
                "crit",
                "past its crit bound (the metric's `crit`, or a critical rule comparing it)",
            ),
            (GLYPH["warn"].strip(), "warn", "past its warn bound (`warn`, or a warning rule comparing it)"),
        ),
    ),
    (
        "Alerts",
        (
            ("pending", "warn", "the condition holds, not yet for the rule's `for`"),
            ("firing", "crit", "it held long enough; stays until data shows it clear for `keep_firing_for`"),
            ("no data", "warn", "a metric it reads has no data or its source is stale: it never fires on that"),
            ("acked", "muted", "someone is on it (who and their note are in the detail)"),
            ("silenced", "muted", "muted until the silence ends: no bell, listed last, its state still moves"),
            ("resolved", "ok", "the condition cleared; shown for five minutes"),
        ),
    ),
    (
        "Header",
        (
            ("N FIRING", "crit", "firing alerts nobody has acknowledged or silenced"),
            ("acked, silenced", "", "firing alerts someone has handled, counted apart"),
            ("figures 12s old", "warn", "the recorder has not published for that long"),
            ("NOT SAVING", "crit", "this screen's entries wait for the database; they are kept and retried"),
            ("demo ×5", "warn", "the clock is simulated, five times real time (warroom demo --speed)"),
        ),
    ),
    (
        "Tabs",
        (
            ("Live 1 down", "crit", "a source is stale or failing"),
            ("Alerts 2", "crit", "firing alerts nobody has handled"),
            ("Checklist 1 late", "warn", "items past their due time"),
            ("Support 3 SLA", "crit", "tickets past an SLA target"),
        ),
    ),
)

EXPRESSIONS = (
    ("name, value(name)", "headline: total since launch, a gauge's last value, or a ratio"),
    ("rate(name, 1m)", "per second over the window; per_min(name, 5m) per minute"),
    ("sum(name, 10m), avg(name, 5m)", "sum / mean of the points in the window"),
    ("change(name, 1m, 10m)", "the 1m rate against the 1m window 10m ago (300% = four times)"),
    ("absent(name, 5m), age(name)", "no point for 5m (or never); seconds since the last point"),
    ("rate(name, 1m, 10m)", "a third argument: the window ending that long ago"),
    ("12  5%  1k  2.5M", "numbers; + - * /, < <= > >= == !=, and or not, ( )"),
    ("no data", "a division by zero, an empty window or a stale source: never fires"),
)


def key_label(keys: str) -> str:
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


KeyRow = tuple[str, str, str, str]
"""(where, keys, what, binding id)."""


def key_rows(sections: Iterable[tuple[str, Iterable[BindingType]]], keymap: Mapping[str, str]) -> list[KeyRow]:
    """A row for every binding with an id, the keymap applied."""
    rows = []
    for where, bindings in sections:
        for binding in bindings:
            if isinstance(binding, Binding) and binding.id:
                keys = key_label(keymap.get(binding.id, binding.key))
                rows.append((where, keys, binding.description, binding.id))
    return rows


class HelpScreen(ModalScreen[None]):
    """See the module docstring; `?` or escape closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 100%; height: 100%; max-height: 100%;
        border: round $accent; border-title-style: bold; background: $panel; padding: 0 1;
    }
    HelpScreen Static { height: auto; }
    """

    def __init__(self, config: Config, keys: list[KeyRow]) -> None:
        super().__init__()
        self.config = config
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "Help  (esc closes, arrows scroll)"
            yield Static(self._text(), id="help-text")

    def _text(self) -> Text:
        palette = tones(self.app)
        text = Text()
        self._heading(text, "Keys")
        width = max(len(keys) for _, keys, _, _ in self.keys)
        for where, keys, what, binding_id in self.keys:
            text.append(f"  {keys:<{width}}  ", style="bold")
            text.append(what)
            text.append(f"  {where} · {binding_id}\n", style="dim")
        text.append("  ctrl+p: the command palette, with every action and a jump to any alert or ticket.\n")
        text.append('  Remap a key in config.toml by its id: [keymap] "alerts.ack" = "k"\n')
        self._heading(text, "States")
        for group, rows in STATES:
            text.append(f"  {group}\n", style="bold underline")
            for mark, tone, meaning in rows:
                text.append("    ")
                text.append(mark, style=palette.get(tone, ""))
                text.append(f"  {meaning}\n")
        self._heading(text, "Alert conditions")
        for expr, meaning in EXPRESSIONS:
            text.append(f"  {expr:<30}", style="bold")
            text.append(f" {meaning}\n")
        self._heading(text, "SLA timers")
        text.append(
            "  A ticket counts down to its reply target until someone replies (reply 12m), then to its\n"
            "  resolve target (solve 3h46m). Past a target it shows BREACHED, and the breach is logged\n"
            "  once. Solved tickets show met or missed. Targets by priority (reply / resolve):\n"
        )
        for priority, sla in self.config.tickets.sla.items():
            text.append(f"    {priority:<7} {fmt.ago(sla.respond):>7} / {fmt.ago(sla.resolve)}\n")
        text.rstrip()
        return text

    @staticmethod
    def _heading(text: Text, title: str) -> None:
        if text.plain:
            text.append("\n")
        text.append(f"{title}\n", style="bold reverse")
