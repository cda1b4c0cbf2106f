"""Records -> metric points (and ticket records), pure and per batch.

The pipeline is the only code that runs per record, so it is built for that: each metric's
`where` filter is compiled once into a list of small predicates, the record time is read
once per record, and the points of a batch are pre-aggregated per (metric, second, label)
before they reach the metric rings, so a burst of a thousand records in one second costs
one ring update per metric, not a thousand.

A launch can define hundreds of metrics, most of them filtered on the same field
(`kind = "order"`, `query = "checkout"`). Testing every filter against every record would
make the cost per record grow with the number of metrics, so metrics are indexed by one of
their equality conditions: a batch is bucketed once per indexed field by the record's value,
and a metric only sees the records of its own bucket. Metrics without an equality condition
are tested against every record, as before.

A record that cannot be used (a timestamp from the far future, a non-numeric value for a
`sum` metric) is counted per source in `rejects`, never raised: one bad line in a log must
not stop a launch-day dashboard.

Values and labels are bounded because records are hostile until proven otherwise: a value
beyond MAX_VALUE is rejected ("bad_value"), since two finite 1.7e308s already sum to
infinity and would poison every total after them; a label taken from an object or a list
("bad_label") becomes INVALID_LABEL, because the text of a 1,000-deep list cannot even be
built (RecursionError) and would say nothing on screen anyway.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from warroom.config import Config, MetricConfig
from warroom.metrics import MetricsStore
from warroom.model import Record

Predicate = Callable[[Record], bool]

# A record time further ahead of the clock than this is not trusted: it is counted and the
# record is placed at its arrival time instead (a producer with a wrong clock must not push
# points into seconds the rings have not reached yet).
MAX_FUTURE_SKEW = 60.0
MAX_LABEL_LENGTH = 40
# Beyond 2**53 a float no longer holds whole units exactly; no count, amount or latency on a
# launch day comes near it, and below it no sum of real batches can overflow.
MAX_VALUE = float(2**53)
INVALID_LABEL = "(invalid)"
EXACT_INT = 2**53  # integers up to this size convert to float without rounding

SEARCH_HOSTS = ("google.", "bing.", "duckduckgo.", "yahoo.", "baidu.", "yandex.", "ecosia.")
SOCIAL_HOSTS = (
    "facebook.",
    "fb.",
    "instagram.",
    "twitter.",
    "t.co",
    "x.com",
    "tiktok.",
    "linkedin.",
    "reddit.",
    "youtube.",
    "pinterest.",
    "weibo.",
    "threads.",
    "snapchat.",
)


# --------------------------------------------------------------------------- fields


def to_number(value: Any) -> float | None:
    """A float within +-MAX_VALUE from an int, float or numeric string; None otherwise
    (bools, NaN, infinities and numbers too large to add up safely)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            return None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if -MAX_VALUE <= number <= MAX_VALUE else None


def record_time(value: Any) -> float | None:
    """Epoch seconds from epoch seconds, epoch milliseconds or an ISO 8601 string."""
    number = to_number(value)
    if number is not None:
        return number / 1000.0 if number > 1e11 else number
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None  # a time without an offset could be anywhere: do not guess
        return parsed.timestamp()
    return None


def derive_channel(record: Record) -> str:
    """Where a visit came from: its own channel, a utm_source, the referrer, or direct."""
    channel = record.get("channel")
    if channel:
        return _label(channel)
    target = record.get("path") or record.get("url") or ""
    referrer = record.get("referer") or record.get("referrer")
    key = (target, referrer)
    try:
        return _CHANNEL_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable field (a list or an object in a JSON record)
        return _channel_from(target, referrer)
    found = _channel_from(target, referrer)
    if len(_CHANNEL_CACHE) >= _CHANNEL_CACHE_MAX:
        _CHANNEL_CACHE.clear()
    _CHANNEL_CACHE[key] = found
    return found


# A log repeats a few hundred (target, referrer) pairs over and over; parse_qs and urlsplit
# cost microseconds, so their answer is kept per pair (cleared when full: bounded memory).
_CHANNEL_CACHE: dict[tuple[Any, Any], str] = {}
_CHANNEL_CACHE_MAX = 4096


