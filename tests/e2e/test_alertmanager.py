"""warroom's alertmanager receiver against a real Alertmanager (Debian's
prometheus-alertmanager), started by the test on 127.0.0.1, whose own webhook receiver (a
recording server of the test's) gets the alert: firing with warroom's labels and
annotations, then resolved. A team that runs Alertmanager keeps its routing and silences."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port, require_binary, stop, wait_until
from tests.notify.inbox import Inbox
from warroom.alerts import AlertView
from warroom.config import parse_config
from warroom.notify.message import iso_time
from warroom.notify.receivers import Receiver
from warroom.notify.routing import Notifier

AM_CONFIG = """
route:
  receiver: inbox
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: inbox
    webhook_configs:
      - url: {url}/alertmanager
        send_resolved: true
"""

CONFIG = """
[launch]
name = "Spring Drop"

[[alerts]]
name = "high_error_rate"
expr = "1 > 0"
severity = "critical"
labels = {{ team = "tech" }}

[[notify.receivers]]
name = "am"
kind = "alertmanager"
url = "{url}"
resend = "1m"

[[notify.routes]]
receiver = "am"
group_wait = "0s"
"""


def test_a_real_alertmanager_routes_warroom_alerts_to_its_webhook(tmp_path: Path) -> None:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    with Inbox((200, "")) as inbox:
        (tmp_path / "am.yml").write_text(AM_CONFIG.format(url=inbox.url))
        log = tmp_path / "am.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={tmp_path / 'am.yml'}",
                    f"--storage.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: httpx.get(f"{base}/-/ready").status_code == 200, 30, "alertmanager ready", proc, log)
            config = parse_config(CONFIG.format(url=base))
            notifier = Notifier(config.notify, config.launch.name)
            receiver = Receiver(config.notify.receivers[0])
            now = time.time()  # Alertmanager's clock: it tells a firing alert by its start and end
            firing = AlertView(
                "high_error_rate",
                "firing",
                0,
                0.098,
                "9.8%",
                "5xx share at 9.8%",
                "Switch to the queue page.",
                "critical",
                {"team": "tech"},
                "1 > 0",
                False,
                None,
                None,
                now - 30,
                1,
            )
            ((_, note),) = notifier.evaluate(now, [firing]).notifications
            asyncio.run(receiver.send(note))
            (got,) = inbox.wait_for(1, timeout=30)
            body = got.body
            assert (got.path, body["version"], body["status"], body["receiver"]) == (
                "/alertmanager",
                "4",
                "firing",
                "inbox",
            )
            (alert,) = body["alerts"]
            assert alert["labels"] == {
                "alertname": "high_error_rate",
                "severity": "critical",
                "team": "tech",
                "launch": "Spring Drop",
                "source": "warroom",
            }
            assert alert["annotations"] == {
                "summary": "5xx share at 9.8%",
                "runbook": "Switch to the queue page.",
                "value": "9.8%",
            }
            assert alert["startsAt"].startswith(iso_time(now - 30)[:19])
            held = httpx.get(f"{base}/api/v2/alerts").json()
            assert [a["labels"]["alertname"] for a in held] == ["high_error_rate"]

            resolved = dataclasses.replace(firing, state="resolved", since_at=now + 1)
            ((_, over),) = notifier.evaluate(now + 1, [resolved]).notifications
            asyncio.run(receiver.send(over))
            got = inbox.wait_for(2, timeout=30)[1]
            assert got.body["status"] == "resolved"
            assert got.body["alerts"][0]["labels"]["alertname"] == "high_error_rate"
        finally:
            stop(proc)
