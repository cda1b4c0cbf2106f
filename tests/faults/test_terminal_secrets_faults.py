"""Terminal safety and secrets: hostile text never drives the operator's terminal, tokens
from the environment never show, TLS is verified unless switched off.

The screen test runs the real `warroom` under a pseudo-terminal and reads every byte it
writes: the app's own escape sequences are there, of course, so the payloads carry markers
(`pwned`, `pwn2`...) and the test looks for the payload sequences themselves.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from websockets.asyncio.server import serve

from tests.faults.helpers import feeding, pipeline_for, wait_for
from tests.faults.ptyrun import ROOT, PtyApp
from tests.sources.servers import free_port
from warroom.config import parse_config
from warroom.engine import Engine
from warroom.sources.base import SourceState
from warroom.store import RoomStore
from warroom.textsafe import clean

pytestmark = pytest.mark.faults

TOKEN = "s3cr3t-header-token-9f8e7d"
TOKEN2 = "s3cr3t-query-token-1a2b3c"
ENV = {"WR_TOKEN": TOKEN, "WR_TOKEN2": TOKEN2}

HOSTILE_RECORDS = [
    {"kind": "visit", "channel": "\x1b]0;pwned\x07"},  # set the window title
    {"kind": "visit", "channel": "\x1b[2Jpwn2"},  # clear the screen
    {"kind": "visit", "path": "/sale?utm_source=%1B%5B2Jpwn3"},  # the same, percent-encoded
    *[{"kind": "visit", "channel": "[b]mk[/b]"}] * 6,  # Rich/Textual markup, the top channel
    {"kind": "visit", "channel": "\x9b31mpwn4"},  # a C1 CSI
    {"kind": "visit", "channel": "bell\x07\x08\x0d\x00pwn5"},
    {"kind": "ticket", "id": "T-1", "subject": "\x1b]0;pwned\x07[bold red]help[/] \x1b[2Jpwn6", "priority": "high"},
    # Bidirectional overrides and zero-width characters: shown as a symbol / removed.
    *[{"kind": "visit", "channel": "\u202epwn7"}] * 5,
    *[{"kind": "visit", "channel": "zw\u200bpwn8\ufeff"}] * 5,
    {"kind": "ticket", "id": "T-2", "subject": "\u2066pwn9\u2069 \u200d\u2060", "priority": "high"},
]
BIDI_AND_ZERO_WIDTH = ["\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\u2060", "\ufeff"]
PAYLOADS = [
    b"\x1b]0;pwned",
    b"\x1b[2Jpwn2",
    b"\x1b[2jpwn3",
    b"\x1b[2Jpwn3",
    b"\x9b31mpwn4",
    b"\xc2\x9b31mpwn4",
    b"\x07\x08",
    b"\x1b[2Jpwn6",
    *(c.encode() for c in BIDI_AND_ZERO_WIDTH),
]


def screen_config(tmp_path: Path) -> Path:
    log = tmp_path / "web.log"
    log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in HOSTILE_RECORDS))
    path = tmp_path / "screen.toml"
    closed = free_port()
    path.write_text(f"""
[launch]
name = "Terminal drill"

[room]
db = "{tmp_path / "room.db"}"

[[sources]]
name = "web"
kind = "file"
path = "{log}"
from_start = true
poll_interval = "100ms"

[[sources]]
name = "feed"
kind = "websocket"
url = "ws://127.0.0.1:{closed}/stream?token=${{WR_TOKEN2}}"
headers = {{ Authorization = "Bearer ${{WR_TOKEN}}" }}

[[sources]]
name = "stats"
kind = "http"
url = "http://127.0.0.1:{closed}/stats?token=${{WR_TOKEN2}}"
headers = {{ X-Api-Key = "${{WR_TOKEN}}" }}
params = {{ key = "${{WR_TOKEN}}" }}
interval = "1s"

[[metrics]]
name = "visits"
source = "web"
where = {{ kind = "visit" }}
split_by = "channel"

