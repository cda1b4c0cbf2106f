"""One operator's attachment to the room: the door, presence, and a recorder that runs.

A dashboard is a view of the room. It opens the room through its `Door`, registers itself
(operator, host, since, a heartbeat every few seconds) so the others see who is online,
hears what changed (the recorder's snapshot, the log, tickets, checklist, alerts, the launch
time) and writes operators' commands. It never connects to a source and never writes a
metric.

So that one operator still needs one command, the dashboard makes sure the room has a
recorder: once a second it checks the room's lease, and when nobody holds it (none was
started yet, or the recorder died) it starts `warroom record --auto` in the background, in
its own session, so that the recorder outlives the dashboard and keeps recording while
every operator is away. A recorder started this way stops by itself once no dashboard has
been attached for AUTO_IDLE_EXIT seconds; `warroom record` started by hand never does. If
two dashboards start one at the same moment, the second finds the lease taken and exits.

Listeners are called on the door's threads; a Textual app turns them into messages.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from operator import methodcaller
from typing import Any, Protocol

from warroom import snapshot as snap
from warroom.commands import Command
from warroom.config import Config
from warroom.door import Door
from warroom.lease import Holder, LeaseWatch
from warroom.location import RoomLocation
from warroom.store import Launch, RoomStore, Session, StoreUnavailable

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between two looks at the recorder's lease
HEARTBEAT_EVERY = 5.0
AUTO_IDLE_EXIT = 3600.0


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    holder: Holder | None
    """Who holds the lease, when someone does."""
    starting: bool = False
    """Nobody holds it; we started a recorder and wait for it."""
    problem: str = ""
    """Why nobody records, when that is the case (shown on screen)."""

    @property
    def running(self) -> bool:
        return self.holder is not None


class RoomListener(Protocol):
    def snapshot_arrived(self, snapshot: snap.Snapshot) -> None: ...

    def launch_changed(self, launch: Launch) -> None: ...

    def topics_changed(self, topics: set[str]) -> None: ...

    def recorder_changed(self, status: RecorderStatus) -> None: ...


class DashboardSession:
    """See the module docstring. `open()` before the screen starts, `close()` after."""

    def __init__(
        self,
        config: Config,
        operator: str,
        *,
        clock: Callable[[], float] = time.time,
        start_recorder: bool = True,
        recorder_args: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.operator = operator
        self.clock = clock
        self.location = RoomLocation.of(config)
        self.start_recorder = start_recorder and config.path is not None
        self.recorder_args = list(recorder_args)
        self.listener: RoomListener | None = None
        started = time.time()  # sessions are processes: wall time, whatever the room's clock
        self.session = Session(
            uuid.uuid4().hex, "dashboard", operator, socket.gethostname(), os.getpid(), started, started
        )
        self.door = Door(self.location, clock=clock, on_change=self._heard)
        self.recorder = RecorderStatus(None)
        self.started: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    # ------------------------------------------------------------------ open and close

    def open(self) -> None:
        """Open the room and say we are here (raises StoreError when it cannot be used)."""
        self.door.open()
        try:
            self.door.write(lambda s: s.open_session(self.session)).result()
        except BaseException:
            self.door.close()
            raise

    def attach(self, listener: RoomListener) -> None:
        """Start hearing the room (the first call reports everything) and minding the
        recorder."""
        self.listener = listener
        self.door.read(lambda s: self._heard(set(s.topic_seqs()), s))
        self._watch = threading.Thread(target=self._mind, name="warroom-recorder-watch", daemon=True)
        self._watch.start()

    def close(self) -> list[Command]:
        """Leave the room; returns the commands that could not be saved (kept in the spool)."""
        self._stop.set()
        if self._watch is not None:
            self._watch.join()
        self.listener = None
        try:
            now = time.time()
            self.door.write(lambda s: s.close_session(self.session.id, now))
        except Exception:  # the room is closing anyway; the session just stays "last seen"
            log.exception("could not close the session")
        return self.door.close()

    def submit(self, command: Command) -> Future[Any]:
        return self.door.submit(command)

    # ------------------------------------------------------------------ hearing the room

    def _heard(self, topics: set[str], store: RoomStore) -> None:
        listener = self.listener
        if listener is None:
            return
        if "snapshot" in topics:
            row = store.snapshot()
            if row is not None:
                try:
                    listener.snapshot_arrived(snap.decode(row[2]))
                except ValueError as error:
                    log.error("room snapshot unreadable: %s", error)
        if "launch" in topics:
            listener.launch_changed(store.launch())
        rest = topics - {"snapshot", "launch"}
        if rest:
            listener.topics_changed(rest)

    # ------------------------------------------------------------------ the recorder

    def _mind(self) -> None:
        watch = self.location.watch()
        try:
            self._mind_with(watch)
        finally:
            watch.close()

    def _mind_with(self, watch: LeaseWatch) -> None:
        next_beat = time.monotonic() + HEARTBEAT_EVERY
        while not self._stop.is_set():
            status = self._check_recorder(watch)
            if status != self.recorder:
                self.recorder = status
                listener = self.listener
                if listener is not None:
                    listener.recorder_changed(status)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_EVERY
                try:
                    self.door.write(methodcaller("heartbeat", self.session.id, time.time()), replace="heartbeat")
                except Exception:
                    log.exception("heartbeat")
            self._stop.wait(CHECK_EVERY)

    def _check_recorder(self, watch: LeaseWatch) -> RecorderStatus:
        self.started = [p for p in self.started if p.poll() is None]  # reap the ones that ended
        try:
            holder = watch.holder()
        except StoreUnavailable as error:  # cannot tell: starting a recorder would not help
            return RecorderStatus(None, problem=f"room unreachable: {error}")
        if holder is not None:
            return RecorderStatus(holder)
        if not self.start_recorder:
            return RecorderStatus(None, problem="no recorder: start `warroom record` for this room")
        if self.started:
            return RecorderStatus(None, starting=True, problem="recorder lost: starting one")
        try:
            self.started.append(self._spawn())
        except OSError as error:
            return RecorderStatus(None, problem=f"no recorder, and it cannot be started: {error}")
        return RecorderStatus(None, starting=True, problem="recorder lost: starting one")

    def _spawn(self) -> subprocess.Popen[bytes]:
        """`warroom record --auto` for this room, detached from our terminal and session."""
        argv = [
            sys.executable,
            "-m",
            "warroom",
            "record",
            "--config",
            str(self.config.path),
            "--operator",
            self.operator,
            "--auto",
            "--idle-exit",
            f"{AUTO_IDLE_EXIT:g}",
            *self.recorder_args,
        ]
        log.info("starting a recorder: %s", " ".join(argv))
        log_path = self.location.recorder_log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        return process


FLUSH_WAIT = 3.0


def flush(door: Door, recorder_running: bool, timeout: float = FLUSH_WAIT) -> bool:
    """Ask the room's recorder to write its latest figures now and wait until it did (an
    export then has the last second). False when nobody records or it did not answer in
    `timeout` seconds: the export goes on with what the room holds."""
    request = door.write(lambda s: s.request_flush()).result()
    deadline = time.monotonic() + timeout
    while recorder_running and time.monotonic() < deadline:
        if door.read(lambda s: s.flush_state()).result()[1] >= request:
            return True
        time.sleep(0.05)
    return False
