"""Where things are in a TOML config's text: line numbers for problems, and nesting depth.

TOML parsers do not report positions, so a problem found in the parsed data (a field path
such as `metrics[3].where`) is placed by following that path through the text: an index into
an array of tables finds the Nth `[[name]]` header, a key finds `key =` inside the current
table. `ConfigLines` indexes the text once (headers by name, keys by name, each a sorted list
of line numbers) so that placing N problems costs N dictionary and bisect look-ups, not N
scans of the file: the time grows with the number of problems, not with its square
(tests/test_config.py prints it for 1,000 and 4,000).

`nesting_problem` finds the line where brackets nest deeper than MAX_NESTING before the
text is parsed: Python's TOML parser recurses once per level and ends in a RecursionError
(a traceback, not a config error) somewhere under a thousand.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from typing import Any

MAX_NESTING = 64

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")


def header_name(line: str) -> tuple[str, bool] | None:
    """(dotted name, is an array of tables) for a `[name]` / `[[name]]` line, else None."""
    match = _HEADER.match(line)
    if not match:
        return None
    return match.group(1).replace(" ", ""), line.lstrip().startswith("[[")


def _first(lines: list[int], start: int, end: int, skip: int = 0) -> int | None:
    """The `skip`-th line number in sorted `lines` that lies in [start, end), or None."""
    index = bisect.bisect_left(lines, start) + skip
    return lines[index] if index < len(lines) and lines[index] < end else None


class ConfigLines:
    """The text of one config, indexed for `locate`."""

    def __init__(self, text: str) -> None:
        self.count = 0
        self._headers: list[int] = []  # line index of every header
        self._tables: dict[tuple[str, bool], list[int]] = defaultdict(list)
        self._sub_tables: dict[str, list[int]] = defaultdict(list)  # prefix -> its sub-table headers
        self._keys: dict[str, list[int]] = defaultdict(list)  # key -> lines of `key =`
        for number, line in enumerate(text.splitlines()):
            self.count += 1
            header = header_name(line)
            if header is not None:
                self._headers.append(number)
                self._tables[header].append(number)
                parts = header[0].split(".")
                for size in range(1, len(parts)):
                    self._sub_tables[".".join(parts[:size])].append(number)
                continue
            key = _KEY.match(line)
            if key:
                self._keys[next(g for g in key.groups() if g is not None)].append(number)

    def _region_end(self, start: int, end: int) -> int:
        following = _first(self._headers, start, end)
        return end if following is None else following

    def locate(self, loc: tuple[Any, ...]) -> int | None:
        """Best-effort line number (1-based) of the element at field path `loc`; the deepest
        line found so far when a part cannot be found."""
        start, end = 0, self.count  # the current search region
        table = ""  # dotted name of the table the region belongs to
        found: int | None = None
        parts = list(loc)
        i = 0
        while i < len(parts):
            part = parts[i]
            if not isinstance(part, str):
                i += 1
                continue
            name = f"{table}.{part}" if table else part
            nxt = parts[i + 1] if i + 1 < len(parts) else None
            header, used = None, 1
            if isinstance(nxt, int):  # an array of tables [[name]]: the nxt-th header
                header, used = _first(self._tables.get((name, True), []), start, end, skip=nxt), 2
            if header is None:
                header, used = _first(self._tables.get((name, False), []), start, end), 1
            if header is not None:
                found, start = header + 1, header
                end = self._region_end(header + 1, end)
                table = name
                i += used
                continue
            if _first(self._sub_tables.get(name, []), start, end) is not None:
                table = name  # only sub-tables such as [panels.traffic] are written out
                i += 1
                continue
            body_end = self._region_end(start + 1 if found else start, end)
            hit = _first(self._keys.get(part, []), start, body_end)
            return found if hit is None else hit + 1
        return found


def locate(text: str, loc: tuple[Any, ...]) -> int | None:
    """ConfigLines(text).locate(loc), for a single look-up."""
    return ConfigLines(text).locate(loc)


def nesting_problem(text: str) -> tuple[int, str] | None:
    """(line, message) where arrays and inline tables nest deeper than MAX_NESTING, or None.

    Brackets inside strings and comments do not count. Table headers open and close on their
    own line, so they never add up."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return None  # too few brackets to nest that deep: nothing to scan
    depth, line, i, size = 0, 1, 0, len(text)
    quote = ""  # the delimiter of the string we are in: " ' \"\"\" or '''
    while i < size:
        char = text[i]
        if quote:
            if char == "\n":
                line += 1
            elif char == "\\" and quote[0] == '"':
                i += 1  # an escaped character, also an escaped quote
            elif text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif char == "#":
            newline = text.find("\n", i)
            i = size if newline < 0 else newline
            continue
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, i) else char
            i += len(quote)
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line, f"arrays and inline tables nested deeper than {MAX_NESTING} levels"
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "\n":
            line += 1
        i += 1
    return None
