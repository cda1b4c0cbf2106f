"""A feed that dies does not resolve a firing alert: its rules say "no data" once the source
is silent, well before `stale_after`, and a firing alert stays firing until data shows the
condition clear. The engine, its alert rules and the health of a real source object, on a
clock the test moves; records are folded through the real pipeline."""

from __future__ import annotations

import pytest

from warroom.alerts import FIRING, RESOLVED, AlertEngine
from warroom.config import parse_config
from warroom.engine import Engine
from warroom.recorder import _stale_check

CONFIG = """
[[sources]]
name = "feed"
kind = "file"
path = "/nonexistent/warroom-test/feed.jsonl"
format = "jsonl"
stale_after = "30s"
{silent}

[[metrics]]
name = "orders"
source = "feed"

[[metrics]]
name = "queue"
source = "feed"
kind = "last"
field = "depth"

[[alerts]]
name = "order_surge"
expr = "rate(orders, 1m) > 15"

[[alerts]]
name = "deep_queue"
expr = "queue > 5"
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def run(silent: str) -> tuple[Engine, AlertEngine, Clock]:
    clock = Clock()
    engine = Engine(parse_config(CONFIG.format(silent=silent)), clock=clock)
    alerts = AlertEngine(engine.config.alerts, engine.metrics, clock=clock, stale=_stale_check(engine))
    return engine, alerts, clock


def second(engine: Engine, alerts: AlertEngine, clock: Clock, orders: int) -> None:
    clock.now += 1
    if orders:
        records = [{"ts": clock.now, "depth": 9}] * orders
        engine.pipeline.ingest("feed", records, clock.now)
        engine.sources[0].health.note_records(len(records), clock.now)
    engine.tick(clock.now)
    alerts.evaluate(clock.now)


def test_a_dead_feed_keeps_its_firing_alerts_firing_with_no_data() -> None:
    engine, alerts, clock = run("")
    health = engine.sources[0].health
    for _ in range(60):
        second(engine, alerts, clock, 20)
    assert alerts.state("order_surge") == FIRING and alerts.state("deep_queue") == FIRING
    for _ in range(25):  # the feed is dead; stale only after 30 s
        second(engine, alerts, clock, 0)
        assert alerts.state("order_surge") == FIRING and alerts.state("deep_queue") == FIRING
    assert health.state == "live" and engine.silent == {"feed"}
    views = {v.name: v for v in alerts.alerts(clock.now)}
    assert views["order_surge"].no_data and views["deep_queue"].no_data
    for _ in range(70):  # it speaks again, slowly: data shows the condition clear
        second(engine, alerts, clock, 1)
    assert engine.silent == set() and alerts.state("order_surge") == RESOLVED


@pytest.mark.parametrize("silent", ["silent_after = 0"])
def test_without_silence_the_decaying_rate_resolves_it_before_the_source_is_stale(silent: str) -> None:
    engine, alerts, clock = run(silent)
    for _ in range(60):
        second(engine, alerts, clock, 20)
    for _ in range(25):
        second(engine, alerts, clock, 0)
    assert engine.sources[0].health.state == "live"
    assert alerts.state("order_surge") == RESOLVED  # what the silence above prevents
