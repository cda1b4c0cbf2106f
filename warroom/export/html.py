"""The retrospective as one self-contained HTML file: inline CSS, SVG charts, no scripts.

Opens without a network and prints well: light colours only, no backgrounds that printers
drop, tables and charts kept whole across pages. Every piece of source text goes through
`h` (inert line, then html.escape), including inside SVG <title> elements.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterator

from warroom.export.common import (
    bucketize,
    chart_title,
    clock,
    fraction,
    hms,
    listing_note,
    number,
    offset,
    safe,
    when,
)
from warroom.export.retro import MetricSummary, Retrospective, TimelineDigest
from warroom.model import format_duration

SVG_W, SVG_H = 600, 170
PAD_L, PAD_R, PAD_T, PAD_B = 62, 10, 12, 28
SVG_COLUMNS = 200
TICKS = 4
CHUNK_PIECES = 1000  # table rows per piece handed to the writer

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a;
  background: #fff; max-width: 1040px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.8em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #d5dbe1; padding-bottom: .2em; margin-top: 1.8em; }
h3 { margin: 1.2em 0 .3em; font-size: 1.05em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0 1em; page-break-inside: avoid;
  break-inside: avoid; }
table.timeline { page-break-inside: auto; break-inside: auto; }
th, td { border: 1px solid #d5dbe1; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f2f4f7; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.starred td { background: #fff6d6; font-weight: 600; }
.bad { color: #b42318; font-weight: 600; }
.good { color: #067647; font-weight: 600; }
.muted { color: #5b6571; }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; }
.summary dt { font-weight: 600; } .summary dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 0 28px; }
figure { margin: .4em 0 1.2em; page-break-inside: avoid; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg { width: 100%; height: auto; max-width: 760px; display: block; overflow: visible; }
svg text { font: 12.5px system-ui, sans-serif; fill: #4a545e; }
.legend span { display: inline-block; margin-right: 1em; }
.swatch { display: inline-block; width: .9em; height: .9em; background: #f8d4d0;
  border: 1px solid #e8a69e; vertical-align: middle; margin-right: .3em; }
li { margin: .15em 0; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  h2 { page-break-after: avoid; break-after: avoid; }
  tr, figure { page-break-inside: avoid; break-inside: avoid; }
  th { background: none; }
  tr.starred td { background: none; }
}
"""


def h(text: object) -> str:
    """Source text for HTML: one inert line, entity-escaped (quotes too, for attributes)."""
    return html.escape(safe(text), quote=True)


def render(retro: Retrospective) -> str:
    return "".join(chunks(retro))


