"""Resuming a file source's checkpoint in a new source object, with a real writer process.

A writer (log_writer.py) appends numbered lines the whole time. A first source follows the
log and its caller commits (keeps the records and the checkpoint together) every third batch;
then the source is stopped, and what it emitted after the last commit is thrown away, as a
crash would. While nothing follows the log it is rotated; a new source resumes the committed
checkpoint. The committed lines plus the new source's lines must be every line exactly once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.faults.helpers import wait_for
from warroom.config import FileSourceConfig
from warroom.sources import SourceState
from warroom.sources.file import FileSource

pytestmark = pytest.mark.faults

WRITER = Path(__file__).with_name("log_writer.py")
TOTAL = 15_000


class Caller:
    """Commits records and checkpoint together every `every` batches, as the room does."""

    def __init__(self, every: int = 3) -> None:
        self.every = every
        self.committed: list[int] = []
        self.state: dict | None = None
        self._pending: list[int] = []
        self._batches = 0
        self.source: FileSource | None = None

    def emit(self, records) -> None:
        self._pending.extend(r["n"] for r in records)
        self._batches += 1
        if self._batches % self.every == 0:
            assert self.source is not None
            self.state = orjson.loads(orjson.dumps(self.source.checkpoint()))
            self.committed += self._pending
            self._pending = []

    def start(self, path: Path, state: dict | None = None) -> asyncio.Task:
        self.source = FileSource(FileSourceConfig(kind="file", name="web", path=str(path)))
        if state is not None:
            self.source.resume(state)
        return asyncio.create_task(self.source.run(self.emit))


def rename_rotation(log: Path, generation: int, writer: subprocess.Popen) -> None:
    os.rename(log, log.with_name(f"{log.name}.{generation}"))
    log.write_bytes(b"")
    writer.send_signal(signal.SIGHUP)


def copytruncate_rotation(log: Path, generation: int, writer: subprocess.Popen) -> None:
    """The writer is paused from the copy to the truncation: lines written in between would be
    in neither file, and no follower could be asked to find them."""
    writer.send_signal(signal.SIGSTOP)
    try:
        _copytruncate(log, generation)
    finally:
        writer.send_signal(signal.SIGCONT)


def _copytruncate(log: Path, generation: int) -> None:
    for older in range(generation, 1, -1):  # .1 -> .2 ... as logrotate shifts them
        previous = log.with_name(f"{log.name}.{older - 1}")
        if previous.exists():
            os.rename(previous, log.with_name(f"{log.name}.{older}"))
    shutil.copyfile(log, log.with_name(f"{log.name}.1"))
    os.truncate(log, 0)


@pytest.mark.parametrize("rotate", [rename_rotation, copytruncate_rotation], ids=["rename", "copytruncate"])
async def test_resume_after_a_stop_and_a_rotation_reads_every_line_once(tmp_path, tally, rotate):
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    first = Caller()
    task = first.start(log)
    await wait_for(lambda: first.source.health.state == SourceState.LIVE, timeout=5)
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(log), str(TOTAL), "50", "0.01"], stdout=subprocess.PIPE, text=True
    )
    second = Caller(every=1)
    try:
        await wait_for(lambda: len(first.committed) >= 3000, timeout=15)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert first.state is not None
        tally.fault()
        await asyncio.sleep(0.2)  # the writer goes on while nothing follows the log
        rotate(log, 1, writer)
        await asyncio.sleep(0.2)
        task = second.start(log, first.state)
        await wait_for(lambda: second.committed and second.committed[-1] == TOTAL - 1, timeout=20)
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    got = first.committed + second.committed
    tally.lost(records=TOTAL - len(set(got)))
    assert got == list(range(TOTAL))
    assert second.source is not None
    assert second.source.health.faults["resume_gap"] == 0
