"""Command line: `warroom [run]`, `warroom record`, `warroom room`, `warroom demo`,
`warroom export`, `warroom check`.

Every user-facing failure (a broken config, a database that cannot be opened) is printed as
a short message on stderr with exit status 2, never as a traceback: the person reading it is
in the middle of a launch.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from warroom import __version__
from warroom.commands import Command
from warroom.config import Config, ConfigError, find_config, load_config, resolve_panels
from warroom.dashboard import AUTO_IDLE_EXIT, DashboardSession, flush
from warroom.lease import LeaseWatch
from warroom.location import RoomLocation, state_dir
from warroom.store import StoreError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warroom", description="A terminal war room for campaign launch day.")
    parser.add_argument("--version", action="version", version=f"warroom {__version__}")
    # `warroom --config X` is `warroom run --config X`: the options work without the command.
    parser.add_argument("--config", help="config file (default: ./config.toml, then ~/.config/warroom/)")
    parser.add_argument("--operator", help="your name in the shared log (default: login name)")
    parser.add_argument("--no-recorder", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sim-clock", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_common(sub: argparse.ArgumentParser, config: bool = True) -> None:
        if config:
            sub.add_argument(
                "--config",
                default=argparse.SUPPRESS,
                help="config file (default: ./config.toml, then ~/.config/warroom/)",
            )
        sub.add_argument(
            "--operator", default=argparse.SUPPRESS, help="your name in the shared log (default: login name)"
        )

    run = commands.add_parser("run", help="start the dashboard (the default command)")
    add_common(run)
    run.add_argument(
        "--no-recorder",
        action="store_true",
        default=argparse.SUPPRESS,
        help="never start a recorder for the room (one runs elsewhere, e.g. under systemd)",
    )
    run.add_argument("--sim-clock", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    record = commands.add_parser("record", help="record the room: read the sources and compute what every screen shows")
    add_common(record)
    record.add_argument(
        "--auto", action="store_true", help="exit at once if the room already has a recorder (instead of standing by)"
    )
    record.add_argument(
        "--idle-exit", type=float, metavar="SECONDS", help="stop after this long without an attached dashboard"
    )
    record.add_argument("--sim-clock", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    record.add_argument("--tick-interval", type=float, default=1.0, help=argparse.SUPPRESS)

    room = commands.add_parser("room", help="who records and who watches the room; stop its recorder; copy it")
    actions = room.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("status", "who records the room and who is attached"), ("stop", "stop its recorder")):
        add_common(actions.add_parser(name, help=text))
    copy = actions.add_parser(
        "copy",
        help="copy a room between SQLite and PostgreSQL: SRC and DST are a SQLite file or "
        "postgresql://USER@HOST/DATABASE#ROOM",
    )
    copy.add_argument("source", metavar="SRC")
    copy.add_argument("destination", metavar="DST")

    notify = commands.add_parser("notify", help="notifications: send a test message to a receiver")
    notify.add_argument("action", choices=["test"])
    notify.add_argument("receiver", help="a receiver's name from [[notify.receivers]]")
    add_common(notify)

    demo = commands.add_parser("demo", help="start the dashboard on a simulated launch")
    demo.add_argument(
        "--speed", type=float, default=None, help="simulated seconds per real second (default: the demo's own)"
    )
    demo.add_argument("--seed", type=int, default=None, help="repeat the same launch")
    demo.add_argument("--dir", help="keep the demo's files (log, database) in this directory")
    demo.add_argument("--export", metavar="DIR", help="on quitting, write the retrospective to DIR")
    add_common(demo, config=False)

    export = commands.add_parser("export", help="write the retrospective (Markdown, HTML, JSON) from a room database")
    export.add_argument(
        "--config", default=argparse.SUPPRESS, help="config whose room database, targets and labels to use"
    )
    export.add_argument("--db", help="the room database (default: the config's [room] db)")
    export.add_argument(
        "--out", default=".", help="directory, or a file name whose stem names every format's file (default: .)"
    )
    export.add_argument("--format", default="md,html,json", help="comma-separated: md, html, json")
    export.add_argument(
        "--from", dest="start", metavar="TIME", help="start of the range, ISO 8601 with offset (default: the launch)"
    )
    export.add_argument("--to", dest="end", metavar="TIME", help="end of the range (default: the last entry)")
    export.add_argument("--starred", action="store_true", help="only starred entries in the timeline")
    export.add_argument(
        "--full-timeline",
        action="store_true",
        help="list every log entry in the Markdown and HTML timeline (default: the notable "
        "ones, the rest counted per hour; JSON always has every entry)",
    )

    check = commands.add_parser("check", help="validate a config and show what it connects to")
    check.add_argument(
        "--config", default=argparse.SUPPRESS, help="config file (default: ./config.toml, then ~/.config/warroom/)"
    )
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
        if command == "notify":
            from warroom.notify.command import notify_command

            return notify_command(_load(args.config), args)
        clock = sim_clock(args.sim_clock) if getattr(args, "sim_clock", None) else None
        if command == "record":
            return record(
                _load(args.config),
                operator_name(args.operator),
                auto=args.auto,
                idle_exit=args.idle_exit,
                clock=clock,
                tick_interval=args.tick_interval,
            )
        if command == "room":
            if args.action == "copy":
                return room_copy(args.source, args.destination)
            return room_command(_load(args.config), args.action)
        return run(
            _load(args.config),
            operator=args.operator,
            clock=clock,
            start_recorder=not args.no_recorder,
            recorder_args=["--sim-clock", args.sim_clock] if clock else (),
        )
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `warroom check | head`: the reader left; say nothing more, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _load(explicit: str | None) -> Config:
    path = find_config(explicit)
    if path is None:
        raise ConfigError(
            [
                "no config file: pass --config PATH, or put a config.toml in this directory "
                "(see the example in the README), or try `warroom demo`"
            ]
        )
    return load_config(path)


def operator_name(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return os.environ.get("USER", "operator")


def sim_clock(spec: str) -> Callable[[], float]:
    from warroom.demo.scenario import SimClock

    return SimClock.from_spec(spec)


def _log_to_file(directory: Path) -> None:
    """Python logging would scribble over the screen; send it to a file instead."""
    directory.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=directory / "warroom.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def check(config: Config) -> int:
    """Print what the config would connect to and show; secrets stay hidden. A path that
    cannot work (a log path that is a FIFO, a database directory that does not exist) is a
    problem like a config error: printed, exit status 2."""
    from warroom.checks import path_problems

    problems = path_problems(config)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    print(f"{config.path}: ok")
    print(
        f"launch: {config.launch.name}"
        + (f" at {config.launch.at.isoformat()}" if config.launch.at else " (started with launch now)")
    )
    print(f"room database: {RoomLocation.of(config).label}")
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
    print(
        "conversion panel: "
        + ", ".join(conversion.metrics)
        + (f"; funnel {' > '.join(conversion.funnel)}" if conversion.funnel else "")
    )
    if config.alerts:
        print(f"alert rules ({len(config.alerts)}): " + ", ".join(a.name for a in config.alerts))
    items = sum(len(phase.items) for phase in config.checklist)
    if items:
        print(f"checklist: {items} items in {len(config.checklist)} phases")
    return 0


def run(
    config: Config,
    operator: str | None,
    clock: Callable[[], float] | None = None,
    start_recorder: bool = True,
    recorder_args: Sequence[str] = (),
) -> int:
    """The dashboard: attach to the room (starting its recorder if none runs), until quit."""
    from warroom.app import WarroomApp

    _log_to_file(state_dir())
    session = DashboardSession(
        config,
        operator_name(operator),
        start_recorder=start_recorder,
        recorder_args=recorder_args,
        **({"clock": clock} if clock else {}),
    )
    try:
        session.open()
    except StoreError as error:
        print(error, file=sys.stderr)  # the message names the file
        return EXIT_USAGE
    try:
        WarroomApp(session).run()
    finally:
        unsaved = session.close()
        _say_goodbye(session, unsaved)
    return 0


def _say_goodbye(session: DashboardSession, unsaved: list[Command]) -> None:
    """What the operator must know once the screen is gone."""
    if unsaved and session.door.spool_error is None:
        print(
            f"warroom: {len(unsaved)} entries could not be saved yet; they are kept in "
            f"{session.door.spool_path} and saved the next time warroom opens this room",
            file=sys.stderr,
        )
    elif unsaved:
        print(
            f"warroom: {len(unsaved)} entries could not be saved, nor kept ({session.door.spool_error}); "
            "here they are, to keep by hand:",
            file=sys.stderr,
        )
        for command in unsaved:
            print(json.dumps(command.to_json()), file=sys.stderr)
    if session.started and any(p.poll() is None for p in session.started):
        print(
            f"warroom: the recorder started for this room keeps recording {session.location.label} in the "
            f"background (stops {AUTO_IDLE_EXIT / 3600:g} h after the last dashboard leaves; "
            "`warroom room stop` stops it now)",
            file=sys.stderr,
        )


def record(
    config: Config,
    operator: str,
    *,
    auto: bool = False,
    idle_exit: float | None = None,
    clock: Callable[[], float] | None = None,
    tick_interval: float = 1.0,
) -> int:
    """The room's recorder, headless, until SIGTERM, SIGHUP or Ctrl-C."""
    from warroom.service import serve

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return serve(
            config,
            operator,
            auto=auto,
            idle_exit=idle_exit,
            tick_interval=tick_interval,
            **({"clock": clock} if clock else {}),
        )
    except StoreError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE


