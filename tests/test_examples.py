"""Every config in examples/ passes `warroom check`; a broken one fails, saying where.

The examples are found by glob, so a new one is covered the day it is added. The `${NAME}`
variables a file uses are set to stand-in values here, as an operator would export them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from warroom.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
EXPECTED = {
    "nginx-access-log.toml",
    "prometheus.toml",
    "jsonl-events.toml",
    "websocket-feed.toml",
    "http-stats.toml",
    "helpdesk-tickets.toml",
    "flash-sale.toml",
}


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.toml"))


def set_env_for(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names = sorted(set(ENV.findall(path.read_text(encoding="utf-8"))))
    for name in names:
        monkeypatch.setenv(name, f"test-{name.lower()}")
    return names


def test_the_documented_examples_are_there() -> None:
    assert {p.name for p in example_files()} >= EXPECTED


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_example_passes_check(path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    names = set_env_for(path, monkeypatch)
    status = main(["check", "--config", str(path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.startswith(f"{path}: ok"), out
    for name in names:  # tokens are used, never shown
        assert f"test-{name.lower()}" not in out


def test_flash_sale_has_what_a_launch_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    from warroom.config import load_config

    path = EXAMPLES / "flash-sale.toml"
    set_env_for(path, monkeypatch)
    config = load_config(path)
    assert {s.kind for s in config.sources} == {"file", "websocket", "http"}
    exprs = " ".join(a.expr for a in config.alerts)
    for needed in ("error_rate", "bounce_rate", "absent(orders", "change(visits", "sla_breaches"):
        assert needed in exprs
    assert all(a.runbook for a in config.alerts)
    phases = {p.name for p in config.checklist}
    assert {"Pre-launch tests", "Run of show", "Post-launch"} <= phases
    pre = " ".join(i.title.lower() for i in config.checklist[0].items)
    for test in ("page test", "rules test", "rewards test", "stress test"):
        assert test in pre
    assert all(i.owner and i.due for p in config.checklist for i in p.items)
    assert config.tickets.source == "helpdesk" and config.tickets.sla["urgent"].respond == 600
    assert config.team and config.targets


def _break(lines: list[str], startswith: str, replacement: str) -> int:
    index = next(i for i, line in enumerate(lines) if line.startswith(startswith))
    lines[index] = replacement
    return index + 1


# What an operator might get wrong: (what to replace, its replacement, the message expected).
BREAKAGES = {
    "misspelt source": ('source = "events"', 'source = "event"', "unknown source 'event'"),
    "bad rule": ('expr = "change(visits', 'expr = "change(visits, 2m) >> 200%"', "change() takes"),
    "unknown metric in a rule": ('expr = "sla_breaches', 'expr = "sla_breach > 0"', "unknown metric 'sla_breach'"),
    "bad duration": ('stale_after = "1m"', 'stale_after = "1 minute"', "expected a duration"),
    "missing token": ('headers = { "X-Api-Key"', None, "SHOP_STATS_KEY is not set"),
}


@pytest.mark.parametrize("case", BREAKAGES)
def test_broken_copy_fails_with_a_located_message(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    original = EXAMPLES / "flash-sale.toml"
    set_env_for(original, monkeypatch)
    lines = original.read_text(encoding="utf-8").splitlines()
    startswith, replacement, message = BREAKAGES[case]
    if replacement is None:  # the file is fine, the export was forgotten
        monkeypatch.delenv("SHOP_STATS_KEY")
        line = next(i for i, text in enumerate(lines) if text.startswith(startswith)) + 1
    else:
        line = _break(lines, startswith, replacement)
    broken = tmp_path / "flash-sale.toml"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    status = main(["check", "--config", str(broken)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert any(p.startswith(f"{broken}:{line} ") and message in p for p in err.splitlines()), err


def test_prometheus_ratios_are_charted_as_percentages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A query that divides one rate by another gives a ratio: its metric says `%`, so 0.034
    reads 3.4%, not 0.034 (or, rounded, 0.0)."""
    from warroom.config import load_config

    path = EXAMPLES / "prometheus.toml"
    set_env_for(path, monkeypatch)
    config = load_config(path)
    queries = {name: promql for source in config.sources for name, promql in getattr(source, "queries", {}).items()}
    ratios = [m for m in config.metrics if " / " in queries.get(str(m.where.get("query")), "")]
    assert [m.name for m in ratios] == ["error_ratio"]
    assert all(m.unit == "%" for m in ratios)
