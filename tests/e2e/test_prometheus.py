"""A real Prometheus scraping a target with known values: warroom reads what its API answers.

The test serves `/metrics` itself on 127.0.0.1 (`campaign_orders_total`, a counter, and
`campaign_participants`, a gauge) and moves the values on a fixed schedule. A real Prometheus
scrapes it every second. warroom's `prometheus` source, run through the Engine like in the
app, polls three instant queries: the counter, the gauge and `rate(...[30s])`.

Every sample warroom took carries Prometheus's evaluation time. The test asks the query API
the same query at that same time and requires the same number, for the plain values and the
rate, while the counter grows and after it stops; and the values read must be values the
target really served, ending at the final known ones.

One race is Prometheus's, not ours: a scrape stamps its samples with its start time but
commits them when the scrape ends, so a query evaluated in between misses a sample that a
later query at the same time sees. Such an evaluation (within a scrape's own recorded
`scrape_duration_seconds`, plus COMMIT_MARGIN) is recognised and not compared; every other
one must match exactly. Once the values stop changing the race cannot change an answer, so
those samples are always compared: a loaded machine with slow scrapes still checks enough.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from warroom.config import parse_config
from warroom.engine import Engine

from .conftest import Prometheus, require_binary, wait_until

START_ORDERS = 1000
START_PARTICIPANTS = 250
STEP_ORDERS = 3  # per step; four steps a second: 12 orders/s
STEPS = 32  # 8 seconds of growth
FINAL_ORDERS = START_ORDERS + STEP_ORDERS * STEPS  # 1096
FINAL_PARTICIPANTS = 321
COMMIT_MARGIN = 0.05  # from the end of a scrape's measured duration to its commit

QUERIES = {
    "orders": "campaign_orders_total",
    "participants": "campaign_participants",
    "order_rate": "rate(campaign_orders_total[30s])",
}

CONFIG = """
[[sources]]
name = "prom"
kind = "prometheus"
url = "{url}"
interval = "1s"
deadline = "3s"

[sources.queries]
orders = "campaign_orders_total"
participants = "campaign_participants"
order_rate = "rate(campaign_orders_total[30s])"

[[metrics]]
name = "orders"
source = "prom"
where = {{ query = "orders" }}
kind = "last"
field = "value"

[[metrics]]
name = "participants"
source = "prom"
where = {{ query = "participants" }}
kind = "last"
field = "value"

[[metrics]]
name = "order_rate"
source = "prom"
where = {{ query = "order_rate" }}
kind = "last"
field = "value"
"""


class CampaignTarget(ThreadingHTTPServer):
    """A /metrics endpoint whose values the test sets; remembers every value it served."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _MetricsHandler)
        self.port = self.server_address[1]
        self.lock = threading.Lock()
        self.orders = START_ORDERS
        self.participants = START_PARTICIPANTS
        self.served: dict[str, set[float]] = {"orders": set(), "participants": set()}
        self.scrapes = 0

    def exposition(self) -> bytes:
        with self.lock:
            self.scrapes += 1
            self.served["orders"].add(float(self.orders))
            self.served["participants"].add(float(self.participants))
            return (
                "# HELP campaign_orders_total Orders placed since the shop opened.\n"
                "# TYPE campaign_orders_total counter\n"
                f"campaign_orders_total {self.orders}\n"
                "# HELP campaign_participants Participants in the campaign right now.\n"
                "# TYPE campaign_participants gauge\n"
                f"campaign_participants {self.participants}\n"
            ).encode()

    def step(self, n: int) -> None:
        with self.lock:
            self.orders += STEP_ORDERS
            self.participants = START_PARTICIPANTS + (n * (FINAL_PARTICIPANTS - START_PARTICIPANTS)) // STEPS


