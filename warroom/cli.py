"""Command line: `warroom [run]`, `warroom demo`, `warroom check`.

Every user-facing failure (a broken config, a database that cannot be opened) is printed as
a short message on stderr with exit status 2, never as a traceback: the person reading it is
in the middle of a launch.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

from warroom import __version__
from warroom.config import Config, ConfigError, find_config, load_config, resolve_panels

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warroom", description="A terminal war room for campaign launch day."
    )
    parser.add_argument("--version", action="version", version=f"warroom {__version__}")
    # `warroom --config X` is `warroom run --config X`: the options work without the command.
    parser.add_argument("--config", help="config file (default: ./config.toml, then ~/.config/warroom/)")
    parser.add_argument("--operator", help="your name in the shared log (default: login name)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--operator", default=argparse.SUPPRESS,
                         help="your name in the shared log (default: login name)")

    run = commands.add_parser("run", help="start the dashboard (the default command)")
    run.add_argument("--config", default=argparse.SUPPRESS,
                     help="config file (default: ./config.toml, then ~/.config/warroom/)")
    add_common(run)

    demo = commands.add_parser("demo", help="start the dashboard on a simulated launch")
    demo.add_argument("--speed", type=float, default=None,
                      help="simulated seconds per real second (default: the demo's own)")
    demo.add_argument("--seed", type=int, default=None, help="repeat the same launch")
    demo.add_argument("--dir", help="keep the demo's files (log, database) in this directory")
    demo.add_argument("--export", metavar="DIR", help="on quitting, write the retrospective to DIR")
    add_common(demo)

    export = commands.add_parser(
        "export", help="write the retrospective (Markdown, HTML, JSON) from a room database")
    export.add_argument("--config", default=argparse.SUPPRESS,
                        help="config whose room database, targets and labels to use")
    export.add_argument("--db", help="the room database (default: the config's [room] db)")
    export.add_argument("--out", default=".", help="directory, or a file name whose stem names "
                                                   "every format's file (default: .)")
    export.add_argument("--format", default="md,html,json", help="comma-separated: md, html, json")
    export.add_argument("--from", dest="start", metavar="TIME",
                        help="start of the range, ISO 8601 with offset (default: the launch)")
    export.add_argument("--to", dest="end", metavar="TIME", help="end of the range (default: the last entry)")
    export.add_argument("--starred", action="store_true", help="only starred entries in the timeline")

    check = commands.add_parser("check", help="validate a config and show what it connects to")
    check.add_argument("--config", default=argparse.SUPPRESS,
                       help="config file (default: ./config.toml, then ~/.config/warroom/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    try:
        if command == "check":
            return check(_load(args.config))
        if command == "demo":
            return demo(args)
        if command == "export":
            return export(args)
        return run(_load(args.config), operator=args.operator)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _load(explicit: str | None) -> Config:
    path = find_config(explicit)
    if path is None:
        raise ConfigError([
            "no config file: pass --config PATH, or put a config.toml in this directory "
            "(see the example in the README), or try `warroom demo`"
        ])
    return load_config(path)


def operator_name(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return os.environ.get("USER", "operator")


def _log_to_file(directory: Path) -> None:
    """Python logging would scribble over the screen; send it to a file instead."""
    directory.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=directory / "warroom.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "warroom"


def check(config: Config) -> int:
    """Print what the config would connect to and show; secrets stay hidden."""
    print(f"{config.path}: ok")
    print(f"launch: {config.launch.name}"
          + (f" at {config.launch.at.isoformat()}" if config.launch.at else " (started with launch now)"))
    print(f"room database: {config.room.db}")
    print(f"sources ({len(config.sources)}):")
    for source in config.sources:
        print(f"  {source.name:<12} {source.kind:<10} {source.describe()}")
    print(f"metrics ({len(config.metrics)}): " + ", ".join(m.name for m in config.metrics))
    if config.ratios:
        print(f"ratios ({len(config.ratios)}): " + ", ".join(r.name for r in config.ratios))
    for target in config.targets:
        print(f"target: {target.metric} = {target.value:g}")
    traffic, conversion = resolve_panels(config)
    print("traffic panel: " + ", ".join(traffic.metrics))
    print("conversion panel: " + ", ".join(conversion.metrics)
          + (f"; funnel {' > '.join(conversion.funnel)}" if conversion.funnel else ""))
    if config.alerts:
        print(f"alert rules ({len(config.alerts)}): " + ", ".join(a.name for a in config.alerts))
    items = sum(len(phase.items) for phase in config.checklist)
    if items:
        print(f"checklist: {items} items in {len(config.checklist)} phases")
    return 0


def run(config: Config, operator: str | None, clock=None, tick_interval: float = 1.0) -> int:
    from warroom.app import WarroomApp
    from warroom.room import open_room
    from warroom.store import StoreError

    _log_to_file(_state_dir())
    try:
        room = open_room(config, operator_name(operator), tick_interval=tick_interval,
                         **({"clock": clock} if clock else {}))
    except StoreError as error:
        print(error, file=sys.stderr)  # the message names the file
        return EXIT_USAGE
    try:
        WarroomApp(room).run()
    finally:
        room.close()
    return 0


def demo(args: argparse.Namespace) -> int:
    from warroom.demo import DemoRunner

    with DemoRunner(speed=args.speed, seed=args.seed, workdir=args.dir) as runner:
        status = run(runner.config, operator=args.operator, clock=runner.clock,
                     tick_interval=runner.tick_interval)
        if status == 0 and args.export:
            status = _export(runner.config, None, args.export)
        return status


def export(args: argparse.Namespace) -> int:
    config = None
    if args.db is None or args.config is not None:
        config = _load(args.config)
    try:
        start, end = _time_arg(args.start, "--from"), _time_arg(args.end, "--to")
    except ValueError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    return _export(config, args.db, args.out, formats, start, end, args.starred)


def _time_arg(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option}: expected a time such as 2026-11-25T18:00:00+01:00, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{option}: give the time with its UTC offset, e.g. +00:00")
    return moment.timestamp()


def _export(config: Config | None, db: str | None, out: str, formats=("md", "html", "json"),
            start: float | None = None, end: float | None = None, starred: bool = False) -> int:
    from warroom.export import export_room, options_from_config
    from warroom.room import database_path
    from warroom.store import StoreError

    db_path = Path(db) if db else database_path(config)
    try:
        paths = export_room(db_path, out, formats, start, end, starred, **options_from_config(config))
    except (StoreError, ValueError, FileNotFoundError, OSError) as error:
        print(f"export failed: {error}", file=sys.stderr)
        return EXIT_USAGE
    for path in paths:
        print(f"wrote {path}")
    return 0
