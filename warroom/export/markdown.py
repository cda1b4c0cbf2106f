"""The retrospective as Markdown: the document the meeting starts from.

Readable raw in a terminal and rendered on any forge. Charts are text (block-character
sparklines with a time axis) inside code blocks, so they survive every viewer; alert periods
are marked on one line per alert under each chart. Source text is escaped with `md`.

The document is made in chunks (`chunks`) so that a timeline of a million entries is written
as it is read, never held whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from warroom.export.common import (
    bucketize,
    chart_title,
    clock,
    code_safe,
    fraction,
    hms,
    listing_note,
    md,
    number,
    offset,
    when,
)
from warroom.export.retro import MetricSummary, Retrospective, TimelineDigest
from warroom.format import sparkline
from warroom.model import format_duration

CHART_WIDTH = 60
CHART_HEIGHT = 3
AXIS_EVERY = 15  # columns between time labels
CHUNK_LINES = 2000  # lines per piece handed to the writer


def render(retro: Retrospective) -> str:
    return "".join(chunks(retro))


def chunks(retro: Retrospective) -> Iterator[str]:
    """The document in pieces of about CHUNK_LINES lines; sections apart by a blank line."""
    sections = (
        _summary,
        _goals,
        _key_metrics,
        _charts,
        _incidents,
        _support,
        _checklist,
        _timeline,
        _lessons,
        _questions,
    )
    buffer: list[str] = []
    for n, section in enumerate(sections):
        if n:
            buffer.append("")
        for line in section(retro):
            buffer.append(line)
            if len(buffer) >= CHUNK_LINES:
                yield "\n".join(buffer) + "\n"
                buffer.clear()
    if buffer:
        yield "\n".join(buffer) + "\n"


def _table(header: list[str], rows: Iterable[list[str]]) -> Iterator[str]:
    yield "| " + " | ".join(header) + " |"
    yield "|" + "|".join("---" for _ in header) + "|"
    for row in rows:
        yield "| " + " | ".join(cell or " " for cell in row) + " |"


def _summary(r: Retrospective) -> list[str]:
    out = [f"# Retrospective: {md(r.launch_name)}", ""]
    launch = when(r.launch_at) if r.launch_at is not None else "not set"
    if r.launch_set_by:
        launch += f" (set by {md(r.launch_set_by)})"
    out += [
        f"- **Launch:** {launch}",
        f"- **Range:** {when(r.start)} to {when(r.end)} ({format_duration(r.duration)}, {hms(r.duration)})",
        f"- **Operators:** {', '.join(md(o) for o in r.operators) or 'none recorded'}",
        (
            f"- **Log entries:** {len(r.timeline):,}{' (starred only)' if r.starred_only else ''}; "
            f"**alerts fired:** {len(r.incidents)}; **tickets:** {r.support.figures.total}; "
            f"**SLA breaches:** {len(r.support.breaches)}"
        ),
        f"- Generated {when(r.generated_at)}. Times are local; T+ is time since launch.",
    ]
    return out


def _goals(r: Retrospective) -> list[str]:
    out = ["## Goals", ""]
    if not r.goals:
        return out + ["No targets were given for this export."]
    rows = [
        [
            md(g.label),
            number(g.target),
            number(g.actual),
            fraction(g.fraction),
            (
                f"{clock(g.reached_at)} ({offset(g.reached_at, r.launch_at)})".replace(" ()", "")
                if g.reached_at is not None
                else "not reached"
            ),
            "yes" if g.met else "**no**",
        ]
        for g in r.goals
    ]
    return [*out, *_table(["Goal", "Target", "Actual", "% of target", "Reached at", "Met"], rows)]


def _key_metrics(r: Retrospective) -> list[str]:
    out = ["## Key metrics", ""]
    if not r.metrics:
        return out + ["No metric history in this range."]
    rows = []
    for m in r.metrics:
        rate = f"{number(m.peak_rate)}/min at {clock(m.peak_rate_at)}" if m.peak_rate is not None else ""
        rows.append(
            [
                md(m.label),
                number(m.final, m.unit),
                f"{number(m.peak, m.unit)} at {clock(m.peak_at)}" if m.peak is not None else "-",
                rate,
                "running total" if m.cumulative else "value",
            ]
        )
    return [*out, *_table(["Metric", "Final", "Peak", "Peak rate", "Kind"], rows)]


def chart_lines(r: Retrospective, m: MetricSummary, width: int = CHART_WIDTH) -> list[str]:
    """A text chart: sparkline rows scaled to the peak, a time axis, one line per alert."""
    columns = bucketize(m.points, r.start, r.end, width, m.cumulative)
    present = [c for c in columns if c is not None]
    top = max(present, default=0.0)
    rows = sparkline(columns, CHART_HEIGHT)
    gutter = max(len(number(top, m.unit)), 8, *(len(code_safe(p.rule)) for p in r.alert_periods)) + 1
    lines = []
    for i, row in enumerate(rows):
        label = number(top, m.unit) if i == 0 else ("0" if i == len(rows) - 1 else "")
        lines.append(f"{label:>{gutter}}|{row}")
    lines.append(" " * gutter + "+" + "-" * width)
    axis = [" "] * (width + 12)
    span = (r.end - r.start) / width
    for col in range(0, width, AXIS_EVERY):
        text = clock(r.start + col * span)[:5]
        axis[col : col + len(text)] = text
    lines.append(" " * (gutter + 1) + "".join(axis).rstrip())
    marks: dict[str, list[str]] = {}  # one line per alert, all its firing periods on it
    for period in r.alert_periods:
        line = marks.setdefault(period.rule, ["."] * width)
        first = max(0, int((period.start - r.start) / span)) if span > 0 else 0
        last = min(width - 1, int((period.end - r.start) / span)) if span > 0 else 0
        for col in range(first, last + 1):
            line[col] = "#"
    lines.extend(f"{code_safe(rule):>{gutter}}|{''.join(line)}" for rule, line in marks.items())
    return lines


def _charts(r: Retrospective) -> list[str]:
    out = ["## Charts", ""]
    if not r.metrics:
        return out + ["No metric history in this range."]
    if r.alert_periods:
        out += ["Under each chart, `#` marks when an alert was firing.", ""]
    column = r.duration / CHART_WIDTH
    for m in r.metrics:
        peak = f"peak {number(m.peak_rate)}/min" if m.cumulative else f"peak {number(m.peak, m.unit)}"
        out += [
            f"### {md(chart_title(m))}",
            "",
            (f"{peak}, final {number(m.final, m.unit)}; one column is {format_duration(column)}"),
            "",
            "```text",
        ]
        out += chart_lines(r, m)
        out += ["```", ""]
    return out[:-1]


def _incidents(r: Retrospective) -> list[str]:
    out = ["## Incidents", ""]
    if not r.incidents:
        return out + ["No alert fired in this range."]
    rows = [
        [
            md(i.rule),
            i.severity,
            clock(i.fired_at),
            f"{clock(i.acked_at)} by {md(i.acked_by)}" if i.acked_at is not None else "not acked",
            clock(i.resolved_at) if i.resolved_at else "still firing",
            hms(i.time_to_ack),
            hms(i.time_to_resolve),
        ]
        for i in r.incidents
    ]
    out += _table(["Alert", "Severity", "Fired", "Acked", "Resolved", "Time to ack", "Time to resolve"], rows)
    for i in r.incidents:
        if not (i.notes or i.runbook):
            continue
        out += ["", f"**{md(i.rule)}** fired at {clock(i.fired_at)}:"]
        if i.runbook:
            out.append(f"- runbook: {md(i.runbook)}")
        out += [f"- {clock(ts)} {md(who)}: {md(text)}" for ts, who, text in i.notes]
    return out


def _support(r: Retrospective) -> list[str]:
    s = r.support
    f = s.figures
    out = [
        "## Support",
        "",
        f"- Tickets: {f.total} ({f.open} still open, {f.unassigned} unassigned)",
        (f"- Median first response: {hms(f.median_first_response)}; median resolution: {hms(f.median_resolution)}"),
        (f"- SLA breaches: {len(s.breaches)} ({f.respond_breaches} first response, {f.resolve_breaches} resolution)"),
        "",
    ]
    if s.by_category:
        out += [*_table(["Category", "Tickets"], [[md(c), str(n)] for c, n in s.by_category]), ""]
    if s.by_priority:
        out += [*_table(["Priority", "Tickets"], [[p, str(n)] for p, n in s.by_priority]), ""]
    if s.breaches:
        out += _table(
            ["Ticket", "Priority", "Missed", "Due", "Subject"],
            [
                [
                    md(b.ticket_id),
                    b.priority,
                    "first response" if b.kind == "respond" else "resolution",
                    clock(b.due),
                    md(b.subject),
                ]
                for b in s.breaches
            ],
        )
    return out


def _checklist(r: Retrospective) -> list[str]:
    out = ["## Checklist", ""]
    if not r.checklist:
        return out + ["No checklist."]
    rows = [
        [
            md(c.item.phase),
            md(c.item.title),
            md(c.item.owner),
            offset(c.due_at, r.launch_at) or "-",
            clock(c.item.done_at),
            md(c.item.done_by or ""),
            f"**{c.status}**" if c.status in ("late", "skipped") else c.status,
        ]
        for c in r.checklist
    ]
    return [*out, *_table(["Phase", "Item", "Owner", "Due", "Done", "By", "Status"], rows)]


def _timeline(r: Retrospective) -> Iterator[str]:
    yield "## Timeline (starred entries)" if r.starred_only else "## Timeline"
    yield ""
    if not r.timeline:
        yield "No log entries in this range."
        return
    if not r.starred_only:
        yield "Starred entries are marked with a star and set in bold."
        yield ""
    digest = r.digest
    if digest is not None and digest.unlisted:
        yield listing_note(r, digest)
        yield ""
    entries = r.timeline if digest is None else digest.listed
    rows = (
        [
            ("★" if e.starred else ""),
            clock(e.ts),
            offset(e.ts, r.launch_at),
            e.kind,
            e.severity,
            md(e.author),
            f"**{md(e.text)}**" if e.starred else md(e.text),
        ]
        for e in entries
    )
    yield from _table(["", "Time", "T", "Kind", "Severity", "Author", "Text"], rows)
    if digest is not None and digest.unlisted:
        yield ""
        yield "### Entries not listed, per hour"
        yield ""
        yield from _hourly(r, digest)


def _hourly(r: Retrospective, digest: TimelineDigest) -> Iterator[str]:
    kinds, hours = digest.by_hour()
    rows = (
        [
            f"{when(hour)[:16]}",
            offset(hour, r.launch_at) or " ",
            *(f"{row[k]:,}" if k in row else "" for k in kinds),
            f"{sum(row.values()):,}",
        ]
        for hour, row in hours.items()
    )
    yield from _table(["Hour from", "T", *kinds, "Total"], rows)


def _lessons(r: Retrospective) -> Iterator[str]:
    yield from ("## Lessons and action items", "", "### Lessons", "")
    yield from (f"- {md(e.text)} ({md(e.author)}, {clock(e.ts)})" for e in r.lessons)
    if not r.lessons:
        yield "None recorded."
    yield from ("", "### Action items", "")
    yield from (
        f"- [ ] {md(e.text)} (owner: {md(e.owner) if e.owner else '**none**'}; raised by {md(e.author)}, {clock(e.ts)})"
        for e in r.actions
    )
    if not r.actions:
        yield "None recorded."


def _questions(r: Retrospective) -> list[str]:
    return ["## Open questions for the meeting", ""] + [f"{n}. {md(q)}" for n, q in enumerate(r.questions, 1)]
