"""Every performance figure of warroom, each next to its baseline and its target.

    python -m benchmarks            # the full run, about 4 minutes on 2 cores
    python -m benchmarks --quick    # shorter windows and fewer records, about 2 minutes
    python -m benchmarks --only file,screen

Prints one table (figure, measured value, baseline, ratio, target, met) and writes the same
rows as JSON to benchmarks/results.json. Each baseline is measured in the same run, next to
its figure: a bare read + json.loads loop for the file source, a bare websockets client for
the websocket source, a bare Textual app on a pty of the same size for CPU, bytes and
start-up, the refresh period for the screen lag, the process before any record for memory,
direct MetricsStore calls for the alert rules. Candidate libraries (msgspec, uvloop) are
measured next to what warroom uses when they are installed, and skipped otherwise. Throughput figures are the best of several
runs (the machine is shared); screen figures come from the app run as a child process on
a real pseudo-terminal (see benchmarks/screen.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")
GROUPS = ("file", "nginx", "ws", "screen", "memory", "startup", "alerts")


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, shown for context

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def _num(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "-"
    if unit in ("records/s", "lines/s", "msgs/s", "B/s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:g} {unit}"


# --------------------------------------------------------------------------- groups


def run_file(quick: bool) -> list[Row]:
    from benchmarks import file_ingest

    r = file_ingest.measure(200_000 if quick else 500_000, runs=2 if quick else 3)
    value, json_rate = r["pipeline_per_s"], r["json_per_s"]
    return [
        Row("file jsonl: source + pipeline + metrics", value, "records/s", json_rate,
            "read + json.loads loop", ">= 50% of baseline and >= 200,000/s",
            value >= 0.5 * json_rate and value >= 200_000),
        Row("  file jsonl: source only (emit counts)", r["source_per_s"], "records/s", r["orjson_per_s"],
            "read + orjson.loads loop"),
    ] + ([
        Row("  candidate: read + msgspec.json decode loop", r["msgspec_per_s"], "records/s",
            r["orjson_per_s"], "read + orjson.loads loop"),
    ] if "msgspec_per_s" in r else [])


def run_nginx(quick: bool) -> list[Row]:
    from benchmarks import nginx_ingest

    r = nginx_ingest.measure(150_000 if quick else 300_000, runs=2 if quick else 3)
    value = r["pipeline_per_s"]
    return [
        Row("file nginx: source + pipeline + metrics", value, "lines/s", r["regex_per_s"],
            "read + decode + regex match", ">= 200,000/s", value >= 200_000),
        Row("  file nginx: source only (emit counts)", r["source_per_s"], "lines/s", r["regex_per_s"],
            "read + decode + regex match"),
    ]


def run_ws(quick: bool) -> list[Row]:
    from benchmarks import ws_ingest

    r = ws_ingest.measure(100_000 if quick else 200_000, 500_000 if quick else 1_000_000,
                          runs=2 if quick else 3)
    single, batched = r["single_source_per_s"], r["batched_source_per_s"]
    return [
        Row("websocket: one record per message", single, "msgs/s", r["single_bare_per_s"],
            "bare client recv + orjson", ">= 50,000/s", single >= 50_000),
        Row("  websocket: one per message, + pipeline", r["single_pipeline_per_s"], "msgs/s",
            r["single_bare_per_s"], "bare client recv + orjson"),
        Row("websocket: frames of 1,000 records", batched, "records/s", r["batched_bare_per_s"],
            "bare client recv + orjson", ">= 500,000/s", batched >= 500_000),
        Row("  websocket: batched, + pipeline", r["batched_pipeline_per_s"], "records/s",
            r["batched_bare_per_s"], "bare client recv + orjson"),
    ] + ([
        Row("  candidate: one per message on uvloop", r["single_source_uvloop_per_s"], "msgs/s",
            single, "the same on asyncio"),
        Row("  candidate: one per message + pipeline, uvloop", r["single_pipeline_uvloop_per_s"], "msgs/s",
            r["single_pipeline_per_s"], "the same on asyncio"),
    ] if "single_source_uvloop_per_s" in r else [])


def run_screen(quick: bool) -> list[Row]:
    from benchmarks import screen

    window = 6.0 if quick else 15.0
    rows: list[Row] = []
    for hz in (screen.DEFAULT_HZ, 2.0):  # the default first: that is the one with a target
        r = screen.lag(10_000, window, refresh_hz=hz)
        period = 1000 / hz
        target = "p99 <= 500 ms" if hz == screen.DEFAULT_HZ else ""
        met = r["p99_ms"] <= 500 if hz == screen.DEFAULT_HZ else None
        rows.append(Row(f"screen lag p99 at 10k rec/s, refresh {hz:g} Hz", r["p99_ms"], "ms", period,
                        "refresh period", target, met))
        rows.append(Row(f"  screen lag p50, refresh {hz:g} Hz", r["p50_ms"], "ms", period, "refresh period"))
        rows.append(Row(f"  CPU while ingesting 10k rec/s, {hz:g} Hz", r["cpu_pct"], "%"))
    r = screen.idle(window)
    rows.append(Row("CPU, full dashboard idle (no data), 120x40", r["warroom_cpu_pct"], "%",
                    r["floor_cpu_pct"], "bare Textual app, idle", "<= 1%", r["warroom_cpu_pct"] <= 1.0))
    rows.append(Row("  output, dashboard idle, 120x40", r["warroom_bytes_per_s"], "B/s",
                    r["floor_bytes_per_s"], "bare Textual app, idle"))
    for cols, lines, cpu_max, bytes_max in ((80, 24, 10.0, 50_000), (200, 50, 30.0, 250_000)):
        r = screen.demo(cols, lines, window)
        floor = f"Textual app, 1 line at {screen.DEFAULT_HZ:g} Hz"
        rows.append(Row(f"CPU, demo --speed 30 at {cols}x{lines}", r["warroom_cpu_pct"], "%",
                        r["floor_cpu_pct"], floor, f"<= {cpu_max:g}%", r["warroom_cpu_pct"] <= cpu_max))
        rows.append(Row(f"output, demo --speed 30 at {cols}x{lines}", r["warroom_bytes_per_s"], "B/s",
                        r["floor_bytes_per_s"], floor, f"<= {bytes_max // 1000} kB/s",
                        r["warroom_bytes_per_s"] <= bytes_max))
    return rows


def run_memory(quick: bool) -> list[Row]:
    from benchmarks import memory

    big = 3_000_000 if quick else 10_000_000
    floor, first, last = memory.measure((1_000_000, big))
    rows = [
        Row("RSS after 1,000,000 records", first["rss_mib"], "MiB", floor["rss_mib"],
            "same process, 0 records", "<= 150 MiB", first["rss_mib"] <= 150),
        Row(f"RSS after {big:,} records", last["rss_mib"], "MiB", first["rss_mib"],
            "RSS after 1,000,000", "<= 150 MiB and flat (<= +5%)",
            last["rss_mib"] <= 150 and last["rss_mib"] <= first["rss_mib"] * 1.05),
    ]
    rate = (last["records"] - first["records"]) / (last["seconds"] - first["seconds"])
    rows.append(Row("  engine ingest rate during the memory run", rate, "records/s"))
    return rows


def run_startup(quick: bool) -> list[Row]:
    from benchmarks import screen

    runs = 2 if quick else 3
    floor = screen.floor_startup(runs)
    empty = screen.startup(0, runs)["best_s"]
    full = screen.startup(100_000, runs)["best_s"]
    return [
        Row("start to first frame, empty room store", empty, "s", floor, "bare Textual app",
            "<= 1 s", empty <= 1.0),
        Row("start to first frame, 100,000 log entries", full, "s", floor, "bare Textual app",
            "<= 2 s", full <= 2.0),
    ]


def run_alerts(quick: bool) -> list[Row]:
    from benchmarks import alerts_eval

    r = alerts_eval.measure(ticks=100 if quick else 300)
    return [
        Row("200 alert rules over 50 metrics, mean per tick", r["engine_mean_s"] * 1e3, "ms",
            r["direct_mean_s"] * 1e3, "200 direct MetricsStore calls", "<= 10 ms",
            r["engine_mean_s"] <= 0.010),
        Row("  200 alert rules, p99 per tick", r["engine_p99_s"] * 1e3, "ms", r["direct_p99_s"] * 1e3,
            "200 direct MetricsStore calls"),
    ]


RUNNERS = {"file": run_file, "nginx": run_nginx, "ws": run_ws, "screen": run_screen,
           "memory": run_memory, "startup": run_startup, "alerts": run_alerts}


# --------------------------------------------------------------------------- output


def print_table(rows: list[Row]) -> None:
    header = ("figure", "measured", "baseline", "ratio", "target", "met")
    cells = []
    for row in rows:
        baseline = f"{_num(row.baseline, row.unit)} ({row.baseline_label})" if row.baseline is not None else ""
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        met = "" if row.met is None else ("yes" if row.met else "NO")
        cells.append((row.figure, _num(row.value, row.unit), baseline, ratio, row.target, met))
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line.format(*c).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer records")
    parser.add_argument("--only", help="comma-separated groups: " + ",".join(GROUPS))
    parser.add_argument("--output", default=str(RESULTS), help="JSON file (default: %(default)s)")
    args = parser.parse_args(argv)
    groups = args.only.split(",") if args.only else list(GROUPS)
    unknown = set(groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown group {sorted(unknown)[0]!r}; use {', '.join(GROUPS)}")

    started = time.perf_counter()
    rows: list[Row] = []
    timings = {}
    for group in groups:
        t0 = time.perf_counter()
        print(f"[{group}] ...", file=sys.stderr, flush=True)
        rows += RUNNERS[group](args.quick)
        timings[group] = round(time.perf_counter() - t0, 1)
    duration = time.perf_counter() - started

    print()
    print_table(rows)
    missed = [row.figure for row in rows if row.met is False]
    print()
    print(f"{sum(r.met is True for r in rows)} of {sum(r.met is not None for r in rows)} targets met"
          f"{'; missed: ' + '; '.join(missed) if missed else ''}")
    print(f"run took {duration:.0f} s ({'quick' if args.quick else 'full'}); "
          + ", ".join(f"{g} {s:g} s" for g, s in timings.items()))
    Path(args.output).write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "seconds": round(duration, 1),
        "seconds_per_group": timings,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count()},
        "rows": [row.as_dict() for row in rows],
    }, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
