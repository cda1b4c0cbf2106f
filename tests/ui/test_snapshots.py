"""Pinned layouts: a change to what the dashboard looks like shows up as a snapshot diff.

Update after an intended change with: pytest tests/ui/test_snapshots.py --snapshot-update
"""

import pytest

from tests.ui.appfixtures import make_app, settle


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_live_layout(snap_compare, size, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=settle)
