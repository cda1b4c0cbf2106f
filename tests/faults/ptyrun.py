"""Run the real `warroom` under a pseudo-terminal and keep every byte it writes."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class PtyApp:
    """`python -m warroom ARGS` in a pty of `columns` x `rows`; `output` is all it wrote."""

    def __init__(self, args: list[str], env: dict[str, str], columns: int = 160, rows: int = 48) -> None:
        self.output = bytearray()
        self.status: int | None = None
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the app
            try:
                os.chdir(ROOT)
                environment = {
                    **os.environ,
                    **env,
                    "TERM": "xterm-256color",
                    "COLUMNS": str(columns),
                    "LINES": str(rows),
                }
                os.execve(sys.executable, [sys.executable, "-m", "warroom", *args], environment)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        import fcntl
        import struct
        import termios

        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def read_for(self, seconds: float) -> None:
        """Read what the app writes for `seconds` (or until it exits)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.status is None:
            self._read(0.05)
            self._reap()

    def until(self, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.status is None:
            if needle in self.output:
                return True
            self._read(0.05)
            self._reap()
        return needle in self.output

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int | None:
        """The exit status (as os.waitstatus_to_exitcode gives it), or None if still running."""
        deadline = time.monotonic() + timeout
        while self.status is None and time.monotonic() < deadline:
            self._read(0.05)
            self._reap()
        return self.status

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9
        os.close(self.fd)

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                self.output += os.read(self.fd, 65536)
            except OSError:  # EIO once the child has closed its side
                time.sleep(0.01)

    def _reap(self) -> None:
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.status = os.waitstatus_to_exitcode(status)
            while True:  # what it wrote before exiting
                ready, _, _ = select.select([self.fd], [], [], 0)
                if not ready:
                    break
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                self.output += data