[tickets]
source = "web"
where = {{ kind = "ticket" }}
""")
    return path


def test_hostile_text_and_secrets_never_reach_the_terminal(tmp_path, tally):
    config = screen_config(tmp_path)
    app = PtyApp(["--config", str(config)], {**ENV, "HOME": str(tmp_path)})
    try:
        assert app.until(b"mk", timeout=15), bytes(app.output[-2000:])
        app.read_for(3.0)  # the failing sources are retried and their errors shown
        app.signal(signal.SIGHUP)
        assert app.wait(5) == 0
    finally:
        app.close()
    tally.bad(len(HOSTILE_RECORDS))
    output = bytes(app.output)
    for payload in PAYLOADS:
        assert payload not in output, payload
    assert b"pwned" in output  # the text is shown, inert
    assert b"[b]mk[/b]" in output  # markup stays literal
    assert "\ufffdpwn7".encode() in output  # the override is shown as a symbol, inert
    assert b"zwpwn8" in output  # zero-width characters removed
    for secret in (TOKEN, TOKEN2):
        assert secret.encode() not in output
    assert b"cannot connect" in output  # the failing sources do show their errors
    with RoomStore(tmp_path / "room.db") as store:
        texts = [entry.text for entry in store.log_entries()]
        assert store.get_ticket("T-1") is not None  # stored as given; escaping is the display's job
    source_lines = [t for t in texts if t.startswith("source ")]
    assert any("source feed is error" in t for t in source_lines), texts
    for text in texts:
        assert TOKEN not in text and TOKEN2 not in text


def test_check_shows_what_it_connects_to_without_secrets(tmp_path, tally):
    config = screen_config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "warroom", "check", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, **ENV},
    )
    tally.fault()
    assert done.returncode == 0, done.stderr
    assert "/stream" in done.stdout and "/stats" in done.stdout
    for secret in (TOKEN, TOKEN2):
        assert secret not in done.stdout + done.stderr


async def test_source_health_and_recorder_log_hold_no_secret_when_a_source_fails(tmp_path, tally):
    """A server that answers 401 and echoes the request (token included) in its error."""

    async def echo_401(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = b"unauthorized: " + head
        writer.write(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo_401, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    os.environ.update(ENV)
    try:
        text = f"""
[room]
db = "{tmp_path / "room.db"}"

[[sources]]
name = "feed"
kind = "websocket"
url = "ws://127.0.0.1:{port}/stream?token=${{WR_TOKEN2}}"
headers = {{ Authorization = "Bearer ${{WR_TOKEN}}" }}

[[sources]]
name = "api"
kind = "http"
url = "http://127.0.0.1:{port}/stats?token=${{WR_TOKEN2}}"
headers = {{ Authorization = "Bearer ${{WR_TOKEN}}" }}
interval = "200ms"
"""
        config = parse_config(text, tmp_path / "room.toml")
        from warroom.recorder import Recorder
        from warroom.store import RoomStore

        recorder = Recorder(config, "operator", tick_interval=0.1)
        recorder.open()
        task = asyncio.create_task(recorder.run())
        try:
            await wait_for(lambda: all(h.state == SourceState.ERROR for h in recorder.engine.health()), timeout=5)
            await asyncio.sleep(0.3)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # the recorder writes its last tick
        tally.fault(2)
        for health in recorder.engine.health():
            for field in (health.target, health.reason):
                assert TOKEN not in field and TOKEN2 not in field
        assert "check the token" in recorder.engine.health()[0].reason
        with RoomStore(tmp_path / "room.db") as store:
            texts = [e.text for e in store.log_entries()]
        assert len([t for t in texts if t.startswith("source ")]) == 2, texts
        for text in texts:
            assert TOKEN not in text and TOKEN2 not in text
    finally:
        for name in ENV:
            os.environ.pop(name, None)
        server.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate here: {done.stderr.strip()[:200]}")
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def test_https_with_a_self_signed_certificate_is_refused_unless_verify_tls_is_off(self_signed, tally):
    body = orjson.dumps([{"n": 1}])

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context(*self_signed))
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/stats"
    try:
        for verify, expect_records in ((None, False), (False, True)):
            settings = '\ninterval = "5s"' + ("" if verify is None else "\nverify_tls = false")
            config, pipeline, _metrics = pipeline_for(f"""
