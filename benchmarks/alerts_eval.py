"""What one alert tick costs: 200 rules over 50 metrics holding an hour of per-second data.

    python -m benchmarks.alerts_eval [--ticks N] [--seed S]

Builds a MetricsStore with 40 counters and 10 gauges (plus 5 ratios over them), fills the
last hour with one point per metric per second, and 200 rules of mixed forms: headline
values, rate / per_min / sum / avg over 1-10 minute windows, change against 10 minutes ago,
absent, ratios, arithmetic, and and/or/not compounds. Then, over N ticks with the clock
moving one second and one more second of data arriving per tick, it times:

  (a) AlertEngine.evaluate(): all 200 rules, state machine included, with the per-tick
      query cache the engine shares between rules;
  (b) the same 200 compiled conditions called one after another without that cache;
  (c) a baseline: 200 direct MetricsStore calls, each rule's first query made by hand.

It prints mean and p99 per tick for each, and (a)/(c) and (b)/(c) as ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from warroom.alerts import AlertEngine
from warroom.config import AlertRuleConfig, MetricConfig, RatioConfig
from warroom.expr import compile_expr
from warroom.metrics import MetricsStore

COUNTERS = [f"c{i:02d}" for i in range(40)]
GAUGES = [f"g{i:02d}" for i in range(10)]
RATIOS = [f"r{i}" for i in range(5)]
WINDOWS = ["1m", "2m", "5m", "10m"]
SECONDS = {"1m": 60, "2m": 120, "5m": 300, "10m": 600}


def build_store(clock, start: float, rng: random.Random) -> MetricsStore:
    store = MetricsStore(
        [MetricConfig(name=n) for n in COUNTERS]
        + [MetricConfig(name=n, kind="last", field="v") for n in GAUGES],
        [RatioConfig(name=r, numerator=COUNTERS[2 * i], denominator=COUNTERS[2 * i + 1], window=300)
         for i, r in enumerate(RATIOS)],
        clock=clock,
    )
    for second in range(int(start) - 3600, int(start)):
        feed(store, second, rng)
    return store


def make_rules(rng: random.Random) -> tuple[list[AlertRuleConfig], list[tuple]]:
    """200 rules and, for the baseline, each rule's first query as (method, args)."""
    rules, queries = [], []
    for i in range(200):
        c, c2, g, r = rng.choice(COUNTERS), rng.choice(COUNTERS), rng.choice(GAUGES), rng.choice(RATIOS)
        w = rng.choice(WINDOWS)
        form = i % 10
        if form == 0:
            expr, query = f"{c} > {rng.randint(1, 200)}k", ("value", c)
        elif form == 1:
            expr, query = f"rate({c}, {w}) > {rng.randint(5, 40)}", ("rate", c, SECONDS[w])
        elif form == 2:
            expr, query = f"per_min({c}, {w}) < {rng.randint(100, 2000)}", ("rate", c, SECONDS[w])
        elif form == 3:
            expr, query = f"sum({c}, {w}) > {rng.randint(100, 20000)}", ("window_sum", c, SECONDS[w])
        elif form == 4:
            expr, query = f"avg({g}, 5m) > {rng.randint(300, 900)}", ("window_mean", g, 300)
        elif form == 5:
            expr, query = f"change({c}, 1m, 10m) > 300%", ("rate", c, 60)
        elif form == 6:
            expr, query = f"absent({c}, 5m)", ("age", c)
        elif form == 7:
            expr, query = f"{r} < {rng.randint(1, 150)}%", ("value", r)
        elif form == 8:
            expr = f"sum({c}, {w}) / sum({c2}, {w}) > 1.5"
            query = ("window_sum", c, SECONDS[w])
        else:
            expr = f"(rate({c}, 1m) > 20 or {g} > 850) and not absent({c2}, 5m)"
            query = ("rate", c, 60)
        severity = ("critical", "warning", "info")[i % 3]
        rules.append(AlertRuleConfig(name=f"rule_{i:03d}", expr=expr, severity=severity,
                                     for_=rng.choice([0, 30, 60]), keep_firing_for=rng.choice([0, 60]),
                                     summary="value {value}"))
        queries.append(query)
    return rules, queries


