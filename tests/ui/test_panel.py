"""The bordered panel every Live-tab figure is drawn in."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from warroom.widgets.panel import Panel


class OnePanel(App):
    CSS = "Panel { height: auto; }"

    def compose(self) -> ComposeResult:
        yield Panel("Alerts", id="panel")


async def test_an_auto_height_panel_left_short_grows_to_its_text_on_the_next_refresh():
    """At start-up a panel's reflow could be lost while the screen was still being laid out,
    leaving a four-line text in a one-line box; showing the same text again never asked for
    another reflow, so the box stayed short until the text's line count changed."""
    app = OnePanel()
    async with app.run_test(size=(60, 20)) as pilot:
        panel = app.query_one(Panel)
        panel.show(Text("one line"))
        await pilot.pause()
        assert panel.content_size.height == 1
        four = Text("a\nb\nc\nd")
        panel.update(four, layout=False)  # the text changed and the reflow was lost
        panel._shown = four
        await pilot.pause()
        assert panel.content_size.height == 1  # the state the snapshot caught
        panel.show(four)  # the next refresh, with the same text
        await pilot.pause()
        assert panel.content_size.height == 4


class CappedPanel(App):
    CSS = "Panel { height: auto; max-height: 5; }"

    def compose(self) -> ComposeResult:
        yield Panel("Sources", id="panel")


async def test_a_panel_held_by_its_max_height_is_not_reflowed_at_every_refresh():
    """Ten lines in a box of three: it is as tall as it may be, which is not short."""
    app = CappedPanel()
    async with app.run_test(size=(60, 20)) as pilot:
        panel = app.query_one(Panel)
        reflows: list[bool] = []
        update = panel.update
        panel.update = lambda content, layout=True: (reflows.append(layout), update(content, layout=layout))[1]
        ten = Text("\n".join(f"source {n}" for n in range(10)))
        panel.show(ten)
        await pilot.pause()
        assert panel.content_size.height == 3
        panel.show(Text(ten.plain.replace("source 9", "source 9!")))  # same lines, new text
        await pilot.pause()
        assert reflows == [True, False]
