"""Config validation: every problem reported with file, line and field; secrets from env."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from warroom.cli import main
from warroom.config import ConfigError, load_config, locate, parse_config, resolve_panels

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
[[sources]]
name = "web"
kind = "file"
path = "/tmp/access.log"
format = "nginx"

[[metrics]]
name = "visits"
source = "web"
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "room.toml")
    return caught.value.problems


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("EVENTS_TOKEN", "t0k3n")
    config = load_config(ROOT / "config.toml")
    assert {s.name for s in config.sources} == {"web", "events", "stats"}
    assert config.secrets == ("t0k3n",)
    traffic, conversion = resolve_panels(config)
    assert traffic.chart == "visits" and conversion.funnel[-1] == "orders"


def test_every_problem_has_file_line_and_field():
    text = (
        MINIMAL
        + """
[[sources]]
name = "feed"
kind = "websocket"
url = "http://wrong-scheme"
colour = "blue"
"""
    )
    problems = problems_of(text)
    assert "room.toml:15 sources[1].url: expected a ws:// or wss:// address" in problems[0]
    assert problems[1] == "room.toml:16 sources[1].colour: unknown setting (check the spelling)"


def test_references_to_unknown_names_are_located():
    text = (
        MINIMAL
        + """
[[ratios]]
name = "conv"
numerator = "orders"
denominator = "visits"

[panels.traffic]
metrics = ["visits", "nope"]
"""
    )
    problems = problems_of(text)
    assert problems == [
        "room.toml:14 ratios[0].numerator: unknown metric 'orders' (known: visits)",
        "room.toml:18 panels.traffic.metrics[1]: unknown metric 'nope' (known: visits, conv)",
    ]


def test_toml_syntax_error_names_the_line():
    (problem,) = problems_of('[launch]\nname = "x"\nat = \n')
    assert problem.startswith("room.toml:3: not valid TOML")


def test_bad_kind_duration_and_regex():
    problems = problems_of("""
[[sources]]
name = "x"
kind = "carrier-pigeon"

[[sources]]
name = "y"
kind = "file"
path = "/tmp/y"
stale_after = "soon"
format = "regex"
pattern = "(unclosed"
""")
    assert any("sources[0].kind" in p and "websocket, http, prometheus, file" in p for p in problems)
    assert any(p.startswith("room.toml:10 sources[1].stale_after") and "duration" in p for p in problems)


def test_secret_from_environment_is_required_and_scrubbed(monkeypatch):
    text = """
[[sources]]
name = "feed"
kind = "websocket"
url = "ws://127.0.0.1:9/feed"
headers = { Authorization = "Bearer ${FEED_TOKEN}" }
"""
    monkeypatch.delenv("FEED_TOKEN", raising=False)
    assert problems_of(text) == [
        "room.toml:6 sources[0].headers.Authorization: environment variable FEED_TOKEN is not set"
    ]
    monkeypatch.setenv("FEED_TOKEN", "s3cret")
    config = parse_config(text)
    assert config.sources[0].headers["Authorization"] == "Bearer s3cret"
    assert config.scrub("header was Bearer s3cret") == "header was Bearer ***"


def test_check_command_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    assert main(["check", "--config", str(good)]) == 0
    assert "web          file       /tmp/access.log" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('source = "web"', 'source = "wbe"'))
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:10 metrics[0].source: unknown source 'wbe'" in err
    assert "Traceback" not in err
    assert main(["check", "--config", str(tmp_path / "missing.toml")]) == 2
    # The dashboard command, with or without its name, refuses the broken file the same way.
    assert main(["--config", str(bad)]) == 2
    assert main(["run", "--config", str(bad), "--operator", "ana"]) == 2
    assert "metrics[0].source" in capsys.readouterr().err


def test_secrets_do_not_appear_in_describe():
    config = parse_config("""
[[sources]]
name = "poll"
kind = "http"
url = "https://user:pw@example.com/stats?token=abc"
""")
    assert config.sources[0].describe() == "https://example.com/stats"


def test_locate_finds_nested_tables():
    text = "[ui]\nrefresh_hz = 2\n\n[panels.traffic]\nchart = 'x'\n"
    assert locate(text, ("ui", "refresh_hz")) == 2
    assert locate(text, ("panels", "traffic", "chart")) == 5


def test_alert_rule_errors_are_located():
    problems = problems_of(
        MINIMAL
        + """
[[alerts]]
name = "broken"
expr = "visits > "

[[alerts]]
name = "unknown_metric"
expr = "rate(vistis, 1m) > 5"

[[alerts]]
name = "queue"
expr = "sla_breaches > 0 or open_tickets > 50"
"""
    )
    assert problems[0].startswith("room.toml:14 alerts[0].expr: expected a number")
    assert problems[1].startswith("room.toml:18 alerts[1].expr: unknown metric 'vistis'")  # in the same run
    assert len(problems) == 2
    fixed = (
        MINIMAL
        + """
[[alerts]]
name = "unknown_metric"
expr = "rate(vistis, 1m) > 5"

