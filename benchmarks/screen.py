"""What the dashboard costs on a real terminal: CPU, bytes, lag to the screen, start-up.

    python -m benchmarks.screen [--quick]

Every figure here runs `python -m warroom` as a child process on a pseudo-terminal
(`benchmarks.pty_harness`): the window size is set before the child starts, every byte it
writes is read and counted, CPU is the child's utime + stime from /proc. The dashboard starts
the room's recorder as a process of its own, as it does for an operator; its CPU is read from
/proc the same way and reported beside the dashboard's, and it is stopped after each run.

- idle: the full dashboard on a config with a file source that never receives a line, at the
  default settings;
- demo: `warroom demo --speed 30` at 80x24 and at 200x50, CPU and bytes/s;
- lag: a jsonl file source at the default settings, a writer appending 10,000 records/s,
  each carrying its sequence number in a gauge shown on the traffic panel (unit "ms", so it
  is printed in full: "12,345 ms"). The path is the whole room: file -> recorder -> snapshot
  in the room database -> the attached dashboard -> its terminal. The output stream is
  searched for those numbers; a record has reached the screen when a frame shows its number
  or a later one. Reported: p50 and p99 over every record written in the window (and, for
  comparison, over the records whose own number was shown);
- start-up: spawn to the first bytes containing "WARROOM", with an empty room store and
  with one holding 100,000 incident log entries; best of three;
- sweep: the cost of size on the tab that shows it: the Alerts tab with 10, 200 and 1,000
  rules all firing (a gauge they read changes ten times a second, so every alert's value
  changes), the Support tab with 100, 10,000 and 50,000 open tickets. The dashboard runs on
  a simulated clock ten times real time, so its header clock changes at every refresh: a
  healthy screen writes a frame every refresh period, and the longest gap between two
  frames is how long the screen stood still. Reported per size: the dashboard's CPU per
  refresh (ms) and % of a core, the longest gap, bytes/s, and the recorder's CPU apart.
"""

from __future__ import annotations

import argparse
import bisect
import codecs
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.pty_harness import Terminal, strip_ansi, warroom_argv
from warroom.config import UiConfig

MARKER = re.compile(r"(?<![\d,.])(\d{1,3}(?:,\d{3})*) ms\b")


DEFAULT_HZ = UiConfig().refresh_hz  # what an operator gets without setting ui.refresh_hz


def write_config(directory: Path, log_path: Path, refresh_hz: float = DEFAULT_HZ, db: Path | None = None) -> Path:
    """A small real config: one jsonl file source, a counter, and the marker gauge."""
    db = db or directory / "room.db"
    text = f"""
[launch]
name = "Bench"

[room]
db = "{db}"

[ui]
refresh_hz = {refresh_hz}

[[sources]]
name = "feed"
kind = "file"
path = "{log_path}"
format = "jsonl"
stale_after = "1h"

[[metrics]]
name = "events"
source = "feed"

[[metrics]]
name = "marker"
label = "last seq"
kind = "last"
field = "seq"
unit = "ms"

[panels.traffic]
metrics = ["events", "marker"]
chart = "events"
"""
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# --------------------------------------------------------------------------- CPU and bytes


