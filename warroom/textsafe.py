"""Text from sources is data: make it inert before it reaches a terminal or a document.

Everything a source delivers (log lines, ticket subjects, channel names, error messages from
remote servers) may hold escape sequences or control characters that a terminal would obey:
moving the cursor, changing the title, hiding text. `clean` replaces every C0/C1 control
character and DEL with a visible stand-in, so what an operator sees is what was sent. Panels
also build `rich.text.Text` objects by appending plain strings, never by parsing markup, so
`[bold]` in a ticket subject stays literal text.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINES = re.compile(r"[\r\n\t]+")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode "control picture" of that character
    return "�"


def clean(text: object, limit: int | None = None) -> str:
    """One line of inert text: controls shown as symbols, newlines and tabs as spaces."""
    value = text if isinstance(text, str) else str(text)
    value = _NEWLINES.sub(" ", value)
    value = _CONTROL.sub(_visible, value)
    if limit is not None and len(value) > limit:
        value = value[: max(0, limit - 1)] + "…"
    return value
