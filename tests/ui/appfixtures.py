"""A deterministic app for UI tests: a fixed clock and metrics fed through the pipeline."""

from __future__ import annotations

from pathlib import Path

from warroom.app import WarroomApp
from warroom.config import parse_config
from warroom.room import open_room

LAUNCH = 1_795_600_800.0  # 2026-11-25T10:00:00Z
NOW = LAUNCH + 754.0  # T+00:12:34

CONFIG = """
[launch]
name = "Test launch"
at = 2026-11-25T10:00:00+00:00

[[sources]]
name = "web"
kind = "file"
path = "/nonexistent/warroom-test/access.log"
format = "nginx"

[[metrics]]
name = "visits"
source = "web"
where = { path = { prefix = "/landing" } }
split_by = "channel"

[[metrics]]
name = "errors"
source = "web"
where = { status = { gte = 500 } }

[[metrics]]
name = "requests"
source = "web"

[[metrics]]
name = "orders"
source = "web"
where = { path = "/checkout/done" }
split_by = "channel"

[[metrics]]
name = "revenue"
source = "web"
where = { path = "/checkout/done" }
kind = "sum"
field = "amount"

[[ratios]]
name = "error_rate"
numerator = "errors"
denominator = "requests"

[[targets]]
metric = "orders"
value = 400

[[alerts]]
name = "errors_seen"
expr = "value(errors) > 0"
severity = "critical"
summary = "{value} failed requests"
runbook = "Check the payment gateway; switch checkout to the fallback provider."

[panels.traffic]
metrics = ["visits", "error_rate"]

[panels.conversion]
metrics = ["orders", "revenue"]
funnel = ["visits", "orders"]
"""


class FixedClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(db_dir: Path, clock: FixedClock | None = None, feed: bool = True,
             launched: bool = True) -> WarroomApp:
    clock = clock or FixedClock()
    text = CONFIG if launched else CONFIG.replace("at = 2026-11-25T10:00:00+00:00\n", "")
    config = parse_config(text + f'\n[room]\ndb = "{db_dir / "room.db"}"\n')
    room = open_room(config, "ana", clock=clock)
    engine = room.engine
    if feed:
        records = []
        for second in range(600):
            ts = clock.now - 600 + second
            channel = ("social", "push", "search")[second % 3]
            records.append({"path": f"/landing?utm_source={channel}", "status": 200, "ts": ts})
            if second % 4 == 0:
                records.append({"path": "/checkout/done", "status": 200, "ts": ts,
                                "amount": 20, "channel": channel})
            if second % 50 == 0:
                records.append({"path": "/api/pay", "status": 502, "ts": ts})
        engine.pipeline.ingest("web", records, clock.now)
    return WarroomApp(room)
