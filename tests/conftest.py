"""Shared fixtures. The database is the real embedded PostgreSQL + pgvector
(or DATABASE_URL); the embedding model is the real one, loaded once."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from config import embedded_db


def pytest_unconfigure(config) -> None:
    # Stop the embedded server if this test session started it.
    if getattr(settings, "USING_EMBEDDED_DB", False) and getattr(settings, "EMBEDDED_DB_STARTED_HERE", False):
        from django.db import connections

        connections.close_all()
        embedded_db.stop(settings.EMBEDDED_PGDATA)


def pytest_terminal_summary(terminalreporter) -> None:
    if shutil.which("chromium") is None:
        terminalreporter.write_sep(
            "!", "BROWSER TESTS SKIPPED: Debian's chromium is not installed", red=True, bold=True
        )


@pytest.fixture(autouse=True)
def _fresh_guard_patterns():
    """The guard keeps the pattern table in memory; every test's database starts from its own state (rows
    of an earlier test were rolled back), so the guard reads it afresh."""
    from guardrails import scoring

    scoring.patterns_changed()
    yield
    scoring.patterns_changed()


@pytest.fixture
def answer_freely(settings):
    """Tests of what happens around a grounded answer (citations, provenance, the LLM composer,
    the console) need one whatever the reader thinks of the question: any candidate is answered.
    Whether the reader answers the right questions is tested on the question sets instead."""
    settings.READER_MIN_ANSWERABLE = 0.0


@pytest.fixture(autouse=True)
def _media_and_uploads(tmp_path, settings):
    settings.UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_user("staff", password="pw", is_staff=True)


@pytest.fixture
def curator(db) -> User:
    user = User.objects.create_user("curator", password="pw", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="curators")[0])
    return user


@pytest.fixture
def agent(db) -> User:
    user = User.objects.create_user("agent", password="pw", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="agents")[0])
    return user


def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis on 127.0.0.1:6379; started when none answers."""
    if not _redis_answers():
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("no Redis answers on 127.0.0.1:6379 and redis-server is not installed")
        subprocess.run(
            [server, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
            check=True,
        )
        for _ in range(50):
            if _redis_answers():
                break
            time.sleep(0.1)
        else:
            pytest.fail("started redis-server but it does not answer")
    return "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    # Critical-topic rules, full-text statistics and the reader's knowledge-base statistics
    # are cached per process, keyed by the knowledge generation; each test's
    # database starts over (generation 1 again), so the caches must too.
    from knowledge import selectors
    from support.pipeline import read, triggers

    def forget():
        triggers.invalidate_rules()
        selectors._stats = None
        read._stats = None

    forget()
    yield
    forget()


@pytest.fixture(scope="session")
def _memoized_chunk_embeddings():
    """Re-ingesting the same demo files in many tests costs the model once.
    The vectors are the real model's; only repeated work is skipped."""
    from core import embeddings

    real = embeddings.embed_with_spans
    memo: dict = {}

    def memoized(texts, spans, **kwargs):
        key = (tuple(texts), tuple(tuple(map(tuple, s)) for s in spans), tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = real(texts, spans, **kwargs)
        return memo[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embeddings, "embed_with_spans", memoized)
        yield


@pytest.fixture
def demo_kb(db, _memoized_chunk_embeddings):
    """The demo help centre, ingested and verified."""
    from demo.loader import DEMO_KB
    from knowledge import services
    from knowledge.sources import read_path

    for job in services.jobs_create(files=read_path(DEMO_KB), verify=True):
        services.job_run(job_id=job.pk)


@pytest.fixture
def live_demo_kb(transactional_db, django_db_serialized_rollback, _memoized_chunk_embeddings):
    from demo.loader import DEMO_KB
    from knowledge import services
    from knowledge.sources import read_path

    for job in services.jobs_create(files=read_path(DEMO_KB), verify=True):
        services.job_run(job_id=job.pk)


@pytest.fixture
def help_site(settings):
    """A help-centre website on 127.0.0.1 (tests/knowledge/help_site.py), empty but for a
    robots.txt that keeps crawlers out of /private/; tests add pages. Never the internet."""
    from tests.knowledge.help_site import HelpSite, serve

    settings.SOURCE_CRAWL_DELAY_SECONDS = 0.0
    settings.SOURCE_FETCH_TIMEOUT_SECONDS = 2.0
    site = HelpSite()
    server = serve(site)
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    yield site
    server.shutdown()
    server.server_close()
