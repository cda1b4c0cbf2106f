"""Text from sources measured in terminal cells: textsafe against rich's own width rules.

textsafe must not import rich (it serves the exports too), so it carries its own width
function; these tests hold it to rich's `cell_len`, which is what Textual lays out with,
over every assigned code point and over random strings of the characters that make width
hard (combining marks, emoji with joiners and selectors, Hangul jamo, flags, wide CJK), and
check that no bidirectional control or zero-width character survives `clean`.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from warroom.textsafe import cell_width, clean, clip

pytestmark = pytest.mark.faults

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
HIDDEN = re.compile(f"[{BIDI}{ZERO_WIDTH}\x00-\x1f\x7f-\x9f]")

HARD = [
    "a",
    "Z",
    " ",
    "\u0301",
    "\u20e3",
    "\u2764",
    "\ufe0f",
    "\ufe0e",
    "\u200d",
    "\U0001f468",
    "\U0001f1eb",
    "\U0001f1f7",
    "\U0001f3fd",
    "\ud55c",
    "\u1161",
    "\u11a8",
    "\uff76",
    "\u4e2d",
    "\u0903",
    "\u0e31",
    "\U000e0067",
    "\U0001f3f4",
    "\u3164",
    "\u00ad",
    "\u2028",
    "\x1b",
    "\x9b",
    "\t",
    *BIDI,
    *ZERO_WIDTH,
]


def test_every_assigned_code_point_is_measured_as_rich_measures_it():
    mismatches = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Cs" or (category in ("Cn", "Co") and code % 97):  # a sample of those
            continue
        shown = clean(char)
        if cell_width(shown) != cell_len(shown):
            mismatches.append(f"U+{code:04X}")
    assert mismatches == []


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(HARD), max_size=30).map("".join), st.none() | st.integers(0, 40))
def test_clean_text_has_no_hidden_characters_and_its_width_in_cells(text, limit):
    shown = clean(text, limit)
    assert not HIDDEN.search(shown)
    assert cell_width(shown) == cell_len(shown)
    if limit is not None:
        assert cell_len(shown) <= limit
    assert clean(shown) == shown


def test_bidi_controls_are_shown_and_zero_width_characters_removed():
    assert clean("invoice\u202egpj.exe") == "invoice\ufffdgpj.exe"
    assert clean("ad\u200bmin\u2060\ufeff") == "admin"
    assert clean("\u2066a\u2069\u200e\u200f\u061c") == "\ufffda\ufffd\ufffd\ufffd\ufffd"
    assert clean("line\u2028next\u2029end") == "line next end"


def test_limit_is_in_cells_not_characters():
    assert clip("\u4e2d\u6587\u6587\u5b57", 5) == "\u4e2d\u6587\u2026"  # 2 + 2 + 1 cells
    assert cell_len(clean("\u4e2d" * 10, 7)) <= 7
    assert clean("abc", 3) == "abc"
    assert clean("abcd", 3) == "ab\u2026"
    assert clean("a\u0301bcd", 3) == "a\u0301b\u2026"  # the accent stays on its letter
