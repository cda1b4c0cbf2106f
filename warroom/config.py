"""config.toml: pydantic models, secrets from the environment, and errors that name the line.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored
setting. `load_config` collects *every* problem, each as `file:line field.path: message`,
because an operator fixing a config under time pressure should not have to re-run it once per
mistake.

Secrets: any string value may contain `${NAME}`; it is replaced by the environment variable
NAME at load time, so a config can be shared without its tokens. The substituted values are
kept in `Config.secrets` so that screens, logs and exports can scrub them.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from warroom.configlines import ConfigLines, locate, nesting_problem
from warroom.model import parse_duration
from warroom.notify.config import NotifyConfig
from warroom.notify.config import reference_problems as notify_reference_problems

__all__ = ["Config", "ConfigError", "load_config", "locate", "parse_config"]

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
Duration = Annotated[float, BeforeValidator(parse_duration)]
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]

_BOUND = re.compile(r"^\s*(<=|>=|<|>)?\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*(%|k|M|G)?\s*$")
_BOUND_SCALE = {"": 1.0, "%": 0.01, "k": 1e3, "M": 1e6, "G": 1e9}


def parse_bound(value: Any) -> tuple[str, float]:
    """`0.05`, `"5%"`, `"> 5%"`, `"< 100"` -> (">", 0.05) ...: a number alone is an upper
    bound (above it is bad); "<" or "<=" make it a lower one."""
    if isinstance(value, bool):
        raise ValueError('expected a number or a bound such as "> 5%" or "< 100"')
    if isinstance(value, (int, float)):
        return (">", float(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] in (">", ">=", "<", "<="):
        return (str(value[0]), float(value[1]))  # the form this returns, read back
    match = _BOUND.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'expected a number or a bound such as "> 5%" or "< 100", got {value!r}')
    op, number, suffix = match.groups()
    return (op or ">", float(number) * _BOUND_SCALE[suffix or ""])


Bound = Annotated[tuple[str, float], BeforeValidator(parse_bound)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- sources


class SourceBase(StrictModel):
    name: Identifier
    """Short name, used by metrics (`source = "web"`) and on the health line."""
    stale_after: Duration = 30.0
    silent_after: float = Field(default=5.0, ge=0)
    """A live source whose next record is this many times later than its usual gap between
    records (and at least 2 s late) is silent: the alert rules reading it say "no data"
    until it speaks again, so a dead feed cannot resolve a firing alert by its rates
    decaying. 0: never silent, only stale after `stale_after`."""
    """A live source with no record for this long is shown stale and its alerts say no data."""
    time_field: str = "ts"
    """Record field holding the event time (epoch seconds or ms, or ISO 8601); else arrival."""

    def describe(self) -> str:
        """What this source connects to, fit to show: no credentials, no query string."""
        return _redact_url(getattr(self, "url", "") or getattr(self, "path", ""))


class WebSocketSourceConfig(SourceBase):
    kind: Literal["websocket"]
    url: str
    """ws:// or wss:// address of the feed."""
    headers: dict[str, str] = {}
    """Sent with the handshake, e.g. Authorization = "Bearer ${FEED_TOKEN}"."""
    records_path: str = ""
    """Dotted path to the record (or list of records) inside each message; empty: the message."""
    max_message_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    ping_interval: Duration = 20.0
    ping_timeout: Duration = 20.0
    verify_tls: bool = True
    """wss:// only: false accepts a certificate that cannot be verified (self-signed)."""

    @field_validator("url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        return _check_url(value, ("ws", "wss"))


class PolledSourceBase(SourceBase):
    """What the HTTP and Prometheus sources share: a polled URL with a deadline and limits."""

    url: str
    interval: Duration = 5.0
    """Time between the start of one poll and the next."""
    deadline: Duration = 10.0
    """Overall limit for one poll, connect to last byte."""
    headers: dict[str, str] = {}
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_url(value, ("http", "https"))


class HttpSourceConfig(PolledSourceBase):
    kind: Literal["http"]
    params: dict[str, str] = {}
    records_path: str = ""
    """Dotted path to a list of records or one object inside the JSON body; empty: the body."""


class PrometheusSourceConfig(PolledSourceBase):
    """`url` is the base address of the Prometheus server, e.g. http://127.0.0.1:9090."""

    kind: Literal["prometheus"]
    queries: dict[Identifier, str]
    """Record name -> PromQL; each sample becomes a record {query, value, labels..., ts}."""
    interval: Duration = 15.0


class FileSourceConfig(SourceBase):
    kind: Literal["file"]
    path: str
    """The file to follow like `tail -F`; it may not exist yet."""
    format: Literal["jsonl", "nginx", "regex"] = "jsonl"
    """jsonl: one JSON object per line; nginx: combined access log; regex: `pattern`."""
    pattern: str | None = None
    """For format = "regex": a regular expression with named groups, one record per match."""
    from_start: bool = False
    """Read what the file already holds first (default: start at its end, like tail -F)."""
    poll_interval: Duration = 0.25
    max_line_bytes: int = Field(default=1024 * 1024, gt=0)

    @model_validator(mode="after")
    def _pattern_for_regex(self) -> FileSourceConfig:
        if self.format == "regex":
            if not self.pattern:
                raise ValueError('format = "regex" needs a pattern with named groups')
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
            if not compiled.groupindex:
                raise ValueError("pattern has no named groups, e.g. (?P<status>\\d+)")
        return self


SourceConfig = Annotated[
    WebSocketSourceConfig | HttpSourceConfig | PrometheusSourceConfig | FileSourceConfig,
    Field(discriminator="kind"),
]

# --------------------------------------------------------------------------- metrics

Scalar = str | int | float | bool
WHERE_OPERATORS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "prefix", "contains", "regex", "exists"}


