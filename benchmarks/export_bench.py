"""What a retrospective export costs for a long launch: 10,000 log entries, 24 h of history.

    python -m benchmarks.export_bench [--entries N] [--hours H] [--repeat R]

Builds a room store once (in a temporary directory): 12 metrics with one point every 10 s
for H hours (8 running totals, 2 gauges, 2 ratios: ~104k rows for 24 h, written with
write_metric_points in batches), N log entries of every kind spread over the launch (every
tenth starred), alert episodes, tickets and a checklist. Then it times `export_room` for each
format alone (best of R, store read included) and for all three together, and prints seconds.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path

from warroom.config import ChecklistItemConfig, ChecklistPhaseConfig
from warroom.export import FORMATS, export_room
from warroom.store import LOG_KINDS, RoomStore

T0 = 1_800_000_000.0
STEP = 10.0
TOTALS = ["visits", "requests", "errors", "sessions", "bounces", "registrations", "orders", "revenue"]
GAUGES = ["participants", "latency_ms"]
RATIOS = ["bounce_rate", "conversion"]
TARGETS = [("visits", 200_000, "visits"), ("orders", 9_000, "orders"), ("revenue", 400_000, "revenue")]


def build_big_store(path: Path, entries: int = 10_000, hours: float = 24.0, seed: int = 7) -> dict[str, int]:
    """Fill a room store at `path`; returns the counts written (for tests to check)."""
    rng = random.Random(seed)
    span = hours * 3600
    steps = int(span / STEP)
    points = 0
    with RoomStore(path, clock=lambda: T0) as store:
        store.configure_launch("Big Day", T0)
        for name in ("Maya Chen", "Jonas Weber", "Elif Demir"):
            store.register_operator(name)
        store.sync_checklist(
            [
                ChecklistPhaseConfig(
                    name="Run of show",
                    items=[ChecklistItemConfig(title=f"step {i}", owner="ops", due=f"T+{i}h") for i in range(6)],
                )
            ]
        )
        for item in store.checklist()[:4]:
            store.toggle_item(item.id, "Maya Chen", at=T0 + item.position * 3600 + 120)
        totals = dict.fromkeys(TOTALS, 0.0)
        batch: list[tuple[float, str, float]] = []
        for n in range(steps + 1):
            ts = T0 + n * STEP
            wave = 1.0 + math.sin(n / 500.0) ** 2
            for name in TOTALS:
                totals[name] += rng.randint(0, int(10 * wave))
                batch.append((ts, name, totals[name]))
            batch.append((ts, "participants", totals["sessions"] * 0.6))
            batch.append((ts, "latency_ms", 120 + 80 * wave + rng.random() * 30))
            batch.append((ts, "bounce_rate", totals["bounces"] / max(1.0, totals["sessions"])))
            batch.append((ts, "conversion", totals["orders"] / max(1.0, totals["visits"])))
            if len(batch) >= 12_000:
                points += store.write_metric_points(batch)
                batch = []
        if batch:
            points += store.write_metric_points(batch)
        for k in range(12):  # alert episodes spread over the day
            at = T0 + (k + 0.5) * span / 12
            rule = f"rule_{k % 4}"
            store.record_alert_event(at, rule, "pending", "warning", 1.0)
            store.record_alert_event(at + 30, rule, "firing", "warning", 2.0)
            store.record_alert_event(at + 95, rule, "acked", "warning", operator="Jonas Weber", note="on it")
            store.record_alert_event(at + 600, rule, "resolved", "warning", 0.5)
        for k in range(40):
            ticket = store.create_ticket(
                f"ticket {k}",
                "Elif Demir",
                category=("rewards", "page", "payment")[k % 3],
                priority=("urgent", "high", "normal")[k % 3],
                at=T0 + k * span / 40,
            )
            if k % 2 == 0:
                store.solve(ticket.id, "Elif Demir", at=ticket.opened_at + 900)
        existing = store.count_log()
        kinds = [k for k in LOG_KINDS if k != "launch"]
        logs = [
            {
                "kind": kinds[i % len(kinds)],
                "severity": ("info", "warning", "critical")[i % 3],
                "text": f"entry {i}: something happened <{i}> #{i}",
                "author": "Maya Chen",
                "ts": T0 + (i + 0.5) * span / max(1, entries - existing),
                "owner": "Sam Okafor" if i % len(kinds) == kinds.index("action") else None,
                "starred": i % 10 == 0,
            }
            for i in range(entries - existing)
        ]
        for i in range(0, len(logs), 2000):
            store.add_logs(logs[i : i + 2000])
        return {"log": store.count_log(), "points": points, "metrics": len(store.metric_names()), "steps": steps + 1}


def bare_read(db: Path, out: Path) -> int:
    """The baseline: every log row and metric point read with a bare sqlite3 cursor and
    written out as one orjson line each: the least any export of the room has to do."""
    import sqlite3

    import orjson

    rows = 0
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        with open(out, "wb") as f:
            for table, order in (("log", "ts, id"), ("metric_points", "metric, ts")):
                cursor = connection.execute(f"SELECT * FROM {table} ORDER BY {order}")
                while batch := cursor.fetchmany(1000):
                    f.write(b"".join(orjson.dumps(row) + b"\n" for row in batch))
                    rows += len(batch)
    finally:
        connection.close()
    return rows


def _child(db: str, out: str, formats: str, full_timeline: bool) -> dict:
    """Run in a fresh process: one export (or the bare read), then its own peak RSS."""
    import resource

    began = time.perf_counter()
    if formats == "bare":
        bare_read(Path(db), Path(out) / "rows.jsonl")
    else:
        options = {"full_timeline": True} if full_timeline else {}
        export_room(db, out, formats=formats.split(","), targets=TARGETS, **options)
    wall = time.perf_counter() - began
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": wall, "peak_rss_mib": peak / 1024, "maxrss_mib": usage.ru_maxrss / 1024}


def run_child(db: Path, out: Path, formats: str, full_timeline: bool = False) -> dict:
    """One export in a child process: wall time, CPU (user + system) and peak RSS."""
    import json
    import os
    import resource
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.export_bench",
            "--child",
            str(db),
            str(out),
            formats,
            "full" if full_timeline else "default",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["process_s"] = elapsed
    result["bytes"] = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    return result


def measure(
    sizes: tuple[int, ...] = (100_000,), full_timeline: bool = False, hours: float = 24.0, workdir: Path | None = None
) -> list[dict]:
    """For each size: build a room, then the bare read and the export of all three formats,
    each in its own child process. Rooms are kept in `workdir` when given (built once)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="warroom-bench-export-") as tmp:
        base = Path(workdir) if workdir else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        for entries in sizes:
            db = base / f"room-{entries}-{hours:g}h.db"
            if not db.exists():
                partial = db.with_suffix(".building")
                build_big_store(partial, entries, hours)
                partial.rename(db)
            bare = run_child(db, Path(tmp) / f"bare-{entries}", "bare")
            export = run_child(db, Path(tmp) / f"export-{entries}", ",".join(FORMATS), full_timeline)
            out.append(
                {"entries": entries, "hours": hours, "full_timeline": full_timeline, "bare": bare, "export": export}
            )
    return out


