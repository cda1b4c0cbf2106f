"""Conversion: business metrics, the funnel with its drop-off, and progress to targets."""

from __future__ import annotations

from rich.text import Text

from warroom import format as fmt
from warroom.config import ConversionPanelConfig
from warroom.snapshot import Snapshot, TargetView
from warroom.textsafe import clean
from warroom.widgets.panel import Panel, metric_line


class ConversionPanel(Panel):
    def __init__(self, layout: ConversionPanelConfig, **kwargs) -> None:
        super().__init__("Conversion", **kwargs)
        self.contents = layout

    def refresh_from(self, snapshot: Snapshot) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        for name in self.contents.metrics:
            metric_line(text, snapshot.metric(name), name, width)
        if self.contents.funnel:
            self._funnel(text, snapshot, width)
        if snapshot.targets:
            text.append("Targets\n", style="bold underline")
            for status in snapshot.targets:
                self._target(text, status, width, snapshot.at)
        self.show(text)

    def _funnel(self, text: Text, snapshot: Snapshot, width: int) -> None:
        text.append("Funnel  step · of previous\n", style="bold underline")
        steps = []
        for name in self.contents.funnel:
            metric = snapshot.metric(name)
            steps.append((metric.title if metric else name, metric.value if metric else None))
        top = steps[0][1] or 0.0
        previous: float | None = None
        bar_width = max(4, width - 33)
        for title, value in steps:
            text.append(f"{clean(title, limit=12):<12} {fmt.compact(value):>7} ")
            text.append(fmt.bar((value or 0) / top if top else None, bar_width), style="magenta")
            step = (value or 0) / previous if previous else None
            text.append(f" {fmt.percent(step) if previous is not None else '':>6}")
            text.append("\n")
            previous = value or 0.0

    @staticmethod
    def _target(text: Text, status: TargetView, width: int, now: float) -> None:
        """Two lines: the figures and when the target is reached, then a full-width bar."""
        figures = f"{fmt.compact(status.actual)}/{fmt.compact(status.target)} {fmt.percent(status.progress, 0):>4}"
        if status.reached:
            eta, style = "reached", "bold green"
        elif status.eta_seconds is None:
            eta, style = "stalled", "yellow"
        else:
            eta, style = f"in {fmt.ago(status.eta_seconds)}", ""
            at = f" @{fmt.clock_time(now + status.eta_seconds)}"
            if width - len(figures) - len(eta) - len(at) - 2 >= 10:
                eta += at
        label_width = max(6, width - len(figures) - len(eta) - 2)
        text.append(f"{clean(status.label, limit=label_width - 1):<{label_width}}")
        text.append(f"{figures} ")
        text.append(eta + "\n", style=style)
        text.append(fmt.bar(status.progress, width) + "\n", style="green" if status.reached else "blue")
