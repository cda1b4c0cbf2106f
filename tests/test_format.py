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
