"""Traffic: the charted metric with its scale, the other traffic metrics, and the channels.

The panel fits its height: every metric row is shown first (values are what the operator
came for); the chart takes what is left, down to MIN_CHART_ROWS, then the channels shrink
from a table to one line, then the chart's footer goes. The chart has a y scale, from zero
to a round number just above its highest column, with its unit under the top label (a
count's rate per second, or per minute when that reads better); its footer says what a
column is and the true peak: the busiest single second and when, which a column (a mean
over several seconds) hides.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from warroom import format as fmt
from warroom.config import TrafficPanelConfig
from warroom.snapshot import ChannelsView, ChartView, Snapshot
from warroom.textsafe import cell_width, clean, fit
from warroom.widgets.panel import MetricRow, Panel, RowLayout, metric_rows

MIN_CHART_ROWS, MAX_CHART_ROWS = 2, 12
TOP_CHANNELS = 5
LABEL = 10
"""Cells for a channel's name."""
GUTTER = 5
"""Cells for the chart's scale (`format.axis` labels fit)."""


class TrafficPanel(Panel):
    def __init__(self, layout: TrafficPanelConfig, **kwargs: Any) -> None:
        super().__init__("Traffic", **kwargs)
        self.contents = layout

    def refresh_from(self, snapshot: Snapshot) -> None:
        width, height = self.inner_width, self.inner_height
        chart_name = self.contents.chart
        names = [chart_name] if chart_name else []
        names += [n for n in self.contents.metrics if n != chart_name]
        rows = metric_rows(snapshot, names)
        chart = snapshot.chart if chart_name and snapshot.chart and snapshot.chart.metric == chart_name else None
        channels = snapshot.channels if snapshot.channels and snapshot.channels.rows else None
        channel_rows = min(TOP_CHANNELS, len(channels.rows)) if channels else 0
        chart_rows, footer, channel_mode = plan(height - len(rows), channel_rows, chart is not None)

        text = Text(no_wrap=True, overflow="ellipsis")
        palette = self.tones
        shown = fit_rows(rows, height)
        columns = RowLayout(shown, width)
        if chart is not None:
            columns.write(text, shown[:1], palette)  # the charted metric, above its chart
            if chart_rows:
                self._chart(text, chart, width, chart_rows, footer)
            shown = shown[1:]
        columns.write(text, shown, palette)
        if channels is not None and channel_mode == "table":
            self._channels(text, channels, width, palette)
        elif channels is not None and channel_mode == "line":
            self._channel_line(text, channels, width)
        text.rstrip()
        self.show(text)

    def _chart(self, text: Text, chart: ChartView, width: int, rows: int, footer: bool) -> None:
        values = chart.binned(max(1, width - GUTTER - 1))
        unit = chart.unit
        if unit == "/s":  # in the unit a person reads best: 0.6/s is 36/min
            unit = fmt.rate_unit(values)
            values = [None if v is None else v * 60 for v in values] if unit == "/min" else values
        top = fmt.nice_ceiling(max((v for v in values if v is not None), default=0.0))
        unit_label = "" if unit == "currency" else unit
        for index, line in enumerate(fmt.sparkline(values, rows, top=top or None)):
            tick = index in (0, rows - 1)
            label = (fmt.axis(top) if index == 0 else "0") if tick else unit_label if index == 1 else ""
            text.append(fit(label, GUTTER, ">") + ("┤" if tick else "│"), style="dim")
            text.append(line + "\n", style=self.tones["ok"] or "bold")
        if footer:
            column = fmt.ago(chart.window / max(1, len(values)))
            peak = fmt.with_unit(chart.peak, chart.unit)
            at = f" at {fmt.clock_time(chart.peak_at)}" if chart.peak_at is not None else ""
            parts = [f"last {fmt.ago(chart.window)}", f"{column}/col", f"peak {peak}{at}"]
            while len(parts) > 1 and cell_width(" · ".join(parts)) > width:
                parts.pop(1)  # the column's span goes first, the peak stays
            text.append(" · ".join(parts) + "\n", style="dim")

    @staticmethod
    def _channels(text: Text, channels: ChannelsView, width: int, palette: dict[str, str]) -> None:
        total = channels.total or 1.0
        converted = channels.converted_title
        heading = "Channels" + (f"  share · {clean(converted, limit=20)}/visit" if converted else "  share")
        text.append(fit(heading, width) + "\n", style="bold underline")
        figures = 5 + (7 if converted else 0)
        bar_width = max(0, width - LABEL - 1 - figures)
        for row in channels.rows[:TOP_CHANNELS]:
            share = row.value / total
            text.append(fit(clean(row.label), LABEL) + " ")
            text.append(fmt.bar(share, bar_width), style=palette["bar"])
            text.append(fit(fmt.percent(share, 0), 5, ">"))
            if converted:
                ratio = row.converted / row.value if row.value and row.converted is not None else None
                text.append(fit(fmt.percent(ratio), 7, ">"))
            text.append("\n")

    @staticmethod
    def _channel_line(text: Text, channels: ChannelsView, width: int) -> None:
        """The channels on one line, whole pairs only: "push 35% · search 30%"."""
        total = channels.total or 1.0
        line = ""
        for row in channels.rows[:TOP_CHANNELS]:
            pair = f"{clean(row.label, limit=LABEL)} {fmt.percent(row.value / total, 0)}"
            candidate = f"{line} · {pair}" if line else pair
            if cell_width(candidate) > width:
                break
            line = candidate
        if line:
            text.append(line + "\n", style="dim")


def plan(free: int, channel_rows: int, charted: bool) -> tuple[int, bool, str]:
    """(chart rows, chart footer, channels as "table" | "line" | "none") for `free` rows."""
    table = 1 + channel_rows if channel_rows else 0
    line = 1 if channel_rows else 0
    if not charted:
        return 0, False, "table" if free >= table and table else "line" if free >= line and line else "none"
    for mode, need, footer, least in (
        ("table", table, 1, 3),
        ("line", line, 1, MIN_CHART_ROWS),
        ("line", line, 0, MIN_CHART_ROWS),
    ):
        chart = free - need - footer
        if chart >= least:
            return min(chart, MAX_CHART_ROWS), bool(footer), mode if need else "none"
    return max(0, min(free, MAX_CHART_ROWS)), False, "none"


def fit_rows(rows: list[MetricRow], height: int) -> list[MetricRow]:
    """The rows that fit `height`, the last one saying how many more there are."""
    if len(rows) <= height:
        return rows
    kept = rows[: max(0, height - 1)]
    return [*kept, MetricRow("", f"+{len(rows) - len(kept)} more", "")]
