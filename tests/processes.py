"""What tests that start another process (a web server, a worker, a command) need to give it."""

from __future__ import annotations

from django.db import connection


def database_url() -> str:
    """The URL of the database this test uses (pytest-django's test database), for a child process."""
    db = connection.settings_dict
    password = db["PASSWORD"] or ""
    if db["HOST"]:
        return f"postgresql://{db['USER']}:{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    host = db["OPTIONS"].get("host") or "127.0.0.1"
    return f"postgresql://{db['USER']}:{password}@/{db['NAME']}?host={host}"
