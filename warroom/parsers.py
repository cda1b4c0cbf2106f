"""Line parsers: one text line of a log file -> one record dict, or None for a bad line.

Pure functions, no I/O and no asyncio, so they are easy to property-test with hostile input
and cheap to call a million times a minute. Every parser accepts `bytes` or `str` and never
raises on arbitrary input: a line it cannot make sense of is answered with None and the
caller counts it as a bad record (under the fault name in `BAD_LINE_FAULT`).

Speed notes, since the file source calls these once per line:

- jsonl takes bytes straight from the read buffer: orjson parses UTF-8 bytes without a
  decode step, and a line that is not valid UTF-8 is rejected by orjson itself.
- nginx decodes nothing itself when given str (the file source decodes whole chunks at a
  time), matches one precompiled regex and converts `$time_local` through a small cache,
  because many lines share the same second and `strptime` costs microseconds a call.
- regex returns the groupdict as is (minus groups that did not take part in the match);
  numeric-looking values stay strings, the pipeline converts the fields it uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from warroom.config import FileSourceConfig

Line = bytes | str
Parser = Callable[[Line], "dict[str, Any] | None"]

# The fault kind a source counts in its health for a line its parser rejected.
BAD_LINE_FAULT = {"jsonl": "bad_json", "nginx": "bad_nginx", "regex": "no_match"}


def _text(line: Line) -> str:
    return line if isinstance(line, str) else line.decode("utf-8", "replace")


# --------------------------------------------------------------------------- jsonl


def parse_jsonl(line: Line) -> dict[str, Any] | None:
    """One JSON object per line. Any other top level (array, number, string) is a bad line."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:  # also raised for invalid UTF-8 and lone surrogates
        return None
    return value if type(value) is dict else None


# --------------------------------------------------------------------------- nginx

# `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
#  "$http_referer" "$http_user_agent"` and whatever the log_format adds after it.
# Quoted fields allow backslash escapes (nginx writes `"` as \x22, other servers as \").
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_NGINX = re.compile(
    r"(\S+) \S+ (\S+) \[([^\]]*)\] " + _QUOTED + r" (\d{3}) (\d+|-) " + _QUOTED + " " + _QUOTED + r"(.*)",
    re.DOTALL,
)
# The same layout for a line without a backslash, where a quoted field cannot hold an
# escaped quote: the two patterns then match alike, and this one in half the time.
_NGINX_PLAIN = re.compile(r'(\S+) \S+ (\S+) \[([^\]]*)\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"(.*)', re.DOTALL)
_METHOD = re.compile(r"[A-Z][A-Z_-]*")
_COMMON_METHODS = frozenset(("GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"))
# The usual trailing fields, `$request_time` or `$request_time $upstream_response_time` as
# plain numbers: read directly, with the same answer _extras gives for them.
_PLAIN_TIMES = re.compile(r" ([0-9]+(?:\.[0-9]+)?)(?: ([0-9]+(?:\.[0-9]+)?))?", re.ASCII)
# Trailing fields: `key=value`, `key="value"`, a quoted field, or a bare token; a bare list of
# upstream times ("0.010, 0.020 : 0.030", several upstreams tried) is kept as one token.
_EXTRA = re.compile(r'(?:(\w+)=)?("[^"]*"|[^\s",]+(?:(?:,\s*|\s+:\s+)[^\s",:]+)*)')
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_REQUEST_TIME_KEYS = {"rt", "request_time", "reqtime"}
_UPSTREAM_TIME_KEYS = {"urt", "upstream_response_time", "upstream_time", "uprt"}
_MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
_TIME_CACHE: dict[str, float | None] = {}
_TIME_CACHE_MAX = 4096


def nginx_time(text: str) -> float | None:
    """Epoch seconds from `25/Nov/2026:15:30:01 +0000`, or None. Cached per distinct string."""
    cached = _TIME_CACHE.get(text, False)
    if cached is not False:
        return cached if isinstance(cached, float) else None
    value = _parse_time_local(text)
    if len(_TIME_CACHE) >= _TIME_CACHE_MAX:
        _TIME_CACHE.clear()  # lines arrive in time order: old seconds are not asked for again
    _TIME_CACHE[text] = value
    return value


