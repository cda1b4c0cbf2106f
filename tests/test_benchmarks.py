"""The benchmarks' baselines do the work they claim to do."""

from __future__ import annotations

import random

from benchmarks.alerts_eval import build_store, make_rules, queries_of
from warroom.alerts import AlertEngine
from warroom.expr import compile_expr, parse
from warroom.expr.tree import Logic

NOW = 1_800_000_000.0


def test_alert_baseline_makes_the_queries_the_engine_makes() -> None:
    rng = random.Random(7)
    store = build_store(lambda: NOW, NOW, rng)
    rules = make_rules(random.Random(7), 200)
    baseline = {q for rule in rules for q in queries_of(parse(rule.expr))}
    engine = AlertEngine(rules, store, clock=lambda: NOW, stale=lambda name: False)
    engine.evaluate()
    assert set(engine._cache) <= baseline  # the engine asks nothing the baseline does not
    for rule in rules:
        node = parse(rule.expr)
        if isinstance(node, Logic) or any(isinstance(child, Logic) for child in node.children()):
            continue  # and/or may stop early; every other form asks all its queries
        cache: dict = {}
        compile_expr(node, store, cache)()
        assert set(cache) == set(queries_of(node)), rule.expr
