"""What one alert tick costs: 200 rules (or any number) over 50 metrics holding an hour of
per-second data.

    python -m benchmarks.alerts_eval [--rules N] [--ticks N] [--seed S]

Builds a MetricsStore with 40 counters and 10 gauges (plus 5 ratios over them), fills the
last hour with one point per metric per second, and 200 rules of mixed forms: headline
values, rate / per_min / sum / avg over 1-10 minute windows, change against 10 minutes ago,
absent, ratios, arithmetic, and and/or/not compounds. Then, over N ticks with the clock
moving one second and one more second of data arriving per tick, it times:

  (a) AlertEngine.evaluate(): all 200 rules, state machine included, with the per-tick
      query cache the engine shares between rules;
  (b) the same 200 compiled conditions called one after another without that cache;
  (c) a baseline doing the same queries: every distinct MetricsStore call the 200 rules'
      expressions make (read from their syntax trees: `change` is two rates, `a / b` two
      sums), each called once per tick, as the engine's cache does.

It prints mean and p99 per tick for each, and (a)/(c) and (b)/(c) as ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from warroom.alerts import AlertEngine
from warroom.config import AlertRuleConfig, MetricConfig, RatioConfig
from warroom.expr import compile_expr, parse
from warroom.expr.tree import Call, Metric, Node
from warroom.metrics import MetricsStore

COUNTERS = [f"c{i:02d}" for i in range(40)]
GAUGES = [f"g{i:02d}" for i in range(10)]
RATIOS = [f"r{i}" for i in range(5)]
WINDOWS = ["1m", "2m", "5m", "10m"]
SECONDS = {"1m": 60, "2m": 120, "5m": 300, "10m": 600}


def build_store(clock, start: float, rng: random.Random) -> MetricsStore:
    store = MetricsStore(
        [MetricConfig(name=n) for n in COUNTERS] + [MetricConfig(name=n, kind="last", field="v") for n in GAUGES],
        [
            RatioConfig(name=r, numerator=COUNTERS[2 * i], denominator=COUNTERS[2 * i + 1], window=300)
            for i, r in enumerate(RATIOS)
        ],
        clock=clock,
    )
    for second in range(int(start) - 3600, int(start)):
        feed(store, second, rng)
    return store


def make_rules(rng: random.Random, count: int = 200) -> list[AlertRuleConfig]:
    """`count` rules of the ten forms in turn."""
    rules = []
    for i in range(count):
        c, c2, g, r = rng.choice(COUNTERS), rng.choice(COUNTERS), rng.choice(GAUGES), rng.choice(RATIOS)
        w = rng.choice(WINDOWS)
        form = i % 10
        if form == 0:
            expr = f"{c} > {rng.randint(1, 200)}k"
        elif form == 1:
            expr = f"rate({c}, {w}) > {rng.randint(5, 40)}"
        elif form == 2:
            expr = f"per_min({c}, {w}) < {rng.randint(100, 2000)}"
        elif form == 3:
            expr = f"sum({c}, {w}) > {rng.randint(100, 20000)}"
        elif form == 4:
            expr = f"avg({g}, 5m) > {rng.randint(300, 900)}"
        elif form == 5:
            expr = f"change({c}, 1m, 10m) > 300%"
        elif form == 6:
            expr = f"absent({c}, 5m)"
        elif form == 7:
            expr = f"{r} < {rng.randint(1, 150)}%"
        elif form == 8:
            expr = f"sum({c}, {w}) / sum({c2}, {w}) > 1.5"
        else:
            expr = f"(rate({c}, 1m) > 20 or {g} > 850) and not absent({c2}, 5m)"
        severity = ("critical", "warning", "info")[i % 3]
        rules.append(
            AlertRuleConfig(
                name=f"rule_{i:03d}",
                expr=expr,
                severity=severity,
                for_=rng.choice([0, 30, 60]),
                keep_firing_for=rng.choice([0, 60]),
                summary="value {value}",
            )
        )
    return rules


# The MetricsStore call behind each function of the expression language (see expr/compiler.py).
_METHODS = {
    "value": "value",
    "age": "age",
    "absent": "age",
    "rate": "rate",
    "per_min": "rate",
    "sum": "window_sum",
    "avg": "window_mean",
}


def queries_of(node: Node) -> list[tuple]:
    """Every (method, *args) MetricsStore call an expression makes when evaluated in full."""
    if isinstance(node, Metric):
        return [("value", node.name)]
    if isinstance(node, Call):
        if node.func == "change":
            window, ago = node.args
            return [("rate", node.metric, window), ("rate", node.metric, window, ago)]
        args = node.args[:0] if node.func == "absent" else node.args
        return [(_METHODS[node.func], node.metric, *args)]
    return [query for child in node.children() for query in queries_of(child)]


def baseline_calls(store: MetricsStore, rules: list[AlertRuleConfig]) -> list[tuple]:
    """The distinct queries of all rules, as (bound method, args), once each."""
    distinct = dict.fromkeys(q for rule in rules for q in queries_of(parse(rule.expr)))
    return [(getattr(store, q[0]), q[1:]) for q in distinct]


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


def p99(samples: list[float]) -> float:
    return sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.99))]


def measure(ticks: int = 300, seed: int = 7, rule_counts: tuple[int, ...] = (200,)) -> list[dict]:
    """The figures for `python -m benchmarks`: per rule count, mean and p99 per tick (seconds)
    of the engine and of the baseline doing the same queries, on one store fed as it goes."""
    rng = random.Random(seed)
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731
    store = build_store(clock, now[0], rng)
    out = []
    for count in rule_counts:
        rules = make_rules(random.Random(seed), count)
        engine = AlertEngine(rules, store, clock=clock, stale=lambda name: False)
        calls = baseline_calls(store, rules)

        def direct(calls=calls) -> None:
            for method, call_args in calls:
                method(*call_args)

        engine.evaluate(), direct()
        engine_s, direct_s = [], []
        for _ in range(ticks):
            feed(store, int(now[0]), rng)
            now[0] += 1.0
            engine_s.append(timed(engine.evaluate))
            direct_s.append(timed(direct))
        out.append(
            {
                "rules": count,
                "metrics": len(COUNTERS) + len(GAUGES),
                "ticks": ticks,
                "queries": len(calls),
                "engine_mean_s": statistics.fmean(engine_s),
                "engine_p99_s": p99(engine_s),
                "direct_mean_s": statistics.fmean(direct_s),
                "direct_p99_s": p99(direct_s),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731

    started = time.perf_counter()
    store = build_store(clock, now[0], rng)
    rules = make_rules(random.Random(args.seed), args.rules)
    built = time.perf_counter() - started
    engine = AlertEngine(rules, store, clock=clock, stale=lambda name: False)
    compiled = [compile_expr(rule.expr, store) for rule in rules]
    calls = baseline_calls(store, rules)
    print(
        f"alerts_eval: {len(rules)} rules over {len(COUNTERS) + len(GAUGES)} metrics "
        f"(+{len(RATIOS)} ratios), an hour of per-second data (built in {built:.1f} s), "
        f"{args.ticks} ticks; the rules make {len(calls)} distinct queries"
    )

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

    a = describe(f"(a) AlertEngine.evaluate(), {len(rules)} rules", engine_s)
    b = describe(f"(b) {len(rules)} compiled conditions, no shared cache", uncached_s)
    c = describe(f"(c) baseline: the {len(calls)} queries, called directly", direct_s)
    print(f"  ratio (a)/(c): mean {a[0] / c[0]:.2f}x   p99 {a[1] / c[1]:.2f}x")
    print(f"  ratio (b)/(c): mean {b[0] / c[0]:.2f}x   p99 {b[1] / c[1]:.2f}x")
    states: dict[str, int] = {}
    for name in engine.rule_names():
        states[engine.state(name)] = states.get(engine.state(name), 0) + 1
    print(
        f"  rule states after the run: {dict(sorted(states.items()))}; "
        f"history holds {len(engine.history())} transitions"
    )


if __name__ == "__main__":
    main()
