"""FileSource at its edges: woken by inotify, special files, copytruncate recovery, the final
read of a rotated file, and resuming a checkpoint in a new source object.

Real files in tmp_path throughout. Where a test needs the writer to act at one exact point of
the source's loop, it acts synchronously (the source runs on the same event loop, so it
cannot read in between) or through a hook on `_look`, the step that follows every read.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import orjson
import pytest

from tests.sources.test_file import Follow, append, lines, settle, until
from warroom.checks import database_problem, file_kind_problem, path_problems, source_path_problem
from warroom.config import FileSourceConfig, parse_config
from warroom.sources import SourceState
from warroom.sources.file import FileSource
from warroom.sources.inotify import DirectoryWatch

NOT_A_FILE = "not a regular file; a file source follows a log file"
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- event-driven


async def test_appends_are_read_when_the_kernel_says_so_not_at_the_next_poll(tmp_path):
    """With a 60 s poll, only the inotify wake-up can deliver these lines in time."""
    log = tmp_path / "events.log"
    log.write_bytes(b"")
    async with Follow(log, poll_interval="60s") as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        assert f.source._watch is not None, "inotify is available on Linux"
        for start in range(0, 50, 10):
            append(log, lines(start, start + 10))
            await until(lambda expected=start + 10: len(f.records) >= expected, timeout=10)
        # A rename rotation and a new file, also seen through the directory watch.
        os.rename(log, tmp_path / "events.log.1")
        log.write_bytes(lines(50, 60, "b"))
        await until(lambda: len(f.records) >= 60, timeout=10)
        assert f.seqs() == list(range(60))
        assert f.health.faults["rotated"] == 1


async def test_a_directory_created_later_is_watched_once_it_exists(tmp_path):
    log = tmp_path / "later" / "events.log"
    async with Follow(log, poll_interval="100ms") as f:
        await until(lambda: f.health.state == SourceState.CONNECTING, what="waiting")
        log.parent.mkdir()
        log.write_bytes(lines(0, 3))
        await until(lambda: len(f.records) >= 3)
        append(log, lines(3, 6))
        await until(lambda: len(f.records) >= 6)
        assert f.seqs() == list(range(6))


async def test_without_inotify_the_poll_still_follows(tmp_path, monkeypatch):
    monkeypatch.setattr(DirectoryWatch, "start", classmethod(lambda cls: None))
    log = tmp_path / "events.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        assert f.source._watch is None
        append(log, lines(0, 10))
        await until(lambda: len(f.records) >= 10)
        assert f.seqs() == list(range(10))


async def test_directory_watch_tells_our_file_from_its_rotations_and_strangers(tmp_path):
    watch = DirectoryWatch.start()
    assert watch is not None
    try:
        assert watch.follow(str(tmp_path / "access.log"))
        (tmp_path / "error.log").write_bytes(b"x\n")  # another file: nothing
        (tmp_path / "access.log.1").write_bytes(b"x\n")  # logrotate's copy: a rotation is under way
        await asyncio.sleep(0.1)
        assert not watch.changed.is_set()
        assert watch.rotation_seen_at > 0
        (tmp_path / "access.log").write_bytes(b"x\n")  # ours: read it
        await until(watch.changed.is_set, what="a wake-up")
    finally:
        watch.close()


# --------------------------------------------------------------------------- special files


def _fifo(path):
    os.mkfifo(path)


def _socket(path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    return server


def _directory(path):
    path.mkdir()


@pytest.mark.parametrize(
    "make, kind",
    [
        (_fifo, "a FIFO (named pipe)"),
        (_socket, "a socket"),
        (_directory, "a directory"),
    ],
    ids=["fifo", "socket", "directory"],
)
async def test_special_file_is_refused_without_blocking_and_a_real_file_later_is_followed(tmp_path, make, kind):
    path = tmp_path / "app.log"
    keep = make(path)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    try:
        async with Follow(path) as f:
            await until(lambda: f.health.state == SourceState.ERROR, what="error state")
            assert f.health.reason == f"{path} is {kind}, not a regular file; a file source follows a log file"
            before = ticks
            await settle(f, 10)
            assert ticks > before  # the event loop never blocked on the special file
            assert f.health.faults["not_a_file"] == 1  # counted once, shown all along
            if keep is not None:
                keep.close()
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
            path.write_bytes(lines(0, 3))
            await until(lambda: len(f.records) >= 3)
            assert f.health.state == SourceState.LIVE
    finally:
        tick_task.cancel()


async def test_character_device_is_refused(tmp_path):
    async with Follow("/dev/zero") as f:  # reading it would never reach an end
        await until(lambda: f.health.state == SourceState.ERROR, what="error state")
        assert (
            f.health.reason == "/dev/zero is a character device, not a regular file; a file source follows a log file"
        )
        assert f.health.records == 0


def test_check_functions_name_each_kind_of_special_file(tmp_path):
    fifo, sock_path, directory, regular = (tmp_path / n for n in ("fifo", "sock", "dir", "file.log"))
    os.mkfifo(fifo)
    server = _socket(sock_path)
    directory.mkdir()
    regular.write_bytes(b"")
    try:
        assert source_path_problem(fifo) == "is a FIFO (named pipe), " + NOT_A_FILE
        assert source_path_problem(sock_path) == "is a socket, " + NOT_A_FILE
        assert source_path_problem(directory) == "is a directory, " + NOT_A_FILE
        assert source_path_problem("/dev/null") == "is a character device, " + NOT_A_FILE
        assert source_path_problem(regular) is None
        assert source_path_problem(tmp_path / "missing.log") is None  # waited for at run time
        assert file_kind_problem(stat.S_IFBLK) == "is a block device, " + NOT_A_FILE
    finally:
        server.close()


def test_database_problem(tmp_path):
    assert database_problem(tmp_path / "room.db") is None
    assert database_problem(tmp_path / "nowhere" / "room.db") == f"directory {tmp_path / 'nowhere'} does not exist"
    (tmp_path / "adir").mkdir()
    assert database_problem(tmp_path / "adir") == "is a directory; give the database file's path"
    (tmp_path / "afile").write_text("")
    assert database_problem(tmp_path / "afile" / "room.db") == f"{tmp_path / 'afile'} is not a directory"


def test_database_problem_read_only_directory(tmp_path):
    """Run by a user the directory's mode applies to: this user, or `nobody` when we are root
    (root may write anywhere), in a separate process."""
    base = Path(tempfile.mkdtemp(prefix="warroom-ro-"))
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        if os.geteuid() != 0:
            problem = database_problem(locked / "room.db")
        else:
            runuser, python = shutil.which("runuser"), "/usr/bin/python3"
            if runuser is None or not os.access(python, os.X_OK):
                pytest.skip("as root, this needs runuser and a system python3 to act as nobody")
            code = (
                "import sys; sys.path.insert(0, sys.argv[1]); from warroom.checks import database_problem; "
                "print(database_problem(sys.argv[2]))"
            )
            done = subprocess.run(
                [runuser, "-u", "nobody", "--", python, "-c", code, str(ROOT), str(locked / "room.db")],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 0, done.stderr
            problem = done.stdout.strip()
        assert problem == f"directory {locked} is not writable (SQLite writes its journal beside the database)"
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


def test_path_problems_of_a_config_locate_each_problem(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    config_path = tmp_path / "launch.toml"
    text = f"""