def recorder_pid(db: Path, timeout: float = 20.0) -> int | None:
    """The pid of the room's recorder, once one holds the room."""
    from warroom.lease import FlockWatch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = FlockWatch(db).holder()
        if holder is not None:
            return holder.pid
        time.sleep(0.05)
    return None


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_recorder(db: Path) -> None:
    """What `warroom room stop` does: SIGTERM the holder, wait for the lease to be free."""
    import signal

    from warroom.lease import FlockWatch

    watch = FlockWatch(db)
    holder = watch.holder()
    if holder is None:
        return
    try:
        os.kill(holder.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while watch.running() and time.monotonic() < deadline:
        time.sleep(0.05)


def _side_by_side(
    argv: list[str], floor_hz: float, cols: int, rows: int, seconds: float, warmup: float, cwd: str, db: Path
) -> dict:
    """warroom and the Textual floor app on two ptys of the same size, measured over the
    same window: CPU % of one core and bytes/s of each, and the CPU of the room's recorder."""
    env = {"XDG_STATE_HOME": cwd}
    terms = {
        "warroom": Terminal.spawn(argv, cols, rows, cwd=cwd, env=env),
        "floor": Terminal.spawn(floor_argv(floor_hz), cols, rows, cwd=cwd, env=env),
    }
    try:
        for name, term in terms.items():
            if term.wait_for("WARROOM", 20) is None:
                raise RuntimeError(f"{name}: no first frame: " + strip_ansi(term.text())[-500:])
        recorder = recorder_pid(db)
        time.sleep(warmup)
        cpu0 = {name: term.cpu_seconds() for name, term in terms.items()}
        rec0 = cpu_seconds(recorder)
        t0 = time.perf_counter()
        time.sleep(seconds)
        cpu1 = {name: term.cpu_seconds() for name, term in terms.items()}
        rec1 = cpu_seconds(recorder)
        t1 = time.perf_counter()
    finally:
        for term in terms.values():
            term.stop()
        stop_recorder(db)
    wall = t1 - t0
    out = {"seconds": wall, "cols": cols, "rows": rows, "recorder_cpu_pct": 100 * (rec1 - rec0) / wall}
    for name, term in terms.items():
        out[f"{name}_cpu_pct"] = 100 * (cpu1[name] - cpu0[name]) / wall
        out[f"{name}_bytes_per_s"] = term.bytes_between(t0, t1) / wall
    return out


def floor_argv(hz: float) -> list[str]:
    import sys

    return [sys.executable, "-m", "benchmarks.textual_floor", "--hz", f"{hz:g}"]


def idle(seconds: float, warmup: float = 4.0) -> dict:
    """The full dashboard with no data, next to a Textual app that never updates."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-idle-") as tmp:
        directory = Path(tmp)
        log_path = directory / "feed.jsonl"
        log_path.touch()
        config = write_config(directory, log_path)  # the default settings
        return _side_by_side(
            warroom_argv("--config", str(config)), 0, 120, 40, seconds, warmup, tmp, directory / "room.db"
        )


def demo(cols: int, rows: int, seconds: float, warmup: float = 4.0, speed: float = 30) -> dict:
    """`warroom demo`, next to a Textual app rewriting one line at the dashboard's rate."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-demo-") as tmp:
        work = Path(tmp) / "demo"
        return _side_by_side(
            warroom_argv("demo", "--speed", f"{speed:g}", "--dir", str(work)),
            DEFAULT_HZ,
            cols,
            rows,
            seconds,
            warmup,
            tmp,
            work / "demo.db",
        )


# --------------------------------------------------------------------------- lag


class _Writer(threading.Thread):
    """Appends `rate` records/s in 10 ms batches; remembers when each batch was written."""

    def __init__(self, path: Path, rate: int, kinds: int = 0) -> None:
        super().__init__(name="lag-writer", daemon=True)
        self.path = path
        self.per_batch = max(1, rate // 100)
        self.kinds = kinds
        """Records cycle through kinds k0..k{kinds-1} (one metric each); 0: all are visits."""
        self.batches: list[tuple[float, int, int]] = []  # (written at, first seq, last seq)
        self.stopping = threading.Event()

    def run(self) -> None:
        seq = 1000  # every marker prints with at least four digits
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            next_at = time.perf_counter()
            while not self.stopping.is_set():
                wall = time.time()
                first = seq
                lines = []
                for _ in range(self.per_batch):
                    kind = b"k%d" % (seq % self.kinds) if self.kinds else b"visit"
                    lines.append(b'{"ts":%.3f,"kind":"%s","seq":%d}\n' % (wall, kind, seq))
                    seq += 1
                os.write(fd, b"".join(lines))
                self.batches.append((time.perf_counter(), first, seq - 1))
                next_at += 0.01
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        finally:
            os.close(fd)


class _Screen:
    """First time each marker number appears in the output stream."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.tail = ""
        self.first_seen: dict[int, float] = {}

    def feed(self, t: float, data: bytes) -> None:
        text = self.tail + strip_ansi(self.decoder.decode(data))
        for match in MARKER.finditer(text):
            value = int(match.group(1).replace(",", ""))
            self.first_seen.setdefault(value, t)
        self.tail = text[-40:]


def extra_metrics(config: Path, metrics: int) -> None:
    """`metrics` more counters in `config`, metric n counting the records of kind kn."""
    extra = "".join(
        f'\n[[metrics]]\nname = "m{n}"\nsource = "feed"\nwhere = {{ kind = "k{n}" }}\n' for n in range(metrics)
    )
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def lag(
    rate: int,
    seconds: float,
    warmup: float = 2.0,
    refresh_hz: float = DEFAULT_HZ,
    cols: int = 120,
    rows: int = 40,
    metrics: int = 0,
) -> dict:
    """Record written -> its effect on screen, at `rate` records/s into a jsonl file. With
    `metrics`, that many more counters, each fed by one kind of the records."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-lag-") as tmp:
        directory = Path(tmp)
        log_path = directory / "feed.jsonl"
        log_path.touch()
        config = write_config(directory, log_path, refresh_hz=refresh_hz)
        extra_metrics(config, metrics)
        term = Terminal.spawn(warroom_argv("--config", str(config)), cols, rows, cwd=tmp, env={"XDG_STATE_HOME": tmp})
        screen = _Screen()
        writer = _Writer(log_path, rate, kinds=metrics)
        try:
            if term.wait_for("WARROOM", 20) is None:
                raise RuntimeError("no first frame: " + strip_ansi(term.text())[-500:])
            recorder = recorder_pid(directory / "room.db")
            term.watch(screen.feed)
            time.sleep(1.0)
            writer.start()
            time.sleep(warmup)
            window_start = time.perf_counter()
            rec0 = cpu_seconds(recorder)
            cpu, nbytes, wall = term.measure(seconds)
            recorder_cpu = cpu_seconds(recorder) - rec0
            window_end = window_start + wall
            frames = [t for t, _ in list(term.chunks) if window_start <= t < window_end]
            writer.stopping.set()
            writer.join()
            time.sleep(1.5)  # let the last records of the window reach the screen
        finally:
            writer.stopping.set()
            term.stop()
            stop_recorder(directory / "room.db")
    observed = sorted((t, v) for v, t in screen.first_seen.items())
    times = [t for t, _ in observed]
    running, high = [], -1
    for _, value in observed:
        high = max(high, value)
        running.append(high)
    every: list[float] = []  # per record: written -> a frame shows it or a later one
    shown: list[float] = []  # per record whose own number was shown
    written = 0
    for written_at, first, last in writer.batches:
        if not window_start <= written_at < window_end:
            continue
        written += last - first + 1
        start = bisect.bisect_left(times, written_at)
        for seq in range(first, last + 1):
            index = bisect.bisect_left(running, seq, lo=start)
            every.append(times[index] - written_at if index < len(times) else float("inf"))
            seen_at = screen.first_seen.get(seq)
            if seen_at is not None and seen_at >= written_at:
                shown.append(seen_at - written_at)
    if not every:
        raise RuntimeError("no record written in the lag window")
    return {
        "records": written,
        "rate": written / wall,
        "p50_ms": 1e3 * _percentile(every, 0.50),
        "p99_ms": 1e3 * _percentile(every, 0.99),
        "max_ms": 1e3 * max(every),
        "shown_p50_ms": 1e3 * _percentile(shown, 0.50) if shown else float("nan"),
        "shown_p99_ms": 1e3 * _percentile(shown, 0.99) if shown else float("nan"),
        "frames_with_marker": len(observed),
        "cpu_pct": 100 * cpu / wall,
        "recorder_cpu_pct": 100 * recorder_cpu / wall,
        "bytes_per_s": nbytes / wall,
        "refresh_hz": refresh_hz,
        "metrics": metrics,
        "longest_gap_s": longest_gap(frames, window_start, wall),
    }


def longest_gap(frames: list[float], start: float, wall: float) -> float:
    """The longest time in the window with no output at all."""
    edges = [start, *frames, start + wall]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


# --------------------------------------------------------------------------- start-up


def fill_store(db: Path, entries: int, batch: int = 5000) -> None:
    from warroom.store import RoomStore

    store = RoomStore(db)
    try:
        start = time.time() - entries
        kinds = ("note", "alert", "source", "ticket")
        for offset in range(0, entries, batch):
            store.add_logs(
                {
                    "kind": "note",
                    "severity": "info",
                    "author": "bench",
                    "ts": start + i,
                    "text": f"entry {i}: something happened on the {kinds[i % 4]} side",
                }
                for i in range(offset, min(entries, offset + batch))
            )
    finally:
        store.close()


def startup(log_entries: int, runs: int = 3, metrics: int = 0, launch_days_ago: float = 0.0) -> dict:
    """Spawn to the first frame, and to the first figures (the recorder's first snapshot on
    screen: the traffic panel's "last seq" row). `metrics` more counters and a launch
    `launch_days_ago` make the recorder's start-up the one of a big, long launch."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-start-") as tmp:
        directory = Path(tmp)
        log_path = directory / "feed.jsonl"
        log_path.touch()
        db = directory / "room.db"
        if log_entries:
            fill_store(db, log_entries)
        config = write_config(directory, log_path, db=db)
        extra_metrics(config, metrics)
        text = config.read_text(encoding="utf-8")
        if launch_days_ago:
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - launch_days_ago * 86400))
            text = text.replace('name = "Bench"', f'name = "Bench"\nat = {at}', 1)
        config.write_text(text, encoding="utf-8")
        times, figures = [], []
        for _ in range(runs):
            term = Terminal.spawn(warroom_argv("--config", str(config)), 120, 40, cwd=tmp, env={"XDG_STATE_HOME": tmp})
            try:
                seen = term.wait_for("WARROOM", 30)
                shown = term.wait_for("last seq", 60)
            finally:
                term.stop()
                stop_recorder(db)
            if seen is None or shown is None:
                raise RuntimeError("no first frame or figures: " + strip_ansi(term.text())[-500:])
            times.append(seen - term.started)
            figures.append(shown - term.started)
    return {"best_s": min(times), "median_s": statistics.median(times), "runs": times, "figures_best_s": min(figures)}


def floor_startup(runs: int = 3) -> float:
    """The floor under the start-up figures: spawn to first frame of the bare Textual app."""
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix="warroom-bench-start-") as tmp:
        for _ in range(runs):
            term = Terminal.spawn(floor_argv(0), 120, 40, cwd=tmp)
            try:
                seen = term.wait_for("WARROOM", 30)
            finally:
                term.stop()
            if seen is None:
                raise RuntimeError("floor app: no first frame")
            best = min(best, seen - term.started)
    return best


# --------------------------------------------------------------------------- the size sweep

SWEEP_RULES = (10, 200, 1000)
SWEEP_TICKETS = (100, 10_000, 50_000)
SWEEP_LOG = (10_000, 100_000)
SWEEP_LOG_BIG = (*SWEEP_LOG, 1_000_000)
SWEEP_METRICS = (10, 100, 500)
SWEEP_KEYS = {"alerts": "2", "support": "4", "log": "5"}
SWEEP_WHAT = {
    "alerts": "rules firing, Alerts tab",
    "support": "open tickets, Support tab",
    "log": "log entries, Log tab",
}
SWEEP_SPEED = 10.0
"""The sweep's simulated clock: ten simulated seconds a real second, so the header's clock
(to the second) changes at every refresh."""


def sweep_config(directory: Path, log_path: Path, rules: int) -> Path:
    """A gauge fed by a file, and `rules` alert rules over it that always hold."""
    alerts = "".join(
        f'\n[[alerts]]\nname = "rule_{n:04d}"\nexpr = "value(level) > -1"\nseverity = "warning"\n'
        f'summary = "level at {{value}}"\n'
        for n in range(rules)
    )
    text = f"""
[launch]
name = "Sweep"

[room]
db = "{directory / "room.db"}"

[[sources]]
name = "feed"
kind = "file"
path = "{log_path}"
format = "jsonl"
stale_after = "1h"

[[metrics]]
name = "level"
source = "feed"
kind = "last"
field = "v"
{alerts}"""
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fill_tickets(db: Path, count: int, now: float, batch: int = 5000) -> None:
    """`count` open tickets, opened over the last hour, in every priority."""
    from warroom.store import RoomStore
    from warroom.tickets import TicketFields

    store = RoomStore(db)
    try:
        for start in range(0, count, batch):
            store.upsert_tickets(
                (
                    TicketFields(
                        id=f"B-{n:06d}",
                        subject=f"reward missing for order {n}",
                        customer_ref=f"C-{n}",
                        category="reward not received",
                        priority=("urgent", "high", "normal", "low")[n % 4],
                        status="open",
                        opened_at=now - 3600 + n * 3600 / count,
                        updated_at=now,
                    )
                    for n in range(start, min(count, start + batch))
                ),
                "bench",
                now,
            )
    finally:
        store.close()


class _Feed(threading.Thread):
    """Appends one record with a new gauge value every 100 ms."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="sweep-feed", daemon=True)
        self.path = path
        self.stopping = threading.Event()

    def run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            n = 0
            while not self.stopping.wait(0.1):
                n += 1
                os.write(fd, b'{"ts":%.3f,"v":%d}\n' % (time.time(), n))
        finally:
            os.close(fd)


def sweep_point(tab: str, size: int, seconds: float, warmup: float = 4.0, cols: int = 120, rows: int = 40) -> dict:
    """One size on its tab ("alerts": `size` rules; "support": `size` open tickets; "log":
    `size` log entries)."""
    from warroom.demo.scenario import SimClock

    with tempfile.TemporaryDirectory(prefix="warroom-bench-sweep-") as tmp:
        directory = Path(tmp)
        log_path = directory / "feed.jsonl"
        log_path.touch()
        config = sweep_config(directory, log_path, size if tab == "alerts" else 10)
        clock = SimClock(time.time(), SWEEP_SPEED, real=time.time)
        if tab == "support":
            fill_tickets(directory / "room.db", size, clock())
        elif tab == "log":
            fill_store(directory / "room.db", size)
        term = Terminal.spawn(
            warroom_argv("--config", str(config), "--sim-clock", clock.spec()),
            cols,
            rows,
            cwd=tmp,
            env={"XDG_STATE_HOME": tmp},
        )
        feed = _Feed(log_path)
        try:
            if term.wait_for("WARROOM", 30) is None:
                raise RuntimeError("no first frame: " + strip_ansi(term.text())[-500:])
            recorder = recorder_pid(directory / "room.db")
            feed.start()
            term.send(SWEEP_KEYS[tab])
            time.sleep(warmup)
            rec0 = cpu_seconds(recorder)
            start = time.perf_counter()
            cpu, nbytes, wall = term.measure(seconds)
            recorder_cpu = cpu_seconds(recorder) - rec0
            frames = [t for t, _ in list(term.chunks) if start <= t < start + wall]
        finally:
            feed.stopping.set()
            term.stop()
            stop_recorder(directory / "room.db")
    refreshes = wall * DEFAULT_HZ
    return {
        "tab": tab,
        "size": size,
        "cpu_pct": 100 * cpu / wall,
        "cpu_ms_per_refresh": 1e3 * cpu / refreshes,
        "longest_gap_s": longest_gap(frames, start, wall),
        "bytes_per_s": nbytes / wall,
        "recorder_cpu_pct": 100 * recorder_cpu / wall,
        "refresh_period_s": 1 / DEFAULT_HZ,
    }


def sweep(seconds: float, big: bool = False) -> list[dict]:
    """Every size of the sweep, smallest first (the smallest is the baseline of each tab)."""
    sizes = {"alerts": SWEEP_RULES, "support": SWEEP_TICKETS, "log": SWEEP_LOG_BIG if big else SWEEP_LOG}
    return [sweep_point(tab, n, seconds) for tab, counts in sizes.items() for n in counts]


def metrics_sweep(seconds: float, rate: int = 10_000) -> list[dict]:
    """The Live tab at `rate` records/s with 10, 100 and 500 metrics: lag and longest gap."""
    return [lag(rate, seconds, metrics=n) for n in SWEEP_METRICS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["idle", "demo", "lag", "startup", "sweep"])
    args = parser.parse_args(argv)
    window = 6.0 if args.quick else 15.0
    if args.only in (None, "idle"):
        print("idle", idle(window))
    if args.only in (None, "demo"):
        for cols, rows in ((80, 24), (200, 50)):
            print(f"demo {cols}x{rows}", demo(cols, rows, window))
    if args.only in (None, "lag"):
        print("lag at the default settings", lag(10_000, window))
    if args.only in (None, "startup"):
        print("floor app start-up", floor_startup())
        print("startup empty", startup(0))
        print("startup 100k", startup(100_000))
    if args.only in (None, "sweep"):
        for point in sweep(window):
            what = SWEEP_WHAT[point["tab"]]
            print(
                f"sweep {point['size']:>6,} {what}: {point['cpu_ms_per_refresh']:.1f} ms CPU per refresh "
                f"({point['cpu_pct']:.1f}% of a core), longest gap {point['longest_gap_s']:.2f} s "
                f"(refresh period {point['refresh_period_s']:.2f} s), {point['bytes_per_s'] / 1e3:.1f} kB/s; "
                f"recorder {point['recorder_cpu_pct']:.1f}%"
            )
        for r in metrics_sweep(window):
            print(
                f"sweep {r['metrics']:>6,} metrics at 10k rec/s, Live tab: lag p99 {r['p99_ms']:.0f} ms, "
                f"longest gap {r['longest_gap_s']:.2f} s, dashboard {r['cpu_pct']:.1f}%, recorder "
                f"{r['recorder_cpu_pct']:.1f}%"
            )


if __name__ == "__main__":
    main()