def chunks(retro: Retrospective) -> Iterator[str]:
    """The document in pieces: one per section, long sections in batches of rows."""
    yield (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>Retrospective: {h(retro.launch_name)}</title>",
                f"<style>{CSS}</style></head><body>",
            ]
        )
        + "\n"
    )
    for section in (
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
    ):
        part = section(retro)
        if isinstance(part, str):
            yield part + "\n"
        else:
            while batch := list(itertools.islice(part, CHUNK_PIECES)):
                yield "".join(batch)
            yield "\n"
    yield "</body></html>\n"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    """Cells are HTML already (escaped by the caller)."""
    head = "".join(f'<th class="num">{c}</th>' if i in numeric else f"<th>{c}</th>" for i, c in enumerate(header))
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(r: Retrospective) -> str:
    launch = when(r.launch_at) if r.launch_at is not None else "not set"
    if r.launch_set_by:
        launch += f" (set by {h(r.launch_set_by)})"
    items = [
        ("Launch", launch),
        ("Range", f"{when(r.start)} to {when(r.end)}"),
        ("Duration", f"{format_duration(r.duration)} ({hms(r.duration)})"),
        ("Operators", ", ".join(h(o) for o in r.operators) or "none recorded"),
        ("Alerts fired", str(len(r.incidents))),
        ("Tickets", f"{r.support.figures.total} ({len(r.support.breaches)} SLA breaches)"),
        ("Log entries", f"{len(r.timeline):,}{' (starred only)' if r.starred_only else ''}"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return (
        f"<h1>Retrospective: {h(r.launch_name)}</h1>"
        f'<p class="muted">Generated {when(r.generated_at)}. Times are local; T+ is time since launch.</p>'
        f'<section id="summary"><h2>Summary</h2><dl class="summary">{dl}</dl></section>'
    )


def _goals(r: Retrospective) -> str:
    if not r.goals:
        return '<section id="goals"><h2>Goals</h2><p>No targets were given for this export.</p></section>'
    rows = []
    for g in r.goals:
        reached = (
            f"{clock(g.reached_at)} {offset(g.reached_at, r.launch_at)}" if g.reached_at is not None else "not reached"
        )
        met = '<span class="good">yes</span>' if g.met else '<span class="bad">no</span>'
        rows.append([h(g.label), number(g.target), number(g.actual), fraction(g.fraction), reached, met])
    return (
        '<section id="goals"><h2>Goals</h2>'
        + _table(["Goal", "Target", "Actual", "% of target", "Reached at", "Met"], rows, {1, 2, 3})
        + "</section>"
    )


def _key_metrics(r: Retrospective) -> str:
    rows = []
    for m in r.metrics:
        rate = f"{number(m.peak_rate)}/min at {clock(m.peak_rate_at)}" if m.peak_rate is not None else ""
        peak = f"{number(m.peak, m.unit)} at {clock(m.peak_at)}" if m.peak is not None else "-"
        rows.append([h(m.label), number(m.final, m.unit), peak, rate, "running total" if m.cumulative else "value"])
    body = (
        _table(["Metric", "Final", "Peak", "Peak rate", "Kind"], rows, {1})
        if rows
        else "<p>No metric history in this range.</p>"
    )
    return f'<section id="metrics"><h2>Key metrics</h2>{body}</section>'


def chart_svg(r: Retrospective, m: MetricSummary) -> str:
    """An SVG line-and-area chart with a time axis, a value axis and shaded alert periods."""
    x0, x1, y0, y1 = PAD_L, SVG_W - PAD_R, SVG_H - PAD_B, PAD_T
    span = max(r.end - r.start, 1e-9)

    def x(ts: float) -> float:
        return x0 + (ts - r.start) / span * (x1 - x0)

    columns = bucketize(m.points, r.start, r.end, SVG_COLUMNS, m.cumulative)
    top = max((c for c in columns if c is not None), default=0.0) or 1.0
    out = [
        (
            f'<svg viewBox="0 0 {SVG_W} {SVG_H}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-label="{h(chart_title(m))}">'
        )
    ]
    for p in r.alert_periods:
        left, right = max(x0, x(p.start)), min(x1, x(p.end))
        if right >= left:
            out.append(
                f'<rect x="{left:.1f}" y="{y1}" width="{max(1.0, right - left):.1f}" height="{y0 - y1}" '
                f'fill="#f8d4d0" fill-opacity="0.7"><title>{h(p.rule)} firing '
                f"{clock(p.start)} to {clock(p.end)}</title></rect>"
            )
    for i in range(3):  # value grid and labels: 0, half, top
        level = top * i / 2
        yy = y0 - (y0 - y1) * i / 2
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e7ec"/>'
            f'<text x="{x0 - 5}" y="{yy + 4:.1f}" text-anchor="end">{number(level, m.unit)}</text>'
        )
    for i in range(TICKS + 1):
        ts = r.start + span * i / TICKS
        anchor = "start" if i == 0 else ("end" if i == TICKS else "middle")
        out.append(
            f'<line x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{y0}" y2="{y0 + 4}" stroke="#8a949e"/>'
            f'<text x="{x(ts):.1f}" y="{y0 + 16}" text-anchor="{anchor}">{clock(ts)[:5]}</text>'
        )
    step = (x1 - x0) / SVG_COLUMNS
    runs: list[list[tuple[float, float]]] = [[]]
    for col, v in enumerate(columns):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x0 + (col + 0.5) * step, y0 - (y0 - y1) * v / top))
    for run in (r for r in runs if r):
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in run)
        area = f"{run[0][0]:.1f},{y0} {line} {run[-1][0]:.1f},{y0}"
        out.append(
            f'<polygon points="{area}" fill="#cfe0f5" fill-opacity="0.8"/>'
            f'<polyline points="{line}" fill="none" stroke="#2463b4" stroke-width="1.6"/>'
        )
    out.append(
        f'<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" stroke="#8a949e"/>'
        f'<line x1="{x0}" x2="{x0}" y1="{y1}" y2="{y0}" stroke="#8a949e"/></svg>'
    )
    return "".join(out)


