"""File source faults, after GNU tail's own tests, with a real writer process where it matters.

tests/sources/test_file.py checks each rotation scheme once with in-process writes. Here the
writer is a separate process (tests/faults/log_writer.py) that keeps its descriptor open and
reopens on SIGHUP, as nginx does, while the test rotates, truncates and deletes under it;
lines go through the real Pipeline; volumes are launch-day sized (a 10 MiB line, a million
lines); and a property test runs random sequences of write / rotate / truncate / delete.

Every line carries a unique sequence number, so "nothing read twice" and "nothing lost" are
exact checks, not estimates.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.helpers import feeding, pipeline_for, wait_for
from warroom.config import FileSourceConfig
from warroom.sources import SourceState
from warroom.sources.file import FileSource

pytestmark = pytest.mark.faults

WRITER = Path(__file__).with_name("log_writer.py")


def config_for(path: Path, **settings: object) -> str:
    extra = "".join(f"{key} = {orjson.dumps(value).decode()}\n" for key, value in settings.items())
    return f"""
[[sources]]
name = "logs"
kind = "file"
path = "{path}"
poll_interval = "10ms"
{extra}
[[metrics]]
name = "lines"
source = "logs"

[[metrics]]
name = "amount"
source = "logs"
kind = "sum"
field = "amount"
"""


def lines(start: int, stop: int) -> bytes:
    return b"".join(b'{"n": %d}\n' % i for i in range(start, stop))


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def seqs(records: list[dict]) -> list[int]:
    return [r["n"] for r in records]


async def live(feed) -> None:
    await wait_for(lambda: feed.health.state == SourceState.LIVE, timeout=5)


# --------------------------------------------------------------------------- a real writer


async def test_writer_process_rotated_five_times_by_rename_and_create(tmp_path, tally):
    """logrotate `create` + a SIGHUP to the writer, five times, while it writes 20k lines."""
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    config, pipeline, metrics = pipeline_for(config_for(log))
    total = 20_000
    async with feeding(config, pipeline, "logs") as feed:
        await live(feed)
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(log), str(total), "40", "0.003"], stdout=subprocess.PIPE, text=True
        )
        try:
            for generation in range(1, 6):
                await asyncio.sleep(0.15)
                os.rename(log, tmp_path / f"access.log.{generation}")
                log.write_bytes(b"")  # create
                await asyncio.sleep(0.02)  # the writer keeps writing to the renamed file a bit
                writer.send_signal(signal.SIGHUP)  # postrotate: reopen
                tally.fault()
            assert (await asyncio.to_thread(writer.stdout.readline)).startswith("done")
        finally:
            writer.kill()
            writer.wait()
            writer.stdout.close()
        await wait_for(lambda: feed.delivered >= total, timeout=10)
        await asyncio.sleep(0.1)
        got = seqs(feed.records)
        tally.lost(records=total - len(set(got)))
        assert got == list(range(total))  # every line once, in order
        assert feed.health.faults["rotated"] == 5
        assert metrics.series["lines"].count == total


async def test_writer_process_under_repeated_copytruncate(tmp_path, tally):
    """logrotate `copytruncate` while a writer holds an O_APPEND descriptor: no line twice.

    Lines the writer adds between the copy and the truncation are lost by copytruncate
    itself (logrotate documents this); what the source must never do is read one twice or
    emit half a line. Everything written after the last truncation must arrive, and what is
    missed is bounded by the poll interval (GNU tail -F misses the same window)."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    config, pipeline, _metrics = pipeline_for(config_for(log))
    total = 15_000
    async with feeding(config, pipeline, "logs") as feed:
        await live(feed)
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(log), str(total), "30", "0.003"], stdout=subprocess.PIPE, text=True
        )
        try:
            for generation in range(1, 5):
                await asyncio.sleep(0.15)
                (tmp_path / f"app.log.{generation}").write_bytes(log.read_bytes())  # copy
                os.truncate(log, 0)  # truncate
                tally.fault()
            assert (await asyncio.to_thread(writer.stdout.readline)).startswith("done")
        finally:
            writer.kill()
            writer.wait()
            writer.stdout.close()
        await wait_for(lambda: feed.records and feed.records[-1]["n"] == total - 1, timeout=10)
        await asyncio.sleep(0.1)
        got = seqs(feed.records)
        assert len(got) == len(set(got))
        assert got == sorted(got)
        assert feed.health.faults["truncated"] >= 1
        assert feed.health.bad_records == 0  # the O_APPEND writer leaves no half line or hole
        assert set(got) <= set(range(total))
        missed = total - len(got)  # in the rotated copies, written inside a truncation window
        assert missed < total // 10