class MetricConfig(StrictModel):
    name: Identifier
    label: str = ""
    """Shown on screen; defaults to the name."""
    source: str | None = None
    """Only records from this source; default: every source."""
    where: dict[str, Scalar | list[Scalar] | dict[str, Any]] = {}
    """Record filter, all must hold: field = value, field = [any of], or
    field = { gte = 500 } with eq ne gt gte lt lte in prefix contains regex exists."""
    kind: Literal["count", "sum", "last"] = "count"
    """count: matching records; sum: of `field`; last: latest value of `field` (a gauge)."""
    field: str | None = None
    split_by: str | None = None
    """Record field to break the metric down by, e.g. "channel" (derived from utm_source,
    the referrer or a channel field)."""
    unit: Literal["", "%", "ms", "s", "currency"] = ""
    warn: Bound | None = None
    """Shown as a warning (a mark and a colour) past this value: `warn = "> 5%"`, or
    `warn = "< 100"` when low is bad; default: from the warning alert rules comparing it."""
    crit: Bound | None = None
    """Shown as critical past this value; default: from the critical alert rules comparing it."""

    @field_validator("where")
    @classmethod
    def _operators(cls, where: dict[str, Any]) -> dict[str, Any]:
        for name, cond in where.items():
            if isinstance(cond, dict):
                unknown = set(cond) - WHERE_OPERATORS
                if unknown:
                    raise ValueError(
                        f"where.{name}: unknown operator {sorted(unknown)[0]!r}; "
                        f"use one of {', '.join(sorted(WHERE_OPERATORS))}"
                    )
                if "regex" in cond:
                    try:
                        re.compile(str(cond["regex"]))
                    except re.error as exc:
                        raise ValueError(f"where.{name}.regex: {exc}") from None
        return where

    @model_validator(mode="after")
    def _field_for_kind(self) -> MetricConfig:
        if self.kind in ("sum", "last") and not self.field:
            raise ValueError(f'kind = "{self.kind}" needs field = "<record field>"')
        return self

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")


class RatioConfig(StrictModel):
    name: Identifier
    label: str = ""
    numerator: str
    denominator: str
    window: Duration | None = None
    """Compute over this trailing window; default: since launch (or since start)."""
    unit: Literal["", "%"] = "%"
    warn: Bound | None = None
    """As for a metric: `warn = "> 55%"`."""
    crit: Bound | None = None

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")


