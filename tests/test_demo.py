"""The built-in demo: a seeded scenario, played through a real websocket server, a real HTTP
endpoint and a real appended log file, and the config template that wires them up.

The transports are read with plain clients (websockets, httpx, open()) so these tests do not
depend on warroom's own sources.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections import Counter
from datetime import datetime
from importlib import resources
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from warroom.config import load_config, parse_config
from warroom.demo import PLACEHOLDERS, DemoLaunch, DemoSettings, render_config
from warroom.demo.scenario import Scenario, SimClock, nginx_time, phase_of

LAUNCH = 1_795_620_600.0  # 2026-11-25 15:30:00 UTC
COMBINED = re.compile(
    r"^(?P<remote_addr>\d{1,3}(?:\.\d{1,3}){3}) - (?P<remote_user>\S+) "
    r"\[(?P<time_local>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<method>[A-Z]+) (?P<path>/\S*) HTTP/1\.[01]" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<request_time>\d+\.\d{3})$'
)


def parse_line(line: str) -> dict[str, str]:
    match = COMBINED.match(line)
    assert match, f"not an nginx combined line: {line!r}"
    return match.groupdict()


def line_time(fields: dict[str, str]) -> float:
    return datetime.strptime(fields["time_local"], "%d/%b/%Y:%H:%M:%S %z").timestamp()


def play(seed: int, until: float, step: float = 1.0, launch: float = LAUNCH) -> tuple[list, list]:
    """Every event and log line of a scenario up to `until` seconds from launch, pulled in
    steps of `step` simulated seconds: a fixed clock, no wall time."""
    scenario = Scenario(seed, launch)
    events: list = []
    lines: list = []
    now = launch - 600
    while now < launch + until:
        now += step
        batch = scenario.advance(now)
        events += batch.events
        lines += batch.log_lines
    return events, lines


@pytest.fixture(scope="module")
def played() -> tuple[list, list]:
    return play(7, 1500)


# --------------------------------------------------------------------------- the scenario


def test_sim_clock_runs_at_speed_from_its_anchor() -> None:
    real = [100.0]
    clock = SimClock(LAUNCH, speed=60, real=lambda: real[0])
    assert clock() == LAUNCH
    real[0] = 102.5
    assert clock() == LAUNCH + 150
    clock.anchor()
    assert clock() == LAUNCH
    with pytest.raises(ValueError):
        SimClock(LAUNCH, speed=0)


def test_nginx_time_is_utc_and_locale_free() -> None:
    assert nginx_time(LAUNCH + 1) == "25/Nov/2026:15:30:01 +0000"


def test_same_seed_same_events_however_the_time_is_sliced() -> None:
    fine_events, fine_lines = play(7, 300, step=0.1)
    coarse_events, coarse_lines = play(7, 300, step=7.0)
    assert len(fine_events) > 500 and len(fine_lines) > 1000
    # The last coarse step may run past `until`; compare what both have.
    assert fine_events[:500] == coarse_events[:500]
    assert fine_lines[:1000] == coarse_lines[:1000]
    other_events, _ = play(8, 300)
    assert other_events[:100] != fine_events[:100]


def test_events_are_time_ordered_and_well_formed(played) -> None:
    events, lines = played
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)
    kinds = Counter(e["kind"] for e in events)
    assert {"registration", "order", "like", "comment", "share", "session", "ticket"} <= set(kinds)
    for order in (e for e in events if e["kind"] == "order"):
        assert order["amount"] > 0 and order["channel"]
    times = [line_time(parse_line(line)) for line in lines]
    assert times == sorted(times)
    assert times[0] >= LAUNCH - 600 and times[-1] < LAUNCH + 1500


def test_landing_pages_carry_channels_by_utm_or_referrer(played) -> None:
    _, lines = played
    landings = [f for f in map(parse_line, lines) if re.match(r"^/launch(\?|$)", f["path"])]
    utm = Counter(re.search(r"utm_source=(\w+)", f["path"]).group(1) for f in landings if "utm_source" in f["path"])
    assert set(utm) == {"social", "push", "partner", "email"}
    referrers = {f["referer"] for f in landings if "utm_source" not in f["path"]}
    assert any("google" in r for r in referrers) and any("facebook" in r for r in referrers) and "-" in referrers


def test_the_arc_warm_up_launch_surge(played) -> None:
    _, lines = played
    per_minute = Counter()
    for fields in map(parse_line, lines):
        if re.match(r"^/launch(\?|$)", fields["path"]):
            per_minute[phase_of(line_time(fields) - LAUNCH)] += 1
    minutes = {"warm-up": 10, "launch": 2, "surge": 6}
    rate = {phase: per_minute[phase] / m for phase, m in minutes.items()}
    assert rate["launch"] > 2.5 * rate["warm-up"]
    assert rate["surge"] > 1.8 * rate["launch"]


def test_problem_phase_has_more_errors_bounces_and_page_error_tickets(played) -> None:
    events, lines = played
    requests, errors = Counter(), Counter()
    for fields in map(parse_line, lines):
        phase = phase_of(line_time(fields) - LAUNCH)
        requests[phase] += 1
        errors[phase] += int(fields["status"]) >= 500
    share = {phase: errors[phase] / requests[phase] for phase in requests}
    assert share["surge"] < 0.01
    assert share["problem"] > 5 * share["surge"] and share["problem"] > 0.05

    sessions, bounces, page_errors = Counter(), Counter(), Counter()
    for event in events:
        phase = phase_of(event["ts"] - LAUNCH)
        if event["kind"] == "session":
            sessions[phase] += 1
            bounces[phase] += event["bounced"]
        elif event["kind"] == "ticket" and event["status"] == "new" and event["category"] == "page error":
            page_errors[phase] += 1
    assert bounces["problem"] / sessions["problem"] > bounces["surge"] / sessions["surge"] + 0.1
    assert page_errors["problem"] > 10 * max(1, page_errors["surge"])


def test_checkout_outage_stops_orders_for_three_minutes(played) -> None:
    events, _ = played
    order_times = [e["ts"] - LAUNCH for e in events if e["kind"] == "order"]
    assert not [t for t in order_times if 720 <= t < 900]
    assert [t for t in order_times if 600 <= t < 720] and [t for t in order_times if 900 <= t < 1000]


def test_tickets_are_updated_by_id(played) -> None:
    events, _ = played
    history: dict[str, list[str]] = {}
    for event in events:
        if event["kind"] == "ticket":
            history.setdefault(event["id"], []).append(event["status"])
            assert event["priority"] in {"urgent", "high", "normal", "low"}
            assert event["category"] in {"reward not received", "page error", "rules question", "complaint"}
    assert any(statuses[:3] == ["new", "open", "solved"] for statuses in history.values())
    assert all(statuses[0] == "new" for statuses in history.values())


def test_stats_follow_registrations_and_latency() -> None:
    scenario = Scenario(7, LAUNCH)
    scenario.advance(LAUNCH)
    before = scenario.stats(LAUNCH)
    scenario.advance(LAUNCH + 900)
    during = scenario.stats(LAUNCH + 900)
    assert during["participants"] > before["participants"] >= 1800
    assert during["latency_ms"] > 3 * before["latency_ms"]
    assert scenario.stats(LAUNCH + 900) == during  # polling twice changes nothing


# --------------------------------------------------------------------------- the template


def test_template_parses_with_every_placeholder_filled(tmp_path) -> None:
    demo = DemoLaunch(DemoSettings(start_epoch=LAUNCH - 120), tmp_path)
    text = render_config(
        (resources.files("warroom") / "demo_config.toml").read_text(encoding="utf-8"),
        demo.placeholders() | {"ws_url": "ws://127.0.0.1:1/events", "http_url": "http://127.0.0.1:2/stats"},
    )
    for name in PLACEHOLDERS:
        assert "{" + name + "}" not in text
    config = parse_config(text)
    assert config.launch.at is not None and config.launch.at.timestamp() == LAUNCH
    assert [s.kind for s in config.sources] == ["websocket", "http", "file"]
    names = config.metric_names()
    assert {
        "visits",
        "participants",
        "bounce_rate",
        "error_rate",
        "registrations",
        "orders",
        "revenue",
        "conversion",
        "likes",
        "comments",
        "shares",
        "latency_ms",
    } <= names
    assert config.panels.conversion.funnel == ["visits", "registrations", "orders"]
    assert {t.metric for t in config.targets} == {"visits", "registrations", "orders", "revenue"}
    alerts = {a.name: a for a in config.alerts}
    assert alerts["high_error_rate"].severity == "critical" and alerts["high_error_rate"].for_ == 30
    assert "absent(" in alerts["orders_stalled"].expr and "change(" in alerts["traffic_surge"].expr
    assert all(a.runbook for a in config.alerts)
    assert set(config.team) == {"lead", "tech", "content", "ops", "support"}
    assert config.tickets.source == "events" and config.tickets.where == {"kind": "ticket"}
    assert "{value}" in alerts["high_error_rate"].summary  # not a placeholder of the template


def test_render_escapes_values_for_toml_strings() -> None:
    assert render_config('p = "{log_path}" s = "{other}"', {"log_path": 'C:\\a"b'}) == 'p = "C:\\\\a\\"b" s = "{other}"'


# --------------------------------------------------------------------------- the live demo


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_live_demo_through_real_transports(tmp_path) -> None:
    demo = DemoLaunch(DemoSettings(seed=3, speed=120), tmp_path)
    config = await demo.start()
    try:
        ws_source, http_source, file_source = config.sources
        assert ws_source.url == f"ws://127.0.0.1:{demo.feed.port}/events"
        assert http_source.url == f"http://127.0.0.1:{demo.stats.port}/stats"
        assert file_source.path == str(demo.log_path.resolve()) and file_source.format == "nginx"
        assert config.room.db.startswith(str(tmp_path.resolve()))
        assert config.launch.at.timestamp() == demo.launch_at == demo.clock.start_sim_epoch + 120

        async with connect(ws_source.url) as ws:
            records: list = []
            async with asyncio.timeout(5):
                while len(records) < 50:
                    records += orjson.loads(await ws.recv())
            now = demo.clock()
            assert all(r["kind"] and now - 120 < r["ts"] <= now for r in records)

            async with httpx.AsyncClient() as client:
                first = (await client.get(http_source.url)).json()
                await asyncio.sleep(0.3)
                second = (await client.get(http_source.url)).json()
                assert (await client.get(http_source.url.replace("/stats", "/nope"))).status_code == 404
            assert second["ts"] > first["ts"] and second["stats"]["ts"] == second["ts"]
            assert {"participants", "latency_ms", "queue_depth"} <= set(second["stats"])

            lines = demo.log_path.read_text().splitlines()
            assert len(lines) > 100  # the warm-up history plus what has been played since
            stamps = [line_time(parse_line(line)) for line in lines]
            assert stamps[0] < demo.launch_at - 400 and stamps[-1] > demo.clock.start_sim_epoch

            task = demo._task
            await demo.stop()
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(2):
                    while True:
                        await ws.recv()
        assert task.done()
        assert not port_open(demo.feed.port) and not port_open(demo.stats.port)
        size = demo.log_path.stat().st_size
        await asyncio.sleep(0.3)
        assert demo.log_path.stat().st_size == size  # nothing is written after stop
    finally:
        await demo.stop()


async def test_stop_closes_idle_keep_alive_connections(tmp_path) -> None:
    demo = DemoLaunch(DemoSettings(speed=60), tmp_path)
    config = await demo.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", demo.stats.port)
    writer.write(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200 OK")
    started = time.monotonic()
    await demo.stop()
    assert time.monotonic() - started < 2
    assert config.sources[1].url.endswith(f":{demo.stats.port}/stats")
    writer.close()


def test_world_and_recorder_run_in_their_own_processes_and_stop(tmp_path) -> None:
    from warroom.demo.world import DemoWorld
    from warroom.lease import FlockWatch

    with DemoWorld(speed=120, seed=5, workdir=tmp_path) as world:
        assert world.clock.speed == 120 and "--tick-interval" in world.recorder_args
        # The filled-in config is kept next to the log, and loads like any config file.
        assert load_config(tmp_path / "demo_config.toml").sources == world.config.sources
        with httpx.Client() as client:
            assert client.get(world.config.sources[1].url).json()["stats"]["participants"] >= 1800
        holder = FlockWatch(tmp_path / "demo.db").holder()
        assert holder is not None and holder.pid not in (os.getpid(), world._world.pid)
        ports = [int(s.url.rsplit(":", 1)[1].split("/")[0]) for s in world.config.sources[:2]]
    assert FlockWatch(tmp_path / "demo.db").holder() is None
    assert not any(port_open(port) for port in ports)

    with DemoWorld(speed=120) as world:
        workdir = world.workdir
        assert (workdir / "access.log").exists()
    assert not workdir.exists()  # a temporary work directory is removed on exit


def test_demo_crew_works_the_shared_room(tmp_path):
    """The crew writes commands through its own door, as other operators' dashboards would."""
    from warroom.config import parse_config as parse
    from warroom.demo import DemoLaunch, DemoSettings, render_config
    from warroom.demo.crew import DemoCrew
    from warroom.store import RoomStore

    launch = DemoLaunch(DemoSettings(start_epoch=1_795_600_800.0), tmp_path)
    template = (Path(__file__).resolve().parents[1] / "warroom" / "demo_config.toml").read_text()
    config = parse(render_config(template, launch.placeholders()))
    now = [launch.launch_at - 120]
    crew = DemoCrew(tmp_path / "room.db", launch.launch_at, lambda: now[0])
    with RoomStore(tmp_path / "room.db") as dashboard:
        crew.step(now[0])  # the recorder has not synced the checklist: nothing is lost
        dashboard.sync_checklist(config.checklist)
        for minute in range(-2, 26):
            now[0] = launch.launch_at + minute * 60
            crew.step(now[0])
        crew.close()
        online = {s.operator for s in dashboard.sessions(role="dashboard", open_only=False)}
        assert {"Maya Chen", "Elif Demir", "Tom Baker"} <= online
        done = {item.title: item for item in dashboard.checklist() if item.done_at is not None}
        assert len(done) == 11
        queue = next(i for t, i in done.items() if t.startswith("Queue page"))
        assert queue.done_by == "Jonas Weber" and queue.done_at > queue.due_at(launch.launch_at)
        entries = dashboard.log_entries()
        decision = next(e for e in entries if e.kind == "decision" and e.severity == "critical")
        assert decision.starred and decision.author == "Maya Chen"
        actions = [e for e in entries if e.kind == "action"]
        assert {a.owner for a in actions} == {"Jonas Weber", "Elif Demir"}


def test_demo_support_agents_take_the_most_pressing_tickets(tmp_path):
    from warroom.demo.crew import SUPPORT_EVERY, SUPPORT_FROM, DemoCrew
    from warroom.store import RoomStore

    launch_at = 1_795_600_800.0
    now = [launch_at]
    with RoomStore(tmp_path / "room.db") as room:
        for index, priority in enumerate(("low", "urgent", "normal", "urgent")):
            room.create_ticket(f"ticket {index}", "desk", priority=priority, at=launch_at - 600 + index)
        crew = DemoCrew(tmp_path / "room.db", launch_at, lambda: now[0])
        crew._pending = []  # only the support rounds
        crew.step(launch_at + SUPPORT_FROM)  # the first round
        assert crew.drain()
        taken = {t.subject: t for t in room.tickets() if t.assignee}
        assert set(taken) == {"ticket 1", "ticket 3"}  # both urgent ones, oldest first
        assert {t.assignee for t in taken.values()} == {"Elif Demir", "Tom Baker"}
        assert all(t.first_response_at is not None for t in taken.values())
        crew.step(launch_at + SUPPORT_FROM + SUPPORT_EVERY)
        assert crew.drain()
        assert sum(1 for t in room.tickets() if t.assignee) == 4
        crew.close()
