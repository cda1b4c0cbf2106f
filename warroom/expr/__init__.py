"""Alert conditions: a small, safe expression language compiled to closures.

A condition such as `per_min(orders, 5m) < 10 and not absent(orders, 5m)` is read by a
hand-written tokenizer and recursive-descent parser (never `eval`), type-checked (a rule must
be a condition; `and` takes conditions, `>` takes numbers) and compiled once into nested
closures over a MetricsStore, so a clock tick costs a few function calls per rule.

Reference (durations: 250ms, 30s, 5m, 2h, 1d; a bare number is seconds):

    name                      headline value: total since launch, gauge's last, or ratio
    value(name)               the same, written out
    rate(name, 1m[, ago])     per second over the window (a gauge: its mean in the window)
    per_min(name, 5m[, ago])  rate * 60
    sum(name, 10m[, ago])     sum of the points in the window
    avg(name, 5m[, ago])      mean of the points in the window (latency and other values)
    change(name, 1m, 10m)     relative change of rate(name, 1m) against the 1m window that
                              ended 10m ago: 3.0 (= 300%) means four times the rate
    absent(name, 5m)          true when the metric has had no point for 5m, or never had one
    age(name)                 seconds since the metric's last point
    ago                       the window then ends that long before now

    numbers 12, 0.5, 1e3, 5% (= 0.05), 1k, 2.5M, 1G     arithmetic + - * /, parentheses
    comparisons < <= > >= == !=     logic and, or, not (comparisons do not chain)

No data. Every query answers None when it has nothing to say (an unknown metric, an empty
gauge window, a ratio over zero). Conditions use three-valued logic:

- arithmetic with None is None; division by zero is None; a result that is NaN or infinite
  is None, so a 0/0 ratio or an overflow can never fire an alert;
- a comparison with None on either side is NO_DATA (never true or false);
- `false and NO_DATA` is false, `true or NO_DATA` is true; otherwise NO_DATA wins over the
  remaining truth value; `not NO_DATA` is NO_DATA;
- `absent` and `age` are the exceptions: they are about missing data, so `absent` is
  always true or false.

The alert engine shows a NO_DATA result as "no data" and never fires on it.

Counters and gaps. Metrics are sums of increments folded into per-second buckets, never
cumulative counters read from a source, so a counter reset upstream cannot make a window sum
or rate negative; there is nothing to clamp. A counter window with no points sums to 0
(nothing happened, which is what `per_min(orders, 5m) < 10` is for); whether that zero is
real or the feed died is the engine's stale-source check, and `absent`. An average or gauge
over an empty window is None (no data).

Layout: `tree.py` (tokens, nodes, limits), `parser.py` (text to a checked tree),
`compiler.py` (tree to closures).
"""

from warroom.expr.compiler import Compiled, compile_expr
from warroom.expr.parser import parse, referenced_metrics
from warroom.expr.tree import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_WINDOW,
    NO_DATA,
    ExprError,
    Node,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_WINDOW",
    "NO_DATA",
    "Compiled",
    "ExprError",
    "Node",
    "compile_expr",
    "parse",
    "referenced_metrics",
]
