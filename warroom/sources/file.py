"""Follow a log file like GNU `tail -F` and turn its lines into records.

Woken by inotify on the file's directory (see inotify.py), so an append is read within
milliseconds; a poll every `poll_interval` (one `os.stat`) backs it up, and is all there is
where inotify is missing (another OS, the watch limit reached) or silent (a file written by
another host over NFS). Each wake-up runs the same
loop, simple enough to reason about under every rotation scheme:

- *Start*: at the end of the file, unless `from_start` or resuming a checkpoint. If the end
  is inside a line, that line's remainder is skipped, so nothing is ever emitted half. A file
  missing at start is waited for (state CONNECTING) and then read from its beginning.
- *Not a file*: a FIFO, device, socket or directory at the path is refused (state ERROR, fault
  "not_a_file") after an `os.stat`, before any `open`, and every open is non-blocking: a FIFO's
  open would otherwise wait for a writer with the whole event loop.
- *Appends*: read in 256 KiB binary chunks until end of file, one `emit` per chunk (a few
  thousand lines), `await asyncio.sleep(0)` between chunks. Lines: see filelines.py.
- *Rename + create* (logrotate `create`, symlink swapped to a new target): the path now
  names another inode. We read the old descriptor to its end, then open the path from offset
  0 (fault "rotated"). While the new file is still empty and the old one still has a name,
  we stay on the old one: the writer keeps appending there until it reopens its log, and its
  first write to the new file is what tells us it has moved.
- *Moved away, nothing new yet*: the path is missing but our descriptor still has a link, so
  we keep reading it until a new file appears.
- *Deleted*: the path is missing and the descriptor has no link left; we read it to its end,
  close it (so the disk space is freed) and wait for the path again (fault "deleted").
- *copytruncate*: no line that reached logrotate's copy is lost, while the copy is there
  uncompressed (`access.log.1`; `delaycompress` keeps the newest one so). We notice the
  truncation (the size is below our offset, or the file's first 4 KiB, which we keep and
  compare before every read, changed), read the copy, found by those first bytes (see
  rotated.py), from our offset to its end, then the file from offset 0 (fault "truncated").
  Lines the writer adds between logrotate's copy and its truncation are in neither file;
  while a rotation is under way every write is read at once, so that most of them are read
  before they are gone. With no copy to be found, the possible loss is counted
  ("truncation_loss") and shown.

Resuming (`checkpoint` / `resume`): the device, inode and offset of the next unread line,
with a fingerprint of the file's head, let a new process carry on exactly there, also when
the file was rotated or truncated while no process followed it (rotated.py finds the old
inode or the copy). When those bytes cannot be found any more, it reads the path from its
start and counts a "resume_gap".

Fault kinds written to `health.faults`: bad_json / bad_nginx / no_match, line_too_long,
partial_line, too_deep (counted in `bad_records` too), invalid_utf8, nul_bytes, rotated,
truncated, truncation_loss, deleted, not_a_file, io_error, emit_error, resume_gap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from enum import Enum, auto
from typing import Any

from warroom.checks import file_kind_problem
from warroom.config import FileSourceConfig
from warroom.sources.base import Clock, EmitFn, Source, SourceState
from warroom.sources.filelines import LineReader
from warroom.sources.inotify import DirectoryWatch
from warroom.sources.rotated import HEAD_BYTES, Fingerprint, open_copy, open_inode

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
# Woken by the kernel, read at once, but at most once per this long: an isolated append is
# read at once (tests/sources/measure_follow.py prints the delay), a writer's burst of small
# writes in a few reads rather than one read (and one emit) per write. Not while a rotation
# is under way (ROTATION_WATCH after a change to `access.log.1` or the like): then every
# write is read at once, so that the lines
# written between logrotate's copy and its truncation are read before they are gone.
MIN_READ_GAP = 0.005
ROTATION_WATCH = 2.0
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC


class _Change(Enum):
    IDLE = auto()  # nothing new
    GREW = auto()  # more bytes past our offset
    TRUNCATED = auto()  # same file, content replaced from the start
    REPLACED = auto()  # the path names another file now
    MOVED = auto()  # path missing, our file still has a name elsewhere
    GONE = auto()  # path missing, our file deleted


class FileSource(Source[FileSourceConfig]):
    """Follows `config.path`; see the module docstring for the rules."""

    kind = "file"

    def __init__(self, config: FileSourceConfig, clock: Clock = time.time) -> None:
        super().__init__(config, clock)
        self.path = config.path
        self._lines = LineReader(config, self.health, self.reject)
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._offset = 0  # bytes of the open file consumed so far
        self._head = b""  # its first min(offset, HEAD_BYTES) bytes, to spot rewrites
        self._started = False  # the first open attempt was made
        self._resume_state: dict[str, Any] | None = None
        self._watch: DirectoryWatch | None = None
        self._read_at = 0.0  # event-loop time of the last wake-up
        self._finished: deque[tuple[int, int]] = deque(maxlen=16)  # files read to their end

    # ------------------------------------------------------------------ the loop

    async def run(self, emit: EmitFn) -> None:
        self._watch = DirectoryWatch.start()
        try:
            while True:
                try:
                    await self._poll(emit)
                except OSError as exc:
                    self._io_fault(exc)
                await self._wait()
        finally:
            if self._watch is not None:
                self._watch.close()
            self._close()
            self.health.set_state(SourceState.STOPPED, "stopped", now=self.clock())

    async def _wait(self) -> None:
        """Until the directory reports a change to our file, or `poll_interval` at most."""
        watch = self._watch
        if watch is None or not watch.follow(self.path):
            await asyncio.sleep(self.config.poll_interval)
            return
        if not watch.changed.is_set():
            try:
                async with asyncio.timeout(self.config.poll_interval):
                    await watch.changed.wait()
            except TimeoutError:
                pass
        loop = asyncio.get_running_loop()
        pause = self._read_at + MIN_READ_GAP - loop.time()
        if pause > 0 and loop.time() - watch.rotation_seen_at > ROTATION_WATCH:
            await asyncio.sleep(pause)
        watch.changed.clear()
        self._read_at = loop.time()

    async def _poll(self, emit: EmitFn) -> None:
        """Read everything there is, following truncations and rotations, then return."""
        if self._resume_state is not None:
            state, self._resume_state = self._resume_state, None
            await self._resume_from(state, emit)
        if self._fd is None and not self._open():
            return
        while True:
            await self._drain(emit)
            change = self._look()
            if change is _Change.IDLE:
                return
            if change is _Change.TRUNCATED:
                await self._recover_copy(emit)
                self.health.note_fault("truncated")
                self._rewind()
            elif change is _Change.REPLACED:
                await self._drain(emit)  # what the writer added to the old file meanwhile
                assert self._fd is not None
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

    def _open_path(self) -> int | None:
        """A non-blocking descriptor on the path; None while it is missing or not a file."""
        try:
            problem = file_kind_problem(os.stat(self.path).st_mode)  # before open: a FIFO blocks
            if problem is None:
                fd = os.open(self.path, OPEN_FLAGS)
                problem = file_kind_problem(os.fstat(fd).st_mode)  # swapped since the stat
                if problem is None:
                    return fd
                os.close(fd)
        except FileNotFoundError:
            self._waiting()
            return None
        self._refuse(problem)
        return None

    def _open(self) -> bool:
        first = not self._started
        self._started = True
        fd = self._open_path()
        if fd is None:
            return False
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            if ident == self._ident:
                # Reopened after an I/O error: the same file, carry on where we were.
                os.lseek(fd, self._offset, os.SEEK_SET)
                self._adopt(fd, ident, self._offset)
            elif first and not self.config.from_start and st.st_size:
                end = os.lseek(fd, 0, os.SEEK_END)
                # Starting inside a line: skip its remainder rather than emit half of it.
                self._adopt(fd, ident, end, skipping=os.pread(fd, 1, end - 1) != b"\n")
            else:
                self._adopt(fd, ident, 0)
        except OSError:
            os.close(fd)
            raise
        return True

    def _adopt(self, fd: int, ident: tuple[int, int], offset: int, skipping: bool = False) -> None:
        """Follow the open file `fd` from `offset` on."""
        if ident != self._ident:
            self._lines.pending, self._lines.skipping = b"", skipping
        os.lseek(fd, offset, os.SEEK_SET)
        self._fd, self._ident, self._offset = fd, ident, offset
        self._head = os.pread(fd, min(HEAD_BYTES, offset), 0)
        if self._watch is not None:
            self._watch.forget()
            self._watch.follow(self.path)
            self._watch.follow(os.path.realpath(self.path))  # a symlink's target changes there
        self.health.set_state(SourceState.LIVE, f"following {self.path}", now=self.clock())

    def _waiting(self) -> None:
        self.health.set_state(SourceState.CONNECTING, f"waiting for {self.path}", now=self.clock())

    def _refuse(self, problem: str) -> None:
        self._error("not_a_file", f"{self.path} {problem}")

    def _error(self, fault: str, reason: str) -> None:
        """State ERROR with `reason`; the fault is counted once, not once per poll."""
        if self.health.state != SourceState.ERROR or self.health.reason != reason:
            self.health.note_fault(fault)
            log.warning("file source %s: %s", self.name, reason)
        self.health.set_state(SourceState.ERROR, reason, now=self.clock())

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _finish_file(self) -> None:
        """Done with the open file for good: drop a held partial line, close."""
        self._lines.drop_partial()
        if self._ident is not None:
            self._finished.append(self._ident)  # never to be taken for a copy of a later one
        self._ident = None
        self._close()

    def _rewind(self) -> None:
        self._lines.drop_partial()
        assert self._fd is not None
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._offset, self._head = 0, b""

    def _io_fault(self, exc: OSError) -> None:
        self._error("io_error", f"{self.path}: {exc.strerror or exc}")
        # Keep _ident and _offset: if the same file opens again we resume where we were.
        self._close()

    # ------------------------------------------------------------------ watching

    def _look(self) -> _Change:
        """What happened to the path since we reached the end of our open file."""
        fd = self._fd
        assert fd is not None
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

    def _rewritten(self) -> bool:
        """Whether the open file no longer starts with the bytes we read from it."""
        head = self._head
        return bool(head) and self._fd is not None and os.pread(self._fd, len(head), 0) != head

    # ------------------------------------------------------------------ reading

    async def _drain(self, emit: EmitFn, fd: int | None = None) -> None:
        """Read the open file (or `fd`, a copy of it) to its current end, one emit per chunk."""
        follows_path = fd is None
        if fd is None:
            fd = self._fd
        assert fd is not None
        while True:
            if follows_path and self._rewritten():
                return  # `_look` restarts from the beginning
            data = os.read(fd, CHUNK_BYTES)
            if not data:
                return
            if self._offset < HEAD_BYTES:
                self._head += data[: HEAD_BYTES - self._offset]
            self._offset += len(data)
            records, brackets = self._lines.records(data)
            if records:
                self.deliver(emit, records, brackets=brackets)
            await asyncio.sleep(0)

    async def _recover_copy(self, emit: EmitFn) -> None:
        """After a copytruncate: read what the rotated copy holds past our offset."""
        known = [*self._finished, *([self._ident] if self._ident else [])]
        copy = open_copy(self.path, Fingerprint.of(self._head), exclude=known)
        if copy is not None:
            await self._read_copy(copy, emit)
        elif self._head:
            self.health.note_fault("truncation_loss")
            self.health.reason = (
                f"{self.path} was truncated and no rotated copy of it was found: lines written just before may be lost"
            )

    async def _read_copy(self, copy: int, emit: EmitFn) -> None:
        """Read the copy `copy` of our file from our offset to its end, then close it. Our
        identity, offset and head stay those of the original, so a checkpoint taken meanwhile
        resumes from the same copy."""
        try:
            os.lseek(copy, self._offset, os.SEEK_SET)
            await self._drain(emit, copy)
        finally:
            os.close(copy)
        self._lines.drop_partial()

    # ------------------------------------------------------------------ resuming

    def checkpoint(self) -> dict[str, Any] | None:
        """Identity and position of the next unread complete line (see the module docstring)."""
        if self._ident is None:
            # Waiting for the file: whatever appears is to be read from its start.
            return {"path": self.path, "waiting": True} if self._started else None
        lines = self._lines
        offset = self._offset if lines.skipping else self._offset - len(lines.pending)
        return {
            "path": self.path,
            "dev": self._ident[0],
            "ino": self._ident[1],
            "offset": offset,
            "skipping": lines.skipping,
            **Fingerprint.of(self._head[:offset]).state(),
        }

    def resume(self, state: dict[str, Any]) -> None:
        """Start at a checkpoint of an earlier process instead of the end of the file."""
        self._resume_state = dict(state)
        self._started = True

    async def _resume_from(self, state: dict[str, Any], emit: EmitFn) -> None:
        if state.get("waiting") or "ino" not in state:
            return  # nothing was open: whatever the path names now is read from its start
        ident = (int(state["dev"]), int(state["ino"]))
        offset = int(state["offset"])
        fingerprint = Fingerprint.from_state(state)
        fd = self._open_path()
        if fd is not None and (os.fstat(fd).st_dev, os.fstat(fd).st_ino) != ident:
            os.close(fd)
            fd = open_inode(self.path, ident)  # rotated meanwhile: its old name is a sibling
        if fd is not None and os.fstat(fd).st_size >= offset and fingerprint.matches(fd):
            self._adopt(fd, ident, offset, skipping=bool(state.get("skipping")))
            return
        # Truncated, or gone: the bytes past `offset` may still be in a rotated copy.
        copy = open_copy(self.path, fingerprint)
        if copy is not None:
            self._ident, self._offset = ident, offset
            self._head = os.pread(copy, fingerprint.length, 0)
            await self._read_copy(copy, emit)
        self._ident = None
        if fd is None:
            fd = self._open_path()  # whatever the path names now, read from its start
        if fd is not None:
            st = os.fstat(fd)
            self._adopt(fd, (st.st_dev, st.st_ino), 0)
        if copy is None:
            self.health.note_fault("resume_gap")
            self.health.reason = (
                f"{self.path} changed while warroom was stopped and the unread lines could not "
                "be found; reading the file from its start"
            )
