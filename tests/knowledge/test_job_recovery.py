"""Jobs that survive their worker: the sweep requeues a job left `running`, at most 3 attempts,
then fails it with the reason; nothing runs twice; a curator can retry a failed job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from knowledge import services, tasks
from knowledge.models import DocumentVersion, IngestionJob
from knowledge.sources import SourceFile
from tests.factories import RETURNS_MD

pytestmark = pytest.mark.django_db


def abandoned_job(*, attempts: int, seconds_ago: int) -> IngestionJob:
    """A job as a worker killed mid-ingestion leaves it: claimed, part done, never finished."""
    (job,) = services.jobs_create(files=[SourceFile("returns.md", RETURNS_MD.encode())], verify=True)
    IngestionJob.objects.filter(pk=job.pk).update(
        state=IngestionJob.State.RUNNING,
        attempts=attempts,
        progress=20,
        started_at=timezone.now() - timedelta(seconds=seconds_ago),
    )
    return job


def test_the_sweep_requeues_a_job_whose_worker_died_and_it_completes_once(settings, django_capture_on_commit_callbacks):
    # given
    job = abandoned_job(attempts=1, seconds_ago=settings.INGEST_STALE_SECONDS + 5)
    # when: the scheduler's sweep runs (the requeued task runs inline on commit)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = tasks.jobs_sweep()
    # then
    assert result == {"requeued": 1, "failed": 0} and len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == IngestionJob.State.DONE and job.outcome == "added" and job.attempts == 2
    assert DocumentVersion.objects.count() == 1
    # a late redelivery of the dead worker's message changes nothing
    assert services.job_run(job_id=job.pk).outcome == "added"
    job.refresh_from_db()
    assert job.attempts == 2 and DocumentVersion.objects.count() == 1


def test_a_job_still_within_its_time_limit_is_left_alone(settings, django_capture_on_commit_callbacks):
    job = abandoned_job(attempts=1, seconds_ago=settings.INGEST_STALE_SECONDS - 60)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.jobs_sweep() == (0, 0)
    assert callbacks == []
    job.refresh_from_db()
    assert job.state == IngestionJob.State.RUNNING


def test_after_three_attempts_the_job_fails_with_the_reason(settings, django_capture_on_commit_callbacks):
    job = abandoned_job(attempts=3, seconds_ago=settings.INGEST_STALE_SECONDS + 5)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.jobs_sweep() == (0, 1)
    assert callbacks == []
    job.refresh_from_db()
    assert job.state == IngestionJob.State.FAILED and job.outcome == "failed"
    assert job.error == "gave up after 3 attempts: the worker stopped during attempt 3 (at 20%)"
    # nor may a redelivered message take over a job that has used its attempts
    IngestionJob.objects.filter(pk=job.pk).update(state=IngestionJob.State.RUNNING)
    assert services.job_run(job_id=job.pk).outcome != "added"
    assert DocumentVersion.objects.count() == 0


def test_two_sweeps_at_once_requeue_a_job_once(settings, django_capture_on_commit_callbacks):
    job = abandoned_job(attempts=1, seconds_ago=settings.INGEST_STALE_SECONDS + 5)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.jobs_sweep()
        second = services.jobs_sweep()
    assert first == (1, 0) and second == (0, 0) and len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == IngestionJob.State.QUEUED and job.error.startswith("requeued: the worker stopped")


def test_the_ingest_task_is_handed_back_when_its_worker_dies(settings):
    from config.celery import app

    assert tasks.ingest_job.acks_late and tasks.ingest_job.reject_on_worker_lost
    assert app.conf.task_reject_on_worker_lost
    assert settings.CELERY_BEAT_SCHEDULE["jobs-sweep"]["task"] == "knowledge.jobs_sweep"
    assert settings.INGEST_STALE_SECONDS > settings.CELERY_TASK_TIME_LIMIT


def test_the_redis_visibility_timeout_outlasts_the_longest_job():
    import os
    import subprocess
    import sys

    code = (
        "from django.conf import settings as s; "
        "print(s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], s.CELERY_TASK_TIME_LIMIT)"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "REDIS_URL": "redis://127.0.0.1:6379/15"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    visibility, time_limit = map(int, out[-2:])
    assert visibility > time_limit


def test_a_curator_retries_a_failed_job_from_the_jobs_screen(client, curator, django_capture_on_commit_callbacks):
    # given: a job that gave up
    job = abandoned_job(attempts=3, seconds_ago=10_000)
    services.jobs_sweep()
    client.force_login(curator)
    page = client.get("/kb/jobs/")
    assert f"/kb/jobs/{job.pk}/retry/".encode() in page.content
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/kb/jobs/{job.pk}/retry/")
    # then
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == IngestionJob.State.DONE and job.outcome == "added" and job.attempts == 1
    # a job that is not failed cannot be retried
    client.post(f"/kb/jobs/{job.pk}/retry/")
    job.refresh_from_db()
    assert job.state == IngestionJob.State.DONE and DocumentVersion.objects.count() == 1


def test_only_curators_retry(client, agent):
    job = abandoned_job(attempts=3, seconds_ago=10_000)
    services.jobs_sweep()
    client.force_login(agent)
    assert f"/kb/jobs/{job.pk}/retry/".encode() not in client.get("/kb/jobs/").content
    assert client.post(f"/kb/jobs/{job.pk}/retry/").status_code == 403
    job.refresh_from_db()
    assert job.state == IngestionJob.State.FAILED
