"""Conversion: business metrics, the funnel with its drop-off, and progress to targets.

Like every live panel it is laid out in cells, values before labels: a funnel step's count
and conversion keep their columns and the step's name is cut; a target's figures and when
it will be reached keep theirs, in the metric's unit (the launch's currency for revenue).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from warroom import format as fmt
from warroom.config import ConversionPanelConfig
from warroom.snapshot import Snapshot, TargetView
from warroom.textsafe import cell_width, clean, fit
from warroom.widgets.panel import Panel, metric_rows, write_rows

STEP_LABEL = 12
"""Cells a funnel step's name gets when there is room."""


class ConversionPanel(Panel):
    def __init__(self, layout: ConversionPanelConfig, **kwargs: Any) -> None:
        super().__init__("Conversion", **kwargs)
        self.contents = layout

    def refresh_from(self, snapshot: Snapshot) -> None:
        width = self.inner_width
        text = Text(no_wrap=True, overflow="ellipsis")
        write_rows(text, metric_rows(snapshot, self.contents.metrics), width, self.tones)
        if self.contents.funnel:
            self._funnel(text, snapshot, width)
        if snapshot.targets:
            text.append("Targets\n", style="bold underline")
            for status in snapshot.targets:
                self._target(text, status, snapshot, width)
        text.rstrip()
        self.show(text)

    def _funnel(self, text: Text, snapshot: Snapshot, width: int) -> None:
        text.append(fit("Funnel  step · of previous", width) + "\n", style="bold underline")
        steps = []
        for name in self.contents.funnel:
            metric = snapshot.metric(name)
            steps.append((clean(metric.title if metric else name), metric.value if metric else None))
        counts = [fmt.compact(value) for _, value in steps]
        count_width = max(cell_width(c) for c in counts)
        label = max(4, min(STEP_LABEL, width - count_width - 1 - 4 - 7))
        bar_width = max(0, width - label - 1 - count_width - 1 - 7)
        top = steps[0][1] or 0.0
        previous: float | None = None
        for (title, value), count in zip(steps, counts, strict=True):
            text.append(fit(title, label) + " " + fit(count, count_width, ">") + " ")
            text.append(fmt.bar((value or 0) / top if top else None, bar_width), style=self.tones["bar"])
            step = (value or 0) / previous if previous else None
            text.append(fit(fmt.percent(step) if previous is not None else "", 7, ">") + "\n")
            previous = value or 0.0

    def _target(self, text: Text, status: TargetView, snapshot: Snapshot, width: int) -> None:
        """Two lines: the figures and when the target is reached, then a full-width bar."""
        metric = snapshot.metric(status.metric)
        unit = metric.unit if metric is not None and metric.unit == "currency" else ""
        actual = fmt.with_unit(status.actual, unit, snapshot.currency)
        target = fmt.with_unit(status.target, unit, snapshot.currency)
        figures = f"{actual}/{target} {fmt.percent(status.progress, 0):>4}"
        if status.reached:
            eta, style = "reached", self.tones["ok"]
        elif status.eta_seconds is None:
            eta, style = "stalled", self.tones["warn"]
        else:
            eta, style = f"in {fmt.ago(status.eta_seconds)}", ""
            at = f" @{fmt.clock_time(snapshot.at + status.eta_seconds)}"
            if width - cell_width(figures) - cell_width(eta) - len(at) - 2 >= 10:
                eta += at
        label_width = width - cell_width(figures) - cell_width(eta) - 2
        label = clean(status.label)
        if label_width >= 4:
            text.append(fit(label, label_width) + " ")
        text.append(f"{figures} ")
        text.append(eta + "\n", style=style)
        bar_width = width
        if label_width < 4:  # no room beside the figures: the name goes before the bar
            name_width = min(cell_width(label), max(4, width // 3))
            text.append(fit(label, name_width) + " ")
            bar_width = width - name_width - 1
        text.append(fmt.bar(status.progress, bar_width) + "\n", style=self.tones["ok"] if status.reached else "")
