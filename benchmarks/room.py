"""The room on each backend: operators' commands per second, and change to another process.

    python -m benchmarks.room [--quick]

For a SQLite room (a file in a temporary directory) and, when PostgreSQL is installed, a
PostgreSQL room (a cluster of the benchmark's own, tests/pg.py):

- commands/s, one at a time: a door submits AddLogEntry commands and waits for each commit
  (what an operator's key costs, ledger included); baseline: the same entries written with
  `RoomStore.add_log` directly, one transaction each, no door and no ledger;
- commands/s, queued: all submitted at once, written in order by the door's writer;
- change heard elsewhere: another process's door (a child process watching the same room)
  is told of each committed command; p50/p99 from commit to that process hearing it, whose
  floor is the door's watch interval;
- the support queue at 100, 10,000 and 50,000 open tickets: one SLA sweep with nothing
  due, the queue's figures, and the 500 most pressing tickets, each in milliseconds, against
  the same at 100 tickets (what does not grow with the queue stays near 1x);
- change to screen: a dashboard (`warroom --no-recorder`, on its Log tab, on a real
  pseudo-terminal) attached to the room; p50/p99 from the commit of a log entry to the first
  bytes of the entry's text in the dashboard's output.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from warroom.commands import AddLogEntry
from warroom.door import WATCH_INTERVAL, Door
from warroom.location import RoomLocation
from warroom.store import RoomStore

LISTENER = """
import sys, time
from warroom.door import Door
from warroom.location import RoomLocation

where = sys.argv[1]
location = RoomLocation.parse(where)
first = [True]

def changed(topics, store):
    if first[0]:  # the first look reports every topic
        first[0] = False
        print("ready", flush=True)
    elif "log" in topics:
        print(f"{time.time():.6f}", flush=True)