def _parse_time_local(text: str) -> float | None:
    # Sliced by hand: about 10x faster than strptime and stricter about the layout.
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":" or text[20] != " ":
        return None
    month = _MONTHS.get(text[3:6])
    sign = text[21]
    digits = text[0:2] + text[7:11] + text[12:14] + text[15:17] + text[18:20] + text[22:26]
    if month is None or sign not in "+-" or not (digits.isascii() and digits.isdigit()):
        return None
    if text[14] != ":" or text[17] != ":":
        return None
    offset = timedelta(hours=int(text[22:24]), minutes=int(text[24:26]))
    try:
        moment = datetime(
            int(text[7:11]),
            month,
            int(text[0:2]),
            int(text[12:14]),
            int(text[15:17]),
            int(text[18:20]),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:  # 31/Feb, hour 25, offset of a day or more
        return None
    return moment.timestamp()


def _seconds(token: str) -> float | None:
    """A time field: `0.123`, `-` (none), or several upstream times, which are summed."""
    token = token.strip('"')
    if not token or token == "-":
        return None
    try:
        return float(token)
    except ValueError:
        numbers = _NUMBER.findall(token)
        return sum(map(float, numbers)) if numbers else None


def _extras(rest: str, record: dict[str, Any]) -> None:
    """Request and upstream times from the fields after the user agent.

    Named fields (`rt=0.012`, `urt="0.010"`) are taken by name. Otherwise the first bare
    (unquoted) field that is a number or `-` is `$request_time` and the second is
    `$upstream_response_time`, which covers the usual `... "$http_user_agent" $request_time`
    and `... $request_time $upstream_response_time` formats.
    """
    positional = 0
    for key, value in _EXTRA.findall(rest):
        if key:
            if key in _REQUEST_TIME_KEYS:
                seconds = _seconds(value)
                if seconds is not None:
                    record["request_time"] = seconds
            elif key in _UPSTREAM_TIME_KEYS:
                seconds = _seconds(value)
                if seconds is not None:
                    record["upstream_response_time"] = seconds
            continue
        if value[0] == '"' or positional >= 2:
            continue
        seconds = _seconds(value)
        if seconds is None and value != "-":
            continue  # some other bare field, e.g. $host or $request_id
        if seconds is not None:
            record["upstream_response_time" if positional else "request_time"] = seconds
        positional += 1


def parse_nginx(line: Line) -> dict[str, Any] | None:
    """The nginx/Apache combined log format, optionally followed by more fields.

    A request line that is not `METHOD target PROTOCOL` (nginx logs `"-"` or the raw bytes of
    a TLS handshake for those, with status 400) gives empty method, path and protocol; the
    rest of the record is kept so the 400s still count.
    """
    text = line if type(line) is str else _text(line)
    match = (_NGINX_PLAIN if "\\" not in text else _NGINX).match(text)
    if match is None:
        return None
    addr, user, time_local, request, status, size, referer, agent, rest = match.groups()
    ts = nginx_time(time_local)
    if ts is None:
        return None
    parts = request.split(" ")
    if (
        2 <= len(parts) <= 3
        and (parts[0] in _COMMON_METHODS or _METHOD.fullmatch(parts[0]))
        and parts[1]
        and (len(parts) == 2 or parts[2].startswith("HTTP/"))
    ):
        method, path = parts[0], parts[1]
        protocol = parts[2] if len(parts) == 3 else ""
    else:
        method = path = protocol = ""
    record = {
        "remote_addr": addr,
        "remote_user": "" if user == "-" else user,
        "ts": ts,
        "method": method,
        "path": path,
        "protocol": protocol,
        "status": int(status),
        "bytes": 0 if size == "-" else int(size),
        "referer": "" if referer == "-" else referer,
        "user_agent": agent,
    }
    if rest and not rest.isspace():
        plain = _PLAIN_TIMES.fullmatch(rest)
        if plain is None:
            _extras(rest, record)
        else:
            request_time, upstream_time = plain.groups()
            record["request_time"] = float(request_time)
            if upstream_time is not None:
                record["upstream_response_time"] = float(upstream_time)
    return record


# --------------------------------------------------------------------------- regex


def make_regex_parser(pattern: str | re.Pattern[str]) -> Parser:
    """A parser answering the named groups of the first match of `pattern` in the line.

    Groups that took no part in the match are left out rather than set to None; values
    stay strings.
    """
    search = (re.compile(pattern) if isinstance(pattern, str) else pattern).search

    def parse_regex(line: Line) -> dict[str, Any] | None:
        match = search(_text(line))
        if match is None:
            return None
        return {k: v for k, v in match.groupdict().items() if v is not None}

    return parse_regex


# --------------------------------------------------------------------------- choice


def make_parser(config: FileSourceConfig) -> Parser:
    """The line parser for a file source's `format`."""
    if config.format == "jsonl":
        return parse_jsonl
    if config.format == "nginx":
        return parse_nginx
    if config.format == "regex":
        if not config.pattern:  # config validation already demands one
            raise ValueError('format = "regex" needs a pattern')
        return make_regex_parser(config.pattern)
    raise ValueError(f"unknown line format {config.format!r}")