async def test_missing_then_created_then_deleted_then_symlinked(tmp_path, tally):
    """One file's whole life: missing at start, created, deleted, recreated later, replaced by
    a symlink whose target is then swapped, with a partial line left at each ending."""
    log = tmp_path / "app.log"
    config, pipeline, metrics = pipeline_for(config_for(log))
    async with feeding(config, pipeline, "logs") as feed:
        await wait_for(lambda: feed.health.state == SourceState.CONNECTING and feed.health.reason)
        assert "waiting for" in feed.health.reason
        tally.fault()  # missing at start
        log.write_bytes(lines(0, 10))
        await wait_for(lambda: feed.delivered >= 10)
        append(log, b'{"n": 1000, "half')  # never finished
        await asyncio.sleep(0.05)
        os.remove(log)
        tally.fault()
        await wait_for(lambda: feed.health.faults["deleted"] == 1)
        assert feed.health.state == SourceState.CONNECTING
        await asyncio.sleep(0.1)  # recreated later
        first, second = tmp_path / "a.log", tmp_path / "b.log"
        first.write_bytes(lines(10, 20))
        log.symlink_to(first)
        await wait_for(lambda: feed.delivered >= 20)
        append(first, b'{"n": 1001, "half')
        second.write_bytes(lines(20, 30))
        swap = tmp_path / "swap.link"
        swap.symlink_to(second)
        os.replace(swap, log)
        tally.fault(2)
        await wait_for(lambda: feed.delivered >= 30)
        append(first, lines(2000, 2005))  # the old target is not followed any more
        append(second, lines(30, 40))
        await wait_for(lambda: feed.delivered >= 40)
        await asyncio.sleep(0.1)
        assert seqs(feed.records) == list(range(40))
        assert feed.health.faults["partial_line"] == 2
        assert feed.health.bad_records == 2
        assert feed.health.faults["rotated"] == 1
        assert metrics.series["lines"].count == 40


# --------------------------------------------------------------------------- hostile bytes