def _channel_from(target: Any, referrer: Any) -> str:
    if isinstance(target, str) and "utm_source=" in target:
        values = parse_qs(target.partition("?")[2]).get("utm_source")
        if values and values[0]:
            return _label(values[0].lower())
    if isinstance(referrer, str) and referrer not in ("", "-"):
        try:
            host = (urlsplit(referrer).hostname or "").lower()
        except ValueError:  # e.g. an invalid IPv6 literal in a hostile referrer
            host = ""
        dotted = "." + host
        if any(("." + name) in dotted for name in SEARCH_HOSTS):
            return "search"
        if any(("." + name) in dotted for name in SOCIAL_HOSTS):
            return "social"
        if host:
            return _label(host.removeprefix("www."))
    return "direct"


def _label(value: Any) -> str:
    """Label text of a scalar; INVALID_LABEL (this very object) for anything else."""
    if not isinstance(value, (str, int, float)):  # bool is an int
        return INVALID_LABEL
    try:
        text = str(value)
    except ValueError:  # an int of more than 4,300 digits
        return INVALID_LABEL
    return text[:MAX_LABEL_LENGTH] if len(text) > MAX_LABEL_LENGTH else text


def label_of(record: Record, split_by: str) -> str:
    if split_by == "channel":
        return derive_channel(record)
    value = record.get(split_by)
    return "unknown" if value is None or value == "" else _label(value)


# --------------------------------------------------------------------------- filters


def compile_where(where: dict[str, Any]) -> Predicate:
    """One predicate for a metric's `where` table: every condition must hold."""
    checks = [_compile_condition(field, cond) for field, cond in where.items()]
    if not checks:
        return lambda record: True
    if len(checks) == 1:
        return checks[0]
    return lambda record: all(check(record) for check in checks)


def _compile_condition(field: str, cond: Any) -> Predicate:
    if isinstance(cond, list):
        return _compile_op(field, "in", cond)
    if isinstance(cond, dict):
        parts = [_compile_op(field, op, arg) for op, arg in cond.items()]
        return parts[0] if len(parts) == 1 else (lambda record: all(p(record) for p in parts))
    return _compile_op(field, "eq", cond)


