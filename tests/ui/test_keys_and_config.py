"""Configurable like its peers: keys remapped by id, the theme, the command palette, the help
screen, and the config reloaded (a key, the palette, SIGUSR1) without losing anything."""

import os
import re
import signal
import time

from textual.command import CommandPalette
from textual.widgets import Input, TabbedContent

from benchmarks.pty_harness import Terminal, strip_ansi
from tests.ui.appfixtures import UiRoom, settle
from warroom.config import BINDING_IDS
from warroom.widgets.alert_forms import AckForm
from warroom.widgets.forms import TicketForm
from warroom.widgets.header import LaunchHeader
from warroom.widgets.help import HelpScreen
from warroom.widgets.problems import ProblemsScreen
from warroom.widgets.tones import tones


def header(app) -> str:
    return str(app.query_one(LaunchHeader).render())


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert condition()


async def test_every_key_has_an_id_the_config_knows(tmp_path):
    app = UiRoom(tmp_path).app()
    ids = [binding_id for _, _, _, binding_id in app.key_table()]
    assert sorted(ids) == sorted(BINDING_IDS)  # and none twice


async def test_a_remapped_key_works_and_the_old_one_does_not(tmp_path):
    extra = '\n[keymap]\n"alerts.ack" = "k"\n"tab.alerts" = "w"\n'
    app = UiRoom(tmp_path, extra=extra).app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert app.query_one(TabbedContent).active == "alerts"
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, AckForm)
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, AckForm)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        keys = {binding_id: keys for _, keys, _, binding_id in app.key_table()}
        assert keys["alerts.ack"] == "k" and keys["tab.alerts"] == "w" and keys["alerts.silence"] == "s"
        shown = str(app.screen.query_one("#help-text").render())
        assert re.search(r"^  k +Ack +Alerts · alerts.ack$", shown, re.M)


async def test_theme_from_the_config(tmp_path):
    app = UiRoom(tmp_path, extra='\n[ui]\ntheme = "textual-light"\n').app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "textual-light"
        light = dict(tones(app))
        app.theme = "textual-dark"
        assert tones(app)["warn"] != light["warn"]  # each theme's own warning colour


async def test_no_color_keeps_contrast(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.no_color
        palette = tones(app)
        # Attributes, not colours (which NO_COLOR greys): nothing that matters is dim.
        assert palette["crit"] == "bold reverse" and palette["warn"] == "bold underline"
        assert "1 FIRING" in header(app)


async def test_the_palette_holds_the_app_commands(tmp_path):
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in (
            "Acknowledge the selected alert",
            "Silence alerts",
            "New ticket",
            "Add a log entry",
            "Export the retrospective",
            "Search",
            "Reload the config",
            "Help",
            "Go to Support",
            "Alert: errors_seen",
        ):
            assert title in titles, title
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"new ticket")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketForm))
        assert app.query_one(TabbedContent).active == "support"


async def test_help_explains_states_conditions_and_sla(tmp_path):
    app = UiRoom(tmp_path).app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for said in (
            "pending",
            "keep_firing_for",
            "silenced",
            "past its crit bound",
            "N FIRING",
            "change(name, 1m, 10m)",
            "absent(name, 5m)",
            "no data",
            "reply 12m",
            "BREACHED",
            "alerts.ack",
        ):
            assert said in text, said
        assert re.search(r"urgent +15m00s / 2h00m", text)  # the config's targets (the defaults here)
        assert app.screen.query_one("#help").size.width <= 80


async def test_reload_applies_a_good_config_and_refuses_a_broken_one(tmp_path):
    room = UiRoom(tmp_path)
    app = room.app()
    path = room.config.path
    good = path.read_text(encoding="utf-8")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("4", "n")
        await pilot.pause()
        form = app.screen
        form.query_one("#subject", Input).value = "typed before the reload"

        path.write_text(
            good.replace('name = "Test launch"', 'name = "Renamed launch"')
            + '\n[ui]\ntheme = "textual-light"\n[tickets]\ncategories = ["paiement", "autre"]\n'
        )
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "Renamed launch" in header(app))
        assert app.theme == "textual-light"
        assert app.screen is form and form.query_one("#subject", Input).value == "typed before the reload"
        assert app.query_one("#support-panel").categories == ("paiement", "autre")

        path.write_text(good + '\n[ui]\ncolour = "pink"\n')
        app.action_reload_config()  # as the palette does
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen))
        problems = str(app.screen.query_one("#problems-text").render())
        assert f"{path}:" in problems and "ui.colour: unknown setting" in problems
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is form and form.query_one("#subject", Input).value == "typed before the reload"
        assert "Renamed launch" in header(app) and app.theme == "textual-light"  # nothing changed


def test_sigusr1_reloads_a_running_dashboard(tmp_path):
    room = UiRoom(tmp_path)
    path = room.config.path
    term = Terminal.spawn(
        [*__import__("benchmarks.pty_harness").pty_harness.warroom_argv("--config", str(path), "--no-recorder")],
        100,
        30,
        cwd=tmp_path,
        env={"XDG_STATE_HOME": str(tmp_path)},
    )
    try:
        assert term.wait_for("Test launch", 30) is not None
        path.write_text(path.read_text(encoding="utf-8").replace('name = "Test launch"', 'name = "Launch B"'))
        os.kill(term.process.pid, signal.SIGUSR1)
        assert term.wait_for("Launch B", 20) is not None, strip_ansi(term.text())[-2000:]
    finally:
        term.stop()
    assert term.process.returncode == 0