class TargetConfig(StrictModel):
    metric: str
    value: float = Field(gt=0)
    label: str = ""


# --------------------------------------------------------------------------- alerts


class AlertRuleConfig(StrictModel):
    name: Identifier
    expr: str
    """Condition over metrics, e.g. `error_rate > 0.05`; see README, Alerts."""
    for_: Duration = Field(default=0.0, alias="for")
    """How long the condition must hold before the alert fires."""
    keep_firing_for: Duration = 0.0
    """Keep firing this long after the condition clears, against flapping."""
    severity: Literal["critical", "warning", "info"] = "warning"
    summary: str = ""
    """Shown with the alert; `{value}` is replaced by the current value."""
    labels: dict[str, str] = {}
    runbook: str = ""
    """The planned response, shown with the alert."""

    @field_validator("expr")
    @classmethod
    def _parse_expr(cls, value: str) -> str:
        from warroom.expr import ExprError, parse  # here: expr must not import config at load

        try:
            parse(value)
        except ExprError as exc:
            raise ValueError(exc.describe(value)) from None
        return value


# --------------------------------------------------------------------------- operations


class ChecklistItemConfig(StrictModel):
    title: str
    owner: str = ""
    """A role from [team] (lead, tech, content, ops, support) or a name."""
    due: str | None = None
    """Relative to launch: T-30m, T+2h, T0."""

    @field_validator("due")
    @classmethod
    def _due(cls, value: str | None) -> str | None:
        if value is not None:
            parse_launch_offset(value)
        return value


class ChecklistPhaseConfig(StrictModel):
    name: str
    items: list[ChecklistItemConfig] = []


class SlaConfig(StrictModel):
    respond: Duration
    resolve: Duration


Priority = Literal["urgent", "high", "normal", "low"]
TICKET_CATEGORIES = ("reward not received", "page error", "rules question", "complaint", "other")


def _default_sla() -> dict[Priority, SlaConfig]:
    return {
        "urgent": SlaConfig(respond=15 * 60, resolve=2 * 3600),
        "high": SlaConfig(respond=30 * 60, resolve=4 * 3600),
        "normal": SlaConfig(respond=2 * 3600, resolve=24 * 3600),
        "low": SlaConfig(respond=8 * 3600, resolve=72 * 3600),
    }


class TicketsConfig(StrictModel):
    source: str | None = None
    """Records from this source become tickets (upserted by id)."""
    where: dict[str, Scalar | list[Scalar] | dict[str, Any]] = {}
    """Only records matching this filter (same form as a metric's `where`)."""
    id_field: str = "id"
    categories: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=lambda: list(TICKET_CATEGORIES), min_length=1
    )
    """What an operator can choose for a ticket opened by hand, in this order, in the
    team's language."""
    sla: dict[Priority, SlaConfig] = Field(default_factory=_default_sla)
    """Respond and resolve targets per priority; a priority not given keeps its default
    (urgent 15m / 2h, high 30m / 4h, normal 2h / 24h, low 8h / 72h)."""

    @field_validator("sla", mode="after")
    @classmethod
    def _sla_defaults(cls, value: dict[Priority, SlaConfig]) -> dict[Priority, SlaConfig]:
        return {**_default_sla(), **value}


# --------------------------------------------------------------------------- layout


class LaunchConfig(StrictModel):
    name: str = "Launch"
    at: datetime | None = None
    """Launch time with its offset (2026-11-25T18:00:00+01:00); or press "launch now"."""
    currency: str = Field(default="", max_length=8)
    """Written with every `unit = "currency"` figure: a symbol (€) before it, a code (EUR)
    after it."""

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the launch time with its UTC offset, e.g. +00:00")
        return value


