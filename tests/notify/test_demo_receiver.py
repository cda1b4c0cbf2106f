"""The demo's receiver: a file beside the demo's database, so a new user sees notifications
without any account. On the demo's checkout failure, the storm of five alerts is one
message, the consequences inhibited by the cause."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path

from warroom.alerts import AlertView
from warroom.config import parse_config
from warroom.demo import render_config
from warroom.notify.receivers import Receiver
from warroom.notify.routing import Notifier

STORM = ["high_error_rate", "orders_stalled", "ticket_flood", "latency_high", "bounce_rate_high"]


def demo_config(directory: Path):
    template = resources.files("warroom").joinpath("demo_config.toml").read_text(encoding="utf-8")
    text = render_config(
        template,
        {
            "ws_url": "ws://127.0.0.1:9/feed",
            "http_url": "http://127.0.0.1:9/stats",
            "log_path": str(directory / "access.log"),
            "db": str(directory / "demo.db"),
            "launch_at": "2026-11-25T18:00:00+00:00",
            "stale_after": "300s",
        },
    )
    path = directory / "demo_config.toml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def test_the_demo_storm_is_one_message_in_a_local_file(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    notifier = Notifier(config.notify, config.launch.name)
    rules = {r.name: r for r in config.alerts}
    start = 1_795_600_800.0
    views = [
        AlertView(
            name,
            "firing",
            0,
            None,
            "",
            rules[name].summary,
            rules[name].runbook,
            rules[name].severity,
            dict(rules[name].labels),
            rules[name].expr,
            False,
            None,
            None,
            start + n * 10,
            1,
        )
        for n, name in enumerate(STORM)
    ]
    messages = []
    for second in range(0, 120):
        outcome = notifier.evaluate(start + second, views)
        messages += [n for _, n in outcome.notifications]
    (message,) = messages
    assert [a.name for a in message.alerts] == ["high_error_rate", "latency_high"]
    assert outcome.inhibited == {
        "orders_stalled": "high_error_rate",
        "ticket_flood": "high_error_rate",
        "bounce_rate_high": "high_error_rate",
    }
    receiver = Receiver(config.notify.receivers[0], base_dir=tmp_path)
    asyncio.run(receiver.send(message))
    (line,) = (tmp_path / "notifications.jsonl").read_text().splitlines()
    assert json.loads(line)["title"] == "[FIRING:2] Spring Drop: high_error_rate, latency_high"