[[alerts]]
name = "queue"
expr = "sla_breaches > 0 or open_tickets > 50"
"""
    )
    assert problems_of(fixed) == [
        "room.toml:14 alerts[0].expr: unknown metric 'vistis' (known: visits, open_tickets, "
        "unassigned_tickets, sla_breaches, median_first_response, median_resolution)"
    ]


def test_structure_and_reference_problems_are_reported_together():
    problems = problems_of(
        MINIMAL.replace('source = "web"', 'source = "wbe"')
        + """
[[sources]]
name = "feed"
kind = "websocket"
url = "http://wrong-scheme"
"""
    )
    assert any("sources[1].url" in p for p in problems)
    assert any(p.startswith("room.toml:10 metrics[0].source: unknown source 'wbe'") for p in problems)


# --------------------------------------------------------------------------- hostile configs

DEEP = 100_000


@pytest.mark.parametrize(
    "value",
    [
        "[" * DEEP + "]" * DEEP,
        "{ a = " * DEEP + "1" + " }" * DEEP,
        "[" + "{ a = [" * (DEEP // 2) + "1" + "] }" * (DEEP // 2) + "]",
    ],
    ids=["arrays", "inline-tables", "both"],
)
def test_deeply_nested_values_are_a_located_error(value):
    (problem,) = problems_of(f'[launch]\nname = "x"\n\n[ui]\nrefresh_hz = {value}\n')
    assert problem == "room.toml:5: not valid here: arrays and inline tables nested deeper than 64 levels"


def test_nesting_inside_strings_and_comments_does_not_count():
    text = 'name = "' + "[" * 500 + '"\n# ' + "{" * 500 + "\nother = '''\n" + "[" * 500 + "\n'''\n"
    problems = problems_of("[launch]\n" + text)
    assert all("nested" not in p for p in problems)
    assert problems == ["room.toml:4 launch.other: unknown setting (check the spelling)"]


def test_a_deep_dotted_key_is_a_located_error_not_a_traceback():
    text = '[launch]\nname = "x"\n' + ".".join(["a"] * 5_000) + " = 1\n"
    (problem,) = problems_of(text)
    assert problem.startswith("room.toml:3: ")


def test_syntax_error_at_the_end_of_the_document_is_located():
    (problem,) = problems_of('[launch]\nname = "x"\nat = [1,\n')
    assert problem.startswith("room.toml:3: not valid TOML") or problem.startswith("room.toml:4: not valid TOML")


def test_check_command_on_a_hostile_config_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "deep.toml"
    bad.write_text("[ui]\nrefresh_hz = " + "[" * DEEP + "]" * DEEP + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "warroom", "check", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"{bad}:2: not valid here: arrays and inline tables nested deeper")
    assert "Traceback" not in done.stderr


def many_problems(count: int) -> tuple[str, list[str]]:
    """A config with `count` problems of four kinds, and the line each must be reported at."""
    parts = ['[[sources]]\nname = "web"\nkind = "file"\npath = "/tmp/a.log"\n']
    line = 5
    expected = []
    for i in range(count):
        kind = i % 4
        body = [
            f'name = "m{i}"',
            ('sourec = "web"', 'source = "nope"', 'kind = "avg"', "where = { status = { around = 5 } }")[kind],
        ]
        parts.append("[[metrics]]\n" + "\n".join(body) + "\n")
        field = ("sourec", "source", "kind", "where")[kind]
        expected.append(f"big.toml:{line + 2} metrics[{i}].{field}")
        line += 3
    return "".join(parts), expected


def test_four_thousand_problems_are_all_reported_each_at_its_line():
    text, expected = many_problems(4000)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "big.toml")
    seconds_4000 = time.perf_counter() - started
    problems = caught.value.problems
    assert len(problems) == 4000
    assert sorted(p.split(":")[0] + ":" + p.split(":")[1] for p in problems) == sorted(expected)
    small, _ = many_problems(1000)
    started = time.perf_counter()
    with pytest.raises(ConfigError):
        parse_config(small, "big.toml")
    seconds_1000 = time.perf_counter() - started
    # A figure, not a test of speed: how the time grows with the number of problems.
    print(
        f"\nconfig problems: 1,000 in {seconds_1000:.2f} s, 4,000 in {seconds_4000:.2f} s "
        f"(x{seconds_4000 / seconds_1000:.1f} for 4x the problems)"
    )


def test_setting_one_sla_keeps_the_defaults_of_the_others():
    config = parse_config('[tickets]\nsla.urgent = { respond = "10m", resolve = "1h" }\n')
    sla = config.tickets.sla
    assert (sla["urgent"].respond, sla["urgent"].resolve) == (600, 3600)
    assert (sla["high"].respond, sla["high"].resolve) == (30 * 60, 4 * 3600)
    assert (sla["normal"].respond, sla["normal"].resolve) == (2 * 3600, 24 * 3600)
    assert (sla["low"].respond, sla["low"].resolve) == (8 * 3600, 72 * 3600)