def _charts(r: Retrospective) -> str:
    if not r.metrics:
        return '<section id="charts"><h2>Charts</h2><p>No metric history in this range.</p></section>'
    legend = ""
    if r.alert_periods:
        rules = sorted({p.rule for p in r.alert_periods})
        legend = (
            '<p class="legend"><span><span class="swatch"></span>alert firing: '
            + ", ".join(h(rule) for rule in rules)
            + "</span></p>"
        )
    figures = []
    for m in r.metrics:
        peak = f"peak {number(m.peak_rate)}/min" if m.cumulative else f"peak {number(m.peak, m.unit)}"
        figures.append(
            f'<figure><figcaption>{h(chart_title(m))} <span class="muted">({peak}, final '
            f"{number(m.final, m.unit)})</span></figcaption>{chart_svg(r, m)}</figure>"
        )
    return f'<section id="charts"><h2>Charts</h2>{legend}<div class="charts">{"".join(figures)}</div></section>'


def _incidents(r: Retrospective) -> str:
    if not r.incidents:
        return '<section id="incidents"><h2>Incidents</h2><p>No alert fired in this range.</p></section>'
    rows = [
        [
            h(i.rule),
            h(i.severity),
            clock(i.fired_at),
            f"{clock(i.acked_at)} by {h(i.acked_by)}"
            if i.acked_at is not None
            else '<span class="bad">not acked</span>',
            clock(i.resolved_at) if i.resolved_at else '<span class="bad">still firing</span>',
            hms(i.time_to_ack),
            hms(i.time_to_resolve),
        ]
        for i in r.incidents
    ]
    parts = [
        _table(["Alert", "Severity", "Fired", "Acked", "Resolved", "Time to ack", "Time to resolve"], rows, {5, 6})
    ]
    for i in r.incidents:
        if not (i.notes or i.runbook):
            continue
        items = ([f"<li><b>runbook:</b> {h(i.runbook)}</li>"] if i.runbook else []) + [
            f"<li>{clock(ts)} {h(who)}: {h(text)}</li>" for ts, who, text in i.notes
        ]
        parts.append(f"<h3>{h(i.rule)}, fired {clock(i.fired_at)}</h3><ul>{''.join(items)}</ul>")
    return f'<section id="incidents"><h2>Incidents</h2>{"".join(parts)}</section>'


def _support(r: Retrospective) -> str:
    s, f = r.support, r.support.figures
    parts = [
        (
            f"<ul><li>Tickets: {f.total} ({f.open} still open, {f.unassigned} unassigned)</li>"
            f"<li>Median first response: {hms(f.median_first_response)}; median resolution: "
            f"{hms(f.median_resolution)}</li><li>SLA breaches: {len(s.breaches)} ({f.respond_breaches} "
            f"first response, {f.resolve_breaches} resolution)</li></ul>"
        )
    ]
    if s.by_category:
        parts.append(_table(["Category", "Tickets"], [[h(c), str(n)] for c, n in s.by_category], {1}))
    if s.by_priority:
        parts.append(_table(["Priority", "Tickets"], [[h(p), str(n)] for p, n in s.by_priority], {1}))
    if s.breaches:
        parts.append(
            "<h3>SLA breaches</h3>"
            + _table(
                ["Ticket", "Priority", "Missed", "Due", "Subject"],
                [
                    [
                        h(b.ticket_id),
                        h(b.priority),
                        "first response" if b.kind == "respond" else "resolution",
                        clock(b.due),
                        h(b.subject),
                    ]
                    for b in s.breaches
                ],
            )
        )
    return f'<section id="support"><h2>Support</h2>{"".join(parts)}</section>'


