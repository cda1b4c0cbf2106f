"""The one door of a process to its room: every database call, off the caller's event loop.

Why a door: SQLite calls block, on a busy timeout when another process holds the write lock
(another operator, a `sqlite3` shell, a slow disk), and on the Textual event loop a blocked
call is a frozen screen. So a process opens the room once, through one `Door`, which owns
the process's connections and runs every call in its own two threads:

- the **writer** runs writes one at a time, in the order they were asked for. A write that
  fails because the database is locked or cannot be written just now is kept at the head of
  the queue and tried again with backoff, never dropped; `status()` says how many writes wait
  and why, for the screen's "saving…" and NOT SAVING. A write may carry a `replace` key: a
  newer write with the same key replaces one still waiting (the recorder's snapshot, a
  heartbeat), so a long lock never piles up stale copies.
- the **reader** runs reads, so a screen can still load rows while a write waits for the
  lock (WAL readers never wait for writers), and between reads it watches for changes:
  `PRAGMA data_version` every `watch_interval`, and when it moved, the per-topic sequence
  numbers that the schema's triggers keep, so `on_change` hears which topics (log, tickets,
  checklist, alerts, launch, snapshot) changed and reads only those.

Callers get a `concurrent.futures.Future` per call. Its callbacks run on the door's threads:
a Textual app turns them into messages (`post_message` is thread-safe).

Operators' commands (`submit`) are data, so they outlive a failure: on `close`, commands that
could not be saved are appended to a spool file beside the database, and the next `open`
applies them first, each once (the room's command ledger ignores an id it has seen).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from warroom.commands import Command, from_json
from warroom.location import RoomLocation
from warroom.store import RoomStore, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[RoomStore], Any]
ChangeListener = Callable[[set[str], RoomStore], None]

WATCH_INTERVAL = 0.1
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True, slots=True)
class DoorStatus:
    """The writer's state, for the screen."""

    waiting: int
    """Writes not yet saved (including the one being tried)."""
    waiting_since: float | None
    """Monotonic time the oldest of them was asked for."""
    error: str | None
    """Why the last attempt failed, while writes are being retried."""
    spooled: int = 0
    """Commands kept in the spool file from an earlier run, not yet applied."""

    def saving_for(self, now: float) -> float:
        return 0.0 if self.waiting_since is None else max(0.0, now - self.waiting_since)


@dataclass
class _Job:
    run: Job
    future: Future[Any]
    asked_at: float
    key: str | None = None
    command: Command | None = None
    replayed: bool = False
    """A command from the spool file of an earlier run."""


