"""Traffic: the charted metric, the other traffic metrics and the channels bringing visits."""

from __future__ import annotations

from rich.text import Text

from warroom import format as fmt
from warroom.config import TrafficPanelConfig
from warroom.snapshot import ChannelsView, Snapshot
from warroom.textsafe import clean
from warroom.widgets.panel import Panel, metric_line

MIN_CHART_ROWS, MAX_CHART_ROWS = 3, 12
TOP_CHANNELS = 5


class TrafficPanel(Panel):
    def __init__(self, layout: TrafficPanelConfig, **kwargs) -> None:
        super().__init__("Traffic", **kwargs)
        self.contents = layout

    def refresh_from(self, snapshot: Snapshot) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        chart_name = self.contents.chart
        chart = snapshot.chart
        if chart_name:
            metric_line(text, snapshot.metric(chart_name), chart_name, width)
            if chart is not None and chart.metric == chart_name:
                values = chart.binned(width)
                for row in fmt.sparkline(values, self._chart_rows()):
                    text.append(row + "\n", style="green")
                text.append(f"last {fmt.ago(chart.window)} · peak {fmt.pace(chart.peak)}\n", style="dim")
        for name in self.contents.metrics:
            if name != chart_name:
                metric_line(text, snapshot.metric(name), name, width)
        if snapshot.channels is not None and snapshot.channels.rows:
            self._channels(text, snapshot.channels, width)
        self.show(text)

    def _chart_rows(self) -> int:
        """Let the chart take the height the other lines leave free on a tall terminal."""
        others = 3 + len(self.contents.metrics) + (TOP_CHANNELS + 1 if self.contents.channels else 0)
        free = self.content_size.height - others
        return max(MIN_CHART_ROWS, min(MAX_CHART_ROWS, free))

    @staticmethod
    def _channels(text: Text, channels: ChannelsView, width: int) -> None:
        total = channels.total or 1.0
        converted = channels.converted_title
        heading = "Channels" + (f"  share · {converted}/visit" if converted else "  share")
        text.append(heading + "\n", style="bold underline")
        bar_width = max(4, width - 30)
        for row in channels.rows[:TOP_CHANNELS]:
            share = row.value / total
            text.append(f"{clean(row.label, limit=10):<10} ")
            text.append(fmt.bar(share, bar_width), style="cyan")
            text.append(f" {fmt.percent(share, 0):>4}")
            if converted:
                ratio = row.converted / row.value if row.value and row.converted is not None else None
                text.append(f" {fmt.percent(ratio):>6}")
            text.append("\n")
