"""Wake a file follower the moment its directory changes: a small Linux inotify binding.

Why inotify: a poll every 250 ms leaves a writer that much time to add lines that a
copytruncate then takes away; woken by the kernel, the follower reads an append within
milliseconds, as GNU `tail -F` does. Why the directory and not the file: a watch on a file
follows its inode, so it says nothing when logrotate renames the file and creates a new one;
a directory watch sees creations, renames, deletions and writes of every name in it, and we
keep the events of the names we follow.

Why our own binding rather than watchfiles: watchfiles' Rust thread wakes every `step`
milliseconds, even when nothing happens, and delivers changes only after that step, so its
latency and its idle cost trade against each other; here the inotify descriptor is handed
to the event loop (`add_reader`), which costs nothing while the directory is quiet and wakes
us at once when it is not. tests/sources/measure_follow.py prints both figures.

Where inotify is missing (another OS, no libc symbol, the per-user limit of instances or
watches reached) `DirectoryWatch.start` answers None and the caller polls instead.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import struct

log = logging.getLogger(__name__)

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
WATCHED = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)
# Events about the directory itself (or a full queue) concern every name in it.
EVERYTHING = IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW | IN_IGNORED
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
READ_BYTES = 64 * 1024


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class DirectoryWatch:
    """An inotify descriptor on the event loop; `changed` is set when a followed name (or
    the directory itself) changes. The follower clears it before it reads.

    `rotation_seen_at` is the loop time of the last change to a name that looks like a
    rotation of a followed one (`access.log.1`, `access.log-20261201`): logrotate writes its
    copy there just before it truncates the log, and a follower that reads every write at
    once until then gets the lines that would otherwise be in neither file."""

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._loop = loop
        self._names: dict[int, set[bytes]] = {}  # watch descriptor -> followed names in it
        self._rotations: dict[int, tuple[bytes, ...]] = {}  # -> prefixes of their rotations
        self._dirs: dict[str, int] = {}
        self.changed = asyncio.Event()
        self.rotation_seen_at = float("-inf")
        loop.add_reader(fd, self._on_readable)

    @classmethod
    def start(cls) -> DirectoryWatch | None:
        """A watch on the running loop, or None where inotify cannot be had."""
        if _LIBC is None:
            return None
        fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            log.info("inotify unavailable (%s); polling", os.strerror(ctypes.get_errno()))
            return None
        try:
            return cls(fd, asyncio.get_running_loop())
        except (RuntimeError, NotImplementedError, ValueError):  # a loop without add_reader
            os.close(fd)
            return None

    def follow(self, path: str) -> bool:
        """Watch the directory of `path` for changes to its name; False if that failed."""
        directory, name = os.path.split(os.path.abspath(path))
        wd = self._dirs.get(directory)
        if wd is None:
            assert _LIBC is not None
            wd = _LIBC.inotify_add_watch(self._fd, os.fsencode(directory), WATCHED)
            if wd < 0:
                return False
            self._dirs[directory] = wd
        names = self._names.setdefault(wd, set())
        if os.fsencode(name) not in names:
            names.add(os.fsencode(name))
            self._rotations[wd] = tuple(n + sep for n in names for sep in (b".", b"-", b"_"))
        return True

    def forget(self) -> None:
        """Stop following every name (the watches stay, their events are ignored)."""
        for names in self._names.values():
            names.clear()
        self._rotations.clear()

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            self.changed.set()  # let the follower look for itself
            return
        offset, end = 0, len(data)
        while offset + _EVENT.size <= end:
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            offset = start + length
            if mask & EVERYTHING:
                if mask & IN_IGNORED:  # the directory went away: watch it again when it is back
                    self._dirs = {d: w for d, w in self._dirs.items() if w != wd}
                    self._names.pop(wd, None)
                self.changed.set()
                continue
            name = data[start:offset].rstrip(b"\0")
            if name in self._names.get(wd, ()):
                self.changed.set()
            elif name.startswith(self._rotations.get(wd, ())):
                self.rotation_seen_at = self._loop.time()

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            self._loop.remove_reader(fd)
            os.close(fd)
