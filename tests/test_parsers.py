"""The line parsers: each format, hostile input, and the config-driven choice."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.config import FileSourceConfig
from warroom.parsers import (
    BAD_LINE_FAULT,
    make_parser,
    make_regex_parser,
    nginx_time,
    parse_jsonl,
    parse_nginx,
)

COMBINED = (
    '203.0.113.7 - alice [25/Nov/2026:15:30:01 +0000] "GET /landing?utm_source=ig&x=1 HTTP/1.1" '
    '200 5120 "https://example.com/promo" "Mozilla/5.0 (X11; Linux x86_64)"'
)
TS = datetime(2026, 11, 25, 15, 30, 1, tzinfo=UTC).timestamp()


def file_config(**kw) -> FileSourceConfig:
    return FileSourceConfig(kind="file", name="logs", path="/tmp/x.log", **kw)


# --------------------------------------------------------------------------- jsonl


def test_jsonl_object_from_bytes_and_str():
    assert parse_jsonl(b'{"kind":"visit","status":200}') == {"kind": "visit", "status": 200}
    assert parse_jsonl('{"a": [1, 2], "b": null}') == {"a": [1, 2], "b": None}
    assert parse_jsonl(b'{"a":1}\r') == {"a": 1}  # JSON whitespace


@pytest.mark.parametrize(
    "line",
    [b"[1,2]", b"42", b'"text"', b"null", b"", b"{", b'{"a":1} x', b"\xff\xfe{}", "\ud800", b"{\x00}"],
)
def test_jsonl_bad_lines(line):
    assert parse_jsonl(line) is None


def test_jsonl_deep_nesting_is_a_bad_line_not_a_crash():
    assert parse_jsonl(b"[" * 100_000) is None
    assert parse_jsonl(b'{"a":' * 5000 + b"1" + b"}" * 5000) is None


# --------------------------------------------------------------------------- nginx


def test_nginx_combined():
    record = parse_nginx(COMBINED)
    assert record == {
        "remote_addr": "203.0.113.7",
        "remote_user": "alice",
        "ts": TS,
        "method": "GET",
        "path": "/landing?utm_source=ig&x=1",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": 5120,
        "referer": "https://example.com/promo",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    assert parse_nginx(COMBINED.encode()) == record


def test_nginx_dashes_and_request_time():
    line = '10.0.0.1 - - [25/Nov/2026:15:30:01 +0000] "POST /api/order HTTP/2.0" 502 - "-" "curl/8" 1.503'
    record = parse_nginx(line)
    assert record["remote_user"] == ""
    assert record["bytes"] == 0
    assert record["referer"] == ""
    assert record["status"] == 502
    assert record["request_time"] == 1.503
    assert "upstream_response_time" not in record


def test_nginx_request_and_upstream_times_positional():
    record = parse_nginx(COMBINED + ' "198.51.100.2" 0.250 0.248')
    assert record["request_time"] == 0.25
    assert record["upstream_response_time"] == 0.248


def test_nginx_upstream_dash_and_several_upstreams():
    assert "upstream_response_time" not in parse_nginx(COMBINED + " 0.001 -")
    record = parse_nginx(COMBINED + " 0.100 0.010, 0.020 : 0.030")
    assert record["request_time"] == 0.1
    assert record["upstream_response_time"] == pytest.approx(0.06)


def test_nginx_named_times():
    record = parse_nginx(COMBINED + ' rt=0.031 uct="0.001" urt="0.029" host=shop')
    assert record["request_time"] == 0.031
    assert record["upstream_response_time"] == 0.029


def test_nginx_time_zones():
    line = COMBINED.replace("+0000", "-0130")
    assert parse_nginx(line)["ts"] == TS + 5400
    assert nginx_time("25/Nov/2026:15:30:01 +0200") == TS - 7200
    for bad in (
        "31/Feb/2026:15:30:01 +0000",
        "25/Nov/2026:25:30:01 +0000",
        "25/Xyz/2026:15:30:01 +0000",
        "25/Nov/2026:15:30:01 +2400",
        "25/Nov/2026 15:30:01 +0000",
        "",
    ):
        assert nginx_time(bad) is None
        assert parse_nginx(COMBINED.replace("25/Nov/2026:15:30:01 +0000", bad)) is None


@pytest.mark.parametrize(
    "request_line",
    ["-", r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03", "", "garbage with spaces here", "GET", "get / HTTP/1.1"],
)
def test_nginx_garbage_request_keeps_the_record(request_line):
    line = f'198.51.100.9 - - [25/Nov/2026:15:30:01 +0000] "{request_line}" 400 157 "-" "-"'
    record = parse_nginx(line)
    assert record is not None
    assert (record["method"], record["path"], record["protocol"]) == ("", "", "")
    assert record["status"] == 400 and record["bytes"] == 157


def test_nginx_http09_request_and_escaped_quotes():
    record = parse_nginx('1.2.3.4 - - [25/Nov/2026:15:30:01 +0000] "GET /" 200 3 "-" "say \\"hi\\""')
    assert (record["method"], record["path"], record["protocol"]) == ("GET", "/", "")
    assert record["user_agent"] == 'say \\"hi\\"'


@pytest.mark.parametrize(
    "line",
    ["", "-", "not a log line", COMBINED.replace(" 200 ", " OK "), COMBINED[:60], '{"json": true}'],
)
def test_nginx_bad_lines(line):
    assert parse_nginx(line) is None


# --------------------------------------------------------------------------- regex


def test_regex_named_groups_stay_strings():
    parse = make_regex_parser(r"(?P<level>[A-Z]+) order=(?P<order>\d+)(?: amount=(?P<amount>[\d.]+))?")
    assert parse("12:00 INFO order=17 amount=19.90") == {"level": "INFO", "order": "17", "amount": "19.90"}
    assert parse(b"WARN order=18") == {"level": "WARN", "order": "18"}  # unmatched group left out
    assert parse("nothing here") is None


def test_regex_accepts_compiled_pattern():
    parse = make_regex_parser(re.compile(r"^(?P<word>\w+)$"))
    assert parse("hello") == {"word": "hello"}
    assert parse("two words") is None


# --------------------------------------------------------------------------- choice


def test_make_parser_by_format():
    assert make_parser(file_config()) is parse_jsonl
    assert make_parser(file_config(format="nginx")) is parse_nginx
    parse = make_parser(file_config(format="regex", pattern=r"status=(?P<status>\d+)"))
    assert parse("x status=500") == {"status": "500"}
    assert set(BAD_LINE_FAULT) == {"jsonl", "nginx", "regex"}


# --------------------------------------------------------------------------- hostile input

REGEX = make_regex_parser(r"(?P<a>\w+)=(?P<b>[^ ]*)")
PARSERS = [parse_jsonl, parse_nginx, REGEX]

nginxish = st.builds(
    lambda parts: " ".join(parts),
    st.lists(
        st.sampled_from(
            [
                "1.2.3.4",
                "-",
                "[25/Nov/2026:15:30:01 +0000]",
                '"GET / HTTP/1.1"',
                '"-"',
                "200",
                "-",
                '"x"',
                "0.5",
                "rt=1",
                'urt="0.1, 0.2 : x"',
                '\\"',
                '"',
                "[",
                "]",
                "\x00",
            ]
        ),
        max_size=14,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(), nginxish, nginxish.map(str.encode)))
def test_parsers_never_raise(line):
    for parse in PARSERS:
        result = parse(line)
        assert result is None or isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.text(max_size=30).filter(lambda s: '"' not in s and "\\" not in s and "\n" not in s),
    st.integers(100, 599),
)
def test_nginx_round_trip(path, agent, status):
    path = "/" + path.replace(" ", "%20").replace('"', "%22").replace("\\", "%5C")
    line = f'1.2.3.4 - - [25/Nov/2026:15:30:01 +0000] "GET {path} HTTP/1.1" {status} 10 "-" "{agent}"'
    record = parse_nginx(line)
    assert record is not None
    assert record["status"] == status
    assert record["user_agent"] == agent
    if "\n" not in path and " " not in path:
        assert record["path"] == path
