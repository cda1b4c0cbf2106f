"""Traffic: the charted metric, the other traffic metrics and the channels bringing visits."""

from __future__ import annotations

from rich.text import Text

from warroom import format as fmt
from warroom.config import TrafficPanelConfig
from warroom.metrics import MetricsStore
from warroom.textsafe import clean
from warroom.widgets.panel import Panel, metric_line

MIN_CHART_ROWS, MAX_CHART_ROWS = 3, 12
TOP_CHANNELS = 5


class TrafficPanel(Panel):
    def __init__(self, layout: TrafficPanelConfig, chart_window: float,
                 converted: str | None = None, **kwargs) -> None:
        super().__init__("Traffic", **kwargs)
        self.contents = layout
        self.chart_window = chart_window
        self.converted = converted  # a metric split like `channels`, e.g. orders by channel

    def refresh_from(self, metrics: MetricsStore) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        chart = self.contents.chart
        if chart:
            metric_line(text, metrics, chart, width)
            values = metrics.chart(chart, self.chart_window, width)
            for row in fmt.sparkline(values, self._chart_rows()):
                text.append(row + "\n", style="green")
            peak = max((v for v in values if v is not None), default=None)
            text.append(
                f"last {fmt.ago(self.chart_window)} · peak {fmt.pace(peak)}\n", style="dim"
            )
        for name in self.contents.metrics:
            if name != chart:
                metric_line(text, metrics, name, width)
        if self.contents.channels:
            self._channels(text, metrics, width)
        self.show(text)

    def _chart_rows(self) -> int:
        """Let the chart take the height the other lines leave free on a tall terminal."""
        others = 3 + len(self.contents.metrics) + (TOP_CHANNELS + 1 if self.contents.channels else 0)
        free = self.content_size.height - others
        return max(MIN_CHART_ROWS, min(MAX_CHART_ROWS, free))

    def _channels(self, text: Text, metrics: MetricsStore, width: int) -> None:
        top = metrics.top_labels(self.contents.channels, TOP_CHANNELS)
        if not top:
            return
        total = sum(value for _, value in metrics.top_labels(self.contents.channels, 10_000)) or 1.0
        heading = "Channels" + (f"  share · {metrics.title(self.converted)}/visit" if self.converted else "  share")
        text.append(heading + "\n", style="bold underline")
        bar_width = max(4, width - 30)
        for label, value in top:
            share = value / total
            text.append(f"{clean(label, limit=10):<10} ")
            text.append(fmt.bar(share, bar_width), style="cyan")
            text.append(f" {fmt.percent(share, 0):>4}")
            if self.converted:
                converted = metrics.label_total(self.converted, label)
                text.append(f" {fmt.percent(converted / value if value else None):>6}")
            text.append("\n")
