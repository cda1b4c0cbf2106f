"""FileSource against real files: appends, rotations, truncations, hostile bytes.

Each test runs the source as a task on a file in tmp_path, changes the file the way a
writer or logrotate would, and waits (polling, with a timeout) for the records to arrive.
"""

from __future__ import annotations

import asyncio
import os
import time

import orjson
import pytest

from warroom.config import FileSourceConfig
from warroom.sources import SourceState, build_source
from warroom.sources.file import FileSource

POLL = 0.02


class Follow:
    """Runs a FileSource on `path` for the duration of an `async with`."""

    def __init__(self, path, **settings) -> None:
        settings.setdefault("poll_interval", POLL)
        self.config = FileSourceConfig(kind="file", name="logs", path=str(path), **settings)
        self.source = FileSource(self.config)
        self.records: list[dict] = []
        self.batches = 0

    @property
    def health(self):
        return self.source.health

    def emit(self, records) -> None:
        self.batches += 1
        self.records.extend(records)

    def seqs(self, key: str = "n") -> list:
        return [r[key] for r in self.records]

    async def __aenter__(self) -> Follow:
        self.task = asyncio.create_task(self.source.run(self.emit))
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


async def until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def settle(follow: Follow, polls: int = 5) -> None:
    """Let the source poll a few times (to show that nothing more arrives)."""
    await asyncio.sleep(POLL * polls)


def lines(start: int, stop: int, tag: str = "a") -> bytes:
    return b"".join(orjson.dumps({"n": i, "tag": tag}) + b"\n" for i in range(start, stop))


def append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


# --------------------------------------------------------------------------- basics


async def test_starts_at_end_and_follows_appends(tmp_path):
    log = tmp_path / "events.log"
    log.write_bytes(lines(0, 10))
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(10, 20))
        await until(lambda: len(f.records) >= 10)
        append(log, lines(20, 25))
        await until(lambda: len(f.records) >= 15)
        await settle(f)
        assert f.seqs() == list(range(10, 25))
        assert f.health.records == 15
        assert f.health.last_record_at is not None
        assert f.health.reason == f"following {log}"


async def test_start_at_end_inside_a_line_skips_its_remainder(tmp_path):
    log = tmp_path / "events.log"
    log.write_bytes(lines(0, 3) + b'{"n": 3, "ta')
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, b'g": "a"}\n' + lines(4, 6))
        await until(lambda: len(f.records) >= 2)
        await settle(f)
        assert f.seqs() == [4, 5]
        assert f.health.bad_records == 0


async def test_from_start_reads_what_is_there(tmp_path):
    log = tmp_path / "events.log"
    log.write_bytes(lines(0, 50))
    async with Follow(log, from_start=True) as f:
        await until(lambda: len(f.records) >= 50)
        append(log, lines(50, 60))
        await until(lambda: len(f.records) >= 60)
        assert f.seqs() == list(range(60))


async def test_missing_file_is_waited_for_then_read_from_its_start(tmp_path):
    log = tmp_path / "later.log"
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.CONNECTING and "waiting" in f.health.reason)
        assert f.health.reason == f"waiting for {log}"
        await settle(f)
        log.write_bytes(lines(0, 5))
        await until(lambda: len(f.records) >= 5)
        assert f.health.state == SourceState.LIVE
        append(log, lines(5, 8))
        await until(lambda: len(f.records) >= 8)
        assert f.seqs() == list(range(8))


async def test_build_source_picks_file_source(tmp_path):
    config = FileSourceConfig(kind="file", name="logs", path=str(tmp_path / "x.log"))
    source = build_source(config, clock=lambda: 42.0)
    assert isinstance(source, FileSource)
    assert source.health.kind == "file"
    assert source.health.target == str(tmp_path / "x.log")


# --------------------------------------------------------------------------- rotation


async def test_rename_and_create_rotation_loses_and_repeats_nothing(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 50))
        await until(lambda: len(f.records) >= 50)
        # The writer's last lines go to the old file just before it is renamed away...
        append(log, lines(50, 100))
        os.rename(log, tmp_path / "app.log.1")
        # ...and the next ones to the new file.
        log.write_bytes(lines(100, 150, "b"))
        await until(lambda: len(f.records) >= 150)
        append(log, lines(150, 160, "b"))
        await until(lambda: len(f.records) >= 160)
        await settle(f)
        assert f.seqs() == list(range(160))
        assert f.health.faults["rotated"] == 1