[room]
db = "missing-dir/room.db"

[[sources]]
name = "fine"
kind = "file"
path = "{tmp_path / "later.log"}"

[[sources]]
name = "pipe"
kind = "file"
path = "{fifo}"
"""
    config = parse_config(text, config_path)
    missing = tmp_path / "missing-dir"
    assert path_problems(config) == [
        f"{config_path}: sources[1].path: {fifo} is a FIFO (named pipe), {NOT_A_FILE}",
        f"{config_path}: room.db: {missing / 'room.db'} directory {missing} does not exist",
    ]


# --------------------------------------------------------------------------- rotation edges


async def test_copytruncate_lines_not_yet_read_are_taken_from_the_rotated_copy(tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 10))
        await until(lambda: len(f.records) >= 10)
        # No await from here on: the source cannot read between these steps.
        append(log, lines(10, 30))  # written, never read before...
        shutil.copyfile(log, tmp_path / "access.log.1")  # ...logrotate copies...
        (tmp_path / "access.log.2").write_bytes(lines(900, 930))  # an older generation
        os.truncate(log, 0)  # ...and truncates
        append(log, lines(30, 35))
        await until(lambda: len(f.records) >= 35)
        await settle(f)
        assert f.seqs() == list(range(35))
        assert f.health.faults["truncated"] == 1
        assert f.health.faults["truncation_loss"] == 0
        assert f.health.bad_records == 0


async def test_copytruncate_without_a_copy_counts_and_shows_the_possible_loss(tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 10))
        await until(lambda: len(f.records) >= 10)
        append(log, lines(10, 20))
        os.truncate(log, 0)  # emptied with no copy kept
        append(log, lines(20, 25))
        await until(lambda: len(f.records) >= 15)
        assert f.seqs() == list(range(10)) + list(range(20, 25))
        assert f.health.faults["truncation_loss"] == 1
        assert f.health.reason == (
            f"{log} was truncated and no rotated copy of it was found: lines written just before may be lost"
        )


async def test_a_file_that_starts_like_an_older_one_is_not_taken_for_its_copy(tmp_path):
    """The new file holds only the start of a line when it is truncated: those few bytes are
    also how the renamed old file starts, but the old file is not a copy of it, and reading
    it again would emit its lines twice."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 1))
        await until(lambda: len(f.records) >= 1)
        os.rename(log, tmp_path / "app.log.1")
        log.write_bytes(b"")
        await settle(f)
        append(log, lines(1, 2)[:4])  # '{"n"', the start of the next line
        await until(lambda: f.health.faults["rotated"] == 1, what="the switch to the new file")
        await settle(f)
        os.truncate(log, 0)
        await until(lambda: f.health.faults["truncated"] == 1, what="the truncation")
        append(log, lines(2, 3))
        await until(lambda: len(f.records) >= 2)
        await settle(f)
        assert f.seqs() == [0, 2]
        assert f.health.faults["partial_line"] == 1
        assert f.health.faults["truncation_loss"] == 1  # no copy of the new file: shown as possible loss