def room_command(config: Config, action: str) -> int:
    from warroom.service import room_status, stop_recorder

    if action == "status":
        print(room_status(config))
        return 0
    message, ok = stop_recorder(config)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def room_copy(source: str, destination: str) -> int:
    """`warroom room copy SRC DST`: every row, counted on both sides afterwards."""
    from warroom.store import RoomStore
    from warroom.store.copy import copy_room

    try:
        source_location, destination_location = RoomLocation.parse(source), RoomLocation.parse(destination)
        if not source_location.exists():
            raise StoreError(f"{source_location.label}: no room database there")
        with RoomStore(source_location.open_database()) as src, RoomStore(destination_location.open_database()) as dst:
            copied = copy_room(src, dst)
    except (StoreError, ValueError) as error:
        print(f"room copy failed: {error}", file=sys.stderr)
        return EXIT_USAGE
    rows = sum(copied.values())
    print(
        f"copied {rows:,} rows from {source_location.label} to {destination_location.label}; "
        f"every table counted on both sides: " + ", ".join(f"{t} {n:,}" for t, n in copied.items() if n)
    )
    return 0


def demo(args: argparse.Namespace) -> int:
    from warroom.demo.world import DemoWorld

    with DemoWorld(speed=args.speed, seed=args.seed, workdir=args.dir) as world:
        status = run(world.config, operator=args.operator, clock=world.clock, recorder_args=world.recorder_args)
        world.stop_recorder()
        if status == 0 and args.export:
            status = _export(world.config, None, args.export)
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
    return _export(config, args.db, args.out, formats, start, end, args.starred, args.full_timeline)


