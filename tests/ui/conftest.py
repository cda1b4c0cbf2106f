import os
import time

import pytest

from tests.ui.appfixtures import close_all, fixed_host


@pytest.fixture(autouse=True)
def utc_local_time():
    """Screens show local time; pin it so snapshots are the same on every machine."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture(autouse=True)
def rooms_closed_after_each_test(monkeypatch):
    """One host name for every recorder line on screen; every room closed at the end."""
    fixed_host(monkeypatch)
    yield
    close_all()
