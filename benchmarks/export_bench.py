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
        store.sync_checklist([ChecklistPhaseConfig(name="Run of show", items=[
            ChecklistItemConfig(title=f"step {i}", owner="ops", due=f"T+{i}h") for i in range(6)])])
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
            ticket = store.create_ticket(f"ticket {k}", "Elif Demir", category=("rewards", "page", "payment")[k % 3],
                                         priority=("urgent", "high", "normal")[k % 3], at=T0 + k * span / 40)
            if k % 2 == 0:
                store.solve(ticket.id, "Elif Demir", at=ticket.opened_at + 900)
        existing = store.count_log()
        kinds = [k for k in LOG_KINDS if k != "launch"]
        logs = [{"kind": kinds[i % len(kinds)], "severity": ("info", "warning", "critical")[i % 3],
                 "text": f"entry {i}: something happened <{i}> #{i}", "author": "Maya Chen",
                 "ts": T0 + (i + 0.5) * span / max(1, entries - existing),
                 "owner": "Sam Okafor" if i % len(kinds) == kinds.index("action") else None,
                 "starred": i % 10 == 0} for i in range(entries - existing)]
        for i in range(0, len(logs), 2000):
            store.add_logs(logs[i:i + 2000])
        return {"log": store.count_log(), "points": points, "metrics": len(store.metric_names()),
                "steps": steps + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "room.db"
        began = time.perf_counter()
        counts = build_big_store(db, args.entries, args.hours)
        print(f"store: {counts['log']} log entries, {counts['points']} metric points "
              f"({counts['metrics']} metrics), built in {time.perf_counter() - began:.1f} s")
        for formats in [(fmt,) for fmt in FORMATS] + [FORMATS]:
            best = math.inf
            for _ in range(args.repeat):
                began = time.perf_counter()
                paths = export_room(db, Path(tmp) / "out", formats=formats, targets=TARGETS)
                best = min(best, time.perf_counter() - began)
            size = sum(p.stat().st_size for p in paths)
            print(f"{'+'.join(formats):>13}: {best:6.3f} s best of {args.repeat}  ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
