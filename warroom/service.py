"""`warroom record` and `warroom room`: the recorder as a long-running service, and its control.

`serve` takes the room's lease and records until it is told to stop. Without the lease it
stands by and takes over as soon as the lease is free (the kernel, or the PostgreSQL server,
frees it when the holder dies), so a standby recorder makes a dead recorder's absence last at
most STANDBY_POLL plus the time to restore; with `auto` (how dashboards start one) it exits
instead, so two dashboards starting a recorder at once leave one running. A recorder whose
PostgreSQL lease died with its connection (a network cut, `pg_terminate_backend`) stops
with exit status 3: another recorder may hold the room by then.

SIGTERM, SIGHUP and SIGINT stop it the normal way: the last tick and snapshot are written
before the lease is let go.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from warroom import format as fmt
from warroom.config import Config
from warroom.lease import Lease, LeaseWatch
from warroom.location import RoomLocation
from warroom.recorder import Recorder
from warroom.store import RoomStore, StoreUnavailable

log = logging.getLogger(__name__)

STANDBY_POLL = 0.5  # seconds between two tries of a standby recorder
LEASE_CHECK = 1.0  # seconds between two checks that a PostgreSQL lease's connection still lives
LEASE_LOST = "its connection to the database ended"
EXIT_LEASE_LOST = 3
IDLE_CHECK = 5.0
STOP_WAIT = 15.0


def serve(
    config: Config,
    operator: str,
    *,
    auto: bool = False,
    idle_exit: float | None = None,
    clock: Callable[[], float] = time.time,
    tick_interval: float = 1.0,
) -> int:
    """Record the room until stopped; 0 when stopped normally (or, with `auto`, when
    another recorder already holds the room)."""
    location = RoomLocation.of(config)
    lease = location.lease()
    stop = {"now": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["now"] = True

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    location.open_database().close()  # the room exists (created, migrated) before its lease is taken
    said = False
    while not lease.acquire(operator):
        if auto:
            log.info("%s already has a recorder; not starting another", location.label)
            return 0
        if not said:
            watch = location.watch()
            holder = watch.holder()
            watch.close()
            print(
                f"warroom record: standing by: {holder.who if holder else 'another recorder'} records "
                f"{location.label}; this one takes over when it stops",
                file=sys.stderr,
                flush=True,
            )
            said = True
        time.sleep(STANDBY_POLL)
        if stop["now"]:
            return 0
    try:
        recorder = Recorder(config, operator, clock=clock, tick_interval=tick_interval)
        recorder.open()
        took = recorder.taken_over_from
        print(
            f"warroom record: recording {location.label} as {recorder.session.who}"
            + (f" (took over from {', '.join(s.who for s in took)})" if took else ""),
            file=sys.stderr,
            flush=True,
        )
        lost = asyncio.run(_record(recorder, lease, stop, idle_exit))
    finally:
        lease.release()
    if lost:
        print(
            f"warroom record: lost the room's lease ({LEASE_LOST}); stopped so that two recorders never "
            "record it at once",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_LEASE_LOST
    print("warroom record: stopped", file=sys.stderr, flush=True)
    return 0


async def _record(recorder: Recorder, lease: Lease, stop: dict[str, bool], idle_exit: float | None) -> bool:
    """Run the recorder until stopped, idle or without its lease; True when the lease was lost."""
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(recorder.run())

    def request_stop() -> None:
        stop["now"] = True

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    idle_since = time.monotonic()
    next_lease_check = time.monotonic() + LEASE_CHECK
    lost = False
    while not stop["now"] and not task.done():
        await asyncio.sleep(0.2)
        if recorder.lease_lost is not None:
            lost = True
            break
        if time.monotonic() >= next_lease_check:
            next_lease_check = time.monotonic() + LEASE_CHECK
            if not await asyncio.to_thread(lease.alive):
                recorder.lease_lost = LEASE_LOST
                lost = True
                break
        if idle_exit is not None and time.monotonic() - idle_since >= IDLE_CHECK:
            if recorder.attendance():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= idle_exit:
                log.info("no dashboard for %.0f s: stopping", idle_exit)
                break
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return lost


def room_status(config: Config) -> str:
    """Who records the room, who is attached, how fresh its figures are."""
    location = RoomLocation.of(config)
    lines = [f"room: {location.label}"]
    watch = location.watch()
    try:
        holder = watch.holder()
        running = holder is not None or watch.running()
    except StoreUnavailable as error:
        return "\n".join(lines + [f"recorder: unknown ({error})"])
    finally:
        watch.close()
    if holder is not None:
        lines.append(f"recorder: {holder.who} (pid {holder.pid}) since {fmt.clock_time(holder.since)}")
    elif running:
        lines.append("recorder: starting")
    else:
        lines.append("recorder: none (start one with `warroom record`; a dashboard starts one by itself)")
    if not location.exists():
        return "\n".join(lines + ["no database yet"])
    now = time.time()
    with RoomStore(location.open_database()) as store:
        dashboards = store.sessions(role="dashboard", seen_since=now - 15)
        row = store.snapshot()
    lines.append("dashboards: " + (", ".join(f"{s.who} (pid {s.pid})" for s in dashboards) or "none"))
    if row is not None:
        lines.append(f"figures: published {fmt.ago(max(0.0, now - row[1]))} ago")
    return "\n".join(lines)


def stop_recorder(config: Config, wait: float = STOP_WAIT) -> tuple[str, bool]:
    """SIGTERM the room's recorder (on this host) and wait until it let the lease go."""
    location = RoomLocation.of(config)
    watch = location.watch()
    try:
        return _stop(watch, location.label, wait)
    except StoreUnavailable as error:
        return f"{location.label}: cannot tell who records it: {error}", False
    finally:
        watch.close()


def _stop(watch: LeaseWatch, label: str, wait: float) -> tuple[str, bool]:
    holder = watch.holder()
    if holder is None:
        return f"{label}: no recorder is running", True
    if holder.host != socket.gethostname():
        return f"the recorder runs on {holder.host} (pid {holder.pid}); stop it there", False
    try:
        os.kill(holder.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        return f"not allowed to stop pid {holder.pid} ({holder.who})", False
    deadline = time.monotonic() + wait
    while watch.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    if watch.running():
        return f"the recorder (pid {holder.pid}) did not stop within {wait:g} s", False
    return f"stopped the recorder {holder.who} (pid {holder.pid})", True
