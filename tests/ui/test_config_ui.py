"""The screen's settings in config.toml: bounds, theme, keymap, ticket categories, currency.

Each is refused with the file, line and field when it is wrong, as every other setting is.
"""

import pytest

from warroom.config import THEMES, ConfigError, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "launch.toml")
    return caught.value.problems


def test_metric_bounds_read_as_written():
    config = parse_config(
        """
[[metrics]]
name = "latency"
kind = "last"
field = "ms"
warn = 400
crit = "> 1k"

[[metrics]]
name = "stock"
kind = "last"
field = "n"
warn = "< 100"
crit = "<= 10"

[[ratios]]
name = "error_rate"
numerator = "latency"
denominator = "stock"
warn = "5%"
"""
    )
    latency, stock = config.metrics
    assert (latency.warn, latency.crit) == ((">", 400.0), (">", 1000.0))
    assert (stock.warn, stock.crit) == (("<", 100.0), ("<=", 10.0))
    assert config.ratios[0].warn == (">", 0.05)


def test_a_bad_bound_names_its_line_and_field():
    text = '\n[[metrics]]\nname = "x"\nwarn = "about 5"\n'
    assert problems(text) == [
        'launch.toml:4 metrics[0].warn: expected a number or a bound such as "> 5%" or "< 100", got \'about 5\''
    ]


def test_theme_is_one_textual_has():
    from textual.app import App

    assert set(THEMES) <= set(App().available_themes)  # a Textual upgrade that drops one fails here
    assert parse_config('[ui]\ntheme = "textual-light"\n').ui.theme == "textual-light"
    (problem,) = problems('[ui]\ntheme = "solarised"\n')
    assert problem.startswith("launch.toml:2 ui.theme: unknown theme 'solarised'; use one of textual-dark")


def test_keymap_ids_and_keys_are_checked():
    config = parse_config('[keymap]\n"alerts.ack" = "k"\nreload = "f5, ctrl+r"\n')
    assert config.keymap == {"alerts.ack": "k", "reload": "f5, ctrl+r"}
    found = problems('[keymap]\n"alerts.akc" = "k"\nreload = "ctrl r"\n')
    assert found[0].startswith("launch.toml:2 keymap.alerts.akc")
    assert "unknown key binding 'alerts.akc'" in found[0]
    assert (
        found[1] == 'launch.toml:3 keymap.reload: expected key names such as "k", "ctrl+r" or "f5, r", got \'ctrl r\''
    )


def test_ticket_categories_and_currency():
    config = parse_config('[launch]\ncurrency = "€"\n[tickets]\ncategories = ["奖励未到账", "页面错误"]\n')
    assert config.tickets.categories == ["奖励未到账", "页面错误"]
    assert config.launch.currency == "€"
    assert parse_config("").tickets.categories[0] == "reward not received"
    (problem,) = problems("[tickets]\ncategories = []\n")
    assert problem.startswith("launch.toml:2 tickets.categories:")