async def test_rotation_keeps_reading_old_file_until_writer_moves(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        with open(log, "ab", buffering=0) as writer:  # a writer holding its descriptor
            writer.write(lines(0, 10))
            await until(lambda: len(f.records) >= 10)
            os.rename(log, tmp_path / "app.log.1")
            await settle(f)
            writer.write(lines(10, 20))  # still to the renamed file: nothing new exists yet
            await until(lambda: len(f.records) >= 20)
            log.write_bytes(b"")  # logrotate `create`
            await settle(f)
            writer.write(lines(20, 30))  # the writer has not reopened yet
            await until(lambda: len(f.records) >= 30)
        append(log, lines(30, 40, "b"))  # it reopened and writes to the new file
        await until(lambda: len(f.records) >= 40)
        await settle(f)
        assert f.seqs() == list(range(40))
        assert f.health.faults["rotated"] == 1


async def test_unfinished_last_line_of_a_rotated_file_is_dropped_and_counted(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 5) + b'{"n": 99, "cut sh')
        await until(lambda: len(f.records) >= 5)
        os.rename(log, tmp_path / "app.log.1")
        log.write_bytes(lines(5, 10, "b"))
        await until(lambda: len(f.records) >= 10)
        assert f.seqs() == list(range(10))
        assert f.health.faults["partial_line"] == 1
        assert f.health.bad_records == 1


async def test_copytruncate(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 100))
        await until(lambda: len(f.records) >= 100)
        (tmp_path / "app.log.1").write_bytes(log.read_bytes())
        os.truncate(log, 0)
        await settle(f)
        append(log, lines(100, 110))
        await until(lambda: len(f.records) >= 110)
        await settle(f)
        assert f.seqs() == list(range(110))
        assert f.health.faults["truncated"] == 1


async def test_truncate_then_write_past_old_size_before_next_look(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    # A slow poll so that the truncation and the rewrite both land between two looks.
    async with Follow(log, poll_interval=0.3) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 20))
        await until(lambda: len(f.records) >= 20)
        old_size = log.stat().st_size
        with open(log, "r+b") as writer:
            writer.truncate(0)
            writer.write(lines(1000, 1100, "new"))
        assert log.stat().st_size > 2 * old_size
        await until(lambda: len(f.records) >= 120)
        await asyncio.sleep(0.4)
        assert f.seqs() == list(range(20)) + list(range(1000, 1100))
        assert f.health.faults["truncated"] == 1


async def test_delete_then_recreate_later(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 10))
        await until(lambda: len(f.records) >= 10)
        os.remove(log)
        await until(lambda: f.health.state == SourceState.CONNECTING, what="waiting state")
        assert f.health.faults["deleted"] == 1
        await settle(f)
        log.write_bytes(lines(10, 20, "b"))
        await until(lambda: len(f.records) >= 20)
        await settle(f)
        assert f.seqs() == list(range(20))
        assert f.health.state == SourceState.LIVE


async def test_symlink_target_swapped(tmp_path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(b"")
    link = tmp_path / "current.log"
    link.symlink_to(first)
    async with Follow(link) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(first, lines(0, 10))
        await until(lambda: len(f.records) >= 10)
        append(first, lines(10, 15))
        second.write_bytes(lines(15, 25, "b"))
        temp = tmp_path / "tmp.link"
        temp.symlink_to(second)
        os.replace(temp, link)
        await until(lambda: len(f.records) >= 25)
        append(first, lines(900, 905))  # the old target is no longer followed
        append(second, lines(25, 30, "b"))
        await until(lambda: len(f.records) >= 30)
        await settle(f)
        assert f.seqs() == list(range(30))
        assert f.health.faults["rotated"] == 1


# --------------------------------------------------------------------------- lines


async def test_partial_line_is_held_until_its_newline(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, b'{"n": 0, "tag": "a"}\n{"n": 1, "ta')
        await until(lambda: len(f.records) >= 1)
        await settle(f)
        append(log, b'g": "a", "more": "x')
        await settle(f)
        assert f.seqs() == [0]
        append(log, b'yz"}\n')
        await until(lambda: len(f.records) >= 2)
        assert f.records[1] == {"n": 1, "tag": "a", "more": "xyz"}
        assert f.health.bad_records == 0


async def test_long_line_is_skipped_and_following_continues(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log, max_line_bytes=1000) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        long = orjson.dumps({"n": -1, "blob": "x" * 5000}) + b"\n"
        append(log, lines(0, 3) + long + lines(3, 6))
        await until(lambda: len(f.records) >= 6)
        # A long line that arrives in pieces, over several polls.
        append(log, b'{"n": -2, "blob": "' + b"y" * 600)
        await settle(f)
        append(log, b"y" * 600)
        await settle(f)
        append(log, b"y" * 600 + b'"}\n' + lines(6, 9))
        await until(lambda: len(f.records) >= 9)
        await settle(f)
        assert f.seqs() == list(range(9))
        assert f.health.faults["line_too_long"] == 2
        assert f.health.bad_records == 2  # a dropped line is a bad record, shown as such
        assert f.health.reason == "last bad line: longer than max_line_bytes (1000)"


async def test_crlf_line_ends(tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    line = '10.0.0.{i} - - [25/Nov/2026:15:30:01 +0000] "GET /p{i} HTTP/1.1" 200 12 "-" "agent" 0.010\r\n'
    async with Follow(log, format="nginx") as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, "".join(line.format(i=i) for i in range(5)).encode())
        await until(lambda: len(f.records) >= 5)
        assert [r["path"] for r in f.records] == [f"/p{i}" for i in range(5)]
        assert all(r["request_time"] == 0.01 and r["user_agent"] == "agent" for r in f.records)
        assert f.health.bad_records == 0


async def test_regex_format_with_crlf(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log, format="regex", pattern=r"^(?P<level>\w+) (?P<msg>.*)$") as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, b"INFO started\r\nERROR failed to pay\r\n???\n")
        await until(lambda: len(f.records) >= 2 and f.health.bad_records >= 1)
        assert f.records == [{"level": "INFO", "msg": "started"}, {"level": "ERROR", "msg": "failed to pay"}]
        assert f.health.faults["no_match"] == 1