class RoomConfig(StrictModel):
    db: str = "warroom.db"
    """SQLite file shared by every operator on this host (not on a network filesystem)."""
    url: str | None = None
    """A PostgreSQL database for a room shared across hosts, instead of `db`:
    postgresql://USER@HOST:5432/DATABASE (password as ${NAME} or in PGPASSFILE; TLS options
    such as ?sslmode=verify-full&sslrootcert=... are passed through)."""
    name: str | None = None
    """The room's name in that database (each room is a schema of its own); needed with `url`."""
    group_access: bool = False
    """Let the file's group read and write the database, not only its owner."""
    history_interval: Duration = 10.0
    """Metric history resolution kept for the retrospective."""

    @model_validator(mode="after")
    def _postgres(self) -> RoomConfig:
        if self.url is not None:
            if not self.url.startswith(("postgresql://", "postgres://")):
                raise ValueError("url: a PostgreSQL URL starts with postgresql://")
            if not self.name or not any(c.isalnum() for c in self.name):
                raise ValueError("name: a room in a PostgreSQL database needs a name (letters or digits)")
        return self


class TrafficPanelConfig(StrictModel):
    metrics: list[str] = []
    """Metric or ratio names, in order; default: every metric not in the conversion panel."""
    chart: str | None = None
    """Metric charted per second; default: the first metric."""
    channels: str | None = None
    """A split metric whose top labels are listed; default: the first split metric."""


class ConversionPanelConfig(StrictModel):
    metrics: list[str] = []
    funnel: list[str] = []
    """Metric names from the top of the funnel to the bottom, e.g. visits, registrations, orders."""


class PanelsConfig(StrictModel):
    traffic: TrafficPanelConfig = TrafficPanelConfig()
    conversion: ConversionPanelConfig = ConversionPanelConfig()


class UiConfig(StrictModel):
    refresh_hz: float = Field(default=3.0, ge=0.5, le=10.0)
    """Screen refreshes a second; each costs CPU and, over SSH, bytes."""
    chart_window: Duration = 600.0
    """Span of the traffic chart."""
    theme: str = "textual-dark"
    """The screen's colours: textual-light for a light terminal, or another of THEMES."""

    @field_validator("theme")
    @classmethod
    def _known_theme(cls, value: str) -> str:
        if value not in THEMES:
            raise ValueError(f"unknown theme {value!r}; use one of {', '.join(THEMES)}")
        return value


THEMES = (
    "textual-dark",
    "textual-light",
    "nord",
    "gruvbox",
    "catppuccin-mocha",
    "dracula",
    "tokyo-night",
    "monokai",
    "flexoki",
    "catppuccin-latte",
    "catppuccin-frappe",
    "catppuccin-macchiato",
    "solarized-light",
    "solarized-dark",
    "rose-pine",
    "rose-pine-moon",
    "rose-pine-dawn",
    "atom-one-dark",
    "atom-one-light",
    "ansi-dark",
    "ansi-light",
)
"""Textual's own themes (tests/ui checks that the installed Textual has each of them)."""

BINDING_IDS = (
    "quit",
    "help",
    "palette",
    "search",
    "reload",
    "launch",
    "export",
    "tab.live",
    "tab.alerts",
    "tab.checklist",
    "tab.support",
    "tab.log",
    "alerts.ack",
    "alerts.silence",
    "alerts.unsilence",
    "alerts.history",
    "checklist.done",
    "checklist.undo",
    "support.new",
    "support.assign",
    "support.respond",
    "support.priority",
    "support.priority_down",
    "support.solve",
    "log.add",
    "log.star",
    "log.filter",
    "log.starred",
    "log.fold",
    "table.top",
    "table.bottom",
    "form.cancel",
    "form.save",
)
"""Every key's binding id, the names `[keymap]` remaps (tests/ui checks the app has exactly
these)."""
_KEYS = re.compile(r"^[^\s,]+(\s*,\s*[^\s,]+)*$")


def _binding_id(value: str) -> str:
    if value not in BINDING_IDS:
        raise ValueError(f"unknown key binding {value!r}; use one of {', '.join(BINDING_IDS)}")
    return value


def _keys(value: str) -> str:
    if not _KEYS.match(value):
        raise ValueError(f'expected key names such as "k", "ctrl+r" or "f5, r", got {value!r}')
    return value


