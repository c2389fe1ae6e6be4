"""A database or Redis that hangs (accepts the connection, never answers) costs a request a few
seconds and a 503, not a web thread for minutes. Real settings, in a fresh process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import time, django
django.setup()
from django.core.cache import cache
from django.db import connection
from core.errors import unavailable
for name, call in (("cache", lambda: cache.get("k")), ("database", connection.ensure_connection)):
    started = time.monotonic()
    try:
        call()
        print(name, "answered")
    except Exception as exc:
        print(name, round(time.monotonic() - started, 1), unavailable(exc) is not None)
"""


def hanging_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])  # accepted, never answered
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def test_a_hanging_redis_or_database_fails_fast_as_unavailable():
    server, port = hanging_server()
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings_test",
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "REDIS_SOCKET_TIMEOUT_SECONDS": "1",
                "DATABASE_URL": f"postgresql://u:p@127.0.0.1:{port}/db",
                "DB_CONNECT_TIMEOUT_SECONDS": "2",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.close()
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert set(lines) == {"cache", "database"}, result.stderr[-2000:]
    for name, limit in (("cache", 1.5), ("database", 2.5)):
        seconds, mapped = lines[name].split()
        assert float(seconds) <= limit and mapped == "True", (name, lines[name])