def _checklist(r: Retrospective) -> str:
    if not r.checklist:
        return '<section id="checklist"><h2>Checklist</h2><p>No checklist.</p></section>'
    rows = [
        [
            h(c.item.phase),
            h(c.item.title),
            h(c.item.owner),
            offset(c.due_at, r.launch_at) or "-",
            clock(c.item.done_at),
            h(c.item.done_by or ""),
            f'<span class="bad">{c.status}</span>' if c.status in ("late", "skipped") else c.status,
        ]
        for c in r.checklist
    ]
    return (
        '<section id="checklist"><h2>Checklist</h2>'
        + _table(["Phase", "Item", "Owner", "Due", "Done", "By", "Status"], rows)
        + "</section>"
    )


def _timeline(r: Retrospective) -> Iterator[str]:
    title = "Timeline (starred entries)" if r.starred_only else "Timeline"
    if not r.timeline:
        yield f'<section id="timeline"><h2>{title}</h2><p>No log entries in this range.</p></section>'
        return
    yield f'<section id="timeline"><h2>{title}</h2>'
    if not r.starred_only:
        yield '<p class="muted">Starred entries are highlighted.</p>'
    digest = r.digest
    if digest is not None and digest.unlisted:
        yield f"<p>{listing_note(r, digest)}</p>"
    yield (
        '<table class="timeline"><thead><tr><th></th><th>Time</th><th>T</th><th>Kind</th>'
        "<th>Severity</th><th>Author</th><th>Text</th></tr></thead><tbody>"
    )
    starred = ' class="starred"'
    for e in r.timeline if digest is None else digest.listed:
        yield (
            f"<tr{starred if e.starred else ''}><td>{'★' if e.starred else ''}</td>"
            f"<td>{clock(e.ts)}</td><td>{offset(e.ts, r.launch_at)}</td><td>{h(e.kind)}</td>"
            f"<td>{h(e.severity)}</td><td>{h(e.author)}</td><td>{h(e.text)}</td></tr>"
        )
    yield "</tbody></table>"
    if digest is not None and digest.unlisted:
        yield "<h3>Entries not listed, per hour</h3>" + _hourly(r, digest)
    yield "</section>"


def _hourly(r: Retrospective, digest: TimelineDigest) -> str:
    kinds, hours = digest.by_hour()
    rows = [
        [
            when(hour)[:16],
            offset(hour, r.launch_at),
            *(f"{row[k]:,}" if k in row else "" for k in kinds),
            f"{sum(row.values()):,}",
        ]
        for hour, row in hours.items()
    ]
    return _table(["Hour from", "T", *map(h, kinds), "Total"], rows, set(range(2, len(kinds) + 3)))


def _lessons(r: Retrospective) -> Iterator[str]:
    nobody = '<span class="bad">none</span>'
    yield '<section id="lessons"><h2>Lessons and action items</h2><h3>Lessons</h3><ul>'
    yield from (f'<li>{h(e.text)} <span class="muted">({h(e.author)}, {clock(e.ts)})</span></li>' for e in r.lessons)
    if not r.lessons:
        yield "<li>None recorded.</li>"
    yield "</ul><h3>Action items</h3><ul>"
    yield from (
        f'<li>{h(e.text)} <span class="muted">(owner:</span> {h(e.owner) if e.owner else nobody}'
        f'<span class="muted">; raised by {h(e.author)}, {clock(e.ts)})</span></li>'
        for e in r.actions
    )
    if not r.actions:
        yield "<li>None recorded.</li>"
    yield "</ul></section>"


def _questions(r: Retrospective) -> str:
    items = "".join(f"<li>{h(q)}</li>" for q in r.questions)
    return f'<section id="questions"><h2>Open questions for the meeting</h2><ol>{items}</ol></section>'
