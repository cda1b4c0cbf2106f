"""The retrospective as JSON for other tools: every section's data, texts exactly as stored.

Text is not cleaned here (a tool may want the exact bytes an operator typed); it is left to
the JSON encoding to make it inert: C0 controls (ESC included) always come out as \\u escapes,
and DEL and the C1 range (0x7f-0x9f, e.g. the 8-bit CSI) are escaped after encoding, so no
control character reaches the file raw while non-ASCII text stays readable.

Layout (schema_version 1): times are UTC epoch seconds, durations seconds, metric history
`[[ts, value], ...]`. Keys are only ever added within a schema version.

The document is written as it is made (`chunks`): one top-level key a line, and the log,
lessons and actions one entry a line, read from the store in batches and encoded with
orjson, in flat memory.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from warroom.export.retro import LogSelection, Retrospective

SCHEMA_VERSION = 1
ENTRIES_PER_CHUNK = 1000
_RAW_CONTROLS = re.compile("[\x7f-\x9f\u2028\u2029]")


def render(retro: Retrospective) -> str:
    return "".join(chunks(retro))


def chunks(retro: Retrospective) -> Iterator[str]:
    """The document in pieces: each small section whole, each log list in batches."""
    sections = list(document(retro).items())
    yield "{\n"
    for n, (key, value) in enumerate(sections):
        end = ",\n" if n < len(sections) - 1 else "\n"
        if isinstance(value, LogSelection):
            yield f" {json.dumps(key)}: ["
            entries = iter(value)
            first = True
            while batch := list(itertools.islice(entries, ENTRIES_PER_CHUNK)):
                text = b",\n  ".join(map(orjson.dumps, batch)).decode()
                yield ("\n  " if first else ",\n  ") + _inert(text)
                first = False
            yield ("\n ]" if not first else "]") + end
        else:
            yield f" {json.dumps(key)}: " + _inert(json.dumps(value, ensure_ascii=False, allow_nan=False)) + end
    yield "}\n"


def _inert(text: str) -> str:
    """DEL, C1 controls and the line separators escaped (JSON encoders leave them raw)."""
    if text.isascii() and "\x7f" not in text:  # the usual case, checked at C speed
        return text
    return _RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _plain(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) and not isinstance(obj, type) else obj


def document(r: Retrospective) -> dict[str, Any]:
    """The JSON document as Python data, the log lists still to be read (LogSelections)."""
    s = r.support
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": r.generated_at,
        "range": {"start": r.start, "end": r.end, "duration": r.duration},
        "launch": {"name": r.launch_name, "at": r.launch_at, "set_by": r.launch_set_by},
        "operators": list(r.operators),
        "starred_only": r.starred_only,
        "goals": [
            {
                "metric": g.metric,
                "label": g.label,
                "target": g.target,
                "actual": g.actual,
                "fraction": g.fraction,
                "met": g.met,
                "reached_at": g.reached_at,
            }
            for g in r.goals
        ],
        "metrics": [
            {
                "name": m.name,
                "label": m.label,
                "unit": m.unit,
                "cumulative": m.cumulative,
                "final": m.final,
                "peak": m.peak,
                "peak_at": m.peak_at,
                "peak_rate_per_min": m.peak_rate,
                "peak_rate_at": m.peak_rate_at,
                "history": [[ts, v] for ts, v in m.points],
            }
            for m in r.metrics
        ],
        "alert_periods": [_plain(p) for p in r.alert_periods],
        "incidents": [
            {
                "rule": i.rule,
                "severity": i.severity,
                "started_at": i.started_at,
                "fired_at": i.fired_at,
                "acked_at": i.acked_at,
                "acked_by": i.acked_by,
                "resolved_at": i.resolved_at,
                "time_to_ack": i.time_to_ack,
                "time_to_resolve": i.time_to_resolve,
                "peak_value": i.peak_value,
                "runbook": i.runbook,
                "notes": [{"ts": ts, "author": who, "text": text} for ts, who, text in i.notes],
                "event_ids": [e.id for e in i.events],
            }
            for i in r.incidents
        ],
        "alert_events": [_plain(e) for e in r.alert_events],
        "support": {
            "figures": {**_plain(s.figures), "breaches": s.figures.breaches},
            "by_category": dict(s.by_category),
            "by_priority": dict(s.by_priority),
            "breaches": [_plain(b) for b in s.breaches],
            "tickets": [_plain(t) for t in s.tickets],
        },
        "checklist": [{**_plain(c.item), "due_at": c.due_at, "status": c.status} for c in r.checklist],
        "log": r.timeline,
        "lessons": r.lessons,
        "actions": r.actions,
        "questions": list(r.questions),
    }
