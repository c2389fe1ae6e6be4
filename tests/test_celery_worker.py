"""Background work on a real Redis broker with a real worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery

from knowledge import services
from knowledge.models import Document, IngestionJob
from knowledge.sources import SourceFile
from tests.processes import database_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def worker_env(redis_url, transactional_db, django_db_serialized_rollback, tmp_path) -> dict[str, str]:
    """The environment of a Celery worker process on Redis, using this test's database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "worker-test-secret-key-0123456789-abcdefghijklmnop",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "GROUNDWORK_VAR_DIR": str(tmp_path / "var"),
        "EMBEDDING_WARM_AT_START": "0",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "-Q",
            "celery",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


def stop_worker(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def broker(redis_url) -> Celery:
    app = Celery(broker=redis_url, backend=redis_url)
    app.conf.task_default_queue = "celery"
    app.control.purge()
    return app


@pytest.fixture
def worker(worker_env, broker, tmp_path):
    """A Celery worker process on Redis, using this test's database."""
    process = start_worker(worker_env, tmp_path / "worker.log")
    yield broker
    stop_worker(process)


def test_a_task_runs_on_a_real_redis_broker_in_a_real_worker(worker):
    result = worker.send_task("core.ping", kwargs={"value": "hello from the test"})
    assert result.get(timeout=90) == "hello from the test"


def test_ingestion_job_runs_in_the_worker(worker, settings, tmp_path):
    # given a queued job whose file is on disk
    settings.UPLOAD_DIR = tmp_path / "uploads"
    (job,) = services.jobs_create(
        files=[SourceFile("returns.md", b"# Returns\n\nYou may return a bike within 30 days of delivery.\n")],
        verify=True,
    )
    # when the worker is asked to run it
    worker.send_task("knowledge.ingest_job", kwargs={"job_id": job.pk})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            break
        time.sleep(0.5)
    # then the document is in, verified and current
    assert job.state == IngestionJob.State.DONE, job.error
    assert job.outcome == IngestionJob.Outcome.ADDED and job.progress == 100
    document = Document.objects.get(source_key="returns.md")
    assert document.status == Document.Status.VERIFIED
    assert document.versions.get().chunks.filter(searchable=True).count() >= 1


def test_a_job_whose_worker_is_killed_mid_ingestion_is_swept_and_done_once(worker_env, broker, settings, tmp_path):
    # given: a worker that has claimed a job and is ingesting it
    settings.UPLOAD_DIR = tmp_path / "uploads"
    (job,) = services.jobs_create(
        files=[SourceFile("returns.md", b"# Returns\n\nYou may return a bike within 30 days of delivery.\n")],
        verify=True,
    )
    log = tmp_path / "worker.log"
    first = start_worker(worker_env, log)
    second = None
    try:
        broker.send_task("knowledge.ingest_job", kwargs={"job_id": job.pk})
        _wait(lambda: _state(job) == IngestionJob.State.RUNNING, 60, log)
        # when: it is killed mid-job (SIGKILL: no clean-up, no acknowledgement)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(1)
        job.refresh_from_db()
        assert job.state == IngestionJob.State.RUNNING and job.attempts == 1
        assert not Document.objects.exists()
        # and the hard time limit has passed (its start moved back instead of waiting 690 s)
        IngestionJob.objects.filter(pk=job.pk).update(
            started_at=job.started_at - timedelta(seconds=settings.INGEST_STALE_SECONDS + 1)
        )
        # then: the scheduler's sweep, on a new worker, requeues it and it completes, once
        second = start_worker(worker_env, log)
        broker.send_task("knowledge.jobs_sweep")
        _wait(lambda: _state(job) == IngestionJob.State.DONE, 120, log)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                stop_worker(process)
    job.refresh_from_db()
    assert job.outcome == IngestionJob.Outcome.ADDED and job.attempts == 2
    assert Document.objects.get().versions.count() == 1


def _state(job: IngestionJob) -> str:
    job.refresh_from_db()
    return job.state


def _wait(condition, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out; worker log:\n{log.read_text()[-3000:]}")


def test_a_sync_whose_worker_is_killed_is_requeued_by_the_next_sweep_and_done_once(
    worker_env, broker, help_site, tmp_path, _memoized_chunk_embeddings
):
    # given: a help centre synced once, then three of its pages changed
    from knowledge import sync
    from knowledge.models import DocumentVersion, SyncRun
    from tests.knowledge import pottery_site as studio

    studio.publish(help_site)
    source = sync.source_create(
        name="Studio", kind="website", url=help_site.url(studio.HELP), include=["/help/*"], exclude=["/help/internal/"]
    )
    sync.sync_run(run_id=sync.sync_start(source=source, enqueue=False).pk)
    changed = {**studio.EDITS, "/help/membership": studio.PAGES["/help/membership"].replace("60 pounds", "65")}
    studio.publish(help_site, {**studio.PAGES, **changed})
    env = {**worker_env, "SOURCE_CRAWL_DELAY_SECONDS": "0.5"}
    log = tmp_path / "worker.log"
    first = start_worker(env, log)
    second = None
    try:
        run = sync.sync_start(source=source, enqueue=False)
        broker.send_task("knowledge.sync_source", kwargs={"run_id": run.pk})
        _wait(lambda: SyncRun.objects.get(pk=run.pk).pages_changed >= 1, 90, log)
        # when: the worker is killed mid-run (SIGKILL: no clean-up, no acknowledgement)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = SyncRun.objects.get(pk=run.pk)
        assert killed.state == "running" and killed.pages_left > 0
        # then: the scheduler's next sweep, on a new worker, sees its process gone (no waiting
        # for SOURCE_SYNC_STALE_SECONDS), requeues it, and the new worker finishes it
        second = start_worker(env, log)
        broker.send_task("knowledge.runs_sweep")
        _wait(lambda: SyncRun.objects.get(pk=run.pk).state == "done", 120, log)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                stop_worker(process)
    run = SyncRun.objects.get(pk=run.pk)
    assert run.attempts == 1 and run.pages_changed == 3 and run.pages_new == 0, run.report
    versions = [d.versions.count() for d in Document.objects.filter(source=source).order_by("source_key")]
    assert sorted(versions) == [1, 1, 1, 2, 2, 2]
    assert DocumentVersion.objects.filter(document__source=source).count() == 9
