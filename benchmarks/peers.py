"""warroom next to lnav and GoAccess on the same nginx access log: lines per CPU-second.

    python -m benchmarks.peers [--lines N] [--runs R]

Writes N lines of the nginx benchmark's combined format (with `$request_time` appended),
then runs each tool over the whole file as a child process, non-interactively, and takes
the child's CPU time (user + system, from RUSAGE_CHILDREN before and after; best of R):

- warroom: FileSource(format="nginx") -> Pipeline -> metrics with the nginx benchmark's four
  metrics, from the start of the file to its last line, then exits;
- lnav: `lnav -n -c ';SELECT count(*), sum(sc_bytes), sum(sc_status >= 500) FROM access_log'`:
  it indexes the file and the query reads every line's fields;
- GoAccess: `goaccess FILE --log-format=COMBINED -o report.json`: every panel of its report.

Each answer is checked (lnav's count, GoAccess's valid requests, warroom's records) so a
tool that skipped lines cannot look fast. A tool that is not installed is skipped, with the
reason printed. Every child starts with an empty HOME, so no one's configuration counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LNAV_QUERY = ";SELECT count(*), sum(sc_bytes), sum(sc_status >= 500) FROM access_log"


def _cpu_of(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, str]:
    """Run a child to completion: (CPU seconds, wall seconds, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stdout


def _warroom(path: str, lines: int, env: dict[str, str], cwd: str) -> tuple[float, float]:
    cpu, wall, out = _cpu_of([sys.executable, "-m", "benchmarks.peers", "--child", path, str(lines)], env, cwd)
    seen = int(out.split()[-1])
    if seen != lines:
        raise RuntimeError(f"warroom read {seen} of {lines} lines")
    return cpu, wall


def _lnav(path: str, lines: int, env: dict[str, str], cwd: str) -> tuple[float, float]:
    cpu, wall, out = _cpu_of(["lnav", "-n", "-c", LNAV_QUERY, path], env, cwd)
    count = int(out.strip().splitlines()[-1].split()[0])  # a header line, then the numbers
    if count != lines:
        raise RuntimeError(f"lnav counted {count} of {lines} lines: {out.strip()[-300:]}")
    return cpu, wall


def _goaccess(path: str, lines: int, env: dict[str, str], cwd: str) -> tuple[float, float]:
    report = os.path.join(cwd, "report.json")
    cpu, wall, _ = _cpu_of(["goaccess", path, "--log-format=COMBINED", "--no-progress", "-o", report], env, cwd)
    general = json.loads(Path(report).read_text())["general"]
    if general["valid_requests"] != lines:
        raise RuntimeError(f"goaccess parsed {general['valid_requests']} of {lines} lines")
    return cpu, wall


TOOLS = {"warroom": (None, _warroom), "lnav": ("lnav", _lnav), "goaccess": ("goaccess", _goaccess)}


def measure(lines: int = 2_000_000, runs: int = 2) -> dict[str, dict]:
    """Per tool: lines per CPU-second and per wall second (best of `runs`), or why skipped."""
    from benchmarks.nginx_ingest import write_file

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="warroom-bench-peers-") as tmp:
        path = os.path.join(tmp, "access.log")
        size = write_file(path, lines)
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("XDG_CONFIG_HOME", None)
        for name, (program, _run) in TOOLS.items():
            if program is not None and shutil.which(program) is None:
                results[name] = {"skipped": f"{program} is not installed (Debian: apt-get install {program})"}
                print(f"peers: {name} skipped: {results[name]['skipped']}", file=sys.stderr)
        for _ in range(runs):
            for name, (_program, run) in TOOLS.items():
                if "skipped" in results.get(name, {}):
                    continue
                cpu, wall = run(path, lines, env, tmp)
                best = results.setdefault(name, {"cpu_s": float("inf"), "wall_s": float("inf")})
                best["cpu_s"], best["wall_s"] = min(best["cpu_s"], cpu), min(best["wall_s"], wall)
    for result in results.values():
        if "cpu_s" in result:
            result["lines_per_cpu_s"] = lines / result["cpu_s"]
            result["lines_per_s"] = lines / result["wall_s"]
    return {"lines": lines, "bytes": size, "runs": runs, "tools": results}


def rows(row_type, lines: int = 2_000_000, runs: int = 2) -> list:
    """Rows for `python -m benchmarks`: warroom against each peer, per CPU-second."""
    r = measure(lines, runs)
    tools = r["tools"]
    ours = tools["warroom"]["lines_per_cpu_s"]
    settings = f"{lines:,} nginx lines, each tool a child process, CPU of the child"
    out = []
    for peer, label in (("lnav", "lnav SQL over access_log"), ("goaccess", "goaccess JSON report")):
        if "skipped" in tools[peer]:
            out.append(
                row_type(
                    f"peers: warroom vs {peer} (skipped)", float("nan"), "lines/CPU-s", settings=tools[peer]["skipped"]
                )
            )
            continue
        target = "reach lnav per CPU-second" if peer == "lnav" else ""
        out.append(
            row_type(
                f"peers: warroom nginx end to end vs {peer}",
                ours,
                "lines/CPU-s",
                tools[peer]["lines_per_cpu_s"],
                label,
                target,
                ours >= tools[peer]["lines_per_cpu_s"] if peer == "lnav" else None,
                settings,
            )
        )
    return out


def _child(path: str, lines: int) -> int:
    from benchmarks.file_ingest import through_source
    from benchmarks.nginx_ingest import bench_config

    seen, _ = asyncio.run(through_source(bench_config(path), lines, with_pipeline=True))
    return seen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(_child(args.child[0], int(args.child[1])))
        return
    r = measure(args.lines, args.runs)
    print(f"nginx log: {r['lines']:,} lines, {r['bytes'] / 1e6:.1f} MB, best of {r['runs']}")
    ours = r["tools"]["warroom"].get("lines_per_cpu_s")
    for name, result in r["tools"].items():
        if "skipped" in result:
            print(f"  {name:<9} skipped: {result['skipped']}")
            continue
        ratio = f"   warroom / {name}: {ours / result['lines_per_cpu_s']:.2f}x" if name != "warroom" else ""
        print(
            f"  {name:<9} {result['lines_per_cpu_s']:>10,.0f} lines per CPU-second "
            f"({result['cpu_s']:.2f} s CPU, {result['wall_s']:.2f} s wall){ratio}"
        )


if __name__ == "__main__":
    main()