def main(argv: list[str] | None = None) -> None:
    import json
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--entries",
        default="10000,100000",
        help="comma-separated log sizes (default %(default)s; 1000000 takes minutes)",
    )
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--full-timeline", action="store_true", help="list every entry in md and html")
    parser.add_argument("--keep", help="directory to keep the built rooms in, reused next time")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        db, out, formats, mode = args.child
        print(json.dumps(_child(db, out, formats, mode == "full")))
        return
    sizes = tuple(int(n) for n in args.entries.split(","))
    keep = Path(args.keep) if args.keep else None
    for r in measure(sizes, args.full_timeline, args.hours, keep):
        b, e = r["bare"], r["export"]
        print(
            f"{r['entries']:>9,} log entries, {r['hours']:g} h of history"
            f"{' (full timeline)' if r['full_timeline'] else ''}:",
            file=sys.stdout,
        )
        print(
            f"  export md+html+json: {e['wall_s']:7.2f} s, CPU {e['cpu_s']:6.2f} s, "
            f"peak RSS {e['peak_rss_mib']:7.1f} MiB, {e['bytes'] / 1e6:6.1f} MB written"
        )
        print(
            f"  bare read + orjson:  {b['wall_s']:7.2f} s, CPU {b['cpu_s']:6.2f} s, "
            f"peak RSS {b['peak_rss_mib']:7.1f} MiB, {b['bytes'] / 1e6:6.1f} MB written"
        )
        print(f"  ratio CPU {e['cpu_s'] / b['cpu_s']:.1f}x, peak RSS {e['peak_rss_mib'] / b['peak_rss_mib']:.1f}x")


if __name__ == "__main__":
    main()
