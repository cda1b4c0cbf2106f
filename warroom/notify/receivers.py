"""Receivers: one notification, in the format each service documents, delivered once.

Every receiver takes the same `Notification` and either returns (the receiver accepted it)
or raises `DeliveryError` with a reason fit for the screen and the log (never a token: URL
query strings are cut and the config's `${ENV}` secrets scrubbed). What "accepted" means is
the service's own answer, not only the HTTP status:

- webhook: POST the notification's JSON (`Notification.to_json`); accepted on any 2xx.
- slack: POST `{"text": ...}` to the incoming webhook (`&`, `<`, `>` escaped as Slack
  asks); accepted on 200.
- feishu (and Lark): POST `{"msg_type": "text", "content": {"text": ...}}`, with
  `timestamp` and `sign` when a secret is set; accepted on 200 with `code` 0.
- dingtalk: POST `{"msgtype": "text", "text": {"content": ...}}`, `&timestamp=...&sign=...`
  added to the URL when a secret is set; accepted on 200 with `errcode` 0.
- wecom: POST `{"msgtype": "text", "text": {"content": ...}}`, cut to the documented 2048
  bytes; accepted on 200 with `errcode` 0.
- alertmanager: POST a list of alerts (labels, annotations, startsAt, endsAt) to
  `/api/v2/alerts`; accepted on 200.
- exec: run the command with the JSON on standard input; accepted on exit status 0 within
  the timeout.
- file: append the JSON as one line.

Each delivery runs under `asyncio.timeout(timeout)` as a whole (httpx's timeouts are per
phase), certificates are always verified (against `ca_file` when given) and a redirect is
a failure, not followed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import ssl
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from warroom.notify.config import ReceiverConfig
from warroom.notify.message import Notification, iso_time

MAX_ANSWER = 64 * 1024
MAX_REASON = 200
WECOM_MAX_BYTES = 2048
ALERTMANAGER_RESEND = 60.0
USER_AGENT = "warroom-notify"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class DeliveryError(Exception):
    """The receiver did not take the notification; `reason` is safe to show."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def redact_url(url: str) -> str:
    """scheme://host:port/path, without credentials or the query (tokens live there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class Receiver:
    """One configured receiver. `send` delivers or raises DeliveryError."""

    def __init__(
        self,
        config: ReceiverConfig,
        *,
        base_dir: Path | None = None,
        scrub: Callable[[str], str] = lambda text: text,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.name = config.name
        self.base_dir = base_dir
        self._scrub = scrub
        self._wall = wall

    def describe(self) -> str:
        """Kind and target, fit to show (no token)."""
        return f"{self.config.kind} {self.target()}"

    def target(self) -> str:
        """Where it sends: the URL without its query, the command, or the file."""
        if self.config.kind == "exec" and self.config.command:
            return self.config.command[0]
        if self.config.kind == "file":
            return str(self.path())
        return redact_url(self.config.url or "")

    def path(self) -> Path:
        path = Path(self.config.path or "").expanduser()
        return path if path.is_absolute() or self.base_dir is None else self.base_dir / path

    def safe(self, text: str) -> str:
        """`text` (often a server's answer) on one line, without control characters,
        secrets or the URL's query, cut to MAX_REASON."""
        text = self._scrub(text)
        if self.config.url:
            text = text.replace(self.config.url, redact_url(self.config.url))
        text = " ".join(_CONTROL.sub(" ", text).split())
        return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"

    async def send(self, note: Notification, client: httpx.AsyncClient | None = None) -> None:
        kind = self.config.kind
        try:
            async with asyncio.timeout(self.config.timeout):
                if kind == "exec":
                    await self._run(note)
                elif kind == "file":
                    await asyncio.to_thread(self._append, note)
                else:
                    await self._post(note, client)
        except TimeoutError:
            raise DeliveryError(f"no answer within {self.config.timeout:g} s") from None

    # ------------------------------------------------------------------ HTTP

    async def _post(self, note: Notification, client: httpx.AsyncClient | None) -> None:
        url, body = self.request(note)
        headers = {"User-Agent": USER_AGENT, **self.config.headers}
        own = client is None
        http = client or make_client(self.config)
        try:
            async with http.stream("POST", url, json=body, headers=headers) as response:
                answer = b""
                async for chunk in response.aiter_bytes():
                    answer += chunk
                    if len(answer) >= MAX_ANSWER:
                        break
        except httpx.HTTPError as exc:
            raise DeliveryError(self.safe(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)) from None
        finally:
            if own:
                await http.aclose()
        self.check(response.status_code, answer[:MAX_ANSWER], response.headers.get("Retry-After"))

    def request(self, note: Notification) -> tuple[str, Any]:
        """(URL, JSON body) of the notification in this kind's format."""
        kind, url, text = self.config.kind, self.config.url or "", note.text
        if kind == "webhook":
            return url, note.to_json()
        if kind == "slack":
            return url, {"text": slack_escape(text)}
        if kind == "feishu":
            body: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
            if self.config.secret:
                stamp = str(int(self._wall()))
                body = {"timestamp": stamp, "sign": feishu_sign(stamp, self.config.secret), **body}
            return url, body
        if kind == "dingtalk":
            if self.config.secret:
                stamp = str(int(self._wall() * 1000))
                sign = urllib.parse.quote_plus(dingtalk_sign(stamp, self.config.secret))
                url += ("&" if "?" in url else "?") + f"timestamp={stamp}&sign={sign}"
            return url, {"msgtype": "text", "text": {"content": text}}
        if kind == "wecom":
            return url, {"msgtype": "text", "text": {"content": cut_bytes(text, WECOM_MAX_BYTES)}}
        if kind == "alertmanager":
            return url.rstrip("/") + "/api/v2/alerts", alertmanager_alerts(note, self.config.resend, self._wall())
        raise ValueError(f"{kind} is not an HTTP receiver")

    def check(self, status: int, answer: bytes, retry_after: str | None = None) -> None:
        """Raise DeliveryError unless this answer means the service took the message."""
        text = answer.decode("utf-8", "replace").strip()
        if not 200 <= status < 300 or (self.config.kind != "webhook" and status != 200):
            wait = _seconds(retry_after) if status in (429, 503) else None
            raise DeliveryError(self.safe(f"HTTP {status}" + (f": {text}" if text else "")), wait)
        if self.config.kind in ("feishu", "dingtalk", "wecom"):
            try:
                reply = json.loads(text)
            except ValueError:
                raise DeliveryError(self.safe(f"not the service's JSON answer: {text[:80]!r}")) from None
            field = "errcode" if self.config.kind != "feishu" else ("code" if "code" in reply else "StatusCode")
            if not isinstance(reply, dict) or reply.get(field) != 0:
                message = reply.get("errmsg") or reply.get("msg") if isinstance(reply, dict) else None
                raise DeliveryError(
                    self.safe(
                        f"refused: {field} {reply.get(field) if isinstance(reply, dict) else '?'}"
                        + (f" {message}" if message else "")
                    )
                )

    # ------------------------------------------------------------------ exec and file

    async def _run(self, note: Notification) -> None:
        command = self.config.command or []
        body = json.dumps(note.to_json()).encode()
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                cwd=self.base_dir,
            )
        except OSError as exc:
            raise DeliveryError(self.safe(f"cannot run {command[0]}: {exc.strerror or exc}")) from None
        try:
            _, errors = await process.communicate(body)
        except BaseException:  # the timeout, or the recorder stopping: no child left behind
            _kill_group(process.pid)
            await process.wait()
            raise
        if process.returncode != 0:
            last = (errors or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise DeliveryError(
                self.safe(f"{command[0]} exited with status {process.returncode}" + (f": {last[0]}" if last[0] else ""))
            )

    def _append(self, note: Notification) -> None:
        line = json.dumps(note.to_json(), ensure_ascii=False) + "\n"
        path = self.path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as out:
                out.write(line)
        except OSError as exc:
            raise DeliveryError(self.safe(f"cannot write {path}: {exc.strerror or exc}")) from None


def make_client(config: ReceiverConfig) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = True
    if config.ca_file:
        verify = ssl.create_default_context(cafile=os.path.expanduser(config.ca_file))
    return httpx.AsyncClient(verify=verify, follow_redirects=False, timeout=config.timeout)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- formats


def slack_escape(text: str) -> str:
    """Slack's incoming webhooks read `&`, `<` and `>` as markup: send them as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feishu_sign(timestamp: str, secret: str) -> str:
    """Feishu/Lark custom bot: base64 of HMAC-SHA256 keyed with "timestamp\\nsecret", of nothing."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk custom robot: base64 of HMAC-SHA256 of "timestamp\\nsecret" keyed with the secret
    (URL-encode it before putting it in the query)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def cut_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, on a character boundary."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def alertmanager_alerts(note: Notification, resend: float | None, now: float) -> list[dict[str, Any]]:
    """Alertmanager's postable alerts, timed on the wall clock `now` (Alertmanager's own)
    whatever clock the room runs on: a firing alert is valid for four resend intervals (as
    Prometheus does), a resolved one ends now (its start is the one Alertmanager holds)."""
    valid = 4 * (resend or ALERTMANAGER_RESEND)
    common = {"launch": note.launch, "source": "warroom"}
    if note.kind != "alert":
        ticket: dict[str, Any] = note.ticket or {}
        severity = "info" if note.kind == "test" else "critical" if ticket.get("priority") == "urgent" else "warning"
        labels: dict[str, str] = {
            **common,
            "alertname": "warroom_test" if note.kind == "test" else "sla_breach",
            "severity": severity,
            **{k: str(ticket[k]) for k in ("id", "priority", "breach") if k in ticket},
        }
        annotations = {"summary": note.title, "description": note.text}
        return [
            {"labels": labels, "annotations": annotations, "startsAt": iso_time(now), "endsAt": iso_time(now + valid)}
        ]
    out = []
    for alert in note.alerts:
        labels = {**alert.labels, **common, "alertname": alert.name, "severity": alert.severity}
        annotations = {
            "summary": alert.summary,
            "runbook": alert.runbook,
            "value": alert.value,
            "acknowledged_by": alert.acked_by or "",
        }
        posted: dict[str, Any] = {"labels": labels, "annotations": {k: v for k, v in annotations.items() if v}}
        if alert.status == "firing":
            posted |= {"startsAt": iso_time(min(alert.since, now)), "endsAt": iso_time(now + valid)}
        else:
            posted["endsAt"] = iso_time(now)
        out.append(posted)
    return out
