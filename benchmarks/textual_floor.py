"""The floor under the screen figures: a bare Textual app, one full-screen Static.

    python -m benchmarks.textual_floor [--hz 2]

With `--hz 0` it never updates (the idle floor); otherwise it rewrites one line of the
Static (a clock) `hz` times a second, the least a refreshing dashboard can send. The
screen benchmarks run it on its own pty next to warroom, so their ratios say what warroom
costs beyond Textual itself at the same size and frame rate.
"""

from __future__ import annotations

import argparse
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

FILLER = "the quick brown fox jumps over the lazy dog " * 6


class Floor(App):
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz

    def compose(self) -> ComposeResult:
        yield Static(self._text(), id="floor")

    def on_mount(self) -> None:
        if self.hz:
            self.set_interval(1 / self.hz, self._tick)

    def _text(self) -> str:
        lines = [f"WARROOM floor  {time.time():.3f}"]
        lines += [FILLER[i % 40 :][: max(1, self.size.width - 1)] for i in range(max(1, self.size.height - 1))]
        return "\n".join(lines)

    def _tick(self) -> None:
        self.query_one("#floor", Static).update(self._text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hz", type=float, default=2.0)
    Floor(parser.parse_args().hz).run()


if __name__ == "__main__":
    main()