def _equals(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected  # true == 1 in Python, but not in a filter
    if actual == expected:
        return True
    # "500" in a log record against 500 in the config (or the other way round).
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        number = to_number(actual)
        return number is not None and number == expected
    if isinstance(expected, str) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        return str(actual) == expected
    return False


def _compile_op(field: str, op: str, arg: Any) -> Predicate:
    get = _getter(field)
    if op == "eq":
        if isinstance(arg, str):
            # Two different strings never match: only other types go through _equals.
            if "." not in field:  # the common case, without the getter's call
                return lambda r: (
                    (v := r.get(field)) == arg or (v is not None and type(v) is not str and _equals(v, arg))
                )
            return lambda r: (v := get(r)) == arg or (v is not None and type(v) is not str and _equals(v, arg))
        return lambda r: _equals(get(r), arg)
    if op == "ne":
        return lambda r: not _equals(get(r), arg)
    if op == "in":
        options = list(arg) if isinstance(arg, (list, tuple)) else [arg]
        exact = frozenset(o for o in options if isinstance(o, str))

        def is_in(record: Record) -> bool:
            value = get(record)
            if isinstance(value, str) and value in exact:
                return True
            return any(_equals(value, option) for option in options)

        return is_in
    if op in ("gt", "gte", "lt", "lte"):
        bound = to_number(arg)
        if bound is None:
            return lambda r: False
        compare = {
            "gt": lambda v: v > bound,
            "gte": lambda v: v >= bound,
            "lt": lambda v: v < bound,
            "lte": lambda v: v <= bound,
        }[op]

        plain = "." not in field

        def ordered(record: Record) -> bool:
            value = record.get(field) if plain else get(record)  # no getter call for a plain name
            if type(value) is int and -EXACT_INT <= value <= EXACT_INT:
                return compare(value)  # what to_number would answer, without the call
            value = to_number(value)
            return value is not None and compare(value)

        return ordered
    if op == "prefix":
        text = str(arg)
        return lambda r: isinstance(v := get(r), str) and v.startswith(text)
    if op == "contains":
        text = str(arg)
        return lambda r: isinstance(v := get(r), str) and text in v
    if op == "regex":
        search = re.compile(str(arg)).search
        if "." not in field:
            return lambda r: isinstance(v := r.get(field), str) and search(v) is not None
        return lambda r: isinstance(v := get(r), str) and search(v) is not None
    if op == "exists":
        wanted = bool(arg)
        return lambda r: (get(r) is not None) is wanted
    raise ValueError(f"unknown operator {op!r}")  # config validation rejects these first


def _getter(field: str) -> Callable[[Record], Any]:
    """Field access; a dotted name walks nested objects (`user.country`)."""
    if "." not in field:
        return lambda record: record.get(field)
    parts = field.split(".")

    def get(record: Record) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


# --------------------------------------------------------------------------- pipeline


class _CompiledMetric:
    __slots__ = ("name", "kind", "matches", "where_key", "value_of", "value_field", "split_by", "equalities")

    def __init__(self, config: MetricConfig) -> None:
        self.name = config.name
        self.kind = config.kind
        # None: every record matches (no `where`), and the filter pass is skipped.
        self.matches = compile_where(config.where) if config.where else None
        # Metrics with the same filter (visits, and visits split by channel) share one pass.
        self.where_key = repr(config.where)
        self.value_of = _getter(config.field) if config.field else None
        # A plain field name is read with record.get in the fold loop, without a getter call.
        self.value_field = config.field if config.field and "." not in config.field else None
        self.split_by = config.split_by
        self.equalities = equality_conditions(config.where)


# --------------------------------------------------------------------------- filter index


def equality_conditions(where: dict[str, Any]) -> dict[str, frozenset[str]]:
    """The conditions of a `where` that only a record with one of some strings in a field
    can pass: field -> those strings (`kind = "order"`, `kind = ["order", "refund"]`,
    `kind = { eq = "order" }`, `kind = { in = [...] }`). A number or a bool in the condition
    is left out: "500" matches 500 and " 5e2" too, which no key lookup reproduces."""
    found: dict[str, frozenset[str]] = {}
    for field, cond in where.items():
        options: list[Any] | None = None
        if isinstance(cond, str):
            options = [cond]
        elif isinstance(cond, list):
            options = cond
        elif isinstance(cond, dict):
            if "eq" in cond:
                options = [cond["eq"]]
            elif "in" in cond:
                arg = cond["in"]
                options = list(arg) if isinstance(arg, (list, tuple)) else [arg]
        if options is not None and all(isinstance(o, str) for o in options):
            found[field] = frozenset(options)
    return found


def index_key(value: Any) -> str | None:
    """The string a field's value equals for a string equality filter (see `_equals`): the
    string itself, the text of a number (500 matches "500"), None for anything else."""
    if type(value) is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an int of more than 4,300 digits
            return None
    return None


class _FieldIndex:
    """The metrics indexed on one field, by the strings their condition accepts."""

    __slots__ = ("get", "by_key", "metrics", "exact", "_field")

    def __init__(self, field: str) -> None:
        self.get = _getter(field)
        self.by_key: dict[str, list[_CompiledMetric]] = {}
        self.metrics: list[_CompiledMetric] = []
        # Metrics whose whole filter is this one condition: their bucket is their selection.
        self.exact: set[str] = set()
        self._field = field

    def add(self, metric: _CompiledMetric, where: dict[str, Any]) -> None:
        self.metrics.append(metric)
        for key in metric.equalities[self._field]:
            self.by_key.setdefault(key, []).append(metric)
        condition = where[self._field]
        if len(where) == 1 and (not isinstance(condition, dict) or len(condition) == 1):
            self.exact.add(metric.name)

    def bucket(self, records: list[Record]) -> dict[str, list[int]]:
        """Positions of the batch's records by the indexed key they carry (wanted keys only)."""
        get, wanted = self.get, self.by_key
        buckets: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            value = get(record)
            key = value if type(value) is str else index_key(value)
            if key in wanted:
                positions = buckets.get(key)
                if positions is None:
                    buckets[key] = [i]
                else:
                    positions.append(i)
        return buckets

    def positions(self, metric: _CompiledMetric, buckets: dict[str, list[int]]) -> list[int]:
        """The batch positions a metric can match, in batch order."""
        found = [buckets[key] for key in metric.equalities[self._field] if key in buckets]
        if len(found) <= 1:
            return found[0] if found else []
        return sorted(itertools.chain.from_iterable(found))


class _Plan:
    """Which metrics a source's records go to: `always` are tested against every record,
    `indexed` only get the records their equality condition can accept."""

    __slots__ = ("always", "indexed")

    def __init__(self, metrics: list[tuple[_CompiledMetric, MetricConfig]], use_index: bool) -> None:
        self.always: list[_CompiledMetric] = []
        self.indexed: dict[str, _FieldIndex] = {}
        # A metric is indexed on its equality field that most metrics share: fewer passes.
        popularity = Counter(f for m, _ in metrics for f in m.equalities)
        for metric, config in metrics:
            if not use_index or not metric.equalities:
                self.always.append(metric)
                continue
            field = max(metric.equalities, key=lambda f: popularity[f])
            index = self.indexed.get(field)
            if index is None:
                index = self.indexed[field] = _FieldIndex(field)
            index.add(metric, config.where)


def _select(
    matches: Predicate, records: list[Record], times: list[float], positions: Iterable[int] | None = None
) -> tuple[list[Record], list[float]]:
    """The records (at `positions`, default all) that pass `matches`, with their times, in
    batch order."""
    chosen: list[Record] = []
    chosen_times: list[float] = []
    keep, keep_time = chosen.append, chosen_times.append
    if positions is None:
        for record, ts in zip(records, times, strict=True):
            if matches(record):
                keep(record)
                keep_time(ts)
    else:
        for i in positions:
            record = records[i]
            if matches(record):
                keep(record)
                keep_time(times[i])
    return chosen, chosen_times


class Pipeline:
    """Folds batches of records from named sources into a MetricsStore."""

    def __init__(
        self,
        config: Config,
        metrics: MetricsStore,
        on_tickets: Callable[[str, list[Record]], None] | None = None,
        *,
        index_filters: bool = True,
    ) -> None:
        """`index_filters=False` tests every metric's filter against every record: the
        plain path the index is compared with in tests and benchmarks."""
        self.metrics = metrics
        self.on_tickets = on_tickets
        self.index_filters = index_filters
        self.time_fields = {s.name: s.time_field for s in config.sources}
        compiled = [(_CompiledMetric(m), m) for m in config.metrics]
        self._for_all = [pair for pair in compiled if pair[1].source is None]
        self._by_source: dict[str, list[tuple[_CompiledMetric, MetricConfig]]] = defaultdict(list)
        for pair in compiled:
            if pair[1].source is not None:
                self._by_source[pair[1].source].append(pair)
        tickets = config.tickets
        self._ticket_source = tickets.source
        self._is_ticket = compile_where(tickets.where)
        self.rejects: dict[str, Counter[str]] = defaultdict(Counter)
        self.records_in: Counter[str] = Counter()
        self._plans: dict[str, _Plan] = {}

    def _plan_for(self, source: str) -> _Plan:
        plan = self._plans.get(source)
        if plan is None:
            metrics = self._by_source.get(source, []) + self._for_all
            plan = self._plans[source] = _Plan(metrics, self.index_filters)
        return plan

    def ingest(self, source: str, records: list[Record], arrival: float) -> None:
        """Fold one batch; `arrival` is the clock's time when the batch was received.

        Two passes: the record times first (once per record), then one tight loop per
        metric over the batch, which keeps the metric's filter, field and label in locals.
        """
        self.records_in[source] += len(records)
        rejects = self.rejects[source]
        times = self._times(records, self.time_fields.get(source, "ts"), arrival, rejects)
        if source == self._ticket_source:
            is_ticket = self._is_ticket
            tickets = [record for record in records if is_ticket(record)]
        else:
            tickets = []
        if len(records) == 1:  # one message, one record (a websocket feed): no grouping
            self._ingest_one(source, records[0], times[0], arrival, rejects)
        else:
            self._ingest_many(source, records, times, arrival, rejects)
        if tickets and self.on_tickets is not None:
            self.on_tickets(source, tickets)

    def _ingest_one(self, source: str, record: Record, ts: float, arrival: float, rejects: Counter[str]) -> None:
        """What _ingest_many does for a batch of one record, without its group tables."""
        add = self.metrics.add
        plan = self._plan_for(source)
        candidates = plan.always
        for index in plan.indexed.values():
            hits = index.by_key.get(index_key(index.get(record)))  # type: ignore[arg-type]
            if hits:
                candidates = candidates + hits
        for metric in candidates:
            matches = metric.matches
            if matches is not None and not matches(record):
                continue
            value_of = metric.value_of
            value: float | None
            if value_of is None:
                value = 1.0
            else:
                raw = value_of(record)
                value = to_number(raw)
                if value is None:
                    if raw is not None:
                        rejects["bad_value"] += 1
                    continue
            split_by = metric.split_by
            label = label_of(record, split_by) if split_by is not None else None
            if label is INVALID_LABEL:
                rejects["bad_label"] += 1
            add(metric.name, ts, value, 1, value, label, now=arrival)

    def _ingest_many(
        self, source: str, records: list[Record], times: list[float], arrival: float, rejects: Counter[str]
    ) -> None:
        plan = self._plan_for(source)
        # Records chosen per filter: metrics with the same filter share one selection.
        selected: dict[str, tuple[list[Record], list[float]]] = {}
        for metric in plan.always:
            matches = metric.matches
            if matches is None:
                chosen, chosen_times = records, times
            elif (hit := selected.get(metric.where_key)) is not None:
                chosen, chosen_times = hit
            else:
                chosen, chosen_times = _select(matches, records, times)
                selected[metric.where_key] = (chosen, chosen_times)
            self._fold(metric, chosen, chosen_times, arrival, rejects)
        for index in plan.indexed.values():
            buckets = index.bucket(records)
            if not buckets:
                continue
            for metric in index.metrics:
                hit = selected.get(metric.where_key)
                if hit is None:
                    positions = index.positions(metric, buckets)
                    if not positions:
                        continue
                    if metric.name in index.exact:
                        hit = [records[i] for i in positions], [times[i] for i in positions]
                    else:
                        hit = _select(metric.matches, records, times, positions)  # type: ignore[arg-type]
                    selected[metric.where_key] = hit
                self._fold(metric, *hit, arrival, rejects)

    def _fold(
        self, metric: _CompiledMetric, records: list[Record], times: list[float], arrival: float, rejects: Counter[str]
    ) -> None:
        """Add a metric's matching records of a batch, grouped per second (and label)."""
        if not times:
            return
        add, name = self.metrics.add, metric.name
        if metric.value_of is None and metric.split_by is None:
            for count, ts in self._counts(times).values():
                add(name, ts, float(count), int(count), 1.0, None, now=arrival)
        else:
            groups = self._groups(metric, records, times, rejects)
            for (_second, label), (total, count, last, ts) in groups.items():
                add(name, ts, total, int(count), last, label, now=arrival)

    @staticmethod
    def _times(records: list[Record], time_field: str, arrival: float, rejects: Counter[str]) -> list[float]:
        """Each record's time: its own (epoch s or ms, ISO 8601), or `arrival` when missing,
        unreadable (counted as bad_time) or too far ahead (counted as future_time)."""
        latest_allowed = arrival + MAX_FUTURE_SKEW
        times: list[float] = []
        append = times.append
        bad = future = 0
        for record in records:
            raw = record.get(time_field)
            if raw is None:
                append(arrival)
                continue
            ts: float | None
            if type(raw) is float and -MAX_VALUE <= raw <= MAX_VALUE:
                ts = raw / 1000.0 if raw > 1e11 else raw  # record_time's answer, inlined
            else:
                ts = record_time(raw)
                if ts is None:
                    bad += 1
                    append(arrival)
                    continue
            if ts > latest_allowed:
                future += 1
                ts = arrival
            append(ts)
        if bad:
            rejects["bad_time"] += bad
        if future:
            rejects["future_time"] += future
        return times

    @staticmethod
    def _counts(times: list[float]) -> dict[int, list[float]]:
        """A plain count of the matching records: second -> [records, latest record time]."""
        groups: dict[int, list[float]] = {}
        for ts in times:
            second = int(ts)
            group = groups.get(second)
            if group is None:
                groups[second] = [1, ts]
            else:
                group[0] += 1
                if ts >= group[1]:
                    group[1] = ts
        return groups

    @staticmethod
    def _groups(
        metric: _CompiledMetric, records: list[Record], times: list[float], rejects: Counter[str]
    ) -> dict[tuple[int, str | None], list[float]]:
        """Any other metric over its matching records: (second, label) -> [total, count,
        last value, its time]."""
        groups: dict[tuple[int, str | None], list[float]] = {}
        value_of, value_field, split_by = metric.value_of, metric.value_field, metric.split_by
        label: str | None = None
        bad_values = bad_labels = 0
        for record, ts in zip(records, times, strict=True):
            value: float | None
            if value_of is None:
                value = 1.0
            else:
                raw = record.get(value_field) if value_field is not None else value_of(record)
                if type(raw) is float and -MAX_VALUE <= raw <= MAX_VALUE:
                    value = raw  # to_number's answer, inlined
                else:
                    value = to_number(raw)
                    if value is None:
                        if raw is not None:
                            bad_values += 1
                        continue
            if split_by is not None:
                label = label_of(record, split_by)
                if label is INVALID_LABEL:
                    bad_labels += 1
            key = (int(ts), label)
            group = groups.get(key)
            if group is None:
                groups[key] = [value, 1, value, ts]
            else:
                group[0] += value
                group[1] += 1
                if ts >= group[3]:
                    group[2], group[3] = value, ts
        if bad_values:
            rejects["bad_value"] += bad_values
        if bad_labels:
            rejects["bad_label"] += bad_labels
        return groups

    def reject_count(self, source: str) -> int:
        return sum(self.rejects[source].values()) if source in self.rejects else 0