def recorder_running(watch: LeaseWatch) -> bool:
    try:
        return watch.running()
    except StoreError:
        return False  # cannot tell: the export goes on with what the room holds


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


def _export(
    config: Config | None,
    db: str | None,
    out: str,
    formats: Sequence[str] = ("md", "html", "json"),
    start: float | None = None,
    end: float | None = None,
    starred: bool = False,
    full_timeline: bool = False,
) -> int:
    from warroom.door import Door
    from warroom.export import export_store, options_from_config

    if db:
        location = RoomLocation(db_path=Path(db))
    elif config is not None:
        location = RoomLocation.of(config)
    else:
        print("export failed: give --db or --config", file=sys.stderr)
        return EXIT_USAGE
    if not location.exists():  # opening would create an empty room: an export never writes one
        print(f"export failed: {location.label}: no room database there", file=sys.stderr)
        return EXIT_USAGE
    door = Door(location)
    watch = location.watch()
    try:
        door.open()
        flush(door, recorder_running(watch))  # the recorder's last second first
        paths = door.read(
            lambda store: export_store(
                store, out, formats, start, end, starred, full_timeline=full_timeline, **options_from_config(config)
            )
        ).result()
    except (StoreError, ValueError, FileNotFoundError, OSError) as error:
        print(f"export failed: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        watch.close()
        door.close()
    for path in paths:
        print(f"wrote {path}")
    return 0
