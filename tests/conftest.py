"""Rules for the whole suite: the installed package under test, no silent skips in CI, and
a way to run a check as an ordinary user.

- The tests import `warroom` from the installed package (site-packages), never from this
  checkout, so a file left out of the wheel fails a test. The checkout stays on sys.path,
  last, for the `tests` and `benchmarks` packages only; child processes get
  PYTHONSAFEPATH=1 so `python -m warroom` run from the checkout imports the installed package
  too.
- Under CI=true a skipped test is a failure: CI installs every server the suite needs, so a
  skip there means an install went wrong. Locally a skip stays a skip, with its reason.
- A recorder that a test's dashboard started in the background (it would record for an hour
  after the dashboard left) is stopped when the test ends, so it does not load the rest of
  the run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _is_checkout(entry: str) -> bool:
    return Path(entry or os.getcwd()).resolve() == CHECKOUT


sys.path[:] = [entry for entry in sys.path if not _is_checkout(entry)] + [str(CHECKOUT)]
os.environ["PYTHONSAFEPATH"] = "1"


# --------------------------------------------------------------------------- no skips in CI


def _fail_if_skipped_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true, so a skip is a failure (CI installs every server the tests need): {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    _fail_if_skipped_in_ci(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    report = yield
    _fail_if_skipped_in_ci(report)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    import warroom

    skips = "every skip is a failure (CI=true)" if IN_CI else "skips are allowed (CI is not set)"
    return [f"warroom under test: {Path(warroom.__file__).parent}", f"skips: {skips}"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    stats = terminalreporter.stats
    ran = sum(len(stats.get(key, [])) for key in ("passed", "failed", "xfailed", "xpassed"))
    skipped = len(stats.get("skipped", []))
    terminalreporter.write_line(f"tests run: {ran}, skipped: {skipped}")


# --------------------------------------------------------------------------- recorders left behind


def _recorders_of(directory: Path) -> list[int]:
    """Pids of `warroom record` processes whose command line names a path in `directory`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"warroom" in args and b"record" in args and any(str(directory).encode() in arg for arg in args):
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def _stop_recorders_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    directory = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if directory is None:
        return
    pids = _recorders_of(directory)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- ordinary user


UNPRIVILEGED_USER = "nobody"


@pytest.fixture
def run_unprivileged(tmp_path: Path) -> Iterator[Callable[[Callable[[Path], None]], None]]:
    """`run_unprivileged(check)` calls `check(directory)` as a user who, unlike root, is
    refused files without write permission.

    As root (CI runs as root) the check runs in a forked child that has switched to the
    user `nobody`, in a directory that user owns: a fork and not a new interpreter, because
    the interpreter may live under /root, where `nobody` cannot run it. The child's
    traceback, if any, fails the test.
    """
    if os.geteuid() != 0:
        yield lambda check: check(tmp_path)
        return
    try:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        pytest.skip(f"no user {UNPRIVILEGED_USER!r} to drop root privileges to")
    directory = Path(tempfile.mkdtemp(prefix="warroom-unprivileged-"))
    os.chown(directory, user.pw_uid, user.pw_gid)

    def run(check: Callable[[Path], None]) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: drop root, run the check, report through the pipe
            status = 1
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
                check(directory)
                status = 0
            except BaseException:
                os.write(write_end, traceback.format_exc().encode())
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            child_traceback = pipe.read().decode(errors="replace")
        _, wait_status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(wait_status) != 0:
            pytest.fail(f"the check failed as user {UNPRIVILEGED_USER!r}:\n{child_traceback}", pytrace=False)

    try:
        yield run
    finally:
        shutil.rmtree(directory, ignore_errors=True)