BindingId = Annotated[str, AfterValidator(_binding_id)]
Keys = Annotated[str, AfterValidator(_keys)]


class Config(StrictModel):
    launch: LaunchConfig = LaunchConfig()
    room: RoomConfig = RoomConfig()
    ui: UiConfig = UiConfig()
    sources: list[SourceConfig] = []
    metrics: list[MetricConfig] = []
    ratios: list[RatioConfig] = []
    targets: list[TargetConfig] = []
    panels: PanelsConfig = PanelsConfig()
    alerts: list[AlertRuleConfig] = []
    team: dict[str, list[str]] = {}
    checklist: list[ChecklistPhaseConfig] = []
    tickets: TicketsConfig = TicketsConfig()
    notify: NotifyConfig = NotifyConfig()
    """Where alerts and SLA breaches are sent (warroom.notify)."""
    keymap: dict[BindingId, Keys] = {}
    """Keys remapped by binding id, e.g. `"alerts.ack" = "k"`, `reload = "f5"` (see
    BINDING_IDS; several keys: "k, K")."""

    # Set by load_config, not by the file.
    path: Path | None = Field(default=None, exclude=True)
    secrets: tuple[str, ...] = Field(default=(), exclude=True)

    @model_validator(mode="after")
    def _references(self) -> Config:
        _check_references(self)
        return self

    def metric_names(self) -> set[str]:
        return {m.name for m in self.metrics} | {r.name for r in self.ratios}

    def scrub(self, text: str) -> str:
        """`text` with every secret from the environment replaced by ***."""
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


# Support-queue figures the room keeps as gauges, so alert rules can use them
# (`sla_breaches > 0`, `open_tickets > 50`).
TICKET_METRICS = (
    "open_tickets",
    "unassigned_tickets",
    "sla_breaches",
    "median_first_response",
    "median_resolution",
)


def builtin_metrics() -> list[MetricConfig]:
    return [
        MetricConfig(name=name, kind="last", field="value", unit="s" if name.startswith("median") else "")
        for name in TICKET_METRICS
    ]


class _RefError(ValueError):
    """A reference to something that does not exist, with the field path it came from."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _check_references(config: Config) -> None:
    problems = reference_problems(config.model_dump(by_alias=True, exclude={"path", "secrets"}))
    if problems:
        raise _ReferenceProblems([_RefError(loc, message) for loc, message in problems])


def _items(data: dict[str, Any], table: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(table)
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []


def _names(items: list[tuple[int, dict[str, Any]]]) -> dict[str, None]:
    """The names, in order, as dict keys: membership in O(1) however many there are."""
    return dict.fromkeys(item["name"] for _, item in items if isinstance(item.get("name"), str))


def reference_problems(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Names that refer to nothing, and duplicate names, as (field path, message).

    Works on the plain data of the file, before or after validation, so that a config with
    a typo in one table and a wrong reference in another gets both reported in one run.
    """
    sources, metrics, ratios = (_items(data, t) for t in ("sources", "metrics", "ratios"))
    source_names, metric_names = _names(sources), _names(metrics)
    known = {**metric_names, **_names(ratios)}
    problems: list[tuple[tuple[Any, ...], str]] = []

    def check(loc: tuple[Any, ...], name: Any, kind: str, choices: dict[str, None]) -> None:
        if isinstance(name, str) and name not in choices:
            problems.append((loc, _unknown(kind, name, choices)))

    for kind, tables in (("source", [("sources", sources)]), ("metric", [("metrics", metrics), ("ratios", ratios)])):
        seen: set[str] = set()
        for table, items in tables:
            for index, item in items:
                name = item.get("name")
                if not isinstance(name, str):
                    continue
                if name in seen:
                    problems.append(((table, index, "name"), f"duplicate {kind} name {name!r}"))
                seen.add(name)
    for index, metric in metrics:
        check(("metrics", index, "source"), metric.get("source"), "source", source_names)
    for index, ratio in ratios:
        for side in ("numerator", "denominator"):
            check(("ratios", index, side), ratio.get(side), "metric", metric_names)
    for index, target in _items(data, "targets"):
        check(("targets", index, "metric"), target.get("metric"), "metric", known)
    panels = _table(data, "panels")
    for panel, keys in (("traffic", ("metrics", "chart", "channels")), ("conversion", ("metrics", "funnel"))):
        panel_table = _table(panels, panel)
        for key in keys:
            value = panel_table.get(key)
            if isinstance(value, list):
                for index, name in enumerate(value):
                    check(("panels", panel, key, index), name, "metric", known)
            else:
                check(("panels", panel, key), value, "metric", known)
    usable = {**known, **dict.fromkeys(TICKET_METRICS)}
    from warroom.expr import ExprError, parse, referenced_metrics  # expr must not import config at load

    for index, rule in _items(data, "alerts"):
        try:
            missing = sorted(referenced_metrics(parse(rule.get("expr", ""))) - usable.keys())
        except (ExprError, TypeError):
            continue  # the expression itself is reported by its own validator
        if missing:
            problems.append((("alerts", index, "expr"), _unknown("metric", missing[0], usable)))
    check(("tickets", "source"), _table(data, "tickets").get("source"), "source", source_names)
    rule_names = {r["name"] for _, r in _items(data, "alerts") if isinstance(r.get("name"), str)}
    problems += notify_reference_problems(data, rule_names)
    return problems


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


