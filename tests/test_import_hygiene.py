"""What `import warroom` gets: the installed package, whole, and a core without the screen.

- The core (everything but the screen modules below) is plain Python: importing any core
  module in a fresh interpreter must not load `textual` or `rich`. The modules are
  enumerated from the package, so a new module is covered without a change here.
- The tests run against the installed package, not the checkout, so a file left out of the
  wheel fails here (and in the tests that use it) instead of on a user's machine.
"""

from __future__ import annotations

import filecmp
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import warroom

CHECKOUT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGE = CHECKOUT / "warroom"
INSTALLED_PACKAGE = Path(warroom.__file__).resolve().parent

# Only these may import Textual (and Rich, which it is built on): the README's "Everything
# but app.py and widgets/ is plain Python without Textual". A new screen package goes here.
SCREEN_MODULES = ("warroom.app", "warroom.widgets")
FORBIDDEN = ("textual", "rich")


def _raise(name: str) -> None:
    raise ImportError(f"cannot import {name} to look for its modules")


def core_modules() -> list[str]:
    """Every module of the installed package outside the screen; `__main__` runs the program
    when imported, so it is left out."""
    found = ["warroom", *(m.name for m in pkgutil.walk_packages(warroom.__path__, "warroom.", onerror=_raise))]
    return [
        name
        for name in found
        if not name.startswith(tuple(f"{screen}." for screen in SCREEN_MODULES))
        and name not in SCREEN_MODULES
        and not name.endswith(".__main__")
    ]


@pytest.fixture(scope="module")
def loaded_by_each_core_module(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], str]]:
    """module -> (forbidden modules it loaded, stderr), each imported in a fresh interpreter.

    The interpreters run side by side (the imports take a few seconds each on a loaded
    machine), from an empty directory.
    """
    directory = tmp_path_factory.mktemp("fresh")
    probe = (
        "import importlib, sys; importlib.import_module(sys.argv[1]); "
        "print(','.join(m for m in {!r} if m in sys.modules))"
    )

    def load(module: str) -> tuple[list[str], str]:
        done = subprocess.run(
            [sys.executable, "-c", probe.format(FORBIDDEN), module],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            return ["<import failed>"], done.stderr
        return [m for m in done.stdout.strip().split(",") if m], done.stderr

    modules = [*core_modules(), "warroom.app"]  # the app: the probe's control
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        return dict(zip(modules, pool.map(load, modules), strict=True))


@pytest.mark.parametrize("module", core_modules())
def test_core_module_does_not_load_textual_or_rich(module: str, loaded_by_each_core_module) -> None:
    leaked, stderr = loaded_by_each_core_module[module]
    assert not leaked, (
        f"importing {module} loads {leaked}; only {', '.join(SCREEN_MODULES)} may import Textual or Rich\n{stderr}"
    )


def test_the_enumeration_leaves_out_the_screen_only_and_the_probe_sees_textual(loaded_by_each_core_module) -> None:
    modules = core_modules()
    assert {"warroom", "warroom.config", "warroom.engine", "warroom.store.base", "warroom.cli"} <= set(modules)
    assert not [m for m in modules if m.startswith(("warroom.app", "warroom.widgets"))]
    assert loaded_by_each_core_module["warroom.app"][0] == ["textual", "rich"]


def _installed_or_skip() -> None:
    if SOURCE_PACKAGE.resolve() == INSTALLED_PACKAGE:
        pytest.skip(
            "warroom is imported from the checkout (an editable install); "
            "CI tests the installed wheel: pip install '.[test]'"
        )


def test_the_tests_import_the_installed_package() -> None:
    """A skip here is a failure under CI=true: CI tests what `pip install .` installs."""
    _installed_or_skip()


def test_a_child_started_in_the_checkout_imports_the_installed_package() -> None:
    """Tests start `python -m warroom` with the checkout as working directory."""
    _installed_or_skip()
    done = subprocess.run(
        [sys.executable, "-c", "import warroom; print(warroom.__file__)"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()).resolve().parent == INSTALLED_PACKAGE


def _files(package: Path) -> set[str]:
    return {
        str(path.relative_to(package))
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_installed_package_has_every_file_of_the_checkout_unchanged() -> None:
    """A file missing from the wheel (a data file the build config leaves out) fails here;
    so does an install older than the checkout, which would test old code."""
    _installed_or_skip()
    source = _files(SOURCE_PACKAGE)
    missing = sorted(source - _files(INSTALLED_PACKAGE))
    assert not missing, f"not in the installed package {INSTALLED_PACKAGE}: {missing}"
    _, changed, errors = filecmp.cmpfiles(SOURCE_PACKAGE, INSTALLED_PACKAGE, sorted(source), shallow=False)
    assert not changed + errors, (
        f"the installed warroom differs from the checkout in {changed + errors}: "
        "run pip install '.[test]' again (or pip install -e '.[test]' while editing)"
    )
