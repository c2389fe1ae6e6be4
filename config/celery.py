"""The Celery app. Tasks are thin: they take ids and call services."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("groundwork")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_worker(**_: object) -> None:
    # Every worker process loads the embedding model once, before its first task.
    from django.conf import settings

    from core import embeddings
    from core.startup import verify_services
    from guardrails import decoding

    verify_services()
    if settings.EMBEDDING_WARM_AT_START:
        embeddings.warm(ingestion=True)
        decoding.warm()  # the guard's word tables (0.1-0.4 s), not inside the first customer request


@app.task(name="core.ping")
def ping(value: str = "pong") -> str:
    return value
