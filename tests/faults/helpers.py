"""Helpers shared by the fault tests: run a real source into a real Pipeline, wait, count."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any

from tests.sources.servers import wait_for
from warroom.config import Config, parse_config
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline
from warroom.sources import Source, build_source

__all__ = ["Feed", "feeding", "pipeline_for", "wait_for"]


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