class _MetricsHandler(BaseHTTPRequestHandler):
    server: CampaignTarget

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = self.server.exposition()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def target() -> Iterator[CampaignTarget]:
    server = CampaignTarget()
    thread = threading.Thread(target=server.serve_forever, name="metrics-target", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def prometheus(tmp_path: Path, target: CampaignTarget) -> Iterator[Prometheus]:
    server = Prometheus(require_binary("prometheus"), tmp_path, target.port)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def api(prom: Prometheus, query: str, at: float | None = None) -> list:
    """The `result` of an instant query through Prometheus's own HTTP API."""
    params = {"query": query}
    if at is not None:
        params["time"] = repr(at)
    answer = httpx.get(f"{prom.url}/api/v1/query", params=params, timeout=5.0).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def api_value(prom: Prometheus, query: str, at: float | None = None) -> float | None:
    result = api(prom, query, at)
    return float(result[0]["value"][1]) if result else None


def scrape_in_flight(prom: Prometheus, at: float) -> bool:
    """Whether a scrape of the target was under way at `at` (started, not yet committed)."""
    samples = api(prom, 'scrape_duration_seconds{job="campaign"}[3s]', at)
    scrapes = [(float(t), float(d)) for t, d in samples[0]["values"]] if samples else []
    return any(t <= at <= t + d + COMMIT_MARGIN for t, d in scrapes)


async def test_prometheus_source_reads_what_the_query_api_answers(
    prometheus: Prometheus, target: CampaignTarget
) -> None:
    started = time.monotonic()
    # Prometheus has scraped the starting values.
    wait_until(
        lambda: api_value(prometheus, QUERIES["orders"]) == START_ORDERS,
        15,
        "first scrape",
        prometheus.proc,
        prometheus.log,
    )

    engine = Engine(parse_config(CONFIG.format(url=prometheus.url)))
    task = asyncio.create_task(engine.run())
    taken: dict[str, dict[float, float]] = {name: {} for name in QUERIES}  # ts -> value

    def collect() -> None:
        for name in QUERIES:
            series = engine.metrics.series[name]
            if series.last_ts is not None:
                taken[name][series.last_ts] = series.last

    async def watch(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            collect()
            await asyncio.sleep(0.1)

    try:
        # Growth: 12 orders a second for 8 s, participants climbing to their final value.
        for n in range(1, STEPS + 1):
            target.step(n)
            await watch(0.25)
        # Prometheus has the final values; warroom has polled them at least twice.
        await asyncio.to_thread(
            wait_until,
            lambda: (
                api_value(prometheus, QUERIES["orders"]) == FINAL_ORDERS
                and api_value(prometheus, QUERIES["participants"]) == FINAL_PARTICIPANTS
            ),
            10,
            "final scrape",
            prometheus.proc,
            prometheus.log,
        )
        final_seen = time.time()
        while not all(any(ts > final_seen for ts in taken[name]) for name in QUERIES):
            assert time.monotonic() - started < 50, "warroom did not poll after the final scrape"
            await watch(0.2)
        steady_from = time.time()
        await watch(4.0)  # the values no longer change: these samples cannot race a scrape
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    health = engine.sources[0].health
    assert health.faults == {} and health.bad_records == 0, health
    # Known values: warroom read only values the target served, and ended on the final ones.
    assert set(taken["orders"].values()) <= target.served["orders"]
    assert set(taken["participants"].values()) <= target.served["participants"]
    assert engine.metrics.value("orders") == FINAL_ORDERS
    assert engine.metrics.value("participants") == FINAL_PARTICIPANTS
    assert len(set(taken["orders"].values())) >= 3, "too few polls during the growth"
    in_time_order = [value for _, value in sorted(taken["orders"].items())]
    assert in_time_order == sorted(in_time_order), "a counter read went backwards"

    # Every sample equals the API's answer for the same query at the same evaluation time.
    compared = skipped = 0
    for name, samples in taken.items():
        for ts, value in sorted(samples.items()):
            steady = name != "order_rate" and ts >= steady_from  # a rate still slides
            if not steady and scrape_in_flight(prometheus, ts):
                skipped += 1
                continue
            assert value == api_value(prometheus, QUERIES[name], ts), (name, ts)
            compared += 1
    rates = list(taken["order_rate"].values())
    assert max(rates) > 0
    # Under load many growth samples may coincide with a slow scrape and be skipped; the
    # steady ones are always compared, so there are always enough.
    assert compared >= 10, (compared, skipped)
    last_rate_ts = max(taken["order_rate"])
    elapsed = time.monotonic() - started
    print(
        f"\n{compared} samples compared with the query API ({skipped} taken mid-scrape, skipped); "
        f"orders {START_ORDERS}->{FINAL_ORDERS}, participants {START_PARTICIPANTS}->{FINAL_PARTICIPANTS}, "
        f"rate up to {max(rates):.3f}/s, last {taken['order_rate'][last_rate_ts]:.3f}/s; "
        f"{target.scrapes} scrapes; {elapsed:.1f}s"
    )