class _ReferenceProblems(ValueError):
    def __init__(self, problems: list[_RefError]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


MAX_LISTED = 12


def _unknown(kind: str, name: str, known: dict[str, None]) -> str:
    names = list(known)
    listed = ", ".join(names[:MAX_LISTED]) if names else "none defined"
    if len(names) > MAX_LISTED:
        listed += f", ... ({len(names)} in all)"
    return f"unknown {kind} {name!r} (known: {listed})"


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"expected a {' or '.join(s + '://' for s in schemes)} address, got {value!r}")
    return value


def _redact_url(value: str) -> str:
    parts = urlsplit(value)
    if not parts.scheme:
        return value
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_OFFSET = re.compile(r"^T\s*(?:([+-])\s*(\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)?))?$")


def parse_launch_offset(text: str) -> float:
    """Seconds relative to launch from `T-30m`, `T+2h`, `T0`/`T`; ValueError otherwise."""
    stripped = text.strip()
    if stripped in ("T0", "T"):
        return 0.0
    match = _OFFSET.match(stripped)
    if not match or not match.group(1):
        raise ValueError(f"expected a time relative to launch such as T-30m or T+2h, got {text!r}")
    seconds = parse_duration(match.group(2))
    return -seconds if match.group(1) == "-" else seconds


# --------------------------------------------------------------------------- loading


class ConfigError(Exception):
    """A config that cannot be used. `problems` are lines of `file:line field: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute_env(data: Any, loc: tuple[Any, ...], secrets: list[str], missing: list[tuple]) -> Any:
    if isinstance(data, dict):
        return {k: _substitute_env(v, loc + (k,), secrets, missing) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute_env(v, loc + (i,), secrets, missing) for i, v in enumerate(data)]
    if isinstance(data, str) and "${" in data:

        def replace(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                missing.append((loc, f"environment variable {match.group(1)} is not set"))
                return ""
            secrets.append(value)
            return value

        return _ENV.sub(replace, data)
    return data


def find_config(explicit: str | Path | None = None) -> Path | None:
    """The config file to use: the one given, ./config.toml, then the user config directory."""
    if explicit is not None:
        return Path(explicit)
    candidates = [Path("config.toml")]
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    candidates.append(Path(xdg) / "warroom" / "config.toml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path) -> Config:
    """Read, substitute and validate a config file; ConfigError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return parse_config(text, path)


