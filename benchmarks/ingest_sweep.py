"""What ingest costs as the number of metrics grows: 10, 100 and 500 metrics.

    python -m benchmarks.ingest_sweep [--metrics 10,100,500] [--records N] [--runs R]

A launch with many metrics filters most of them on one field: one metric per event kind,
query or campaign. For each size the config has that many metrics: three that every record
feeds (requests, 5xx errors by a status range, summed latency) and the rest filtered on
`kind = "k<i>"` (a third of those split by channel, a third summing an amount); the records'
kinds are drawn evenly from as many kinds as there are kind-filtered metrics, so one record
in N matches each. The same
pre-parsed batches of 1,000 records are folded, best of R, interleaved:

  (a) Pipeline as warroom runs it: metrics indexed by their equality filters;
  (b) the baseline, Pipeline(index_filters=False): every filter tested on every record.

Both fold the same records into the same metrics with the same results (tests/test_pipeline.py
checks that on random configs). Prints records/s of each and (a)/(b).
"""

from __future__ import annotations

import argparse
import random
import time

from warroom.config import Config, MetricConfig, WebSocketSourceConfig
from warroom.metrics import MetricsStore
from warroom.pipeline import Pipeline

SOURCE = "feed"
BATCH = 1000
CHANNELS = ["social", "search", "direct", "email", "ads"]


def sweep_config(metrics: int) -> tuple[Config, int]:
    """`metrics` metrics; returns the config and the number of kinds the records spread over."""
    generic = [
        MetricConfig(name="requests"),
        MetricConfig(name="errors", where={"status": {"gte": 500}}),
        MetricConfig(name="latency", kind="sum", field="latency_ms", unit="ms"),
    ]
    filtered = metrics - len(generic)
    kinds = filtered
    specs = []
    for i in range(filtered):
        where = {"kind": f"k{i}"}
        if i % 3 == 1:
            specs.append(MetricConfig(name=f"kind_{i}", where=where, split_by="channel"))
        elif i % 3 == 2:
            specs.append(MetricConfig(name=f"kind_{i}", where=where, kind="sum", field="amount"))
        else:
            specs.append(MetricConfig(name=f"kind_{i}", where=where))
    source = WebSocketSourceConfig(kind="websocket", name=SOURCE, url="ws://127.0.0.1:1/")
    return Config(sources=[source], metrics=generic + specs), kinds


def make_batches(records: int, kinds: int, now: float, seed: int = 7) -> list[list[dict]]:
    rng = random.Random(seed)
    batches, batch = [], []
    for i in range(records):
        batch.append(
            {
                "ts": round(now - 1 + (i % BATCH) / BATCH, 3),
                "kind": f"k{rng.randrange(kinds)}",
                "channel": rng.choice(CHANNELS),
                "status": 200 if rng.random() > 0.02 else 502,
                "latency_ms": round(rng.lognormvariate(3.5, 0.5), 1),
                "amount": rng.randint(1, 90),
            }
        )
        if len(batch) == BATCH:
            batches.append(batch)
            batch = []
    if batch:
        batches.append(batch)
    return batches


def fold(config: Config, batches: list[list[dict]], now: float, index_filters: bool) -> float:
    pipeline = Pipeline(config, MetricsStore(config.metrics, clock=lambda: now), index_filters=index_filters)
    ingest = pipeline.ingest
    start = time.perf_counter()
    for batch in batches:
        ingest(SOURCE, batch, now)
    return time.perf_counter() - start


def measure(sizes: tuple[int, ...] = (10, 100, 500), records: int = 50_000, runs: int = 3) -> list[dict]:
    now = time.time()
    out = []
    for size in sizes:
        config, kinds = sweep_config(size)
        batches = make_batches(records, kinds, now)
        best = {True: float("inf"), False: float("inf")}
        for _ in range(runs):
            for index_filters in (True, False):
                best[index_filters] = min(best[index_filters], fold(config, batches, now, index_filters))
        out.append(
            {
                "metrics": size,
                "kinds": kinds,
                "records": records,
                "batch": BATCH,
                "indexed_per_s": records / best[True],
                "plain_per_s": records / best[False],
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", default="10,100,500")
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = tuple(int(n) for n in args.metrics.split(","))
    print(f"ingest, {args.records:,} records in batches of {BATCH}, best of {args.runs}")
    for r in measure(sizes, args.records, args.runs):
        print(
            f"  {r['metrics']:>4} metrics ({r['kinds']} kinds):  indexed {r['indexed_per_s']:>10,.0f} records/s"
            f"   every filter {r['plain_per_s']:>10,.0f} records/s"
            f"   ratio {r['indexed_per_s'] / r['plain_per_s']:.2f}x"
        )


if __name__ == "__main__":
    main()
