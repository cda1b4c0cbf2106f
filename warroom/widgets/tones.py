"""Styles that carry a meaning (critical, warning, fine, quiet), for every theme and NO_COLOR.

A state must read at a glance in colour, on a light terminal and without colour at all:

- in colour, the tones come from the app's theme (its error, warning and success colours),
  so a light theme gets colours made for a light background;
- with NO_COLOR set, Textual draws every colour as a shade of grey, which makes red text
  dimmer than normal text; so the tones there are attributes instead: critical is reversed,
  a warning bold and underlined, and nothing that matters is dim.

Every state also has a mark (`GLYPH`) beside its colour, so it reads in 16 colours, in
NO_COLOR and to a colour-blind operator.
"""

from __future__ import annotations

from textual.app import App

GLYPH = {"crit": "!! ", "warn": "!  ", "ok": "   ", "": "   "}
"""Three cells before a metric: !! past its crit bound, ! past its warn bound."""

SEVERITY_TONE = {"critical": "crit", "warning": "warn", "info": "info"}

MONOCHROME = {
    "crit": "bold reverse",
    "warn": "bold underline",
    "ok": "",
    "info": "",
    "muted": "dim",
    "strong": "bold",
    "accent": "bold",
    "bar": "",
}

_cache: dict[tuple[str, bool], dict[str, str]] = {}


def tones(app: App) -> dict[str, str]:
    """tone name -> Rich style for this app's theme (see the module docstring)."""
    key = (app.theme, app.no_color)
    found = _cache.get(key)
    if found is None:
        if app.no_color:
            found = MONOCHROME
        else:
            colours = app.theme_variables
            found = {
                "crit": f"bold #ffffff on {colours['error']}",
                "warn": f"bold {colours['text-warning']}",
                "ok": colours["text-success"],
                "info": colours["text-primary"],
                "muted": "dim",
                "strong": "bold",
                "accent": f"bold {colours['text-accent']}",
                "bar": colours["text-secondary"],
            }
        _cache[key] = found
    return found


def level_tone(level: str) -> str:
    """The tone of a metric level (ok, warn, crit, or "" for none)."""
    return level if level in ("crit", "warn") else ""
