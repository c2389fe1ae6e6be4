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


def test_an_inherited_runtime_dir_is_made_private(tmp_path, monkeypatch):
    """platformdirs warns on a runtime dir that is not 0700, and the warning broke one-line
    start-up errors; a runtime dir set by the parent process is created (or made) private here."""
    from config import embedded_db

    inherited = tmp_path / "inherited-run"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(inherited))
    embedded_db._prepare_runtime_dir(tmp_path / "pgdata")
    assert inherited.is_dir() and inherited.stat().st_mode & 0o777 == 0o700
    inherited.chmod(0o755)
    embedded_db._prepare_runtime_dir(tmp_path / "pgdata")
    assert inherited.stat().st_mode & 0o777 == 0o700