class Door:
    """See the module docstring. `open()` before use, `close()` at the end."""

    def __init__(
        self,
        where: RoomLocation | str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        on_change: ChangeListener | None = None,
        watch_interval: float = WATCH_INTERVAL,
    ) -> None:
        self.location = where if isinstance(where, RoomLocation) else RoomLocation(db_path=Path(where))
        self.spool_path = self.location.spool_path
        self._clock = clock
        self._on_change = on_change
        self._watch_interval = watch_interval
        self._writes: deque[_Job] = deque()
        self._reads: deque[_Job] = deque()
        self._lock = threading.Condition()
        self._closing = False
        self._stopped = threading.Event()
        self._running: _Job | None = None
        self._error: str | None = None
        self._spooled = 0
        self.spool_error: str | None = None
        """Why unsaved commands could not be kept in the spool file, if they could not."""
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ opening and closing

    def open(self) -> None:
        """Open the room in both threads (the writer first: it creates and migrates the
        file). Raises StoreError when the database cannot be used."""
        for role in ("writer", "reader"):
            ready: Future[None] = Future()
            thread = threading.Thread(target=self._serve, args=(role, ready), daemon=True, name=f"warroom-room-{role}")
            thread.start()
            self._threads.append(thread)
            try:
                ready.result()
            except BaseException:
                self.close()
                raise
        self._replay_spool()

    def close(self, timeout: float = 10.0) -> list[Command]:
        """Let waiting writes finish for up to `timeout` seconds, keep the commands that
        could not be saved in the spool file, and close the room. Returns those commands."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self._writes or self._running) and self._threads and time.monotonic() < deadline:
                self._lock.wait(0.05)
            self._closing = True
            self._lock.notify_all()
        self._stopped.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        unsaved = [job.command for job in self._writes if job.command is not None]
        for job in list(self._writes) + list(self._reads):
            job.future.cancel()
        self._writes.clear()
        self._reads.clear()
        if unsaved:
            self._spool(unsaved)
        return unsaved

    @property
    def is_open(self) -> bool:
        return bool(self._threads) and not self._closing

    # ------------------------------------------------------------------ calls

    def read(self, job: Callable[[RoomStore], T]) -> Future[T]:
        """Run `job(store)` on the reader thread."""
        return self._queue(self._reads, _Job(job, Future(), time.monotonic()))

    def write(self, job: Callable[[RoomStore], T], *, replace: str | None = None) -> Future[T]:
        """Run `job(store)` on the writer thread, after every write asked for before it."""
        return self._queue(self._writes, _Job(job, Future(), time.monotonic(), key=replace))

    def submit(self, command: Command) -> Future[Any]:
        """Apply an operator's command (see RoomStore.apply); the future's result is what
        the write returned, once it is committed."""
        return self._queue(self._writes, _Job(_applier(command), Future(), time.monotonic(), command=command))

    def drain(self, timeout: float) -> bool:
        """Wait until every write asked for so far is done; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._writes or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def status(self) -> DoorStatus:
        with self._lock:
            waiting = list(self._writes)
            if self._running is not None:
                waiting.insert(0, self._running)
            return DoorStatus(
                len(waiting),
                min((j.asked_at for j in waiting), default=None),
                self._error if waiting else None,
                self._spooled,
            )

    def _queue(self, queue: deque[_Job], job: _Job) -> Future[Any]:
        with self._lock:
            if self._closing or not self._threads:
                raise StoreError(f"{self.location.label}: the room is closed")
            if job.key is not None:
                for index, queued in enumerate(queue):
                    if queued.key == job.key:
                        queued.future.cancel()
                        job.asked_at = queued.asked_at  # waiting since the first of them
                        queue[index] = job
                        break
                else:
                    queue.append(job)
            else:
                queue.append(job)
            self._lock.notify_all()
        return job.future

    # ------------------------------------------------------------------ the two threads

    def _serve(self, role: str, ready: Future[None]) -> None:
        try:
            store = RoomStore(self.location.open_database(), clock=self._clock)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            if role == "writer":
                self._write_loop(store)
            else:
                self._read_loop(store)
        finally:
            store.close()

    def _next(self, queue: deque[_Job], timeout: float | None) -> _Job | None:
        with self._lock:
            if not queue and not self._closing:
                self._lock.wait(timeout)
            if self._closing or not queue:
                return None
            job = queue.popleft()
            if queue is self._writes:
                self._running = job
            return job

    def _write_loop(self, store: RoomStore) -> None:
        while not self._closing:
            job = self._next(self._writes, None)
            if job is None:
                continue
            attempt = 0
            while True:
                try:
                    result = job.run(store)
                except StoreError as exc:
                    if not exc.retryable:
                        self._finish(job, error=exc)
                        break
                    self._retrying(job, exc)
                    if self._stopped.wait(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]):
                        self._give_back(job)  # closing: kept for the spool
                        return
                    attempt += 1
                    continue
                except BaseException as exc:  # a bug or a refused command: the caller hears it
                    self._finish(job, error=exc)
                    break
                self._finish(job, result=result)
                break

    def _retrying(self, job: _Job, exc: StoreError) -> None:
        with self._lock:
            if self._error != str(exc):
                log.warning("room write waiting: %s", exc)
            self._error = str(exc)

    def _give_back(self, job: _Job) -> None:
        with self._lock:
            self._writes.appendleft(job)
            self._running = None
            self._lock.notify_all()

    def _finish(self, job: _Job, result: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            self._running = None
            self._error = None
            if job.replayed:
                self._spooled -= 1
                if error is not None:
                    log.error("an entry kept from an earlier run was refused: %s", error)
                if self._spooled == 0:
                    self._unlink_spool()
            self._lock.notify_all()
        if job.future.cancelled():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    def _read_loop(self, store: RoomStore) -> None:
        seen: dict[str, int] | None = None
        version: int | None = None
        next_watch = 0.0
        while not self._closing:
            wait = max(0.0, next_watch - time.monotonic()) if self._on_change else None
            job = self._next(self._reads, wait)
            if job is not None:
                self._run_read(job, store)
                continue
            if self._on_change is None or time.monotonic() < next_watch:
                continue
            next_watch = time.monotonic() + self._watch_interval
            try:
                now_version = store.change_mark()
                if now_version == version and seen is not None:
                    continue
                version = now_version
                seqs = store.topic_seqs()
                changed = set(seqs) if seen is None else {t for t, n in seqs.items() if seen.get(t) != n}
                seen = seqs
                if changed:
                    self._on_change(changed, store)
            except Exception:  # the listener's or the database's: log it, keep watching
                log.exception("room change watch failed")

    @staticmethod
    def _run_read(job: _Job, store: RoomStore) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            result = job.run(store)
        except BaseException as exc:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    # ------------------------------------------------------------------ the spool

    def _spool(self, commands: list[Command]) -> None:
        """Keep unsaved commands in the spool file (beside the database, never the database
        file itself), replacing it in one step, synced. If even that fails (the disk is full),
        `spool_error` says why and the caller must show the commands to the operator."""
        tmp = self.spool_path.with_name(self.spool_path.name + ".tmp")
        try:
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for command in commands:
                    f.write(json.dumps(command.to_json()) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.spool_path)
        except OSError as exc:
            self.spool_error = f"{self.spool_path}: {exc.strerror or exc}"
            log.error("could not keep %d unsaved commands: %s", len(commands), self.spool_error)
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _unlink_spool(self) -> None:
        try:
            self.spool_path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.error("cannot remove %s: %s", self.spool_path, exc)

    def _replay_spool(self) -> None:
        """Queue what an earlier run could not save, in order, before anything new. The file
        goes once every one of them is applied (or refused, which is logged)."""
        try:
            lines = self.spool_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read %s: %s", self.spool_path, exc)
            return
        commands = []
        for number, line in enumerate(lines, 1):
            try:
                commands.append(from_json(json.loads(line)))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                log.error("%s:%d: not a command, skipped: %s", self.spool_path, number, exc)
        with self._lock:
            self._spooled = len(commands)
            if not commands:
                self._unlink_spool()
            for command in commands:
                self._writes.append(_Job(_applier(command), Future(), time.monotonic(), command=command, replayed=True))
            self._lock.notify_all()


def _applier(command: Command) -> Job:
    return lambda store: store.apply(command)
