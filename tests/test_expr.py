"""The condition grammar: every construct, error positions, three-valued logic, hostile input."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from warroom.config import MetricConfig, RatioConfig
from warroom.expr import (
    MAX_DEPTH,
    NO_DATA,
    ExprError,
    compile_expr,
    parse,
    referenced_metrics,
)
from warroom.metrics import MetricsStore


class FakeMetrics:
    """Answers every query from a table; records the calls."""

    def __init__(self, **values: float | None) -> None:
        self.values = values
        self.calls: list[tuple] = []

    def _get(self, kind: str, name: str, *args: float) -> float | None:
        self.calls.append((kind, name) + args)
        for key in (f"{kind}:{name}:" + ":".join(f"{a:g}" for a in args), f"{kind}:{name}", name):
            if key in self.values:
                return self.values[key]
        return None

    def value(self, name):
        return self._get("value", name)

    def rate(self, name, window=60.0, offset=0.0):
        return self._get("rate", name, window, offset) if offset else self._get("rate", name, window)

    def window_sum(self, name, window, offset=0.0):
        return self._get("sum", name, window)

    def window_mean(self, name, window, offset=0.0):
        return self._get("avg", name, window)

    def age(self, name):
        return self._get("age", name)


def check(text: str, **values: float | None):
    return compile_expr(text, FakeMetrics(**values))()


# --------------------------------------------------------------------------- constructs


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("error_rate > 0.05", {"error_rate": 0.06}, True),
        ("error_rate > 5%", {"error_rate": 0.04}, False),
        ("value(error_rate) >= 0.04", {"error_rate": 0.04}, True),
        ("orders < 1k", {"orders": 999}, True),
        ("revenue >= 2.5M", {"revenue": 2_500_000}, True),
        ("revenue > 1G", {"revenue": 2e9}, True),
        ("x == 3", {"x": 3.0}, True),
        ("x != 3", {"x": 3.0}, False),
        ("x <= 3", {"x": 3.0}, True),
        ("x < 3", {"x": 3.0}, False),
        ("rate(visits, 1m) > 100", {"rate:visits:60": 150.0}, True),
        ("per_min(orders, 5m) < 10", {"rate:orders:300": 0.1}, True),  # 6 per minute
        ("per_min(orders, 5m) < 10", {"rate:orders:300": 0.2}, False),  # 12 per minute
        ("sum(orders, 10m) == 0", {"sum:orders:600": 0.0}, True),
        ("avg(latency_ms, 5m) > 800", {"avg:latency_ms:300": 900.0}, True),
        ("age(orders) > 60", {"age:orders": 61.0}, True),
        ("rate(visits, 1m, 10m) * 4 < rate(visits, 1m)", {"rate:visits:60:600": 10.0, "rate:visits:60": 50.0}, True),
        ("-x < -2", {"x": 3.0}, True),
        ("+x > 2", {"x": 3.0}, True),
        ("2 + 3 * 4 == 14", {}, True),
        ("(2 + 3) * 4 == 20", {}, True),
        ("10 - 4 - 3 == 3", {}, True),
        ("12 / 3 / 2 == 2", {}, True),
        ("a / b > 0.5", {"a": 3.0, "b": 4.0}, True),
        ("x > 1 and y > 1", {"x": 2.0, "y": 2.0}, True),
        ("x > 1 and y > 1", {"x": 2.0, "y": 0.0}, False),
        ("x > 1 or y > 1", {"x": 0.0, "y": 2.0}, True),
        ("not x > 1", {"x": 0.0}, True),
        ("not (x > 1 or y > 1) and z < 1", {"x": 0.0, "y": 0.0, "z": 0.0}, True),
        ("x > .5e1", {"x": 6.0}, True),
        ("1e3 == 1k", {}, True),
        ("x>1and y>1".replace("and", " and "), {"x": 2.0, "y": 2.0}, True),
        ("\tx\n>\n1 ", {"x": 2.0}, True),
    ],
)
def test_constructs(text, values, expected):
    assert check(text, **values) is expected


def test_change_is_relative_change_of_rate_against_window_ago():
    values = {"rate:visits:60": 40.0, "rate:visits:60:600": 10.0}
    compiled = compile_expr("change(visits, 1m, 10m) > 300%", FakeMetrics(**values))
    assert compiled() is False  # exactly four times: up 300%, not more
    assert compiled.value == pytest.approx(3.0)
    values["rate:visits:60"] = 41.0
    assert compile_expr("change(visits, 1m, 10m) > 300%", FakeMetrics(**values))() is True
    assert check("change(visits, 1m, 10m) < -50%", **{"rate:visits:60": 4.0, "rate:visits:60:600": 10.0})


def test_durations_in_every_unit():
    fake = FakeMetrics()
    text = "rate(a, 90) > 0 or rate(a, 2h) > 0 or rate(a, 23h, 0.5s) > 0 or sum(a, 1500ms) > 0 or avg(a, 30s) > 0"
    compile_expr(text, fake)()
    assert [c[2:] for c in fake.calls] == [(90.0,), (7200.0,), (82800.0, 0.5), (1.5,), (30.0,)]
    parse("rate(a, 1d) > 0")


def test_absent():
    assert check("absent(orders, 5m)", **{"age:orders": 301.0}) is True
    assert check("absent(orders, 5m)", **{"age:orders": 299.0}) is False
    assert check("absent(orders, 5m)") is True  # never had data
    assert check("not absent(orders, 5m)") is False


def test_value_is_left_side_of_first_comparison():
    fake = FakeMetrics(x=7.0, y=1.0)
    compiled = compile_expr("y < 0 or x * 2 > 100", fake)
    assert compiled() is False
    assert compiled.value == 1.0
    assert compiled.value_metric == "y"
    absent = compile_expr("absent(q, 1m) and x > 1", FakeMetrics(x=2.0, **{"age:q": 90.0}))
    assert absent() is True and absent.value == 90.0


def test_referenced_metrics():
    node = parse("a > 1 and rate(b, 1m) < c or absent(d, 5m) or age(e) > 3")
    assert referenced_metrics(node) == {"a", "b", "c", "d", "e"}
    assert referenced_metrics(node, absence=False) == {"a", "b", "c"}


def test_a_metric_may_share_a_function_name():
    assert check("rate > 1", rate=2.0) is True


def test_round_trip_text():
    node = parse("not (a + 1 > 2 * b) and per_min(x, 5m, 1h) <= 3% or absent(y, 90)")
    assert parse(str(node)) == node


# --------------------------------------------------------------------------- no data


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("x > 1", {}, NO_DATA),
        ("x < 1", {}, NO_DATA),
        ("x > 1 and y > 1", {"y": 2.0}, NO_DATA),
        ("x > 1 and y > 1", {"y": 0.0}, False),  # false and no data = false
        ("x > 1 or y > 1", {"y": 2.0}, True),  # true or no data = true
        ("x > 1 or y > 1", {"y": 0.0}, NO_DATA),
        ("not x > 1", {}, NO_DATA),
        ("a / b > 0", {"a": 1.0, "b": 0.0}, NO_DATA),  # division by zero
        ("a / b < 1", {"a": 0.0, "b": 0.0}, NO_DATA),  # 0/0
        ("a / (b - b) != 0", {"a": 1.0, "b": 3.0}, NO_DATA),
        ("x > 0", {"x": math.nan}, NO_DATA),  # NaN from a source
        ("x > 0", {"x": math.inf}, NO_DATA),
        ("x * 1e308 * 10 > 0", {"x": 1e10}, NO_DATA),  # overflow
        ("x - x == 0", {"x": math.inf}, NO_DATA),
        ("change(v, 1m, 10m) > 1", {"rate:v:60": 5.0, "rate:v:60:600": 0.0}, NO_DATA),
        ("change(v, 1m, 10m) > 1", {"rate:v:60": 5.0}, NO_DATA),
        ("change(v, 1m, 10m) > 1", {"rate:v:60:600": 5.0}, NO_DATA),
        ("per_min(v, 1m) > 1", {}, NO_DATA),
        ("-x < 0", {}, NO_DATA),
        ("absent(x, 1m) or x > 1", {}, True),
    ],
)
def test_three_valued_logic(text, values, expected):
    assert check(text, **values) is expected


def test_against_a_real_store():
    now = [10_000.0]
    store = MetricsStore(
        [
            MetricConfig(name="orders"),
            MetricConfig(name="visits"),
            MetricConfig(name="latency_ms", kind="last", field="ms"),
        ],
        [RatioConfig(name="conversion", numerator="orders", denominator="visits")],
        clock=lambda: now[0],
    )
    assert compile_expr("conversion > 0", store)() is NO_DATA  # 0/0 ratio
    assert compile_expr("absent(orders, 1m)", store)() is True
    for second in range(9_400, 10_000):
        store.add("visits", second, 10.0, 10, now=second)
        store.add("orders", second, 1.0, 1, now=second)
        store.add("latency_ms", second, 120.0, 1, now=second)
    assert compile_expr("conversion == 10%", store)()
    assert compile_expr("per_min(orders, 5m) == 60", store)()
    assert compile_expr("rate(visits, 1m) == 10 and sum(visits, 1m) == 600", store)()
    assert compile_expr("avg(latency_ms, 5m) == 120 and latency_ms == 120", store)()
    assert compile_expr("change(visits, 1m, 5m) == 0", store)()
    assert compile_expr("absent(orders, 1m)", store)() is False
    now[0] += 600  # ten quiet minutes
    assert compile_expr("absent(orders, 5m) and per_min(orders, 5m) == 0", store)() is True
    assert compile_expr("avg(latency_ms, 5m) > 0", store)() is NO_DATA  # empty window
    assert compile_expr("change(visits, 1m, 5m) > 0", store)() is NO_DATA  # from zero


def test_query_cache_shares_one_call_per_tick():
    fake = FakeMetrics(**{"rate:v:60": 2.0})
    cache: dict = {}
    a = compile_expr("rate(v, 1m) > 1", fake, cache)
    b = compile_expr("rate(v, 1m) < 5 and per_min(v, 1m) > 1", fake, cache)
    assert a() and b()
    assert len(fake.calls) == 1
    cache.clear()
    a()
    assert len(fake.calls) == 2


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text, position, fragment",
    [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("error_rate", 0, "must be a condition"),
        ("5 + 3", 0, "must be a condition"),
        ("x > 1 )", 6, "unexpected ')'"),
        ("x > 1 y", 6, "unexpected 'y'"),
        ("((x > 1)", 8, "expected ')'"),
        ("(x > 1", 6, "expected ')'"),
        ("x >", 3, "expected a number"),
        ("x > > 1", 4, "expected a number"),
        ("foo(x, 1m) > 1", 0, "unknown function 'foo'"),
        ("rate(x) > 1", 6, "rate() takes"),
        ("rate(x, 1m, 2m, 3m) > 1", 16, "rate() takes"),
        ("value(x, 1m) > 1", 9, "value() takes"),
        ("change(x, 1m) > 1", 12, "change() takes"),
        ("absent(x)", 8, "absent() takes"),
        ("rate(x, 1m > 1", 11, "rate() takes"),
        ("rate(x, 1m,) > 1", 11, "expected a duration"),
        ("rate(x, 5%) > 1", 8, "expected a duration"),
        ("rate(x, 1k) > 1", 8, "expected a duration"),
        ("rate(x, 5y) > 1", 8, "expected a duration"),
        ("rate(x, -1m) > 1", 8, "expected a duration"),
        ("rate(x, y) > 1", 8, "expected a duration"),
        ("rate(x, 0.5s) > 1", 0, "at least 1s"),
        ("rate(x, 1m, 0s) > 1", 0, "positive time ago"),
        ("rate(x, 1d, 1h) > 1", 0, "24h"),
        ("rate(1, 1m) > 1", 5, "metric name first"),
        ("rate(and, 1m) > 1", 5, "metric name first"),
        ("x > 5m", 4, "is a duration"),
        ("x > 5q", 4, "unknown number suffix"),
        ("x > 1e999", 4, "too large"),
        ("x = 1", 2, "use =="),
        ("x > 1 && y > 1", 6, "use and"),
        ("x > 1 || y > 1", 6, "use or"),
        ("!x", 0, "use not"),
        ("x > 1 ; y", 6, "unexpected character ';'"),
        ("x > 1 # c", 6, "unexpected character"),
        ("é > 1", 0, "unexpected character"),
        ("a < b < c", 6, "do not chain"),
        ("x > 1 and 5", 10, "'and' joins conditions"),
        ("x or y > 1", 0, "'or' joins conditions"),
        ("not 5", 4, "'not' takes a condition"),
        ("(x > 1) + 1 > 2", 1, "arithmetic takes numbers"),
        ("(x > 1) > 0", 1, "left side is a condition"),
        ("x > (y > 1)", 5, "right side is a condition"),
        ("-(x > 1)", 2, "sign goes before a number"),
        ("absent(x, 1m) > 0", 0, "left side is a condition"),
        ("and > 1", 0, "expected a number"),
        ("x > 1 and", 9, "expected a number"),
    ],
)
def test_errors_name_the_position(text, position, fragment):
    with pytest.raises(ExprError) as caught:
        parse(text)
    assert fragment in caught.value.message
    assert caught.value.position == position
    assert f"column {position + 1}" in str(caught.value)


def test_length_limit():
    text = "x > " + "1+" * 497 + "1"
    assert len(text) == 999
    parse(text)
    with pytest.raises(ExprError, match="longer than 1000") as caught:
        parse(text + "+1")
    assert caught.value.position == 1000


def test_depth_limit():
    parse("(" * MAX_DEPTH + "x > 1" + ")" * MAX_DEPTH)
    parse("not " * MAX_DEPTH + "x > 1")
    with pytest.raises(ExprError, match="nested more than 50") as caught:
        parse("(" * (MAX_DEPTH + 1) + "x > 1" + ")" * (MAX_DEPTH + 1))
    assert caught.value.position == MAX_DEPTH
    with pytest.raises(ExprError, match="nested"):
        parse("not " * (MAX_DEPTH + 1) + "x > 1")
    with pytest.raises(ExprError, match="nested"):
        parse("x > " + "-" * (MAX_DEPTH + 1) + "1")


def test_long_chains_stay_shallow():
    text = " and ".join(["x>1"] * 120)
    assert check(text, x=2.0) is True
    assert check("x + " * 240 + "1 > 0", x=1.0) is True


def test_describe_shows_the_place():
    text = "per_min(orders, 5m) < 10 and rate(visits, 1m, 2x) > 5"
    with pytest.raises(ExprError) as caught:
        parse(text)
    line = caught.value.describe(text)
    assert line.startswith("expected a duration")
    assert "column 47" in line and "2x" in line


# --------------------------------------------------------------------------- properties

_ALPHABET = [
    "x",
    "y",
    "error_rate",
    "rate",
    "per_min",
    "sum",
    "avg",
    "value",
    "change",
    "absent",
    "age",
    "foo",
    "and",
    "or",
    "not",
    "(",
    ")",
    ",",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "=",
    "!",
    "+",
    "-",
    "*",
    "/",
    "0",
    "1",
    "5%",
    "1k",
    "2.5M",
    "1m",
    "10m",
    "30s",
    "250ms",
    "2h",
    "1d",
    "1e308",
    "1e999",
    "9" * 400,
    ".",
    "1e",
    "%",
    " ",
    "\t",
    "\n",
    "\x00",
    "é",
    "🙂",
    "'",
    '"',
    "#",
    "[",
    "]",
    "{",
    "}",
    ";",
    "\\",
    "$",
    "${X}",
]


def _evaluate_any(node) -> None:
    values = {"x": 2.0, "y": 0.0, "error_rate": None, "rate": math.nan, "foo": 1e308}
    compiled = compile_expr(node, FakeMetrics(**values))
    assert compiled() in (True, False, None)
    compiled.value  # noqa: B018


def _parse_or_error(text: str) -> None:
    try:
        node = parse(text)
    except ExprError as exc:
        assert 0 <= exc.position <= max(len(text), 1000)
        assert exc.message
        exc.describe(text)
        event("rejected")
        return
    event("parsed")
    _evaluate_any(node)
    try:
        again = parse(str(node))
    except ExprError as exc:  # rendering adds parentheses, so it may nest too deep
        assert "nested" in exc.message or "longer" in exc.message
    else:
        assert again == node


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text_parses_or_raises_expr_error(text):
    _parse_or_error(text)


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_ALPHABET), max_size=60).map(" ".join))
def test_random_tokens_parse_or_raise_expr_error(text):
    _parse_or_error(text)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_ALPHABET), max_size=80).map("".join))
def test_glued_tokens_parse_or_raise_expr_error(text):
    _parse_or_error(text)


_metric = st.sampled_from(["x", "y", "error_rate", "rate", "foo"])
_duration = st.sampled_from(["1s", "30s", "1m", "5m", "10m", "1h", "90"])
_number = st.one_of(
    st.floats(min_value=0, max_value=1e300, allow_nan=False).map(repr),
    st.sampled_from(["0", "5%", "1k", "2.5M", "1G", "1e308"]),
)
_numeric = st.recursive(
    st.one_of(
        _number,
        _metric,
        st.builds(
            lambda f, m, d: f"{f}({m}, {d})", st.sampled_from(["rate", "per_min", "sum", "avg"]), _metric, _duration
        ),
        st.builds(lambda m: f"change({m}, 1m, 10m)", _metric),
        st.builds(lambda m: f"age({m})", _metric),
    ),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from("+-*/"), inner),
        st.builds(lambda a: f"({a})", inner),
        st.builds(lambda a: f"-{a}", inner),
    ),
    max_leaves=12,
)
_condition = st.recursive(
    st.one_of(
        st.builds(
            lambda a, op, b: f"{a} {op} {b}", _numeric, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), _numeric
        ),
        st.builds(lambda m, d: f"absent({m}, {d})", _metric, _duration),
    ),
    lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["and", "or"]), inner),
        st.builds(lambda a: f"not ({a})", inner),
        st.builds(lambda a: f"({a})", inner),
    ),
    max_leaves=10,
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_condition)
def test_well_formed_conditions_parse_and_evaluate(text):
    try:
        node = parse(text)
    except ExprError as exc:  # generated text may exceed the length or depth limits
        assert "longer" in exc.message or "nested" in exc.message
        event("over a limit")
        return
    event("parsed")
    _evaluate_any(node)
    assert parse(str(node)) == node or len(str(node)) > 1000


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.sampled_from(["(", "not ", "-", "rate(", "(("]))
def test_deep_nesting_is_an_error_not_a_crash(depth, opener):
    text = opener * depth + "x > 1"
    try:
        node = parse(text)
    except ExprError:
        return
    _evaluate_any(node)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_condition, st.sampled_from(_ALPHABET), st.integers(min_value=0), st.booleans())
def test_damaged_conditions_parse_or_raise_expr_error(text, token, where, delete):
    """A well-formed condition with one token inserted or a character cut out."""
    where %= len(text) + 1
    damaged = text[:where] + text[where + 1 :] if delete else text[:where] + token + text[where:]
    _parse_or_error(damaged)
