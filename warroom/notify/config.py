"""The `[notify]` part of config.toml: receivers, routes and inhibition rules.

```toml
[[notify.receivers]]
name = "ops"
kind = "slack"                      # webhook slack feishu dingtalk wecom exec alertmanager file
url = "${SLACK_OPS_WEBHOOK}"

[[notify.routes]]
receiver = "ops"
match = "severity=critical"         # the silence matcher: name, severity, labels, globs
group_by = ["team"]
escalate = [{ after = "10m", receiver = "lead_phone" }]

[[notify.inhibit]]
source = "checkout_down"
target = ["orders_stalled", "conversion_drop"]
```

One model for every receiver kind (checked per kind by `_fields_for_kind`) rather than a
union of models: a problem is then reported at the receiver's own line with a sentence that
names the kind, whatever the kind is.

Kept free of `warroom.config` (which imports this module for its `notify` field): the
models only need pydantic and `warroom.model.parse_duration`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from warroom.model import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]

RECEIVER_KINDS = ("webhook", "slack", "feishu", "dingtalk", "wecom", "exec", "alertmanager", "file")
URL_KINDS = ("webhook", "slack", "feishu", "dingtalk", "wecom", "alertmanager")
SLA_EVENT = "sla_breach"
"""The name an SLA breach goes by in route matchers (`match = "name=sla_breach priority=urgent"`)."""

# What each kind may set beyond the settings every receiver has.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "headers", "ca_file"),
    "slack": ("url", "ca_file"),
    "feishu": ("url", "secret", "ca_file"),
    "dingtalk": ("url", "secret", "ca_file"),
    "wecom": ("url", "ca_file"),
    "exec": ("command",),
    "alertmanager": ("url", "headers", "ca_file", "resend"),
    "file": ("path",),
}
_OPTIONAL = ("url", "secret", "headers", "ca_file", "command", "path", "resend")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _matcher_pairs(matcher: str | dict[str, str]) -> tuple[tuple[str, str], ...]:
    from warroom.alerts import parse_matcher  # here: alerts imports config, which imports this

    return parse_matcher(matcher)


def _check_matchers(value: str | dict[str, str] | list[str | dict[str, str]]) -> Any:
    for one in value if isinstance(value, list) else [value]:
        if one not in ("", {}):
            _matcher_pairs(one)
    return value


Matcher = Annotated[str | dict[str, str], AfterValidator(_check_matchers)]
"""A silence-style matcher: `"severity=critical team=tech"`, `"high_*"` or a table."""
Matchers = Annotated[str | dict[str, str] | list[str | dict[str, str]], AfterValidator(_check_matchers)]
"""One matcher, or a list of them (any of them matching is enough)."""


class ReceiverConfig(_Model):
    name: Name
    """How routes and the screen name it."""
    kind: Literal["webhook", "slack", "feishu", "dingtalk", "wecom", "exec", "alertmanager", "file"]
    url: str | None = None
    """The webhook address (Alertmanager: its base address, e.g. http://127.0.0.1:9093).
    Write tokens as ${NAME}: they are taken from the environment and never shown."""
    secret: str | None = None
    """feishu, dingtalk: the robot's signing secret (its "sign" security setting)."""
    headers: dict[str, str] = {}
    """webhook, alertmanager: extra request headers, e.g. Authorization = "Bearer ${TOKEN}"."""
    ca_file: str | None = None
    """A CA bundle to verify the server's certificate with (an internal CA); certificates are
    always verified."""
    command: list[str] | None = None
    """exec: the program and its arguments (no shell); the notification arrives as JSON on
    its standard input, exit status 0 means delivered."""
    path: str | None = None
    """file: a file to append one JSON line per notification to (relative to the config)."""
    resend: Duration | None = None
    """alertmanager: how often a firing alert is posted again (default 1m): Alertmanager
    resolves an alert it has not heard of for a while."""
    timeout: Duration = Field(default=10.0, gt=0)
    """The whole delivery (connect to the last byte, or the command's run)."""
    max_per_minute: int = Field(default=20, gt=0)
    """At most this many notifications a minute; the rest wait their turn. 20 is WeCom's
    documented limit for a group robot."""

    @model_validator(mode="after")
    def _fields_for_kind(self) -> ReceiverConfig:
        allowed = _KIND_FIELDS[self.kind]
        for name in _OPTIONAL:
            if name not in allowed and getattr(self, name) not in (None, {}):
                users = ", ".join(k for k, fields in _KIND_FIELDS.items() if name in fields)
                raise ValueError(f"{name} is not a setting of a {self.kind} receiver (only of {users})")
        if self.kind in URL_KINDS and not (self.url or "").startswith(("http://", "https://")):
            raise ValueError(f'a {self.kind} receiver needs url = "https://..."')
        if self.kind == "exec" and not self.command:
            raise ValueError('an exec receiver needs command = ["program", "argument", ...]')
        if self.kind == "file" and not self.path:
            raise ValueError('a file receiver needs path = "notifications.jsonl"')
        return self


class EscalationStep(_Model):
    after: Duration = Field(gt=0)
    """Firing this long and nobody acknowledged it: tell `receiver`."""
    receiver: str


class RouteConfig(_Model):
    receiver: str
    match: Matcher = ""
    """Which alerts (and SLA breaches, name=sla_breach) take this route; empty: all."""
    group_by: list[str] = []
    """Labels whose values split alerts into groups, one message per group (name, severity
    or a rule label); empty: the route's alerts are one group, so a storm is one message."""
    group_wait: Duration = 30.0
    """A new group waits this long for the rest of the storm before its first message."""
    group_interval: Duration = 300.0
    """After a message, changes to the group (alerts firing or resolving) wait this long."""
    repeat_interval: Duration = Field(default=900.0, gt=0)
    """A group still firing, unacknowledged and unsilenced is sent again after this long."""
    escalate: list[EscalationStep] = []
    """Next receivers, each when an alert fired that long without an acknowledgement."""
    send_resolved: bool = True
    continue_: bool = Field(default=False, alias="continue")
    """Also try the routes after this one (default: the first matching route takes it)."""

    def matchers(self) -> tuple[tuple[str, str], ...]:
        return () if self.match in ("", {}) else _matcher_pairs(self.match)


class InhibitRule(_Model):
    """While an alert matching `source` fires, alerts matching `target` (with the same values
    of the `equal` labels) are not notified; the screen shows them as inhibited."""

    source: Matchers
    target: Matchers
    equal: list[str] = []

    def sources(self) -> list[tuple[tuple[str, str], ...]]:
        return _matcher_list(self.source)

    def targets(self) -> list[tuple[tuple[str, str], ...]]:
        return _matcher_list(self.target)


def _matcher_list(value: str | dict[str, str] | list[str | dict[str, str]]) -> list[tuple[tuple[str, str], ...]]:
    return [_matcher_pairs(m) for m in (value if isinstance(value, list) else [value]) if m not in ("", {})]


class NotifyConfig(_Model):
    receivers: list[ReceiverConfig] = []
    routes: list[RouteConfig] = []
    inhibit: list[InhibitRule] = []
    retry_backoff: Duration = Field(default=5.0, gt=0)
    """The first retry of a failed delivery waits this long, each next one twice as long..."""
    retry_max_backoff: Duration = Field(default=300.0, gt=0)
    """...up to this long: a receiver that keeps failing is tried at this pace, no faster."""
    give_up_after: Duration = Field(default=3600.0, gt=0)
    """A notification still not delivered this long after it was queued is given up (logged)."""
    failing_after: int = Field(default=3, gt=0)
    """Failures in a row after which a receiver is shown (and logged) as failing."""

    def receiver(self, name: str) -> ReceiverConfig:
        return next(r for r in self.receivers if r.name == name)


def reference_problems(data: dict[str, Any], rule_names: set[str]) -> list[tuple[tuple[Any, ...], str]]:
    """Receivers that routes name but nobody defined, duplicate receivers, and matchers on a
    rule name that no alert rule has, as (field path, message), from the file's plain data."""
    notify = data.get("notify")
    if not isinstance(notify, dict):
        return []
    problems: list[tuple[tuple[Any, ...], str]] = []
    receivers = [(i, r) for i, r in enumerate(notify.get("receivers") or []) if isinstance(r, dict)]
    names: dict[str, None] = {}
    for index, receiver in receivers:
        name = receiver.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append((("notify", "receivers", index, "name"), f"duplicate receiver name {name!r}"))
            names[name] = None
    known = ", ".join(names) or "none defined"

    def check_receiver(loc: tuple[Any, ...], name: Any) -> None:
        if isinstance(name, str) and name not in names:
            problems.append((loc, f"unknown receiver {name!r} (known: {known})"))

    def check_names(loc: tuple[Any, ...], matcher: Any) -> None:
        for one in matcher if isinstance(matcher, list) else [matcher]:
            try:
                pairs = _matcher_pairs(one) if one not in ("", {}, None) else ()
            except (ValueError, TypeError, AttributeError):
                continue  # the matcher's own validator reports it
            for key, pattern in pairs:
                plain = not any(c in pattern for c in "*?[")
                if key == "name" and plain and pattern not in rule_names and pattern != SLA_EVENT:
                    rules = ", ".join(sorted(rule_names)) or "none defined"
                    problems.append(
                        (loc, f"no alert rule is named {pattern!r} (rules: {rules}; an SLA breach is {SLA_EVENT})")
                    )

    for index, route in enumerate(notify.get("routes") or []):
        if not isinstance(route, dict):
            continue
        check_receiver(("notify", "routes", index, "receiver"), route.get("receiver"))
        for step, escalation in enumerate(route.get("escalate") or []):
            if isinstance(escalation, dict):
                check_receiver(("notify", "routes", index, "escalate", step, "receiver"), escalation.get("receiver"))
        check_names(("notify", "routes", index, "match"), route.get("match"))
    for index, rule in enumerate(notify.get("inhibit") or []):
        if isinstance(rule, dict):
            for side in ("source", "target"):
                check_names(("notify", "inhibit", index, side), rule.get(side))
    return problems
