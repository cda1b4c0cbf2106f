"""Helpers shared by the fault tests: run a real source into a real Pipeline, wait, count;
and `crash_watch`, which sees the crashes of warroom code during a fault test."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

import warroom
from tests.sources.servers import wait_for
from warroom.config import Config, parse_config
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline
from warroom.sources import Source, build_source
from warroom.sources.base import SourceHealth

__all__ = ["Feed", "crash_watch", "feeding", "pipeline_for", "wait_for"]

WARROOM_CODE = str(Path(warroom.__file__).resolve().parent)
# A record of the app's log file (warroom.cli) at ERROR or worse from a warroom logger.
APP_LOG_ERROR = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (?:ERROR|CRITICAL) (warroom(?:\.[\w.]+)?): (.*)$")


def _raised_in_warroom(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename.startswith(WARROOM_CODE):
            return True
        traceback = traceback.tb_next
    return False


class CrashWatch(logging.Handler):
    """The unhandled exceptions of warroom code (a source, the engine, the app) in one test.

    A crash is any of: a record with a traceback at ERROR or worse from a `warroom` logger
    (the engine's supervisor, the file source, the alert engine, the app log them so); a
    source health fault named "crashed"; an exception raised through warroom code that
    reaches an asyncio loop's exception handler (a task nobody awaited); a source task that
    ended with an exception under `feeding`; and an ERROR record with a traceback in the log
    file of a `warroom` app or recorder run as a child process. One exception seen twice
    counts once.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.crashes: list[str] = []
        self._exceptions: list[BaseException] = []

    def add(self, what: str, exception: BaseException | None = None) -> None:
        if exception is not None:
            if any(exception is seen for seen in self._exceptions):
                return
            self._exceptions.append(exception)
            what = f"{what}: {type(exception).__name__}: {exception}"
        self.crashes.append(what)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] == "warroom" and record.exc_info and record.exc_info[1] is not None:
            self.add(f"logged by {record.name}: {record.getMessage()}", record.exc_info[1])

    @contextlib.contextmanager
    def watching(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[CrashWatch]:
        """Watch for the duration of the block (one test): log handler and spies on."""
        self.crashes, self._exceptions = [], []
        watch = self
        note_fault = SourceHealth.note_fault
        call_exception_handler = asyncio.BaseEventLoop.call_exception_handler

        def noting_fault(health: SourceHealth, kind: str, *args: Any, **kwargs: Any) -> None:
            if kind == "crashed":  # noted in the supervisor's `except`: the exception is current
                watch.add(f"source {health.name} crashed", sys.exc_info()[1])
            note_fault(health, kind, *args, **kwargs)

        def calling_exception_handler(loop: asyncio.BaseEventLoop, context: dict[str, Any]) -> None:
            exception = context.get("exception")
            if isinstance(exception, BaseException) and _raised_in_warroom(exception.__traceback__):
                watch.add(f"asyncio: {context.get('message', 'unhandled exception')}", exception)
            call_exception_handler(loop, context)

        monkeypatch.setattr(SourceHealth, "note_fault", noting_fault)
        monkeypatch.setattr(asyncio.BaseEventLoop, "call_exception_handler", calling_exception_handler)
        root = logging.getLogger()
        root.addHandler(self)
        try:
            yield self
        finally:
            root.removeHandler(self)

    def read_app_logs(self, directory: Path) -> None:
        """Count the crashes `warroom` child processes wrote to their log files under
        `directory`: the app's (warroom.log in its state directory) and a background
        recorder's (beside the room database)."""
        for log in [*directory.rglob("warroom.log"), *directory.rglob("*.recorder.log")]:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            for line, following in itertools.pairwise([*lines, ""]):
                found = APP_LOG_ERROR.match(line)
                if found and following.startswith("Traceback (most recent call last)"):
                    self.add(f"{log}: logged by {found[1]}: {found[2]}")


crash_watch = CrashWatch()


def pipeline_for(config_text: str) -> tuple[Config, Pipeline, MetricsStore]:
    """A Pipeline and MetricsStore for a config, as the engine builds them."""
    config = parse_config(config_text)
    metrics = MetricsStore(config.metrics, config.ratios, config.targets)
    return config, Pipeline(config, metrics), metrics


class Feed:
    """One source running into a Pipeline; `records` keeps what was emitted (if asked)."""

    def __init__(self, config: Config, pipeline: Pipeline, name: str, keep: bool = True) -> None:
        spec = next(s for s in config.sources if s.name == name)
        self.source: Source = build_source(spec)
        self.pipeline = pipeline
        self.name = name
        self.keep = keep
        self.records: list[dict[str, Any]] = []
        self.delivered = 0
        self.emit_errors: list[BaseException] = []
        self.observe = None  # optional callable(records), called before the pipeline

    @property
    def health(self):
        return self.source.health

    def emit(self, records: list[dict[str, Any]]) -> None:
        if self.observe is not None:
            self.observe(records)
        try:
            self.pipeline.ingest(self.name, records, self.source.clock())
        except BaseException as exc:  # a crash in the pipeline is what the suite looks for
            self.emit_errors.append(exc)
            raise
        self.delivered += len(records)
        if self.keep:
            self.records.extend(records)

    def rejects(self) -> dict[str, int]:
        return dict(self.pipeline.rejects[self.name])


@contextlib.asynccontextmanager
async def feeding(config: Config, pipeline: Pipeline, name: str, keep: bool = True) -> AsyncIterator[Feed]:
    """Run the named source as a task for the duration of the block; it must not end early."""
    feed = Feed(config, pipeline, name, keep)
    task = asyncio.create_task(feed.source.run(feed.emit))
    try:
        await asyncio.sleep(0)
        yield feed
        assert not task.done(), f"run() ended: {task.exception() if task.done() else ''}"
        assert feed.emit_errors == [], feed.emit_errors
    finally:
        if task.done() and not task.cancelled() and task.exception() is not None:
            crash_watch.add(f"source {name} ended", task.exception())
        for error in feed.emit_errors:
            crash_watch.add(f"source {name}: the pipeline raised", error)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


def all_finite(metrics: MetricsStore) -> bool:
    """Every number a panel or rule could read from the store is finite (or absent)."""
    for name, series in metrics.series.items():
        values = [series.total, series.total_since_launch, *series.labels.values()]
        if series.last is not None:
            values.append(series.last)
        value = metrics.value(name)
        if value is not None:
            values.append(value)
        if not all(math.isfinite(v) for v in values):
            return False
    return True
