"""The embedded PostgreSQL stops even when its server user can no longer reach the data directory."""

from __future__ import annotations

import os

import pytest

from config import embedded_db

pytestmark = pytest.mark.slow


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as another user only when started by root")
def test_stop_works_when_a_parent_directory_became_private(tmp_path):
    parent = tmp_path / "private"
    pgdata = parent / "pgdata"
    embedded_db.ensure_running(pgdata)
    assert (pgdata / "postmaster.pid").exists()
    # What a second pytest session does to its temp root: only root may enter now.
    parent.chmod(0o700)
    try:
        embedded_db.stop(pgdata)
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        parent.chmod(0o755)
        embedded_db.stop(pgdata)
