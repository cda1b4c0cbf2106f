"""Each receiver kind against a real HTTP server on 127.0.0.1 that records what it gets: the
body in the format the service documents, the answer it gives, and what a refusal looks like.

The formats, from each service's documentation:
- Slack incoming webhook (api.slack.com/messaging/webhooks): POST JSON `{"text": ...}`;
  answers 200 `ok`, or 4xx with an error word (`invalid_payload`, `no_service`); `&`, `<`
  and `>` are control characters in text and are sent as `&amp;`, `&lt;`, `&gt;`.
- Feishu/Lark custom bot (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
  `{"msg_type": "text", "content": {"text": ...}}`; with signature verification, `timestamp`
  (seconds) and `sign` = base64(HMAC-SHA256 keyed with "timestamp\\nsecret" over nothing);
  answers `{"code": 0, "msg": "success"}`, an error as a non-zero code (19021: bad sign).
- DingTalk custom robot (open.dingtalk.com/document/robots/custom-robot-access):
  `{"msgtype": "text", "text": {"content": ...}}` to `robot/send?access_token=...`; with
  a signing secret, `&timestamp=<ms>&sign=<urlencoded base64(HMAC-SHA256(secret,
  "timestamp\\nsecret"))>`; answers `{"errcode": 0, "errmsg": "ok"}` (310000: bad sign).
- WeCom group robot (developer.work.weixin.qq.com/document/path/91770): `{"msgtype":
  "text", "text": {"content": ...}}`, content at most 2048 bytes, 20 messages a minute;
  answers `{"errcode": 0, "errmsg": "ok"}` (45009: over the frequency limit).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.notify.inbox import Inbox
from warroom.notify.config import ReceiverConfig
from warroom.notify.message import AlertItem, Notification
from warroom.notify.receivers import DeliveryError, Receiver

NOW = 1_795_600_800.0
SECRET = "SECexample-signing-secret"


def note(**changes) -> Notification:
    alert = AlertItem(
        "high_error_rate",
        "firing",
        "critical",
        {"team": "tech"},
        "5xx share at 9.8% <b>&",
        "Switch the landing page to the queue page.",
        "9.8%",
        NOW - 120,
        3,
    )
    fields = {
        "id": "a1b2c3d4e5f6-1",
        "receiver": "ops",
        "kind": "alert",
        "reason": "new",
        "launch": "Spring Drop",
        "created_at": NOW,
        "group": {"team": "tech"},
        "alerts": [alert],
    }
    return Notification(**{**fields, **changes})


def receiver(kind: str, **settings) -> Receiver:
    return Receiver(ReceiverConfig(name="ops", kind=kind, **settings), scrub=lambda t: t.replace(SECRET, "***"))


def send(target: Receiver, message: Notification | None = None) -> None:
    asyncio.run(target.send(message or note()))


def test_the_generic_webhook_gets_the_documented_json(tmp_path: Path) -> None:
    with Inbox((204, b"")) as inbox:
        send(receiver("webhook", url=inbox.url + "/hook", headers={"Authorization": "Bearer t0ken"}))
        (got,) = inbox.received
    assert got.path == "/hook" and got.headers["authorization"] == "Bearer t0ken"
    assert got.headers["content-type"] == "application/json"
    body = got.body
    assert body == note().to_json()
    assert {k: body[k] for k in ("version", "id", "kind", "reason", "status", "launch", "receiver", "group")} == {
        "version": 1,
        "id": "a1b2c3d4e5f6-1",
        "kind": "alert",
        "reason": "new",
        "status": "firing",
        "launch": "Spring Drop",
        "receiver": "ops",
        "group": {"team": "tech"},
    }
    assert body["created_at"] == "2026-11-25T10:00:00.000Z"
    (alert,) = body["alerts"]
    assert alert == {
        "name": "high_error_rate",
        "status": "firing",
        "severity": "critical",
        "labels": {"team": "tech"},
        "summary": "5xx share at 9.8% <b>&",
        "runbook": "Switch the landing page to the queue page.",
        "value": "9.8%",
        "since": "2026-11-25T09:58:00.000Z",
        "episode": 3,
        "acked_by": None,
        "ack_note": "",
    }
    assert body["title"] == "[FIRING:1] Spring Drop: high_error_rate (team=tech)"
    assert body["text"].splitlines() == [
        "[FIRING:1] Spring Drop: high_error_rate (team=tech)",
        "CRIT high_error_rate (firing for 2m00s): 5xx share at 9.8% <b>&",
        "  runbook: Switch the landing page to the queue page.",
    ]
    assert Notification.from_json(body) == note()


def test_slack_gets_text_with_its_control_characters_escaped() -> None:
    with Inbox((200, "ok")) as inbox:
        send(receiver("slack", url=inbox.url + "/services/T000/B000/XXXX"))
        (got,) = inbox.received
    assert set(got.body) == {"text"}
    assert "5xx share at 9.8% &lt;b&gt;&amp;" in got.body["text"] and "<b>" not in got.body["text"]
    with Inbox((400, "invalid_payload")) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("slack", url=inbox.url + "/services/T000/B000/XXXX"))
    assert refused.value.reason == "HTTP 400: invalid_payload"


def test_feishu_gets_a_text_message_signed_as_documented() -> None:
    with Inbox((200, '{"code":0,"msg":"success","data":{}}')) as inbox:
        before = int(time.time())
        send(receiver("feishu", url=inbox.url + "/open-apis/bot/v2/hook/abc", secret=SECRET))
        (got,) = inbox.received
    body = got.body
    assert body["msg_type"] == "text" and body["content"] == {"text": note().text}
    stamp = body["timestamp"]
    assert isinstance(stamp, str) and before <= int(stamp) <= time.time()
    key = f"{stamp}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    unsigned = receiver("feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/abc")
    assert set(unsigned.request(note())[1]) == {"msg_type", "content"}
    refusal = '{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}'
    with Inbox((200, refusal)) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("feishu", url=inbox.url + "/open-apis/bot/v2/hook/abc", secret=SECRET))
    assert refused.value.reason.startswith("refused: code 19021 sign match fail")


def test_dingtalk_gets_a_text_message_with_the_signature_in_the_url() -> None:
    with Inbox((200, '{"errcode":0,"errmsg":"ok"}')) as inbox:
        before = int(time.time() * 1000)
        send(receiver("dingtalk", url=inbox.url + "/robot/send?access_token=tok123", secret=SECRET))
        (got,) = inbox.received
    assert got.path == "/robot/send" and got.query["access_token"] == "tok123"
    assert got.body == {"msgtype": "text", "text": {"content": note().text}}
    stamp = got.query["timestamp"]
    assert before <= int(stamp) <= time.time() * 1000
    expected = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert got.query["sign"] == base64.b64encode(expected).decode()  # parse_qsl undid the URL encoding
    with Inbox((200, '{"errcode":310000,"errmsg":"sign not match"}')) as inbox, pytest.raises(DeliveryError) as no:
        send(receiver("dingtalk", url=inbox.url + "/robot/send?access_token=tok123", secret=SECRET))
    assert no.value.reason == "refused: errcode 310000 sign not match"


def test_wecom_gets_text_cut_to_its_documented_2048_bytes() -> None:
    long = note(note="注意 " * 2000)
    with Inbox((200, '{"errcode":0,"errmsg":"ok"}')) as inbox:
        send(receiver("wecom", url=inbox.url + "/cgi-bin/webhook/send?key=k-1"), long)
        (got,) = inbox.received
    assert got.query == {"key": "k-1"} and got.body["msgtype"] == "text" and set(got.body) == {"msgtype", "text"}
    content = got.body["text"]["content"]
    assert len(content.encode()) <= 2048 and content.startswith("[FIRING:1] Spring Drop") and content.endswith("…")
    with (
        Inbox((200, '{"errcode":45009,"errmsg":"api freq out of limit"}')) as inbox,
        pytest.raises(DeliveryError) as refused,
    ):
        send(receiver("wecom", url=inbox.url + "/cgi-bin/webhook/send?key=k-1"))
    assert refused.value.reason == "refused: errcode 45009 api freq out of limit"


def test_a_chat_answer_that_is_not_the_services_json_is_a_failure() -> None:
    with Inbox((200, "<html>proxy login</html>")) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("wecom", url=inbox.url + "/cgi-bin/webhook/send?key=k"))
    assert "not the service's JSON answer" in refused.value.reason


def test_an_answer_is_data_on_one_line_without_control_characters() -> None:
    with Inbox((400, "bad\x1b[31m request\r\n\x9b2Jagain")) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("slack", url=inbox.url + "/s"))
    assert refused.value.reason == "HTTP 400: bad [31m request 2Jagain"


def test_a_redirect_is_a_failure_not_followed() -> None:
    with Inbox((302, "")) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("webhook", url=inbox.url + "/moved"))
    assert refused.value.reason == "HTTP 302" and len(inbox.received) == 1


def test_a_429_says_when_to_come_back() -> None:
    with Inbox((429, "rate_limited", {"Retry-After": "7"})) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("slack", url=inbox.url + "/s"))
    assert (refused.value.reason, refused.value.retry_after) == ("HTTP 429: rate_limited", 7.0)


def test_exec_gets_the_json_on_stdin_and_its_status_decides(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = tmp_path / "page.py"
    script.write_text(
        "import sys, pathlib\n"
        "data = sys.stdin.read()\n"
        "pathlib.Path(sys.argv[1]).write_text(data)\n"
        "sys.exit(int(sys.argv[2]))\n"
    )
    send(receiver("exec", command=[sys.executable, str(script), str(out), "0"]))
    assert json.loads(out.read_text()) == note().to_json()
    script.write_text("import sys\nsys.stdin.read()\nprint('pager says no', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(DeliveryError) as refused:
        send(receiver("exec", command=[sys.executable, str(script)]))
    assert refused.value.reason.endswith("exited with status 3: pager says no")


def test_exec_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = tmp_path / "slow.sh"
    script.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > {marker}\nwait\n")
    script.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as refused:
        send(receiver("exec", command=[str(script)], timeout="0.5s"))
    assert refused.value.reason == "no answer within 0.5 s"
    assert time.monotonic() - started < 10
    pid = int(marker.read_text())
    for _ in range(100):
        done = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
        if not done.stdout.strip() or done.stdout.strip().startswith("Z"):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the command's child outlived the timeout")


def test_a_missing_program_is_a_clear_failure() -> None:
    with pytest.raises(DeliveryError) as refused:
        send(receiver("exec", command=["/nonexistent/pager"]))
    assert refused.value.reason.startswith("cannot run /nonexistent/pager: No such file or directory")


def test_the_file_receiver_appends_one_json_line_each(tmp_path: Path) -> None:
    target = Receiver(ReceiverConfig(name="desk", kind="file", path="out/notifications.jsonl"), base_dir=tmp_path)
    send(target)
    send(target, note(id="a1b2c3d4e5f6-2", reason="repeat"))
    lines = (tmp_path / "out" / "notifications.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a1b2c3d4e5f6-1", "a1b2c3d4e5f6-2"]
    assert target.describe() == f"file {tmp_path / 'out' / 'notifications.jsonl'}"


def test_tokens_never_reach_the_reason() -> None:
    with Inbox((500, f"upstream said {SECRET}")) as inbox:
        url = inbox.url + f"/robot/send?access_token={SECRET}"
    target = receiver("dingtalk", url=url)  # the server is gone: connection refused
    with pytest.raises(DeliveryError) as refused:
        send(target)
    assert SECRET not in refused.value.reason and "access_token" not in refused.value.reason
    assert target.describe() == f"dingtalk {url.split('?')[0]}"
    with Inbox((500, f"upstream said {SECRET}")) as inbox, pytest.raises(DeliveryError) as refused:
        send(receiver("webhook", url=inbox.url + "/h"))
    assert refused.value.reason == "HTTP 500: upstream said ***"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
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


def test_tls_is_verified_and_a_private_ca_can_be_named(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Inbox((200, "ok"), tls=context) as inbox:
        with pytest.raises(DeliveryError) as refused:
            send(receiver("slack", url=inbox.url + "/s"))
        assert "CERTIFICATE_VERIFY_FAILED" in refused.value.reason
        assert inbox.received == []
        send(receiver("slack", url=inbox.url + "/s", ca_file=str(cert)))
        assert len(inbox.received) == 1
