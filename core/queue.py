"""Enqueue a Celery task by its name once the transaction commits.

Services enqueue through here instead of importing their app's tasks module,
so tasks import services and never the other way round (no import circle),
and a worker never looks for a row that is not committed yet."""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def enqueue_on_commit(task_name: str, **kwargs: object) -> None:
    """Run `task_name` with `kwargs` after commit (at once, outside a transaction).

    The task is looked up in the app's registry rather than sent by name, so
    `CELERY_TASK_ALWAYS_EAGER` (tests, `manage.py` runs) is honoured."""
    transaction.on_commit(lambda: _task(task_name).delay(**kwargs))


def _task(name: str):
    if name not in current_app.tasks:
        # Tasks modules are discovered lazily (at worker start); a web process imports them here, once.
        current_app.loader.import_default_modules()
    return current_app.tasks[name]