async def test_lines_the_writer_adds_to_the_old_file_just_before_a_rotation_are_read(tmp_path):
    """The writer's last lines reach the old file after our last read of it and before we
    notice the rotation: only the final read of the old file gets them."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 10))
        await until(lambda: len(f.records) >= 10)
        source = f.source
        look = source._look
        acted = False

        def writer_then_logrotate_then_look():
            nonlocal acted
            if not acted:
                acted = True
                append(log, lines(10, 20))  # the writer's last lines, to the old file
                os.rename(log, tmp_path / "app.log.1")  # logrotate renames it
                log.write_bytes(lines(20, 30, "b"))  # the writer reopened and goes on
            return look()

        source._look = writer_then_logrotate_then_look
        await until(lambda: acted and len(f.records) >= 20)
        await settle(f)
        assert f.seqs() == list(range(30))
        assert f.health.faults["rotated"] == 1


# --------------------------------------------------------------------------- resuming


class Committed:
    """What a caller keeps: the records emitted up to the last checkpoint, and that checkpoint
    (taken between two emits, as the room stores it with the totals those records made)."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.state: dict | None = None
        self.source: FileSource | None = None

    def emit(self, records) -> None:
        self.seqs.extend(r["n"] for r in records)
        assert self.source is not None
        self.state = orjson.loads(orjson.dumps(self.source.checkpoint()))  # JSON round trip


async def follow_committed(path, committed: Committed, state=None, **settings):
    config = FileSourceConfig(kind="file", name="logs", path=str(path), poll_interval=0.02, **settings)
    source = FileSource(config)
    committed.source = source
    if state is not None:
        source.resume(state)
    task = asyncio.create_task(source.run(committed.emit))
    return source, task