async def test_hostile_bytes_are_counted_per_source_and_following_goes_on(tmp_path, tally):
    """CRLF, invalid UTF-8, NUL bytes, a partial line and junk, mixed into one stream."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    config, pipeline, metrics = pipeline_for(config_for(log))
    async with feeding(config, pipeline, "logs") as feed:
        await live(feed)
        append(log, b'{"n": 0, "amount": 1}\r\n')  # CRLF
        append(log, b'{"n": 1, "amount": 2, "who": "\xff\xfeX"}\n')  # invalid UTF-8, kept
        append(log, b'{"n": 2,\0\0 "amount": 3}\n')  # NUL bytes, removed
        append(log, b'not json at all\n[1, 2]\n"text"\n\xff\xff\xff\n')  # 4 bad lines
        append(log, b'{"n": 3, "amount": 4}\r\n{"n": 4, "amo')  # a partial line, held
        tally.bad(9)
        await wait_for(lambda: feed.delivered >= 4)
        await asyncio.sleep(0.1)
        assert seqs(feed.records) == [0, 1, 2, 3]
        append(log, b'unt": 5}\n')
        await wait_for(lambda: feed.delivered >= 5)
        assert seqs(feed.records) == [0, 1, 2, 3, 4]
        assert feed.records[1]["who"] == "\ufffd\ufffdX"
        faults = feed.health.faults
        assert faults["invalid_utf8"] == 2  # the kept line, and one of the bad lines
        assert faults["nul_bytes"] == 2
        assert faults["bad_json"] == 4
        assert feed.health.bad_records == 4
        assert metrics.series["amount"].total == 15.0


@pytest.mark.parametrize("pieces", [1, 7], ids=["one-write", "in-pieces"])
async def test_ten_mib_line_is_skipped_counted_and_following_goes_on(tmp_path, tally, pieces):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    config, pipeline, _metrics = pipeline_for(config_for(log))  # max_line_bytes: 1 MiB default
    huge = b'{"n": -1, "blob": "' + b"x" * (10 * 1024 * 1024) + b'"}\n'
    async with feeding(config, pipeline, "logs") as feed:
        await live(feed)
        append(log, lines(0, 5))
        step = len(huge) // pieces + 1
        for start in range(0, len(huge), step):
            append(log, huge[start : start + step])
            await asyncio.sleep(0.02)
        append(log, lines(5, 10))
        tally.bad()
        await wait_for(lambda: feed.delivered >= 10, timeout=10)
        await asyncio.sleep(0.05)
        assert seqs(feed.records) == list(range(10))
        assert feed.health.faults["line_too_long"] == 1
        assert len(feed.source._lines.pending) == 0  # nothing of the huge line is held
        assert feed.health.bad_records == 1


async def test_burst_of_a_million_lines_arrives_exactly_once(tmp_path, tally):
    log = tmp_path / "burst.log"
    log.write_bytes(b"")
    config, pipeline, metrics = pipeline_for(config_for(log))
    total = 1_000_000
    expected = 0
    out_of_order = 0

    def check(records: list[dict]) -> None:
        nonlocal expected, out_of_order
        for record in records:
            out_of_order += record["n"] != expected
            expected += 1

    async with feeding(config, pipeline, "logs", keep=False) as feed:
        feed.observe = check
        await live(feed)
        block = 100_000
        with open(log, "ab") as f:
            for start in range(0, total, block):
                f.write(lines(start, start + block))
        tally.fault()
        await wait_for(lambda: expected >= total, timeout=60, interval=0.1)
        await asyncio.sleep(0.05)
        tally.lost(records=total - expected)
        assert expected == total
        assert out_of_order == 0
        assert metrics.series["lines"].count == total
        assert feed.health.records == total


# --------------------------------------------------------------------------- property


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(1, 40)),
        st.tuples(st.just("partial"), st.integers(1, 3)),
        st.tuples(st.sampled_from(["rotate", "truncate", "delete"]), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)
HYPOTHESIS_FILE_EXAMPLES = int(os.environ.get("FAULTS_FILE_EXAMPLES", "40"))


@settings(
    max_examples=HYPOTHESIS_FILE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_random_write_rotate_truncate_delete_never_reads_a_line_twice(steps, tally):
    """Random sequences against a followed file: no line twice; without truncation or
    deletion no line lost. A "partial" step leaves its last line unfinished until the next
    write, so lines also arrive split across polls, or are abandoned half-written in a file
    that is rotated, truncated or deleted (never emitted half)."""
    tally.example()
    tally.fault(sum(op in ("rotate", "truncate", "delete") for op, _ in steps))
    lost = asyncio.run(_random_scenario(steps))
    tally.lost(records=lost)


async def _random_scenario(steps: list[tuple[str, int]]) -> int:
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "app.log"
        log.write_bytes(b"")
        config = FileSourceConfig(kind="file", name="prop", path=str(log), poll_interval=0.005)
        source = FileSource(config)
        got: list[int] = []
        task = asyncio.create_task(source.run(lambda records: got.extend(r["n"] for r in records)))
        try:
            await wait_for(lambda: source.health.state == SourceState.LIVE, timeout=2)
            written: list[int] = []
            held, held_seq = b"", -1  # the unfinished end of the last partial write
            seq, rotations = 0, 0
            lossy = False

            async def catch_up() -> None:
                deadline = time.monotonic() + 2.0
                while not set(got) >= set(written) and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.012)  # two more polls: the source notices what we did

            for op, count in steps:
                if op in ("rotate", "truncate", "delete"):
                    held = b""  # a half-written line stays behind in the old file, unfinished
                if op in ("write", "partial"):
                    data = held + lines(seq, seq + count)
                    if held:
                        written.append(held_seq)
                    held = b""
                    if op == "partial":  # the last line is cut: its end comes with the next write
                        finished = count - 1
                        cut = len(data) - 5
                        data, held, held_seq = data[:cut], data[cut:], seq + finished
                    else:
                        finished = count
                    written.extend(range(seq, seq + finished))
                    seq += count
                    append(log, data)
                elif op == "rotate":
                    rotations += 1
                    if log.exists():
                        os.rename(log, Path(directory) / f"app.log.{rotations}")
                    log.write_bytes(b"")
                elif op == "truncate":
                    lossy = True
                    if log.exists():
                        os.truncate(log, 0)
                else:
                    lossy = True
                    if log.exists():
                        os.remove(log)
                await catch_up()
            await catch_up()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert len(got) == len(set(got)), f"read twice: {sorted(n for n in set(got) if got.count(n) > 1)}"
        assert set(got) <= set(written)
        missing = set(written) - set(got)
        if not lossy:
            assert not missing, f"lost: {sorted(missing)}"
        return len(missing)
