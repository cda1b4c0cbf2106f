"""The data path in one object: sources -> pipeline -> metrics -> (alerts, room store).

The engine has no Textual import: the app runs `engine.run()` as a worker and reads the
engine's state on its own refresh tick, tests and benchmarks run it in plain asyncio. Every
source runs as its own task under `run`; a source that crashes despite its contract is
restarted after a pause and the crash shows on its health line, so one bad transport never
takes the dashboard down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from warroom.config import Config, builtin_metrics, launch_time_utc
from warroom.metrics import MetricsStore
from warroom.model import Record
from warroom.pipeline import Pipeline
from warroom.sources import Source, SourceHealth, SourceState, build_source

log = logging.getLogger(__name__)

CRASH_RESTART_DELAY = 5.0


class Engine:
    """Owns the sources and the state they feed; `tick` advances clocks and staleness."""

    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.time,
        tick_interval: float = 1.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.tick_interval = tick_interval
        self.metrics = MetricsStore([*config.metrics, *builtin_metrics()], config.ratios, config.targets, clock=clock)
        self.pipeline = Pipeline(config, self.metrics, on_tickets=self._on_tickets)
        self.sources: list[Source] = [build_source(s, clock=clock) for s in config.sources]
        self.launch_at: float | None = launch_time_utc(config)
        self.metrics.set_launch(self.launch_at)
        self._tick_listeners: list[Callable[[float], object]] = []
        self._ticket_listeners: list[Callable[[str, list[Record]], None]] = []
        self._fold_listeners: list[Callable[[], None]] = []
        self.silent: set[str] = set()
        """Sources silent at the last tick (see SourceHealth.silent)."""

    # ------------------------------------------------------------------ wiring

    def on_tick(self, listener: Callable[[float], object]) -> None:
        """Call `listener(now)` on every engine tick (alerts, SLA checks, history)."""
        self._tick_listeners.append(listener)

    def on_fold(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each batch of records is folded into the metrics."""
        self._fold_listeners.append(listener)

    def on_tickets(self, listener: Callable[[str, list[Record]], None]) -> None:
        """Call `listener(source, records)` with each batch of ticket records."""
        self._ticket_listeners.append(listener)

    def _on_tickets(self, source: str, records: list[Record]) -> None:
        for listener in self._ticket_listeners:
            listener(source, records)

    def set_launch(self, launch_at: float | None) -> None:
        self.launch_at = launch_at
        self.metrics.set_launch(launch_at)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run every source and the tick loop until cancelled."""
        tasks = [asyncio.create_task(self._supervise(s), name=f"source:{s.name}") for s in self.sources]
        tasks.append(asyncio.create_task(self._tick_loop(), name="engine:tick"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervise(self, source: Source) -> None:
        emit = self._emitter(source)
        while True:
            try:
                await source.run(emit)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in a transport: show it, restart it
                log.exception("source %s crashed", source.name)
                source.health.note_fault("crashed")
                source.health.set_state(SourceState.ERROR, f"crashed: {type(exc).__name__}: {exc}", now=self.clock())
                await asyncio.sleep(CRASH_RESTART_DELAY)

    def _emitter(self, source: Source) -> Callable[[list[Record]], None]:
        ingest = self.pipeline.ingest
        name = source.name
        clock = self.clock
        folded = self._fold_listeners

        def emit(records: list[Record]) -> None:
            # The source counts what it delivers on its own health line; this only folds.
            ingest(name, records, clock())
            for listener in folded:
                listener()

        return emit

    async def _tick_loop(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.tick_interval)

    def tick(self, now: float | None = None) -> None:
        """Mark quiet sources stale (and note the silent ones), then let listeners (alerts,
        store) advance."""
        now = self.clock() if now is None else now
        for source in self.sources:
            health = source.health
            quiet_for = now - (health.last_record_at if health.last_record_at is not None else health.since)
            if health.state == SourceState.LIVE and quiet_for > source.config.stale_after:
                health.set_state(SourceState.STALE, f"no record for {quiet_for:.0f}s", now=now)
        self.silent = {s.name for s in self.sources if s.health.silent(now, s.config.silent_after)}
        for listener in self._tick_listeners:
            listener(now)

    # ------------------------------------------------------------------ reading

    def health(self) -> list[SourceHealth]:
        return [s.health for s in self.sources]

    def rejects(self, source: str) -> int:
        """Records a source delivered that the pipeline could not use."""
        return self.pipeline.reject_count(source)

    def stale_sources(self) -> set[str]:
        """Sources whose alert rules say "no data": stale, failing, or silent at the last tick."""
        down = {s.name for s in self.sources if s.health.state in (SourceState.STALE, SourceState.ERROR)}
        return down | self.silent