door = Door(location, on_change=changed)
door.open()
sys.stdin.read()
door.close()
"""


def _commands(location: RoomLocation, count: int, queued: bool) -> float:
    door = Door(location)
    door.open()
    try:
        started = time.perf_counter()
        if queued:
            futures = [
                door.submit(AddLogEntry(operator="bench", log_kind="note", severity="info", text=f"n{n}"))
                for n in range(count)
            ]
            for future in futures:
                future.result()
        else:
            for n in range(count):
                door.submit(AddLogEntry(operator="bench", log_kind="note", severity="info", text=f"n{n}")).result()
        return count / (time.perf_counter() - started)
    finally:
        door.close()


def _direct(location: RoomLocation, count: int) -> float:
    with RoomStore(location.open_database()) as store:
        started = time.perf_counter()
        for n in range(count):
            store.add_log("note", "info", f"d{n}", "bench")
        return count / (time.perf_counter() - started)


def _heard(location: RoomLocation, where: str, count: int) -> list[float]:
    """Seconds from each commit to a listener in another process hearing it."""
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER, where], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert listener.stdout is not None and listener.stdin is not None
        while listener.stdout.readline().strip() != "ready":
            pass
        door = Door(location)
        door.open()
        delays = []
        try:
            for n in range(count):
                door.submit(AddLogEntry(operator="bench", log_kind="note", severity="info", text=f"h{n}")).result()
                committed = time.time()
                delays.append(float(listener.stdout.readline()) - committed)
                time.sleep(0.05)
        finally:
            door.close()
        return delays
    finally:
        if listener.stdin is not None:
            listener.stdin.close()
        listener.wait(15)


def _on_screen(location: RoomLocation, directory: Path, count: int) -> list[float]:
    """Seconds from each commit to the entry's text in a dashboard's output."""
    from benchmarks.pty_harness import Terminal, warroom_argv

    config = directory / ("screen-pg.toml" if location.url else "screen-sqlite.toml")
    room = f'url = "{location.url}"\nname = "{location.name}"\n' if location.url else f'db = "{location.db_path}"\n'
    config.write_text(f'[launch]\nname = "Bench"\n\n[room]\n{room}')
    term = Terminal.spawn(
        warroom_argv("--config", str(config), "--no-recorder", "--operator", "watcher"),
        120,
        40,
        cwd=directory,
        env={"XDG_STATE_HOME": str(directory)},
    )
    door = Door(location)
    door.open()
    try:
        if term.wait_for("WARROOM", 30) is None:
            raise RuntimeError("the dashboard drew no first frame")
        term.send("5")  # the Log tab
        time.sleep(1.0)
        delays = []
        for n in range(count):
            text = f"entry-{n:04d}-on-screen"
            door.submit(AddLogEntry(operator="bench", log_kind="note", severity="info", text=text)).result()
            committed = time.perf_counter()
            shown = term.wait_for(text, 10)
            if shown is None:
                raise RuntimeError(f"{text} never reached the screen")
            delays.append(shown - committed)
            time.sleep(0.1)
        return delays
    finally:
        door.close()
        term.stop()


def _percentiles(delays: list[float]) -> tuple[float, float]:
    ordered = sorted(delays)
    return 1e3 * statistics.median(delays), 1e3 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(location: RoomLocation, where: str, quick: bool, directory: Path) -> dict[str, Any]:
    count = 200 if quick else 1000
    RoomStore(location.open_database()).close()  # created and migrated before the clock starts
    delays = _heard(location, where, 50 if quick else 200)
    screen_p50, screen_p99 = _percentiles(_on_screen(location, directory, 20 if quick else 60))
    ordered = sorted(delays)
    return {
        "screen_p50_ms": screen_p50,
        "screen_p99_ms": screen_p99,
        "commands_per_s": _commands(location, count, queued=False),
        "queued_per_s": _commands(location, count, queued=True),
        "direct_per_s": _direct(location, count),
        "heard_p50_ms": 1e3 * statistics.median(delays),
        "heard_p99_ms": 1e3 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "watch_interval_ms": 1e3 * WATCH_INTERVAL,
        "commands": count,
    }


def queue_sizes(directory: Path, sizes: tuple[int, ...] = (100, 10_000, 50_000)) -> dict[int, dict[str, float]]:
    """Milliseconds per sweep, figures and pressing-tickets read, by open tickets (SQLite)."""
    from warroom.config import SlaConfig
    from warroom.tickets import validate_ticket_record

    sla = {
        "urgent": SlaConfig(respond=900, resolve=7200),
        "high": SlaConfig(respond=1800, resolve=14400),
        "normal": SlaConfig(respond=7200, resolve=86400),
        "low": SlaConfig(respond=28800, resolve=259200),
    }
    now = time.time()
    results = {}
    for size in sizes:
        with RoomStore(directory / f"queue-{size}.db") as store:
            store.configure_sla(sla)
            records = [
                validate_ticket_record(
                    {
                        "id": f"T{n}",
                        "subject": "reward not received",
                        "priority": ("urgent", "high", "normal", "low")[n % 4],
                        "opened_at": now - 60,
                    }
                )
                for n in range(size)
            ]
            for start in range(0, size, 5000):
                store.upsert_tickets(records[start : start + 5000], "desk", now)
            store.check_sla(now, sla)
            timings = {}
            for name, job in (
                ("sweep_ms", lambda: store.check_sla(now, sla)),
                ("figures_ms", store.ticket_metrics),
                ("pressing_ms", lambda: store.pressing_tickets(now, 500)),
            ):
                runs = []
                for _ in range(5):
                    started = time.perf_counter()
                    job()
                    runs.append(1e3 * (time.perf_counter() - started))
                timings[name] = min(runs)
            results[size] = timings
    return results


def backends(directory: Path) -> list[tuple[str, RoomLocation, str, Any]]:
    """(name, location, its command-line form, a cluster to close) for each backend here."""
    sqlite = directory / "room.db"
    out: list[tuple[str, RoomLocation, str, Any]] = [("sqlite", RoomLocation(db_path=sqlite), str(sqlite), None)]
    try:
        from tests.pg import Cluster

        cluster = Cluster()
    except (FileNotFoundError, RuntimeError, ImportError) as error:
        print(f"room benchmark: PostgreSQL skipped: {error}")
        return out
    where = f"{cluster.url()}#bench"
    out.append(("postgresql", RoomLocation.parse(where), where, cluster))
    return out


def run(quick: bool = False) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="warroom-bench-room-") as tmp:
        results["queue"] = {
            str(k): v for k, v in queue_sizes(Path(tmp), (100, 10_000) if quick else (100, 10_000, 50_000)).items()
        }
        for name, location, where, cluster in backends(Path(tmp)):
            try:
                results[name] = measure(location, where, quick, Path(tmp))
            finally:
                if cluster is not None:
                    cluster.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    for name, figures in run(args.quick).items():
        print(name, figures)


if __name__ == "__main__":
    main()
