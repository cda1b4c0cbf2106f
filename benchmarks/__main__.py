"""Every performance figure of warroom, each next to its baseline and its target.

    python -m benchmarks            # the full run, about 18 minutes on a shared 2-core machine
    python -m benchmarks --quick    # shorter windows and fewer records
    python -m benchmarks --only file,export,sweep
    python -m benchmarks --big      # export and the sweep at 1,000,000 log entries too

Prints one table (figure, settings, measured value, baseline, ratio, target, met) and writes
the same rows as JSON to benchmarks/results.json. Each baseline is measured in the same run,
next to its figure, and does the same work by the plainest means:

- file JSONL: a bare read + orjson.loads loop (the library the source parses with);
- file nginx: a bare read + the parser's regex + the same record dict;
- websocket: a bare websockets client + orjson, both clocks started at the first message;
- alerts: every distinct MetricsStore query the rules make, called directly;
- export: a bare sqlite3 read of the same rows written out with orjson, in a child process;
- ingest sweep: the same pipeline testing every filter on every record (no index);
- peers (lnav, goaccess): the same generated nginx log, CPU per line;
- screen: a bare Textual app on a pty of the same size, the refresh period for the lag;
- memory: the same process before any record (this row is the engine alone, no screen);
- room: commands written straight through the store, no door and no ledger; the door's
  watch interval under the time another process takes to hear of a commit.

Candidate libraries (msgspec, uvloop) are measured next to what warroom uses when they are
installed, and skipped otherwise. Throughput figures are the best of several runs (the
machine is shared); screen figures come from the app run as a child process on a real
pseudo-terminal (see benchmarks/screen.py).
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
GROUPS = ("file", "nginx", "ws", "screen", "memory", "startup", "alerts", "export", "sweep", "peers", "room")


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, shown for context
    settings: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or self.value != self.value:
            return None
        return self.value / self.baseline

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


@dataclass(frozen=True)
class Options:
    quick: bool = False
    big: bool = False  # export and the sweep at 1,000,000 log entries


def _num(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "-"
    if unit in ("records/s", "lines/s", "msgs/s", "B/s", "lines/CPU-s", "cmds/s"):
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


def run_file(opts: Options) -> list[Row]:
    from benchmarks import file_ingest

    records = 200_000 if opts.quick else 500_000
    r = file_ingest.measure(records, runs=2 if opts.quick else 3)
    value, orjson_rate, json_rate = r["pipeline_per_s"], r["orjson_per_s"], r["json_per_s"]
    settings = f"{records:,} records, 6 metrics"
    return [
        Row(
            "file jsonl: source + pipeline + metrics",
            value,
            "records/s",
            orjson_rate,
            "read + orjson.loads loop",
            ">= 200,000/s and >= 50% of a json.loads loop",
            value >= 200_000 and value >= 0.5 * json_rate,
            settings,
        ),
        Row(
            "  file jsonl: source only (emit counts)",
            r["source_per_s"],
            "records/s",
            orjson_rate,
            "read + orjson.loads loop",
            settings=settings,
        ),
        Row(
            "  read + json.loads loop",
            json_rate,
            "records/s",
            orjson_rate,
            "read + orjson.loads loop",
            settings=settings,
        ),
    ] + (
        [
            Row(
                "  candidate: read + msgspec.json decode loop",
                r["msgspec_per_s"],
                "records/s",
                orjson_rate,
                "read + orjson.loads loop",
                settings=settings,
            ),
        ]
        if "msgspec_per_s" in r
        else []
    )


def run_nginx(opts: Options) -> list[Row]:
    from benchmarks import nginx_ingest

    lines = 150_000 if opts.quick else 300_000
    r = nginx_ingest.measure(lines, runs=2 if opts.quick else 3)
    value, bare = r["pipeline_per_s"], r["regex_per_s"]
    settings = f"{lines:,} combined-format lines, 4 metrics"
    return [
        Row(
            "file nginx: source + pipeline + metrics",
            value,
            "lines/s",
            bare,
            "read + same regex + record dict",
            ">= 200,000/s",
            value >= 200_000,
            settings,
        ),
        Row(
            "  file nginx: source only (emit counts)",
            r["source_per_s"],
            "lines/s",
            bare,
            "read + same regex + record dict",
            settings=settings,
        ),
    ]


def run_ws(opts: Options) -> list[Row]:
    from benchmarks import ws_ingest

    quick = opts.quick
    messages, records = (100_000, 500_000) if quick else (200_000, 1_000_000)
    r = ws_ingest.measure(messages, records, runs=2 if quick else 3)
    single, batched = r["single_source_per_s"], r["batched_source_per_s"]
    bare = "bare client recv + orjson"
    one, framed = f"{messages:,} messages, clocks from the first", f"{records:,} records, clocks from the first"
    return [
        Row(
            "websocket: one record per message",
            single,
            "msgs/s",
            r["single_bare_per_s"],
            bare,
            ">= 50,000/s",
            single >= 50_000,
            one,
        ),
        Row(
            "  websocket: one per message, + pipeline",
            r["single_pipeline_per_s"],
            "msgs/s",
            r["single_bare_per_s"],
            bare,
            settings=one + ", 6 metrics",
        ),
        Row(
            "websocket: frames of 1,000 records",
            batched,
            "records/s",
            r["batched_bare_per_s"],
            bare,
            ">= 500,000/s",
            batched >= 500_000,
            framed,
        ),
        Row(
            "  websocket: batched, + pipeline",
            r["batched_pipeline_per_s"],
            "records/s",
            r["batched_bare_per_s"],
            bare,
            settings=framed + ", 6 metrics",
        ),
    ] + (
        [
            Row(
                "  candidate: one per message on uvloop",
                r["single_source_uvloop_per_s"],
                "msgs/s",
                single,
                "the same on asyncio",
                settings=one,
            ),
            Row(
                "  candidate: one per message + pipeline, uvloop",
                r["single_pipeline_uvloop_per_s"],
                "msgs/s",
                r["single_pipeline_per_s"],
                "the same on asyncio",
                settings=one + ", 6 metrics",
            ),
        ]
        if "single_source_uvloop_per_s" in r
        else []
    )


def run_screen(opts: Options) -> list[Row]:
    from benchmarks import screen

    window = 6.0 if opts.quick else 15.0
    rows: list[Row] = []
    for hz in (screen.DEFAULT_HZ, 2.0):  # the default first: that is the one with a target
        r = screen.lag(10_000, window, refresh_hz=hz)
        period = 1000 / hz
        target = "p99 <= 500 ms" if hz == screen.DEFAULT_HZ else ""
        met = r["p99_ms"] <= 500 if hz == screen.DEFAULT_HZ else None
        settings = f"120x40, jsonl file, default settings, {window:g} s"
        rows.append(
            Row(
                f"screen lag p99 at 10k rec/s, refresh {hz:g} Hz",
                r["p99_ms"],
                "ms",
                period,
                "refresh period",
                target,
                met,
                settings,
            )
        )
        rows.append(
            Row(f"  screen lag p50, refresh {hz:g} Hz", r["p50_ms"], "ms", period, "refresh period", settings=settings)
        )
        rows.append(Row(f"  CPU while ingesting 10k rec/s, {hz:g} Hz", r["cpu_pct"], "%", settings=settings))
    r = screen.idle(window)
    settings = f"no data, default settings, {window:g} s"
    rows.append(
        Row(
            "CPU, full dashboard idle (no data), 120x40",
            r["warroom_cpu_pct"],
            "%",
            r["floor_cpu_pct"],
            "bare Textual app, idle",
            "<= 1%",
            r["warroom_cpu_pct"] <= 1.0,
            settings,
        )
    )
    rows.append(
        Row(
            "  output, dashboard idle, 120x40",
            r["warroom_bytes_per_s"],
            "B/s",
            r["floor_bytes_per_s"],
            "bare Textual app, idle",
            settings=settings,
        )
    )
    for cols, lines, cpu_max, bytes_max in ((80, 24, 10.0, 50_000), (200, 50, 30.0, 250_000)):
        r = screen.demo(cols, lines, window)
        floor = f"Textual app, 1 line at {screen.DEFAULT_HZ:g} Hz"
        settings = f"default refresh, {window:g} s"
        rows.append(
            Row(
                f"CPU, demo --speed 30 at {cols}x{lines}",
                r["warroom_cpu_pct"],
                "%",
                r["floor_cpu_pct"],
                floor,
                f"<= {cpu_max:g}%",
                r["warroom_cpu_pct"] <= cpu_max,
                settings,
            )
        )
        rows.append(
            Row(
                f"output, demo --speed 30 at {cols}x{lines}",
                r["warroom_bytes_per_s"],
                "B/s",
                r["floor_bytes_per_s"],
                floor,
                f"<= {bytes_max // 1000} kB/s",
                r["warroom_bytes_per_s"] <= bytes_max,
                settings,
            )
        )
    return rows


def run_memory(opts: Options) -> list[Row]:
    from benchmarks import memory

    big = 3_000_000 if opts.quick else 10_000_000
    floor, first, last = memory.measure((1_000_000, big))
    settings = "engine only: file source, pipeline, metrics, no screen"
    rows = [
        Row(
            "RSS after 1,000,000 records, engine only",
            first["rss_mib"],
            "MiB",
            floor["rss_mib"],
            "same process, 0 records",
            "<= 150 MiB",
            first["rss_mib"] <= 150,
            settings,
        ),
        Row(
            f"RSS after {big:,} records, engine only",
            last["rss_mib"],
            "MiB",
            first["rss_mib"],
            "RSS after 1,000,000",
            "<= 150 MiB and flat (<= +5%)",
            last["rss_mib"] <= 150 and last["rss_mib"] <= first["rss_mib"] * 1.05,
            settings,
        ),
    ]
    rate = (last["records"] - first["records"]) / (last["seconds"] - first["seconds"])
    rows.append(Row("  engine ingest rate during the memory run", rate, "records/s", settings=settings))
    return rows


def run_startup(opts: Options) -> list[Row]:
    from benchmarks import screen

    runs = 2 if opts.quick else 3
    floor = screen.floor_startup(runs)
    empty = screen.startup(0, runs)["best_s"]
    full = screen.startup(100_000, runs)["best_s"]
    old = screen.startup(0, runs, metrics=100, launch_days_ago=330)
    settings = f"best of {runs}"
    return [
        Row(
            "start to first frame, empty room store",
            empty,
            "s",
            floor,
            "bare Textual app",
            "<= 1 s",
            empty <= 1.0,
            settings,
        ),
        Row(
            "start to first frame, 100,000 log entries",
            full,
            "s",
            floor,
            "bare Textual app",
            "<= 2 s",
            full <= 2.0,
            settings,
        ),
        Row(
            "start to first frame, launch 11 months ago, 100 metrics",
            old["best_s"],
            "s",
            floor,
            "bare Textual app",
            "<= 2 s",
            old["best_s"] <= 2.0,
            settings,
        ),
        Row(
            "  start to first figures, launch 11 months ago, 100 metrics",
            old["figures_best_s"],
            "s",
            floor,
            "bare Textual app",
            settings=settings + ", the recorder's first snapshot on screen",
        ),
    ]


def _alert_rows(r: dict, target: bool) -> list[Row]:
    settings = f"{r['rules']:,} rules over {r['metrics']} metrics, {r['ticks']} ticks"
    baseline = f"the {r['queries']} queries, direct"
    return [
        Row(
            f"{r['rules']:,} alert rules, mean per tick",
            r["engine_mean_s"] * 1e3,
            "ms",
            r["direct_mean_s"] * 1e3,
            baseline,
            "<= 10 ms" if target else "",
            r["engine_mean_s"] <= 0.010 if target else None,
            settings,
        ),
        Row(
            f"  {r['rules']:,} alert rules, p99 per tick",
            r["engine_p99_s"] * 1e3,
            "ms",
            r["direct_p99_s"] * 1e3,
            baseline,
            settings=settings,
        ),
    ]


def run_alerts(opts: Options) -> list[Row]:
    from benchmarks import alerts_eval

    (r,) = alerts_eval.measure(ticks=100 if opts.quick else 300, rule_counts=(200,))
    return _alert_rows(r, target=True)


def _export_rows(r: dict, target: bool) -> list[Row]:
    e, b = r["export"], r["bare"]
    n = r["entries"]
    settings = f"{n:,} log entries, {r['hours']:g} h of history, md+html+json, whole child process"
    baseline = "bare sqlite3 read + orjson lines"
    rss_target = n >= 1_000_000
    return [
        Row(f"export, {n:,} log entries: CPU", e["cpu_s"], "s", b["cpu_s"], baseline, settings=settings),
        Row(
            f"  export, {n:,} log entries: wall time", e["process_s"], "s", b["process_s"], baseline, settings=settings
        ),
        Row(
            f"  export, {n:,} log entries: peak RSS",
            e["peak_rss_mib"],
            "MiB",
            b["peak_rss_mib"],
            baseline,
            "<= 300 MiB" if target and rss_target else "",
            e["peak_rss_mib"] <= 300 if target and rss_target else None,
            settings,
        ),
    ]


_EXPORTS: dict[int, dict] = {}  # export figures by log size: the sweep reuses the export group's


def _exports(sizes: tuple[int, ...]) -> list[dict]:
    from benchmarks import export_bench

    missing = tuple(n for n in sizes if n not in _EXPORTS)
    for r in export_bench.measure(missing) if missing else ():
        _EXPORTS[r["entries"]] = r
    return [_EXPORTS[n] for n in sizes]


def run_export(opts: Options) -> list[Row]:
    rows: list[Row] = []
    for r in _exports((100_000, 1_000_000) if opts.big else (100_000,)):
        rows += _export_rows(r, target=True)
    return rows


def run_sweep(opts: Options) -> list[Row]:
    """The cost of size: metrics, rules and log entries without a screen, then the tab that
    shows the rules and the tickets on a real terminal (CPU per refresh, longest gap)."""
    from benchmarks import alerts_eval, ingest_sweep, screen

    rows: list[Row] = []
    for r in ingest_sweep.measure(
        (10, 100, 500), records=20_000 if opts.quick else 50_000, runs=2 if opts.quick else 3
    ):
        rows.append(
            Row(
                f"sweep: ingest, {r['metrics']} metrics",
                r["indexed_per_s"],
                "records/s",
                r["plain_per_s"],
                "every filter on every record",
                settings=f"{r['metrics'] - 3} filtered on kind (1 in {r['kinds']} matches) + 3 on all, "
                f"batches of {r['batch']:,}",
            )
        )
    for r in alerts_eval.measure(ticks=50 if opts.quick else 100, rule_counts=(10, 200, 1000)):
        rows += _alert_rows(r, target=False)[:1]
    for r in _exports((10_000, 1_000_000) if opts.big else (10_000,)):
        rows += _export_rows(r, target=False)
    window = 6.0 if opts.quick else 15.0
    points = screen.sweep(window, big=opts.big)
    for point in points:
        smallest = next(p for p in points if p["tab"] == point["tab"])
        what = screen.SWEEP_WHAT[point["tab"]]
        settings = f"120x40, {point['size']:,} {what}, clock 10x"
        rows.append(
            Row(
                f"sweep: screen, {point['size']:,} {what}: longest gap",
                point["longest_gap_s"],
                "s",
                point["refresh_period_s"],
                "refresh period",
                "<= 0.5 s",
                point["longest_gap_s"] <= 0.5,
                settings,
            )
        )
        rows.append(
            Row(
                "  CPU per refresh",
                point["cpu_ms_per_refresh"],
                "ms",
                smallest["cpu_ms_per_refresh"],
                f"the same at {smallest['size']:,}",
                settings=settings,
            )
        )
    for r in screen.metrics_sweep(window):
        settings = (
            f"120x40, Live tab, 10k rec/s into a jsonl file, {r['metrics']} more metrics (1 per kind), default settings"
        )
        rows.append(
            Row(
                f"sweep: screen, {r['metrics']} metrics at 10k rec/s: longest gap",
                r["longest_gap_s"],
                "s",
                1 / screen.DEFAULT_HZ,
                "refresh period",
                "<= 0.5 s",
                r["longest_gap_s"] <= 0.5,
                settings,
            )
        )
        period_ms = 1000 / screen.DEFAULT_HZ
        rows.append(Row("  record to screen p99", r["p99_ms"], "ms", period_ms, "refresh period", settings=settings))
        recorder = f"the recorder: {r['recorder_cpu_pct']:.1f}%"
        rows.append(Row("  CPU of the dashboard", r["cpu_pct"], "%", settings=recorder))
    return rows


def run_peers(opts: Options) -> list[Row]:
    from benchmarks import peers

    return peers.rows(Row, lines=500_000 if opts.quick else 2_000_000, runs=1 if opts.quick else 2)


def run_room(opts: Options) -> list[Row]:
    from benchmarks import room

    rows = []
    results = room.run(opts.quick)
    queue = results.pop("queue")
    base = queue["100"]
    for size, figures in queue.items():
        for name, label in (
            ("sweep_ms", "SLA sweep, nothing due"),
            ("figures_ms", "queue figures"),
            ("pressing_ms", "500 most pressing tickets"),
        ):
            rows.append(
                Row(
                    f"support queue, {int(size):,} open tickets: {label}",
                    figures[name],
                    "ms",
                    base[name],
                    "the same at 100 open tickets",
                    settings="SQLite room",
                )
            )
    for backend, r in results.items():
        settings = f"{backend} room, {r['commands']} commands"
        rows += [
            Row(
                f"room on {backend}: commands/s, each waited for",
                r["commands_per_s"],
                "cmds/s",
                r["direct_per_s"],
                "add_log direct, no door or ledger",
                settings=settings,
            ),
            Row(
                f"room on {backend}: commands/s, queued",
                r["queued_per_s"],
                "cmds/s",
                r["direct_per_s"],
                "add_log direct, no door or ledger",
                settings=settings,
            ),
            Row(
                f"room on {backend}: commit -> another process hears it, p50",
                r["heard_p50_ms"],
                "ms",
                r["watch_interval_ms"],
                "the door's watch interval",
                settings=settings,
            ),
            Row(
                f"room on {backend}: commit -> another process hears it, p99",
                r["heard_p99_ms"],
                "ms",
                r["watch_interval_ms"],
                "the door's watch interval",
                settings=settings,
            ),
            Row(
                f"room on {backend}: commit -> another dashboard's screen, p50",
                r["screen_p50_ms"],
                "ms",
                r["watch_interval_ms"],
                "the door's watch interval",
                settings=settings + ", Log tab, pty",
            ),
            Row(
                f"room on {backend}: commit -> another dashboard's screen, p99",
                r["screen_p99_ms"],
                "ms",
                r["watch_interval_ms"],
                "the door's watch interval",
                target="<= 1,000 ms",
                met=r["screen_p99_ms"] <= 1000,
                settings=settings + ", Log tab, pty",
            ),
        ]
    return rows


RUNNERS = {
    "file": run_file,
    "nginx": run_nginx,
    "ws": run_ws,
    "screen": run_screen,
    "memory": run_memory,
    "startup": run_startup,
    "alerts": run_alerts,
    "export": run_export,
    "sweep": run_sweep,
    "peers": run_peers,
    "room": run_room,
}


# --------------------------------------------------------------------------- output


def print_table(rows: list[Row]) -> None:
    header = ("figure", "settings", "measured", "baseline", "ratio", "target", "met")
    cells = []
    for row in rows:
        baseline = f"{_num(row.baseline, row.unit)} ({row.baseline_label})" if row.baseline is not None else ""
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        met = "" if row.met is None else ("yes" if row.met else "NO")
        cells.append((row.figure, row.settings, _num(row.value, row.unit), baseline, ratio, row.target, met))
    widths = [max(len(str(c[i])) for c in [header, *cells]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line.format(*c).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer records")
    parser.add_argument("--only", help="comma-separated groups: " + ",".join(GROUPS))
    parser.add_argument(
        "--big", action="store_true", help="export and the sweep at 1,000,000 log entries too (several minutes more)"
    )
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
        rows += RUNNERS[group](Options(quick=args.quick, big=args.big))
        timings[group] = round(time.perf_counter() - t0, 1)
    duration = time.perf_counter() - started

    print()
    print_table(rows)
    missed = [row.figure for row in rows if row.met is False]
    print()
    print(
        f"{sum(r.met is True for r in rows)} of {sum(r.met is not None for r in rows)} targets met"
        f"{'; missed: ' + '; '.join(missed) if missed else ''}"
    )
    print(
        f"run took {duration:.0f} s ({'quick' if args.quick else 'full'}); "
        + ", ".join(f"{g} {s:g} s" for g, s in timings.items())
    )
    Path(args.output).write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "quick": args.quick,
                "big": args.big,
                "seconds": round(duration, 1),
                "seconds_per_group": timings,
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count(),
                },
                "rows": [row.as_dict() for row in rows],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
