"""Text from sources is data: make it inert before it reaches a terminal or a document.

Everything a source delivers (log lines, ticket subjects, channel names, error messages from
remote servers) may hold characters that a terminal or a reader would obey rather than show.
`clean` turns one value into one line of inert text:

- C0/C1 control characters and DEL (cursor moves, window titles, bells) are replaced by a
  visible stand-in (the Unicode "control picture", ␛ for ESC, � for C1), newlines, tabs and
  the Unicode line and paragraph separators by a space;
- bidirectional controls (U+202A-202E, U+2066-2069, U+200E/F, U+061C), which can make
  "txt.exe" read as "exe.txt", and every other invisible format character (Unicode category
  Cf: tags, invisible operators) and the invisible Hangul fillers are replaced by �, so the
  operator sees that something was there;
- zero-width characters (U+200B-200D, U+2060, U+FEFF) are removed: they show nothing, and
  left in they make a string longer than the cells it takes, which shifts table columns; so
  are the emoji variation selectors (U+FE0E/FE0F), since terminals disagree on whether they
  make a symbol one cell wide or two;
- characters no Unicode version known here has assigned are replaced by �: how wide a
  terminal draws them depends on its own tables.

What remains has a width the terminal agrees on, and `cell_width` measures it the way rich
(and so Textual) does, without importing either (tests/faults/test_text_width_faults.py
compares the two over every code point). `clean(text, limit)` cuts to `limit` cells, not
characters.

Panels also build `rich.text.Text` objects by appending plain strings, never by parsing
markup, so `[bold]` in a ticket subject stays literal text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

ELLIPSIS = "…"
REPLACEMENT = "\ufffd"
ZERO_WIDTH = "\u200b-\u200d\u2060\ufeff\ufe0e\ufe0f"
INVISIBLE_FILLERS = "\u115f\u1160\u3164\uffa0"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"[\r\n\t\u2028\u2029]+")
_ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH}]")
# Drawn two cells wide since Unicode 16, while this Python's tables may be older.
_WIDE_SINCE_16 = ((0x2630, 0x2637), (0x268A, 0x268F), (0x4DC0, 0x4DFF), (0x1D300, 0x1D356), (0x1D360, 0x1D376))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture" of that character
    return REPLACEMENT


@lru_cache(maxsize=8192)
def _inert_char(char: str) -> str:
    """A character past ASCII as it is shown: itself, or � when it is invisible or unknown."""
    if unicodedata.category(char) in ("Cf", "Cn", "Cs") or char in INVISIBLE_FILLERS:
        return REPLACEMENT  # bidi controls and the other invisible formats are Cf
    return char


@lru_cache(maxsize=8192)
def char_width(char: str) -> int:
    """Cells one (already inert) character takes, by the terminal's rules."""
    code = ord(char)
    if code < 0x7F:
        return 1 if code >= 0x20 else 0
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Mc"):
        return 0  # combining marks draw on the cell before them
    if 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF or 0x1F3FB <= code <= 0x1F3FF:
        return 0  # Hangul vowels and finals join the syllable; skin tones join the emoji
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 2
    if any(low <= code <= high for low, high in _WIDE_SINCE_16):
        return 2
    return 1


def cell_width(text: str) -> int:
    """Cells `text` takes on a terminal (text as `clean` returns it)."""
    if text.isascii():
        return len(text)
    return sum(map(char_width, text))


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` cells, with … where it was cut."""
    if cell_width(text) <= limit:
        return text
    room, out = max(0, limit - 1), []
    for char in text:
        width = char_width(char)
        if width > room:
            break
        out.append(char)
        room -= width
    return "".join(out) + ELLIPSIS if limit >= 1 else ""


def clean(text: object, limit: int | None = None) -> str:
    """One line of inert text (see the module docstring), at most `limit` cells wide."""
    value = text if isinstance(text, str) else str(text)
    value = _NEWLINES.sub(" ", value)
    value = _CONTROL.sub(_visible, value)
    if not value.isascii():
        value = "".join(map(_inert_char, _ZERO_WIDTH.sub("", value)))
    if limit is not None:
        value = clip(value, limit)
    return value


def fit(text: str, width: int, align: str = "<") -> str:
    """`text` cut to `width` cells and padded with spaces to exactly `width` cells (align
    "<" left, ">" right): what `f"{text:<{width}}"` does, counted in cells, not characters,
    so a CJK label takes the columns it is drawn in."""
    if width <= 0:
        return ""
    text = clip(text, width)
    padding = " " * (width - cell_width(text))
    return padding + text if align == ">" else text + padding
