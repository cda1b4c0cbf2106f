"""Polled HTTP sources: a JSON endpoint (`HttpSource`) and Prometheus (`PrometheusSource`).

Both share `PollingSource`, the one place that knows how to poll safely:

- polls start every `interval`, measured from the start of the previous poll, and never
  overlap (one loop, one poll at a time);
- each request runs under `asyncio.timeout(deadline)` around connect, headers *and* the
  streamed body, because httpx timeouts are per phase and a server that drips one byte a
  second would otherwise hold a poll forever;
- the body is streamed and abandoned past `max_body_bytes` (measured after decompression,
  so a small gzip bomb is caught too);
- failed polls back off (`next_backoff`, never faster than `interval`), and a 429/503
  `Retry-After` is honoured;
- redirects are followed, at most MAX_REDIRECTS of them, so a redirect loop is an error
  instead of a hang.

Subclasses only say what to fetch and how to turn the answer into records. A fault is a
`PollError`: its `fault` is the key counted in `health.faults`, its `reason` is shown to the
operator and never holds header values or query strings. Once polls succeed again, the last
failure stays the health's reason ("last error at 12:03:04: HTTP 503 ..."): the reconnect
count alone would not say what went wrong.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpx
import orjson

from warroom.config import HttpSourceConfig, PolledSourceBase, PrometheusSourceConfig
from warroom.format import clock_time
from warroom.model import Record
from warroom.sources.base import EmitFn, Source, SourceState, next_backoff
from warroom.sources.jsonbody import RecordsPathError, records_at

__all__ = ["HttpSource", "PollError", "PollingSource", "PrometheusSource"]

MAX_REDIRECTS = 5
# A Retry-After longer than this is capped: on launch day a source that goes dark for an
# hour because a server asked it to is worse than a few more 429s.
MAX_RETRY_AFTER = 300.0
# Floor under `interval`, so a zero interval cannot turn the loop into a busy loop.
MIN_POLL_INTERVAL = 0.05
MAX_REASON = 300


class PollError(Exception):
    """One failed request or unusable answer: `fault` is counted, `reason` is shown."""

    def __init__(self, fault: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.fault = fault
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Fetched:
    """A complete answer, read within the deadline and the size limit."""

    status: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes


@dataclass
class PollOutcome:
    """What one poll produced. It failed when every one of its `parts` failed."""

    records: list[Record] = field(default_factory=list)
    problems: list[PollError] = field(default_factory=list)
    parts: int = 1
    brackets: int | None = None  # of the JSON text the records came from (Source.deliver)

    @property
    def failed(self) -> bool:
        return len(self.problems) >= self.parts


P = TypeVar("P", bound=PolledSourceBase)


class PollingSource(Source[P], Generic[P]):
    """The poll loop, deadline, size limit and backoff shared by the HTTP-based sources."""

    _last_error = ""  # shown while live again after a failure

    async def poll(self, client: httpx.AsyncClient) -> PollOutcome:
        """One poll; raise PollError when it fails as a whole."""
        raise NotImplementedError

    async def run(self, emit: EmitFn) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        health = self.health
        backoff = 0.0
        async with self._client() as client:
            while True:
                started = loop.time()
                bad_before = health.bad_records
                try:
                    outcome = await self.poll(client)
                except PollError as exc:
                    outcome = PollOutcome(problems=[exc])
                for problem in outcome.problems:
                    health.note_fault(problem.fault)
                if outcome.problems:
                    self._last_error = f"last error at {clock_time(self.clock())}: {_join(outcome.problems)}"
                self.deliver(emit, outcome.records, brackets=outcome.brackets)
                wait = max(config.interval, MIN_POLL_INTERVAL)
                retry_after = max((p.retry_after or 0.0 for p in outcome.problems), default=0.0)
                if outcome.failed:
                    backoff = next_backoff(backoff)
                    wait = max(wait, backoff, retry_after)
                    reason = f"{_join(outcome.problems)}; next poll in {wait:g}s"
                    health.set_state(SourceState.ERROR, reason, now=self.clock())
                else:
                    backoff = 0.0
                    wait = max(wait, retry_after)
                    if outcome.problems:  # some parts answered, some did not
                        health.set_state(SourceState.ERROR, _join(outcome.problems), now=self.clock())
                    elif health.bad_records == bad_before:
                        health.set_state(SourceState.LIVE, self._last_error, now=self.clock())
                    else:  # keep the reason `reject` gave for this poll's bad records
                        health.set_state(SourceState.LIVE, health.reason, now=self.clock())
                await asyncio.sleep(max(0.0, started + wait - loop.time()))
                if outcome.failed:
                    health.reconnects += 1

    def _client(self) -> httpx.AsyncClient:
        config = self.config
        return httpx.AsyncClient(
            headers=config.headers,
            verify=config.verify_tls,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            # Per-phase limits; the real limit is the deadline around the whole request.
            timeout=httpx.Timeout(config.deadline),
        )

    async def fetch(self, client: httpx.AsyncClient, url: str, params: dict[str, str] | None = None) -> Fetched:
        """GET `url`, body included, within the deadline and the body size limit."""
        deadline = self.config.deadline
        limit = self.config.max_body_bytes
        too_large = PollError("body_too_large", f"response body over max_body_bytes ({limit} bytes)")
        try:
            async with asyncio.timeout(deadline):
                async with client.stream("GET", url, params=params) as response:
                    declared = response.headers.get("content-length", "")
                    encoded = response.headers.get("content-encoding", "identity") != "identity"
                    if declared.isdigit() and int(declared) > limit and not encoded:
                        raise too_large
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise too_large
                    return Fetched(response.status_code, response.reason_phrase, response.headers, bytes(body))
        except TimeoutError:
            raise PollError("deadline", f"no complete answer within the {deadline:g}s deadline") from None
        except httpx.TooManyRedirects:
            raise PollError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects (a redirect loop?)") from None
        except httpx.ConnectError as exc:
            raise PollError("connect_failed", f"cannot connect: {self._scrub(str(exc)) or 'refused'}") from None
        except httpx.TimeoutException:
            raise PollError("deadline", f"no complete answer within the {deadline:g}s deadline") from None
        except httpx.HTTPError as exc:
            detail = self._scrub(str(exc)) or type(exc).__name__
            raise PollError("transport_error", f"request failed: {detail}") from None

    def check_status(self, fetched: Fetched) -> None:
        """PollError for any answer outside 2xx, honouring Retry-After on 429 and 503."""
        status = fetched.status
        if 200 <= status < 300:
            return
        reason = f"HTTP {status}"
        if fetched.reason_phrase:
            reason += f" {fetched.reason_phrase}"
        if status == 429:
            reason += " (rate limited)"
        retry_after = _retry_after(fetched.headers) if status in (429, 503) else None
        raise PollError(f"http_{status}", reason, retry_after=retry_after)

    def decode_json(self, fetched: Fetched) -> Any:
        """The JSON document in the body, or PollError("not_json") with a short reason."""
        try:
            return orjson.loads(fetched.body)
        except orjson.JSONDecodeError as exc:
            content_type = fetched.headers.get("content-type", "").split(";")[0].strip()
            if content_type and "json" not in content_type:
                raise PollError("not_json", f"response is not JSON ({content_type})") from None
            raise PollError("not_json", f"response is not valid JSON ({exc})") from None

    def _scrub(self, text: str) -> str:
        """`text` without the configured address' query string, header or parameter values."""
        text = text.replace(self.config.url, self.health.target)
        params: dict[str, str] = getattr(self.config, "params", {})
        secrets = list(self.config.headers.values()) + list(params.values())
        for value in secrets:
            if value:
                text = text.replace(value, "***")
        return text[:MAX_REASON]