async def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, b'{"n": 0, "name": "caf\xe9"}\n{"n": 1, "name": "ok"}\n')
        await until(lambda: len(f.records) >= 2)
        assert f.records[0] == {"n": 0, "name": "caf\ufffd"}
        assert f.records[1]["name"] == "ok"
        assert f.health.faults["invalid_utf8"] == 1
        assert f.health.bad_records == 0


async def test_invalid_utf8_in_nginx_line(tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    async with Follow(log, format="nginx") as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, b'1.2.3.4 - - [25/Nov/2026:15:30:01 +0000] "GET / HTTP/1.1" 200 1 "-" "bad \xff\xfe"\n')
        await until(lambda: len(f.records) >= 1)
        assert f.records[0]["user_agent"] == "bad \ufffd\ufffd"
        assert f.health.faults["invalid_utf8"] == 1


async def test_bad_lines_blank_lines_and_nul_bytes(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        append(log, b'[1, 2]\n\n   \nnot json\n{"n": 0}\n\x00\x00\x00{"n": 1}\n{"n"\x00: 2}\n\x00\x00\n')
        await until(lambda: len(f.records) >= 3 and f.health.bad_records >= 2)
        await settle(f)
        assert f.seqs() == [0, 1, 2]
        assert f.health.faults["bad_json"] == 2
        assert f.health.bad_records == 2
        assert f.health.faults["nul_bytes"] == 6


async def test_copytruncate_with_a_writer_leaving_a_sparse_hole(tmp_path):
    """A writer without O_APPEND keeps its offset after a copytruncate: NULs, then lines."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        with open(log, "wb", buffering=0) as writer:
            writer.write(lines(0, 100))
            await until(lambda: len(f.records) >= 100)
            os.truncate(log, 0)
            writer.write(lines(100, 105))  # at its old offset, past the new end of file
            await until(lambda: len(f.records) >= 105)
        await settle(f)
        assert f.seqs() == list(range(105))
        assert f.health.faults["truncated"] == 1
        assert f.health.bad_records == 0


# --------------------------------------------------------------------------- volume and faults


async def test_burst_of_100k_lines_arrives_exactly_once(tmp_path):
    log = tmp_path / "burst.log"
    log.write_bytes(b"")
    total = 100_000
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async with Follow(log) as f:
        await until(lambda: f.health.state == SourceState.LIVE, what="live")
        tick_task = asyncio.create_task(ticker())
        block = 10_000
        for start in range(0, total, block):
            append(log, lines(start, start + block))
            await asyncio.sleep(0)
        await until(lambda: len(f.records) >= total, timeout=20, what="100k records")
        await settle(f)
        tick_task.cancel()
        seqs = f.seqs()
        assert len(seqs) == total
        assert seqs == list(range(total))
        assert f.health.records == total
        assert f.batches >= 5  # 2.2 MB delivered in 256 KiB chunks, not in one go
        assert ticks >= f.batches // 2  # and other tasks ran in between


async def test_unreadable_path_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "app.log"
    path.mkdir()  # a directory where the file should be
    async with Follow(path) as f:
        await until(lambda: f.health.state == SourceState.ERROR, what="error state")
        assert f.health.faults["not_a_file"] == 1
        assert f.health.reason == f"{path} is a directory, not a regular file; a file source follows a log file"
        await settle(f)
        assert f.health.faults["not_a_file"] == 1  # counted once, not once per poll
        assert not f.task.done()
        path.rmdir()
        path.write_bytes(lines(0, 3))
        await until(lambda: len(f.records) >= 3)
        assert f.health.state == SourceState.LIVE


async def test_emit_failure_is_counted_and_following_goes_on(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    calls = []

    def emit(records):
        calls.append(records)
        if len(calls) == 1:
            raise RuntimeError("consumer bug")

    source = FileSource(FileSourceConfig(kind="file", name="logs", path=str(log), poll_interval=POLL))
    task = asyncio.create_task(source.run(emit))
    try:
        await until(lambda: source.health.state == SourceState.LIVE, what="live")
        append(log, lines(0, 1))
        await until(lambda: len(calls) >= 1)
        append(log, lines(1, 2))
        await until(lambda: len(calls) >= 2)
        assert source.health.faults["emit_error"] == 1
        assert source.health.records == 1
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert source.health.state == SourceState.STOPPED
