"""Celery tasks: thin, take ids, idempotent (the job row is claimed atomically)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from knowledge import services, sync


# acks_late + reject_on_worker_lost: a worker that dies mid-job hands the message back; the claim in
# job_run makes a second delivery harmless. Where the broker loses it anyway (the filesystem
# broker, a Redis flush), jobs_sweep requeues the job.
@shared_task(bind=True, name="knowledge.ingest_job", acks_late=True, reject_on_worker_lost=True)
def ingest_job(self, *, job_id: int) -> str:
    try:
        return services.job_run(job_id=job_id).outcome
    except services.TransientIngestError as exc:
        return _retry_or_fail(self, job_id, exc)
    except Exception as exc:
        from django.db import DatabaseError

        if isinstance(exc, DatabaseError | OSError):
            return _retry_or_fail(self, job_id, exc)
        services.job_fail(job_id=job_id, error=f"unexpected error: {exc}")
        raise


def _retry_or_fail(task, job_id: int, exc: Exception) -> str:
    # At most INGEST_MAX_RETRIES (≤ 3) retries, with exponential backoff.
    if task.request.retries >= settings.INGEST_MAX_RETRIES:
        services.job_fail(job_id=job_id, error=f"gave up after {task.request.retries + 1} attempts: {exc}")
        return "failed"
    services.job_requeue(job_id=job_id, error=str(exc))
    raise task.retry(exc=exc, countdown=2 ** (task.request.retries + 1), max_retries=settings.INGEST_MAX_RETRIES)


@shared_task(name="knowledge.jobs_sweep")
def jobs_sweep() -> dict[str, int]:
    requeued, failed = services.jobs_sweep()
    return {"requeued": requeued, "failed": failed}


@shared_task(name="knowledge.runs_sweep")
def runs_sweep() -> dict[str, int]:
    requeued, failed = sync.runs_sweep()
    return {"requeued": requeued, "failed": failed}


# One slice of a sync run (SOURCE_SYNC_SLICE_SECONDS), then it queues the next: a long crawl never
# meets the task time limit, and the claim in sync_run makes a second delivery harmless.
@shared_task(name="knowledge.sync_source", acks_late=True, reject_on_worker_lost=True)
def sync_source(*, run_id: int) -> str:
    return sync.sync_run(run_id=run_id, slice_seconds=settings.SOURCE_SYNC_SLICE_SECONDS).state


# Sent by Celery beat from each scheduled source's periodic task (django-celery-beat).
@shared_task(name="knowledge.sync_scheduled")
def sync_scheduled(*, source_id: int) -> int | None:
    run = sync.source_sync_scheduled(source_id=source_id)
    return run.pk if run else None