def parse_config(text: str, path: str | Path = "config.toml") -> Config:
    """Validate config text; `path` is only used in messages and for relative paths."""
    path = Path(path)
    raw = _parse_toml(text, path)
    try:
        return _validate(raw, text, path)
    except RecursionError:  # nesting by other means than brackets (dotted keys, say)
        raise ConfigError([f"{path}:{_longest_line(text)}: nested too deeply to read"]) from None


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    """The TOML document, or ConfigError at the line the parser stopped on."""
    nesting = nesting_problem(text)
    if nesting is not None:
        line, message = nesting
        raise ConfigError([f"{path}:{line}: not valid here: {message}"])
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        where = found.group(1) if found else str(max(1, len(text.splitlines())))  # "end of document"
        raise ConfigError([f"{path}:{where}: not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}:{_longest_line(text)}: not valid here: nested too deeply to read"]) from None


def _longest_line(text: str) -> int:
    """The line most likely to hold what nests too deeply (the longest one)."""
    lines = text.splitlines() or [""]
    return max(range(len(lines)), key=lambda n: len(lines[n])) + 1


def _validate(raw: dict[str, Any], text: str, path: Path) -> Config:
    lines = ConfigLines(text)
    secrets: list[str] = []
    missing: list[tuple[tuple[Any, ...], str]] = []
    data = _substitute_env(raw, (), secrets, missing)
    problems = [_format(path, lines, loc, message) for loc, message in missing]
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            for loc, message in _error_locations(error):
                problems.append(_format(path, lines, loc, message))
        # The cross-references are checked by the model only once the rest is valid; check
        # them here too so that every problem is reported in one run.
        if isinstance(data, dict):
            problems += [_format(path, lines, loc, message) for loc, message in reference_problems(data)]
        raise ConfigError(_dedupe(problems)) from None
    if problems:
        raise ConfigError(problems)
    return config.model_copy(update={"path": path, "secrets": tuple(secrets)})


def _error_locations(error: Any) -> list[tuple[tuple[Any, ...], str]]:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    if isinstance(cause, _ReferenceProblems):
        # The cross-reference check reports all its problems as one pydantic error.
        return [(loc + problem.loc, str(problem)) for problem in cause.problems]
    message = str(cause) if isinstance(cause, Exception) else error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling)"
    elif error["type"] == "missing":
        message = "required setting is missing"
    elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = loc + ("kind",)
        message = "kind must be one of websocket, http, prometheus, file"
    return [(loc, message)]


def _is_union_tag(part: Any) -> bool:
    return part in ("websocket", "http", "prometheus", "file")


def _dedupe(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))


def _format(path: Path, lines: ConfigLines, loc: tuple[Any, ...], message: str) -> str:
    line = lines.locate(loc)
    dotted = _dotted(loc)
    where = f"{path}:{line}" if line else str(path)
    return f"{where} {dotted}: {message}" if dotted else f"{where}: {message}"


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def launch_time_utc(config: Config) -> float | None:
    """The configured launch as epoch seconds, or None when it is set by "launch now"."""
    at = config.launch.at
    return at.astimezone(UTC).timestamp() if at else None


def resolve_panels(config: Config) -> tuple[TrafficPanelConfig, ConversionPanelConfig]:
    """The panels' contents with defaults filled in from the metrics that exist.

    Conversion gets what it names (or, by default, sum metrics and the funnel's steps);
    traffic gets what it names or everything else, so no configured metric is hidden.
    """
    conversion = config.panels.conversion
    conv_metrics = list(conversion.metrics) or [
        m.name for m in config.metrics if m.kind == "sum" or m.name in conversion.funnel[1:]
    ]
    traffic = config.panels.traffic
    shown = set(conv_metrics)
    traffic_metrics = list(traffic.metrics) or [
        name for name in [m.name for m in config.metrics] + [r.name for r in config.ratios] if name not in shown
    ]
    chart = traffic.chart or next((n for n in traffic_metrics if n in {m.name for m in config.metrics}), None)
    channels = traffic.channels or next((m.name for m in config.metrics if m.split_by), None)
    return (
        TrafficPanelConfig(metrics=traffic_metrics, chart=chart, channels=channels),
        ConversionPanelConfig(metrics=conv_metrics, funnel=list(conversion.funnel)),
    )
