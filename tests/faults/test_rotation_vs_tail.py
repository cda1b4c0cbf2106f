"""The file source beside GNU `tail -F` on the same log, rotated by logrotate under load.

A writer process (log_writer.py) appends numbered lines at 5,000 lines/s through an O_APPEND
descriptor; logrotate rotates the log every few tenths of a second, either by `copytruncate`
or by renaming it (`create`, then a SIGHUP so the writer reopens, as nginx is told to). The
file source (in a process of its own, follow_child.py) and `tail -F -n 0` follow the same
path from the same moment. Every line carries
its sequence number, so lost and doubled lines are counted exactly.

What must hold: no line twice; with rename rotation, no line lost; with copytruncate, no more
lines lost than `tail -F` lost in the same run. Lines the writer adds between logrotate's copy
and its truncation (logrotate fsyncs the copy in between: about 10 ms on this disk) are in
neither file afterwards; a follower has them only if it read them in that window. Both do on
a machine with a core to spare; with every core busy, it is a race either can lose (measured
with two busy-loop processes on the two cores, five runs: warroom lost 0 to 200 lines of
20,000, tail -F 0 to 100, warroom more in two runs), and this test can fail there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.faults.helpers import wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(shutil.which("logrotate") is None, reason="needs logrotate (apt-get install logrotate)"),
    pytest.mark.skipif(shutil.which("tail") is None, reason="needs GNU tail"),
]

WRITER = Path(__file__).with_name("log_writer.py")
FOLLOWER = Path(__file__).with_name("follow_child.py")
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
TOTAL = 20_000
BATCH, PAUSE = 50, 0.01  # 5,000 lines/s
ROTATIONS = 8


class Follower:
    """A follower in a process of its own, writing what it reads to a file that is parsed
    once it is stopped: GNU `tail -F -n 0`, or warroom's file source (follow_child.py). Both
    have a process to themselves, so neither competes with the test or the other for the
    interpreter, and neither carries the test process's heap."""

    def __init__(self, command: list[str], out: Path, parse) -> None:
        self.out, self._parse = out, parse
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.report = b""

    def has(self, seq: int) -> bool:
        return self.out.exists() and b"%d" % seq in self.out.read_bytes()[-200:]

    def stop(self) -> list[int]:
        self.process.terminate()
        self.report, _ = self.process.communicate(timeout=10)
        return [self._parse(line) for line in self.out.read_bytes().splitlines()]


def tail_f(path: Path, out: Path) -> Follower:
    out.touch()
    return Follower(["sh", "-c", f'exec tail -F -n 0 -s 0.05 "{path}" > "{out}"'], out, _json_seq)


def warroom_follower(path: Path, out: Path) -> Follower:
    return Follower([sys.executable, str(FOLLOWER), str(path), str(out)], out, int)


def _json_seq(line: bytes) -> int:
    try:
        return orjson.loads(line)["n"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return -1  # a half line: counted as neither lost nor doubled


def logrotate_config(directory: Path, log: Path, mode: str, writer_pid: int) -> Path:
    if mode == "copytruncate":
        body = "    copytruncate\n"
    else:
        body = f"    create\n    postrotate\n        kill -HUP {writer_pid}\n    endscript\n"
    conf = directory / "logrotate.conf"
    conf.write_text(f"{log} {{\n    rotate {ROTATIONS + 2}\n    missingok\n    nocompress\n{body}}}\n")
    os.chmod(conf, 0o644)  # logrotate refuses a config others can write
    return conf


def counts(seqs: list[int]) -> tuple[int, int]:
    """(lost, doubled) among the TOTAL numbered lines."""
    seen = [n for n in seqs if n >= 0]
    return TOTAL - len(set(seen)), len(seen) - len(set(seen))


@pytest.mark.parametrize("mode", ["copytruncate", "rename"])
async def test_under_logrotate_at_5000_lines_a_second_beside_tail_f(tmp_path, tally, mode):
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    ours = warroom_follower(log, tmp_path / "warroom.out")
    assert ours.process.stdout is not None
    assert (await asyncio.to_thread(ours.process.stdout.readline)).strip() == b"live"
    tail = tail_f(log, tmp_path / "tail.out")
    our_seqs: list[int] = []
    tail_seqs: list[int] = []
    writer = None
    try:
        await asyncio.sleep(0.3)  # tail -F has opened the file too
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(log), str(TOTAL), str(BATCH), str(PAUSE)],
            stdout=subprocess.PIPE,
            text=True,
        )
        conf = logrotate_config(tmp_path, log, mode, writer.pid)
        state = tmp_path / "logrotate.state"
        for _ in range(ROTATIONS):
            await asyncio.sleep(0.4)
            rotate = await asyncio.create_subprocess_exec(LOGROTATE, "-f", "-s", str(state), str(conf))
            assert await rotate.wait() == 0
            tally.fault()
        assert writer.stdout is not None
        done = (await asyncio.to_thread(writer.stdout.readline)).split()
        seconds = float(done[1])
        last = TOTAL - 1
        await wait_for(lambda: ours.has(last) and tail.has(last), timeout=15)
        await asyncio.sleep(0.3)  # anything doubled would arrive now
    finally:
        if writer is not None:
            writer.kill()
            writer.wait()
            assert writer.stdout is not None
            writer.stdout.close()
        tail_seqs = tail.stop()
        our_seqs = ours.stop()
    faults = orjson.loads(ours.report.splitlines()[-1])
    our_lost, our_doubled = counts(our_seqs)
    tail_lost, tail_doubled = counts(tail_seqs)
    tally.lost(records=our_lost)
    print(
        f"\n{mode}: {TOTAL} lines in {seconds:.2f} s ({TOTAL / seconds:,.0f} lines/s), "
        f"{ROTATIONS} rotations; warroom lost {our_lost}, doubled {our_doubled}; "
        f"tail -F lost {tail_lost}, doubled {tail_doubled}; faults {faults}"
    )
    assert our_doubled == 0
    assert our_seqs == sorted(our_seqs)
    if mode == "rename":
        assert our_lost == 0
        assert faults["rotated"] == ROTATIONS
    else:
        assert our_lost <= tail_lost
        assert faults["truncated"] == ROTATIONS
