"""Plain data shared by every layer: records and durations.

A *record* is one event from a source after parsing: a flat-ish dict of JSON values. We keep
records as plain dicts (not model objects) because millions pass through per minute and the
pipeline only looks at a few fields of each; validation happens where a field is used.
"""

from __future__ import annotations

import re
from typing import Any

Record = dict[str, Any]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"2h"`, `"250ms"`; ValueError otherwise."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, 5m or 2h")
    if isinstance(text, (int, float)):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration such as 30s, 5m or 2h, got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Compact human form: 45s, 12m05s, 3h07m, 2d04h."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
