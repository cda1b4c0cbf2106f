import os
import time

import pytest


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
