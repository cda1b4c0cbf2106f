"""Where a followed file's unread bytes went: its rotated copy or its renamed inode.

logrotate names what it rotates after the log: `access.log.1` (then `.2`, ...), or
`access.log-20261201` with `dateext`. Two questions are answered by looking at those
siblings, in the log's own directory:

- copytruncate copied the log and emptied it. Bytes written after our last read but before
  the copy are in the copy: it is the sibling whose first bytes are the ones we read from the
  log (its `Fingerprint`), and we read it from our old offset to its end. Those bytes must
  hold at least one complete line (a log's first line carries its time): a few bytes of a
  first line would match older files that start alike, and their lines would be read twice.
  Files we have already read to their end are never taken for a copy.
- a later process resumes a checkpoint whose inode was renamed away meanwhile: it is the
  sibling with that device and inode.

Compressed siblings (.gz, .xz, ...) are skipped: logrotate compresses a copy only once it is
complete, and with `delaycompress` the newest one stays plain.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

HEAD_BYTES = 4096
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".z", ".zip")


@dataclass(frozen=True)
class Fingerprint:
    """The first `length` bytes of a file (at most HEAD_BYTES), as a length and a sha256."""

    length: int
    sha256: str

    @classmethod
    def of(cls, head: bytes) -> Fingerprint:
        return cls(len(head), hashlib.sha256(head).hexdigest())

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Fingerprint:
        return cls(int(state["head_len"]), str(state["head_sha256"]))

    def state(self) -> dict[str, Any]:
        return {"head_len": self.length, "head_sha256": self.sha256}

    def matches(self, fd: int) -> bool:
        """Whether the open file starts with these bytes."""
        return self._head_of(fd) is not None

    def identifies(self, fd: int) -> bool:
        """Whether the open file starts with these bytes, and they hold a complete line."""
        head = self._head_of(fd)
        return head is not None and b"\n" in head

    def _head_of(self, fd: int) -> bytes | None:
        head = os.pread(fd, self.length, 0) if self.length else b""
        if len(head) == self.length and hashlib.sha256(head).hexdigest() == self.sha256:
            return head
        return None


def siblings(path: str) -> list[str]:
    """Plain files named like rotations of `path` (`path.1`, `path-20261201`), newest first."""
    directory, name = os.path.split(os.path.abspath(path))
    found: list[tuple[float, str]] = []
    try:
        entries = os.scandir(directory)
    except OSError:
        return []
    with entries:
        for entry in entries:
            other = entry.name
            if other == name or not other.startswith(name) or other[len(name)] not in ".-_":
                continue
            if other.lower().endswith(COMPRESSED):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append((st.st_mtime, entry.path))
    return [p for _, p in sorted(found, reverse=True)]


def open_copy(path: str, fingerprint: Fingerprint, exclude: Collection[tuple[int, int]] = ()) -> int | None:
    """A read descriptor on the newest sibling that starts with `fingerprint` (holding a
    complete line), other than the files `exclude` names by (device, inode); or None."""
    if fingerprint.length == 0:
        return None  # nothing read: no way to tell which copy holds our bytes
    for candidate in siblings(path):
        fd = _open_plain(candidate)
        if fd is None:
            continue
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) not in exclude and fingerprint.identifies(fd):
            return fd
        os.close(fd)
    return None


def open_inode(path: str, ident: tuple[int, int]) -> int | None:
    """A read descriptor on the sibling of `path` with this (device, inode), or None."""
    for candidate in siblings(path):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == ident:
            fd = _open_plain(candidate)
            if fd is not None and (os.fstat(fd).st_dev, os.fstat(fd).st_ino) == ident:
                return fd
            if fd is not None:
                os.close(fd)
    return None


def _open_plain(path: str) -> int | None:
    """Open a regular file without ever blocking (a FIFO swapped in is refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd
