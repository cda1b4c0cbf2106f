"""`warroom notify test RECEIVER` (warroom.notify.command.notify_command): a test message to
a real receiver on 127.0.0.1, what the operator reads, and the exit status."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.notify.inbox import Inbox
from warroom.config import load_config
from warroom.notify.command import notify_command


def config_at(directory: Path, url: str) -> Path:
    path = directory / "launch.toml"
    path.write_text(f"""
[launch]
name = "Spring Drop"

[[notify.receivers]]
name = "ops"
kind = "dingtalk"
url = "{url}/robot/send?access_token=${{DING_TOKEN}}"
secret = "${{DING_SECRET}}"
""")
    return path


def test_a_test_message_reaches_the_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DING_TOKEN", "tok-abc")
    monkeypatch.setenv("DING_SECRET", "SECxyz")
    with Inbox((200, '{"errcode":0,"errmsg":"ok"}')) as inbox:
        config = load_config(config_at(tmp_path, inbox.url))
        status = notify_command(config, argparse.Namespace(receiver="ops", operator="ana"))
        (got,) = inbox.received
    out = capsys.readouterr().out
    assert status == 0
    assert got.query["access_token"] == "tok-abc" and "sign" in got.query
    text = got.body["text"]["content"]
    assert text.splitlines() == [
        "[TEST] Spring Drop: a test notification to ops",
        "Sent with `warroom notify test` by ana: if you read this, ops reaches you.",
    ]
    assert out.startswith(f"sent a test notification to ops (dingtalk {inbox.url}/robot/send), id test-")
    assert "tok-abc" not in out


def test_a_refusal_is_reported_with_status_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DING_TOKEN", "tok-abc")
    monkeypatch.setenv("DING_SECRET", "SECxyz")
    with Inbox((200, '{"errcode":310000,"errmsg":"keywords not in content"}')) as inbox:
        config = load_config(config_at(tmp_path, inbox.url))
        assert notify_command(config, argparse.Namespace(receiver="ops")) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"warroom notify: ops (dingtalk {inbox.url}/robot/send) did not take the test: "
        "refused: errcode 310000 keywords not in content"
    )


def test_an_unknown_receiver_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DING_TOKEN", "t")
    monkeypatch.setenv("DING_SECRET", "s")
    config = load_config(config_at(tmp_path, "http://127.0.0.1:9"))
    assert notify_command(config, argparse.Namespace(receiver="pager")) == 2
    err = capsys.readouterr().err
    assert f"no receiver 'pager' in {tmp_path / 'launch.toml'} (receivers: ops)" in err