def feed(store: MetricsStore, second: int, rng: random.Random) -> None:
    for name in COUNTERS:
        count = rng.randint(0, 40)
        store.add(name, second, float(count), count, now=second)
    for name in GAUGES:
        store.add(name, second, rng.uniform(50, 900), 1, now=second)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def describe(label: str, samples: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(samples)
    p99 = sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"  {label:<48} mean {mean * 1e3:7.3f} ms   p99 {p99 * 1e3:7.3f} ms")
    return mean, p99


def measure(ticks: int = 300, seed: int = 7) -> dict:
    """The figures for `python -m benchmarks`: mean and p99 per tick, in seconds."""
    rng = random.Random(seed)
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731
    store = build_store(clock, now[0], rng)
    rules, queries = make_rules(rng)
    engine = AlertEngine(rules, store, clock=clock, stale=lambda name: False)
    calls = [(getattr(store, q[0]), q[1:]) for q in queries]

    def direct() -> None:
        for method, call_args in calls:
            method(*call_args)

    engine.evaluate(), direct()
    engine_s, direct_s = [], []
    for _ in range(ticks):
        feed(store, int(now[0]), rng)
        now[0] += 1.0
        engine_s.append(timed(engine.evaluate))
        direct_s.append(timed(direct))

    def p99(samples: list[float]) -> float:
        return sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.99))]

    return {"rules": len(rules), "metrics": len(COUNTERS) + len(GAUGES), "ticks": ticks,
            "engine_mean_s": statistics.fmean(engine_s), "engine_p99_s": p99(engine_s),
            "direct_mean_s": statistics.fmean(direct_s), "direct_p99_s": p99(direct_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731

    started = time.perf_counter()
    store = build_store(clock, now[0], rng)
    rules, queries = make_rules(rng)
    built = time.perf_counter() - started
    engine = AlertEngine(rules, store, clock=clock, stale=lambda name: False)
    compiled = [compile_expr(rule.expr, store) for rule in rules]
    calls = [(getattr(store, q[0]), q[1:]) for q in queries]
    print(f"alerts_eval: {len(rules)} rules over {len(COUNTERS) + len(GAUGES)} metrics "
          f"(+{len(RATIOS)} ratios), an hour of per-second data (built in {built:.1f} s), "
          f"{args.ticks} ticks")

    def uncached() -> None:
        for condition in compiled:
            condition()

    def direct() -> None:
        for method, call_args in calls:
            method(*call_args)

    # Warm up once each; then per tick, feed the second that just ended (not timed) and time
    # the three on the same data, so that machine noise hits all three alike.
    engine.evaluate(), uncached(), direct()
    engine_s, uncached_s, direct_s = [], [], []
    for _ in range(args.ticks):
        feed(store, int(now[0]), rng)
        now[0] += 1.0
        engine_s.append(timed(engine.evaluate))
        uncached_s.append(timed(uncached))
        direct_s.append(timed(direct))

    a = describe("(a) AlertEngine.evaluate(), 200 rules", engine_s)
    b = describe("(b) 200 compiled conditions, no shared cache", uncached_s)
    c = describe("(c) baseline: 200 direct MetricsStore calls", direct_s)
    print(f"  ratio (a)/(c): mean {a[0] / c[0]:.2f}x   p99 {a[1] / c[1]:.2f}x")
    print(f"  ratio (b)/(c): mean {b[0] / c[0]:.2f}x   p99 {b[1] / c[1]:.2f}x")
    states: dict[str, int] = {}
    for name in engine.rule_names():
        states[engine.state(name)] = states.get(engine.state(name), 0) + 1
    print(f"  rule states after the run: {dict(sorted(states.items()))}; "
          f"history holds {len(engine.history())} transitions")


if __name__ == "__main__":
    main()