[[sources]]
name = "api"
kind = "http"
url = "{url}"{settings}
""")
            async with feeding(config, pipeline, "api") as feed:
                if expect_records:
                    await wait_for(lambda: feed.records, timeout=5)
                    assert feed.health.state == SourceState.LIVE
                else:
                    await wait_for(lambda: feed.health.faults["connect_failed"] == 1, timeout=5)
                    tally.fault()
                    assert feed.health.state == SourceState.ERROR
                    assert "certificate" in feed.health.reason.lower()
                    assert feed.records == []
    finally:
        server.close()
        await server.wait_closed()


async def test_wss_with_a_self_signed_certificate_is_refused_unless_verify_tls_is_off(self_signed, tally):
    async def handler(ws) -> None:
        await ws.send(orjson.dumps({"n": 1}).decode())
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=server_context(*self_signed)) as server:
        url = f"wss://127.0.0.1:{server.sockets[0].getsockname()[1]}/feed"
        config, pipeline, _metrics = pipeline_for(f'[[sources]]\nname = "feed"\nkind = "websocket"\nurl = "{url}"\n')
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.health.state == SourceState.ERROR, timeout=5)
            tally.fault()
            assert "certificate" in feed.health.reason.lower(), feed.health.reason
            assert feed.records == []
        config, pipeline, _metrics = pipeline_for(
            f'[[sources]]\nname = "feed"\nkind = "websocket"\nurl = "{url}"\nverify_tls = false\n'
        )
        async with feeding(config, pipeline, "feed") as feed:
            await wait_for(lambda: feed.records, timeout=5)
            assert feed.records == [{"n": 1}]


# --------------------------------------------------------------------------- textsafe

HYPOTHESIS_CLEAN_EXAMPLES = 500
hostile_text = st.lists(
    st.characters(min_codepoint=0, max_codepoint=0x2FF)
    | st.characters(min_codepoint=0x2000, max_codepoint=0x206F)  # spaces, bidi, zero-width
    | st.sampled_from(
        [
            "\x1b[2J",
            "\x1b]0;t\x07",
            "\x07",
            "\x9b31m",
            "\x9d",
            "[bold]",
            "[/]",
            "[@click=quit]",
            "\u202e",
            "\u061c",
            "\ufeff",
            "\u4e2d",
            "\r\n",
            "\t",
        ]
    ),
    max_size=40,
).map("".join)
BIDI_OR_ZERO_WIDTH = "\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
HIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_OR_ZERO_WIDTH}]")


@settings(
    max_examples=HYPOTHESIS_CLEAN_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=hostile_text, limit=st.none() | st.integers(1, 80))
def test_clean_leaves_no_control_bidi_or_zero_width_character(text, limit, tally):
    tally.example()
    shown = clean(text, limit)
    assert not HIDDEN.search(shown)
    if limit is not None:
        assert cell_len(shown) <= limit  # in terminal cells, as rich lays it out
    assert clean(shown) == shown  # inert text stays as it is
    if limit is None:
        # One visible symbol per character, but for the removed zero-width ones.
        assert len(shown) == len(text) - _collapsed(text) - len(re.findall("[\u200b-\u200d\u2060\ufeff]", text))


def _collapsed(text: str) -> int:
    """Characters lost because runs of newlines and tabs become one space."""
    return sum(len(m.group()) - 1 for m in re.finditer(r"[\r\n\t\u2028\u2029]+", text))


def test_exports_carry_no_bidi_or_zero_width_character(tmp_path, tally):
    """The Markdown, HTML and JSON retrospectives of a room whose ticket and log text came
    with bidirectional overrides and zero-width characters."""
    from warroom.export import export_room
    from warroom.tickets import validate_ticket_record

    hostile = "refund\u202egpj.exe \u2066x\u2069 ad\u200bmin\ufeff"
    db = tmp_path / "room.db"
    with RoomStore(db) as store:
        fields = validate_ticket_record({"id": "T-1", "subject": hostile, "priority": "urgent"})
        assert not isinstance(fields, str)
        store.upsert_tickets([fields], "desk")
        entry = store.add_log("note", "info", hostile, "ana")
        store.star(entry)
    tally.bad(2)
    paths = export_room(db, tmp_path / "retro", formats=["md", "html"])
    assert len(paths) == 2
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert not re.search(f"[{BIDI_OR_ZERO_WIDTH}]", text), path.name
        assert "gpj" in text and "admin" in text  # the text is there, inert


# --------------------------------------------------------------------------- counting


async def test_records_are_counted_once_on_the_health_line(tmp_path, tally):
    log = tmp_path / "web.log"
    log.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(100)))
    config = parse_config(f"""
[[sources]]
name = "web"
kind = "file"
path = "{log}"
from_start = true
poll_interval = "20ms"

[[metrics]]
name = "lines"
""")
    engine = Engine(config, tick_interval=0.05)
    task = asyncio.create_task(engine.run())
    try:
        await wait_for(lambda: engine.metrics.series["lines"].count == 100, timeout=5)
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert engine.health()[0].records == 100
