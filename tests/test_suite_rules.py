"""The suite's own rules, run on a small suite of their own in a child pytest: a skip is a
skip locally and a failure under CI=true; a hanging test fails on its timeout and the run
goes on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).with_name("conftest.py")

SMALL_SUITE = """
import time

import pytest


def test_needs_a_server_that_is_missing():
    pytest.skip("nginx not found")


def test_hangs():
    time.sleep(600)


def test_after_the_hang():
    pass
"""


def run_small_suite(directory: Path, *args: str, ci: bool) -> str:
    (directory / "conftest.py").write_text(ROOT_CONFTEST.read_text())
    (directory / "test_small.py").write_text(SMALL_SUITE)
    # Only the plugin under test: the others take seconds to load and play no part here.
    env = {key: value for key, value in os.environ.items() if key != "CI"} | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if ci:
        env["CI"] = "true"
    pytest_args = ["-p", "pytest_timeout", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(directory)]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, *args, str(directory / "test_small.py")],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def test_a_skip_is_a_skip_locally_and_a_failure_under_ci(tmp_path: Path) -> None:
    local = run_small_suite(tmp_path, "-k", "missing", ci=False)
    assert "1 skipped" in local and "failed" not in local, local
    in_ci = run_small_suite(tmp_path, "-k", "missing", ci=True)
    assert "1 failed" in in_ci and "skipped" not in in_ci.splitlines()[-1], in_ci
    assert "CI=true, so a skip is a failure" in in_ci and "nginx not found" in in_ci


def test_a_hanging_test_fails_on_its_timeout_and_the_run_goes_on(tmp_path: Path) -> None:
    output = run_small_suite(tmp_path, "--timeout", "2", "-k", "hang", ci=False)
    assert "Timeout (>2.0s) from pytest-timeout" in output, output
    assert "1 failed, 1 passed" in output, output


def test_the_configured_timeout(request: pytest.FixtureRequest) -> None:
    assert request.config.getini("timeout") == "120"
