"""Run warroom as a child process on a real pseudo-terminal and watch what it writes.

`Terminal.spawn(argv, cols, rows)` opens a pty pair, sets its window size (TIOCSWINSZ)
before the child starts, runs the child with the pty as its controlling terminal and
TERM=xterm-256color, and reads every byte the child writes on a background thread, each
chunk stamped with `time.perf_counter()` as it is read. CPU comes from /proc/<pid>/stat
(utime + stime of the child), so it counts the app's own threads and nothing of ours.
Linux only, like /proc.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# CSI (with private parameters), OSC (BEL or ST ended), and two-byte escapes.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
REPO = Path(__file__).resolve().parent.parent


def strip_ansi(text: str) -> str:
    return ANSI.sub(" ", text)


class Terminal:
    """One child process on one pty; see the module docstring."""

    def __init__(self, process: subprocess.Popen, master: int, started: float) -> None:
        self.process = process
        self.master = master
        self.started = started
        self.chunks: list[tuple[float, bytes]] = []
        self.total = 0
        self._lock = threading.Lock()
        self._watchers: list[Callable[[float, bytes], None]] = []
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    @classmethod
    def spawn(
        cls, argv: list[str], cols: int, rows: int, env: dict[str, str] | None = None, cwd: str | Path | None = None
    ) -> Terminal:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        child_env = dict(os.environ)
        child_env.update({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)})
        for name in ("TEXTUAL", "TEXTUAL_DEVTOOLS", "NO_COLOR", "TMUX"):
            child_env.pop(name, None)
        child_env["PYTHONPATH"] = str(REPO) + os.pathsep + child_env.get("PYTHONPATH", "")
        child_env.update(env or {})

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # after setsid (start_new_session)

        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=child_env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=controlling_tty,
            close_fds=True,
        )
        os.close(slave)
        return cls(process, master, started)

    # ------------------------------------------------------------------ output

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the child has gone and the slave is closed
                return
            if not data:
                return
            now = time.perf_counter()
            with self._lock:
                self.chunks.append((now, data))
                self.total += len(data)
                watchers = list(self._watchers)
            for watch in watchers:
                watch(now, data)

    def watch(self, callback: Callable[[float, bytes], None]) -> None:
        """Call `callback(time, data)` on the reader thread for every chunk from now on."""
        with self._lock:
            self._watchers.append(callback)

    def bytes_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(len(data) for t, data in self.chunks if start <= t < end)

    def wait_for(self, text: str, timeout: float) -> float | None:
        """perf_counter time of the chunk that completed the first `text` on screen, or None."""
        needle = text.encode()
        deadline = time.perf_counter() + timeout
        seen = 0
        buffer = b""
        while time.perf_counter() < deadline:
            with self._lock:
                fresh = self.chunks[seen:]
                seen = len(self.chunks)
            for t, data in fresh:
                buffer += data
                if needle in buffer:
                    return t
                buffer = buffer[-len(needle) :]
            if self.process.poll() is not None and not fresh:
                return None
            time.sleep(0.005)
        return None

    def text(self) -> str:
        with self._lock:
            data = b"".join(d for _, d in self.chunks)
        return data.decode("utf-8", "replace")

    # ------------------------------------------------------------------ the child

    def cpu_seconds(self) -> float:
        """utime + stime of the child so far (its threads included)."""
        with open(f"/proc/{self.process.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def measure(self, seconds: float) -> tuple[float, int, float]:
        """(CPU seconds, bytes written, wall seconds) over the next `seconds`."""
        cpu0, t0 = self.cpu_seconds(), time.perf_counter()
        time.sleep(seconds)
        cpu1, t1 = self.cpu_seconds(), time.perf_counter()
        return cpu1 - cpu0, self.bytes_between(t0, t1), t1 - t0

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def stop(self, timeout: float = 5.0) -> int | None:
        """Quit with 'q', then SIGTERM, then SIGKILL; returns the exit status."""
        process = self.process
        for attempt in ("q", signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            try:
                if attempt == "q":
                    self.send("q")
                else:
                    process.send_signal(attempt)
            except OSError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
        self._reader.join(timeout=2.0)
        try:
            os.close(self.master)
        except OSError:
            pass
        return process.returncode


def warroom_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "warroom", *args]
