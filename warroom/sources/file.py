"""Follow a log file like GNU `tail -F` and turn its lines into records.

Polling with `os.stat`, no watcher library: a poll every `poll_interval` costs one stat call,
works the same on every filesystem (inotify misses rename+recreate and does nothing on NFS),
and the loop is simple enough to reason about under every rotation scheme:

- *Start*: at the end of the file, unless `from_start`. If the end is inside a line, that
  line's remainder is skipped, so nothing is ever emitted half. A file missing at start is
  waited for (state CONNECTING) and then read from its beginning.
- *Appends*: read in 256 KiB binary chunks until end of file, split on b"\\n", one `emit`
  per chunk (a few thousand lines), `await asyncio.sleep(0)` between chunks.
- *Rename + create* (logrotate `create`, symlink swapped to a new target): the path now
  names another inode. We read the old descriptor to its end, then open the path from offset
  0 (fault "rotated"). While the new file is still empty and the old one still has a name,
  we stay on the old one: the writer keeps appending there until it reopens its log, and its
  first write to the new file is what tells us it has moved.
- *Moved away, nothing new yet*: the path is missing but our descriptor still has a link, so
  we keep reading it until a new file appears.
- *Deleted*: the path is missing and the descriptor has no link left; we read it to its end,
  close it (so the disk space is freed) and wait for the path again (fault "deleted").
- *copytruncate*: the size is below our offset, or the file's first bytes changed. We keep
  the first 4 KiB we have read (the "head") and, before every read and at every poll, re-read
  that many bytes at offset 0 (one `pread`, next to nothing beside a 256 KiB read) and
  compare. That catches a truncation followed by writes past our old offset before we read
  again, which a size check alone misses (and which mtime+size heuristics only guess at).
  Either way we restart at offset 0 (fault "truncated"). Not caught: new content whose first
  bytes, as many as we hold (up to 4 KiB), are byte-for-byte the old ones; in practice a log's
  first line carries a timestamp, so this needs a rewrite within the same second.

Lines: a partial last line is held until its newline arrives; if the file ends (rotation,
truncation, deletion) with one still held, it is dropped and counted ("partial_line"). A line
longer than `max_line_bytes` is dropped ("line_too_long") without buffering it whole: once the
held part passes the limit we discard up to the next newline. CRLF endings are stripped. NUL
bytes are removed before splitting ("nul_bytes", counted per byte): they come from sparse
holes that a writer without O_APPEND leaves after a copytruncate, and they are never valid in
JSON or a log line. Invalid UTF-8 is decoded with U+FFFD replacements and the line is kept
("invalid_utf8"); for jsonl this is tried only after orjson rejected the raw bytes, so valid
lines pay nothing for it.

Fault kinds written to `health.faults`: bad_json / bad_nginx / no_match (the parser rejected a
line; also counted in `bad_records`), line_too_long, partial_line, invalid_utf8, nul_bytes,
rotated, truncated, deleted, io_error, emit_error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from enum import Enum, auto
from typing import TYPE_CHECKING, Any

import orjson

from warroom.parsers import BAD_LINE_FAULT, make_parser
from warroom.sources.base import Clock, EmitFn, Source, SourceState

if TYPE_CHECKING:
    from warroom.config import FileSourceConfig

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
HEAD_BYTES = 4096


class _Change(Enum):
    IDLE = auto()  # nothing new
    GREW = auto()  # more bytes past our offset
    TRUNCATED = auto()  # same file, content replaced from the start
    REPLACED = auto()  # the path names another file now
    MOVED = auto()  # path missing, our file still has a name elsewhere
    GONE = auto()  # path missing, our file deleted


class FileSource(Source):
    """Follows `config.path`; see the module docstring for the rules."""

    kind = "file"
    config: FileSourceConfig

    def __init__(self, config: FileSourceConfig, clock: Clock = time.time) -> None:
        super().__init__(config, clock)
        self.path = config.path
        self._parse = make_parser(config)
        self._bad_fault = BAD_LINE_FAULT[config.format]
        self._binary = config.format == "jsonl"  # orjson takes bytes; the others want str
        # jsonl is parsed inline in `_records` (same rules as parsers.parse_jsonl).
        self._max_line = config.max_line_bytes
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._offset = 0  # bytes of the open file consumed so far
        self._head = b""  # its first min(offset, HEAD_BYTES) bytes, to spot rewrites
        self._pending = b""  # a line still waiting for its newline
        self._skipping = False  # inside a line we drop, up to its newline
        self._started = False  # the first open attempt was made

    # ------------------------------------------------------------------ the loop

    async def run(self, emit: EmitFn) -> None:
        try:
            while True:
                try:
                    await self._poll(emit)
                except OSError as exc:
                    self._io_fault(exc)
                await asyncio.sleep(self.config.poll_interval)
        finally:
            self._close()
            self.health.set_state(SourceState.STOPPED, "stopped", now=self.clock())

    async def _poll(self, emit: EmitFn) -> None:
        """Read everything there is, following truncations and rotations, then return."""
        if self._fd is None and not self._open():
            return
        while True:
            await self._drain(emit)
            change = self._look()
            if change is _Change.IDLE:
                return
            if change is _Change.TRUNCATED:
                self.health.note_fault("truncated")
                self._rewind()
            elif change is _Change.REPLACED:
                await self._drain(emit)  # what the writer added to the old file meanwhile
                deleted = os.fstat(self._fd).st_nlink == 0
                self._finish_file()
                self.health.note_fault("deleted" if deleted else "rotated")
                if not self._open():
                    return
            elif change is _Change.GONE:
                self._finish_file()
                self.health.note_fault("deleted")
                self._waiting()
                return
            elif change is _Change.MOVED:
                self.health.set_state(
                    self.health.state,
                    f"{self.path} was moved; reading the old file until a new one appears",
                )
                return
            # GREW, or a fresh start after a truncation or rotation: read again.

    # ------------------------------------------------------------------ opening

    def _open(self) -> bool:
        first = not self._started
        self._started = True
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._ident = None
            self._waiting()
            return False
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(21, "is a directory", self.path)
            ident = (st.st_dev, st.st_ino)
            if ident == self._ident:
                # Reopened after an I/O error: the same file, carry on where we were.
                os.lseek(fd, self._offset, os.SEEK_SET)
            else:
                self._ident = ident
                self._pending, self._skipping = b"", False
                self._offset, self._head = 0, b""
                if first and not self.config.from_start and st.st_size:
                    self._offset = os.lseek(fd, 0, os.SEEK_END)
                    self._head = os.pread(fd, min(HEAD_BYTES, self._offset), 0)
                    # Starting inside a line: skip its remainder rather than emit half of it.
                    self._skipping = os.pread(fd, 1, self._offset - 1) != b"\n"
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self.health.set_state(SourceState.LIVE, f"following {self.path}", now=self.clock())
        return True

    def _waiting(self) -> None:
        self.health.set_state(SourceState.CONNECTING, f"waiting for {self.path}", now=self.clock())

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _finish_file(self) -> None:
        """Done with the open file for good: drop a held partial line, close."""
        if self._pending:
            self.health.note_fault("partial_line", bad_record=True)
        self._pending, self._skipping = b"", False
        self._ident = None
        self._close()

    def _rewind(self) -> None:
        if self._pending:
            self.health.note_fault("partial_line", bad_record=True)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._offset, self._head = 0, b""
        self._pending, self._skipping = b"", False

    def _io_fault(self, exc: OSError) -> None:
        reason = f"{self.path}: {exc.strerror or exc}"
        if self.health.state != SourceState.ERROR or self.health.reason != reason:
            self.health.note_fault("io_error")
            log.warning("file source %s: %s", self.name, reason)
        self.health.set_state(SourceState.ERROR, reason, now=self.clock())
        # Keep _ident and _offset: if the same file opens again we resume where we were.
        self._close()

    # ------------------------------------------------------------------ watching

    def _look(self) -> _Change:
        """What happened to the path since we reached the end of our open file."""
        fd = self._fd
        try:
            st = os.stat(self.path)  # follows symlinks: a swapped target is a new file
        except FileNotFoundError:
            return _Change.GONE if os.fstat(fd).st_nlink == 0 else _Change.MOVED
        if (st.st_dev, st.st_ino) != self._ident:
            if st.st_size == 0 and os.fstat(fd).st_nlink > 0:
                return _Change.IDLE  # the writer has not moved to the new file yet
            return _Change.REPLACED
        if st.st_size < self._offset or self._rewritten():
            return _Change.TRUNCATED
        return _Change.GREW if st.st_size > self._offset else _Change.IDLE

    # ------------------------------------------------------------------ reading

    async def _drain(self, emit: EmitFn) -> None:
        """Read the open file to its current end, one emit per chunk."""
        fd = self._fd
        while True:
            if self._rewritten():
                return  # `_look` restarts from the beginning
            data = os.read(fd, CHUNK_BYTES)
            if not data:
                return
            if self._offset < HEAD_BYTES:
                self._head += data[: HEAD_BYTES - self._offset]
            self._offset += len(data)
            records = self._records(data)
            if records:
                self._deliver(emit, records)
            await asyncio.sleep(0)

    def _rewritten(self) -> bool:
        """Whether the open file no longer starts with the bytes we read from it."""
        head = self._head
        return bool(head) and os.pread(self._fd, len(head), 0) != head

    def _deliver(self, emit: EmitFn, records: list[dict[str, Any]]) -> None:
        try:
            emit(records)
        except Exception as exc:  # the consumer's bug must not stop the feed; it is shown
            self.health.note_fault("emit_error")
            self.health.reason = f"records lost: {type(exc).__name__}: {exc}"
            log.exception("file source %s: emit failed", self.name)
            return
        self.health.note_records(len(records), now=self.clock())

    def _lines(self, data: bytes) -> list[bytes]:
        """The complete lines in `data` after what is held; keeps the new partial line."""
        health = self.health
        if b"\0" in data:
            before = len(data)
            data = data.replace(b"\0", b"")
            health.note_fault("nul_bytes", before - len(data))
        if self._skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return []
            data = data[newline + 1 :]
            self._skipping = False
        if self._pending:
            data = self._pending + data
        lines = data.split(b"\n")
        tail = lines.pop()
        if len(tail) > self._max_line:
            health.note_fault("line_too_long")
            tail, self._skipping = b"", True
        self._pending = tail
        if len(data) > self._max_line:  # only then can a complete line be too long
            limit = self._max_line
            kept = [line for line in lines if len(line) <= limit]
            if len(kept) != len(lines):
                health.note_fault("line_too_long", len(lines) - len(kept))
            lines = kept
        if b"\r" in data:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines

    def _records(self, data: bytes) -> list[dict[str, Any]]:
        lines = self._lines(data)
        parse = self._parse
        records: list[dict[str, Any]] = []
        append = records.append
        bad = 0
        if self._binary:
            # parse_jsonl inlined: a function call per line is a fifth of the source's cost.
            loads, error = orjson.loads, orjson.JSONDecodeError
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
        else:
            try:
                # One decode for the whole chunk: "\n" never occurs inside a UTF-8 sequence,
                # so this splits into the same lines as decoding each one.
                texts = b"\n".join(lines).decode().split("\n") if lines else []
            except UnicodeDecodeError:
                texts = [self._decode(raw) for raw in lines]
            for line in texts:
                if not line:
                    continue
                record = parse(line)
                if record is None:
                    bad += not line.isspace()  # blank lines are not records
                    continue
                append(record)
        if bad:
            self.health.note_fault(self._bad_fault, bad, bad_record=True)
        return records

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.health.note_fault("invalid_utf8")
            return raw.decode("utf-8", "replace")

    def _second_chance(self, line: bytes) -> dict[str, Any] | None:
        """A line orjson rejected: parse it again if only its UTF-8 was broken."""
        try:
            line.decode()
        except UnicodeDecodeError:
            self.health.note_fault("invalid_utf8")
            return self._parse(line.decode("utf-8", "replace"))
        return None