async def stop(task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def first_run(log, committed: Committed, count: int = 20) -> None:
    source, task = await follow_committed(log, committed)
    await until(lambda: source.health.state == SourceState.LIVE, what="live")
    append(log, lines(0, count))
    await until(lambda: len(committed.seqs) >= count)
    await stop(task)


def _unchanged(log, tmp_path):
    append(log, lines(20, 30))


def _renamed(log, tmp_path):
    append(log, lines(20, 30))
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(lines(30, 40))


def _copytruncated(log, tmp_path):
    append(log, lines(20, 30))
    shutil.copyfile(log, tmp_path / "app.log.1")
    os.truncate(log, 0)
    append(log, lines(30, 40))


def _truncated_larger(log, tmp_path):
    """Copied and truncated, then written past the old offset: the head tells it apart."""
    append(log, lines(20, 30))
    shutil.copyfile(log, tmp_path / "app.log-20261201")
    with open(log, "r+b") as f:
        f.truncate(0)
        f.write(lines(30, 200))


@pytest.mark.parametrize(
    "change, expected, fault",
    [
        (_unchanged, range(30), None),
        (_renamed, range(40), None),
        (_copytruncated, range(40), None),
        (_truncated_larger, range(200), None),
    ],
    ids=["unchanged", "renamed", "copytruncate", "rewritten-past-offset"],
)
async def test_resume_reads_every_line_exactly_once(tmp_path, change, expected, fault):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    committed = Committed()
    await first_run(log, committed)
    assert committed.state is not None
    change(log, tmp_path)
    resumed = Committed()
    source, task = await follow_committed(log, resumed, state=committed.state)
    try:
        await until(lambda: len(committed.seqs) + len(resumed.seqs) >= len(expected))
        await settle(None)
        assert committed.seqs + resumed.seqs == list(expected)
        assert source.health.faults["resume_gap"] == 0
        assert source.health.bad_records == 0
    finally:
        await stop(task)


async def test_resume_after_the_old_file_is_gone_reads_the_new_one_and_counts_the_gap(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    committed = Committed()
    await first_run(log, committed)
    append(log, lines(20, 30))  # lost with the old file
    os.remove(log)
    log.write_bytes(lines(30, 40))
    resumed = Committed()
    source, task = await follow_committed(log, resumed, state=committed.state)
    try:
        await until(lambda: len(resumed.seqs) >= 10)
        await settle(None)
        assert committed.seqs + resumed.seqs == list(range(20)) + list(range(30, 40))
        assert source.health.faults["resume_gap"] == 1
        assert "could not be found" in source.health.reason
    finally:
        await stop(task)


async def test_checkpoint_leaves_a_held_partial_line_to_the_next_process(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    committed = Committed()
    source, task = await follow_committed(log, committed)
    await until(lambda: source.health.state == SourceState.LIVE, what="live")
    append(log, lines(0, 5) + b'{"n": 5, "ha')
    await until(lambda: len(committed.seqs) >= 5)
    await settle(None)
    await stop(task)
    assert committed.state is not None
    assert committed.state["offset"] == len(lines(0, 5))
    append(log, b'lf": 1}\n' + lines(6, 8))
    resumed = Committed()
    source, task = await follow_committed(log, resumed, state=committed.state)
    try:
        await until(lambda: len(resumed.seqs) >= 3)
        await settle(None)
        assert committed.seqs + resumed.seqs == list(range(8))
    finally:
        await stop(task)


async def test_resume_of_a_source_that_was_waiting_reads_the_new_file_from_its_start(tmp_path):
    log = tmp_path / "app.log"
    committed = Committed()
    source, task = await follow_committed(log, committed)
    await until(lambda: source.health.reason.startswith("waiting for"), what="waiting")
    state = source.checkpoint()
    await stop(task)
    assert state == {"path": str(log), "waiting": True}
    log.write_bytes(lines(0, 5))
    resumed = Committed()
    source, task = await follow_committed(log, resumed, state=state)
    try:
        await until(lambda: len(resumed.seqs) >= 5)
        assert resumed.seqs == list(range(5))
    finally:
        await stop(task)


async def test_resume_follows_the_renamed_old_file_until_the_writer_moves(tmp_path):
    """Rotated by rename while stopped, the writer not reopened yet: the resumed source finds
    the old inode by its number and keeps following it, as a running one would."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    committed = Committed()
    await first_run(log, committed)
    old = tmp_path / "app.log.1"
    with open(log, "ab", buffering=0) as writer:  # a writer holding its descriptor
        writer.write(lines(20, 30))
        os.rename(log, old)
        log.write_bytes(b"")  # logrotate `create`; the writer has not reopened
        resumed = Committed()
        source, task = await follow_committed(log, resumed, state=committed.state)
        try:
            await until(lambda: len(resumed.seqs) >= 10)
            writer.write(lines(30, 40))  # still to the old file
            await until(lambda: len(resumed.seqs) >= 20)
            append(log, lines(40, 50))  # it reopened
            await until(lambda: len(resumed.seqs) >= 30)
            await settle(None)
            assert committed.seqs + resumed.seqs == list(range(50))
            assert source.health.faults["rotated"] == 1
        finally:
            await stop(task)
