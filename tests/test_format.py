"""Formatting helpers and the inert-text guarantee."""

from hypothesis import given
from hypothesis import strategies as st

from warroom import format as fmt
from warroom.textsafe import clean


def test_compact_and_pace():
    assert fmt.compact(None) == "-"
    assert fmt.compact(950) == "950"
    assert fmt.compact(12_345) == "12.3k"
    assert fmt.compact(2_500_000) == "2.5M"
    assert fmt.pace(0.5) == "30/min"
    assert fmt.pace(12.34) == "12.3/s"
    assert fmt.percent(0.1234) == "12.3%"


def test_launch_clock():
    assert fmt.launch_clock(1000, None) == "not launched"
    assert fmt.launch_clock(1000, 1252) == "T-00:04:12"
    assert fmt.launch_clock(4723, 1000) == "T+01:02:03"


def test_sparkline_scales_to_peak():
    (row,) = fmt.sparkline([0, 5, 10, None])
    assert row == " ▄█ "
    top, bottom = fmt.sparkline([10, 5], height=2)
    assert (top, bottom) == ("█ ", "██")


def test_bar_is_clamped():
    assert fmt.bar(1.7, 4) == "████"
    assert fmt.bar(-1, 4) == "░░░░"
    assert fmt.bar(None, 3) == "░░░"


def test_clean_makes_escapes_visible():
    assert clean("a\x1b[31mred\x07\r\nnext") == "a␛[31mred␇ next"
    assert clean("x" * 50, limit=10) == "x" * 9 + "…"


@given(st.text())
def test_clean_never_leaves_control_characters(text):
    out = clean(text)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in out)


def test_values_under_one_keep_two_significant_digits():
    assert fmt.compact(0.034) == "0.034"  # not "0.0"
    assert fmt.compact(0.123) == "0.12"
    assert fmt.compact(0.5) == "0.5"
    assert fmt.compact(-0.04) == "-0.04"
    assert fmt.compact(0) == "0"
    assert fmt.percent(0.034) == "3.4%"
    assert fmt.percent(0.000034) == "0.0034%"  # not "0.0%"
    assert fmt.with_unit(0.004, "s") == "0.004 s"  # not "0.00 s"
    assert fmt.with_unit(0.4, "ms") == "0.4 ms"  # not "0 ms"
    assert fmt.with_unit(152.4, "ms") == "152 ms"
    assert fmt.with_unit(0.034, "%") == "3.4%"


@given(st.floats(min_value=-0.9999, max_value=0.9999).filter(lambda v: v != 0))
def test_no_nonzero_value_shows_as_zero(value):
    for text in (fmt.compact(value), fmt.percent(value), fmt.with_unit(value, "s"), fmt.with_unit(value, "ms")):
        assert any(ch in "123456789" for ch in text), text


def test_one_unit_per_metric():
    assert fmt.with_unit(0.153, "%") == "15.3%"
    assert fmt.with_unit(11.4, "%") == "1,140%"  # a change() of +1,140%, not "11.4"
    assert fmt.with_unit(135, "s") == "2m15s"  # an age, not a bare 135
    assert fmt.with_unit(12.34, "s") == "12.3 s"
    assert fmt.with_unit(4.2, "s") == "4.20 s"
    assert fmt.with_unit(12_345, "currency", "€") == "€12.3k"
    assert fmt.with_unit(-40, "currency", "€") == "-€40"
    assert fmt.with_unit(12_345, "currency", "EUR") == "12.3k EUR"
    assert fmt.with_unit(12_345, "currency") == "12.3k"
    assert fmt.with_unit(0.5, "/s") == "0.5/s"
    assert fmt.with_unit(0.5, "/min") == "0.5/min"  # a per_min() value is per minute already
    assert fmt.with_unit(2.093, "%") == "209%"
    assert fmt.with_unit(float("nan"), "ms") == "-"
    assert fmt.with_unit(None, "%") == "-"


def test_a_column_of_rates_has_one_unit():
    column = [12.0, 0.05, None]
    unit = fmt.rate_unit(column)
    assert unit == "/s"
    assert [fmt.rate(v, unit) for v in column] == ["12/s", "0.05/s", "-"]
    slow = [0.5, 0.05]
    unit = fmt.rate_unit(slow)
    assert [fmt.rate(v, unit) for v in slow] == ["30/min", "3/min"]
    assert fmt.rate_unit([]) == "/min"


def _unit_of(name):
    return {"error_rate": "%", "latency_ms": "ms", "revenue": "currency"}.get(name, "")


def test_the_unit_of_an_alert_value_comes_from_its_expression():
    from warroom.expr import parse

    cases = {
        "value(error_rate) > 5% and rate(requests, 1m) > 1": "%",
        "error_rate > 5%": "%",
        "absent(orders, 2m) and rate(visits, 5m) > 1": "s",
        "rate(visits, 5m) > 1 and absent(orders, 2m)": "/s",
        "change(visits, 2m, 10m) > 200%": "%",
        "per_min(new_tickets, 5m) > 3": "/min",
        "avg(latency_ms, 1m) > 500": "ms",
        "sum(revenue, 10m) < 100": "currency",
        "age(orders) > 60": "s",
        "not (latency_ms < 100)": "ms",
        "value(latency_ms) - 100 > 0": "ms",
        "value(errors) / value(requests) > 0.1": "",
        "value(orders) > 10": "",
    }
    for expr, unit in cases.items():
        assert fmt.value_unit(parse(expr), _unit_of) == unit, expr


def test_sparkline_scales_to_a_given_top():
    (row,) = fmt.sparkline([5, 10], top=20)
    assert row == "▂▄"  # 10 of 20 is half the height
    (row,) = fmt.sparkline([50], top=20)
    assert row == "█"  # clamped, never past the top row


def test_shift_of_the_launch_clock():
    assert fmt.shift(174) == "+2m54s"
    assert fmt.shift(-30) == "-30s"


def test_fit_counts_cells_not_characters():
    from warroom.textsafe import cell_width, fit

    assert fit("参与人数", 10) == "参与人数  "  # four wide characters are eight cells
    assert cell_width(fit("参与人数", 10)) == 10
    assert fit("参与人数", 5) == "参与…"  # a wide character is never cut in half
    assert fit("12", 5, ">") == "   12"
    assert fit("anything", 0) == ""


def test_chart_scale_is_round_and_short():
    assert [fmt.nice_ceiling(v) for v in (3.8, 23_817, 0.0034, 1, 0)] == [4, 25_000, 0.004, 1, 0]
    assert [fmt.axis(v) for v in (4, 25_000, 1_500_000, 0.004, 2_500, 100_000)] == [
        "4",
        "25k",
        "1.5M",
        "0.004",
        "2,500",
        "100k",
    ]
    assert all(len(fmt.axis(fmt.nice_ceiling(10**e * m))) <= 5 for e in range(-2, 10) for m in (1.1, 2.2, 4.4, 7.7))


def test_money_rates():
    assert fmt.rate(3.1, "/s", "€") == "€3.1/s"
    assert fmt.rate(3.1, "/min", "EUR") == "186 EUR/min"