class HttpSource(PollingSource[HttpSourceConfig]):
    """Polls one JSON endpoint; the records are at `records_path` in each answer."""

    kind = "http"

    async def poll(self, client: httpx.AsyncClient) -> PollOutcome:
        fetched = await self.fetch(client, self.config.url, self.config.params or None)
        self.check_status(fetched)
        document = self.decode_json(fetched)
        try:
            records, not_objects = records_at(document, self.config.records_path)
        except RecordsPathError as exc:
            raise PollError("records_path_missing", str(exc)) from None
        if not_objects:
            self.reject("not_an_object", "last bad record: an item that is not an object", not_objects)
        return PollOutcome(records=records, brackets=fetched.body.count(b"{") + fetched.body.count(b"["))


class PrometheusSource(PollingSource[PrometheusSourceConfig]):
    """Runs each configured instant query every interval; one record per sample.

    A vector sample becomes `{**labels, "query": name, "value": float, "ts": sample_time}`
    with the series name kept as `metric_name`; a scalar has no labels. Queries run
    concurrently, each under the deadline; one broken query does not hide the others.
    """

    kind = "prometheus"

    async def poll(self, client: httpx.AsyncClient) -> PollOutcome:
        queries = self.config.queries
        endpoint = self.config.url.rstrip("/") + "/api/v1/query"
        results = await asyncio.gather(
            *(self._query(client, endpoint, name, promql) for name, promql in queries.items()),
            return_exceptions=True,
        )
        outcome = PollOutcome(parts=len(queries))
        for result in results:
            if isinstance(result, PollError):
                outcome.problems.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                outcome.records.extend(result)
        return outcome

    async def _query(self, client: httpx.AsyncClient, endpoint: str, name: str, promql: str) -> list[Record]:
        fetched = await self.fetch(client, endpoint, {"query": promql})
        try:
            document = self.decode_json(fetched)
        except PollError:
            self.check_status(fetched)  # an error page from a proxy in front of Prometheus
            raise
        if not isinstance(document, dict) or "status" not in document:
            self.check_status(fetched)
            raise PollError("not_prometheus", f"query {name}: the answer is not from the Prometheus API")
        if document["status"] != "success":
            # Prometheus explains bad queries (400) and failed evaluations (422, 503) in JSON.
            error_type = document.get("errorType") or "error"
            error = str(document.get("error") or f"HTTP {fetched.status}")
            raise PollError(
                "query_error",
                f"query {name}: {error_type}: {error}"[:MAX_REASON],
                retry_after=_retry_after(fetched.headers) if fetched.status in (429, 503) else None,
            )
        self.check_status(fetched)
        data = document.get("data")
        result_type = data.get("resultType") if isinstance(data, dict) else None
        result = data.get("result") if isinstance(data, dict) else None
        if result_type == "vector" and isinstance(result, list):
            samples = [(s.get("metric"), s.get("value")) if isinstance(s, dict) else (None, None) for s in result]
        elif result_type == "scalar":
            samples = [({}, result)]
        else:
            raise PollError(
                "unsupported_result",
                f"query {name}: gives a {result_type or 'malformed'} result; use an instant vector or scalar",
            )
        return self._records(name, samples)

    def _records(self, name: str, samples: list[tuple[Any, Any]]) -> list[Record]:
        records: list[Record] = []
        for labels, pair in samples:
            try:
                if not isinstance(labels, dict) or not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError("not a [time, value] pair")
                sample_time, value = float(pair[0]), float(pair[1])
            except (TypeError, ValueError):
                self.reject("bad_sample", f"query {name}: a sample that is not a [time, value] pair")
                continue
            if not math.isfinite(value):
                self.health.note_fault("non_finite")
                continue
            record: Record = {("metric_name" if key == "__name__" else key): v for key, v in labels.items()}
            record.update(query=name, value=value, ts=sample_time)
            records.append(record)
        return records


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds asked for by a Retry-After header (delay or HTTP date), capped; None if absent."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _join(problems: list[PollError]) -> str:
    """The distinct reasons, in order (every query failing the same way reads as one)."""
    return "; ".join(dict.fromkeys(p.reason for p in problems))[:MAX_REASON]
