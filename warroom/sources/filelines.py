"""Bytes read from a log file -> complete lines -> records, for the file source.

Kept apart from the follower (file.py), which only decides *which* bytes to read: this side
decides what they mean, and holds the one piece of state that crosses reads, the partial
last line.

- A partial last line is held until its newline arrives; `drop_partial` (the file ended by
  rotation, truncation or deletion) counts it as a bad record ("partial_line").
- A line longer than `max_line_bytes` is a bad record ("line_too_long"), dropped without
  buffering it whole: once the held part passes the limit we discard up to the next newline.
- CRLF endings are stripped. NUL bytes are removed before splitting ("nul_bytes", counted per
  byte): they come from sparse holes that a writer without O_APPEND leaves after a
  copytruncate, and they are never valid in JSON or a log line.
- Invalid UTF-8 is decoded with U+FFFD replacements and the line is kept ("invalid_utf8");
  for jsonl this is tried only after orjson rejected the raw bytes, so valid lines pay
  nothing for it.
- A line the parser rejects is a bad record under the parser's fault name (bad_json,
  bad_nginx, no_match); blank lines are not records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from warroom.parsers import BAD_LINE_FAULT, make_parser
from warroom.sources.base import SourceHealth

if TYPE_CHECKING:
    from warroom.config import FileSourceConfig

RejectFn = Callable[[str, str, int], None]


class LineReader:
    """Turns successive reads of one file into records; see the module docstring."""

    def __init__(self, config: FileSourceConfig, health: SourceHealth, reject: RejectFn) -> None:
        self._parse = make_parser(config)
        self._bad_fault = BAD_LINE_FAULT[config.format]
        self._format = config.format
        self.json = config.format == "jsonl"  # orjson takes bytes; the others want str
        self._max_line = config.max_line_bytes
        self._health = health
        self._reject = reject
        self.pending = b""  # a line still waiting for its newline
        self.skipping = False  # inside a line we drop, up to its newline

    def records(self, data: bytes) -> tuple[list[dict[str, Any]], int | None]:
        """The records of the complete lines in what is held plus `data`, and for jsonl the
        opening brackets in their bytes (see base.may_nest_too_deep); None for the text
        formats, whose parsers build flat records."""
        lines, brackets = self._lines(data)
        if self.json:
            return self._parse_json(lines), brackets
        return self._parse_text(lines), None

    def drop_partial(self) -> None:
        """The file ended for good: a held partial line will never be finished."""
        if self.pending:
            self._reject("partial_line", "last bad line: unfinished when the file ended", 1)
        self.pending, self.skipping = b"", False

    def _too_long(self, count: int) -> None:
        self._reject("line_too_long", f"last bad line: longer than max_line_bytes ({self._max_line})", count)

    def _lines(self, data: bytes) -> tuple[list[bytes], int]:
        if b"\0" in data:
            before = len(data)
            data = data.replace(b"\0", b"")
            self._health.note_fault("nul_bytes", before - len(data))
        if self.skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return [], 0
            data = data[newline + 1 :]
            self.skipping = False
        if self.pending:
            data = self.pending + data
        brackets = data.count(b"{") + data.count(b"[") if self.json else 0
        lines = data.split(b"\n")
        tail = lines.pop()
        if len(tail) > self._max_line:
            self._too_long(1)
            tail, self.skipping = b"", True
        self.pending = tail
        if len(data) > self._max_line:  # only then can a complete line be too long
            limit = self._max_line
            kept = [line for line in lines if len(line) <= limit]
            if len(kept) != len(lines):
                self._too_long(len(lines) - len(kept))
            lines = kept
        if b"\r" in data:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines, brackets

    def _parse_json(self, lines: list[bytes]) -> list[dict[str, Any]]:
        # parse_jsonl inlined: a function call per line is a fifth of the source's cost.
        records: list[dict[str, Any]] = []
        append = records.append
        loads, error = orjson.loads, orjson.JSONDecodeError
        bad = 0
        for line in lines:
            try:
                record = loads(line)
            except error:
                record = None
            if type(record) is not dict:
                record = self._second_chance(line) if record is None else None
                if record is None:
                    bad += bool(line.strip())  # blank lines are not records
                    continue
            append(record)
        if bad:
            self._reject(self._bad_fault, "last bad line: not a JSON object", bad)
        return records

    def _parse_text(self, lines: list[bytes]) -> list[dict[str, Any]]:
        try:
            # One decode for the whole chunk: "\n" never occurs inside a UTF-8 sequence,
            # so this splits into the same lines as decoding each one.
            texts = b"\n".join(lines).decode().split("\n") if lines else []
        except UnicodeDecodeError:
            texts = [self._decode(raw) for raw in lines]
        parse = self._parse
        records: list[dict[str, Any]] = []
        bad = 0
        for line in texts:
            if not line:
                continue
            record = parse(line)
            if record is None:
                bad += not line.isspace()  # blank lines are not records
                continue
            records.append(record)
        if bad:
            self._reject(self._bad_fault, f"last bad line: not in the {self._format} format", bad)
        return records

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self._health.note_fault("invalid_utf8")
            return raw.decode("utf-8", "replace")

    def _second_chance(self, line: bytes) -> dict[str, Any] | None:
        """A line orjson rejected: parse it again if only its UTF-8 was broken."""
        try:
            line.decode()
        except UnicodeDecodeError:
            self._health.note_fault("invalid_utf8")
            return self._parse(line.decode("utf-8", "replace"))
        return None
