"""Ingestion: versions, idempotency, concurrency, verification, bad input, retries."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from core import embeddings
from knowledge import selectors, services
from knowledge.models import Chunk, ChunkTerm, Document, DocumentVersion, IngestionJob
from knowledge.selectors import chunk_search
from knowledge.sources import SourceFile
from tests.factories import RETURNS_MD, make_pdf, make_zip

pytestmark = pytest.mark.django_db


def ingest(key: str, text: str | bytes, *, verify: bool = True) -> IngestionJob:
    data = text.encode() if isinstance(text, str) else text
    (job,) = services.jobs_create(files=[SourceFile(key, data)], verify=verify)
    services.job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def search(question: str, **kwargs):
    return chunk_search(query=question, vector=embeddings.embed_query(question), **kwargs)


def test_new_file_is_added_chunked_embedded_and_searchable():
    job = ingest("returns.md", RETURNS_MD)
    assert (job.state, job.outcome, job.progress) == ("done", "added", 100)
    version = job.version
    assert version.number == 1 and version.is_current and version.verified_at
    chunks = list(version.chunks.all())
    assert job.chunk_count == len(chunks) >= 3
    assert all(c.searchable and len(c.embedding) == 384 for c in chunks)
    assert all(len(c.sentence_vectors) == 2 * 384 * len(c.sentence_spans) for c in chunks)
    top = search("how long do I have to send back an e-bike?", k=1)[0]
    assert top.heading_path == "Returns and refunds › E-bikes"


def test_same_content_again_is_unchanged_and_makes_no_chunks():
    ingest("returns.md", RETURNS_MD)
    chunks_before = Chunk.objects.count()
    job = ingest("returns.md", RETURNS_MD)
    assert job.outcome == "unchanged"
    assert DocumentVersion.objects.count() == 1 and Chunk.objects.count() == chunks_before


def test_changed_file_is_a_new_draft_version_until_verified():
    ingest("returns.md", RETURNS_MD)
    job = ingest("returns.md", RETURNS_MD.replace("14 days", "21 days"), verify=False)
    assert job.outcome == "updated" and job.version.number == 2 and not job.version.is_current
    # search still answers from version 1 only
    hits = search("e-bike return days", k=5)
    assert hits and {h.version_number for h in hits} == {1}
    assert all("21 days" not in h.text for h in hits)
    # verifying switches every chunk over at once
    services.version_verify(version=job.version)
    hits = search("e-bike return days", k=5)
    assert {h.version_number for h in hits} == {2}
    assert any("21 days" in h.text for h in hits)
    old = DocumentVersion.objects.get(number=1)
    assert not old.is_current and old.chunks.filter(searchable=True).count() == 0
    assert old.text and old.chunks.count() > 0  # kept for audit


def test_database_refuses_two_current_versions_and_duplicate_ordinals():
    # (Two versions may share a content hash since a revert is a new version with older text.)
    ingest("returns.md", RETURNS_MD)
    job = ingest("returns.md", RETURNS_MD + "\nMore.", verify=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        DocumentVersion.objects.filter(pk=job.version.pk).update(is_current=True, verified_at="2026-01-01T00:00Z")
    with pytest.raises(IntegrityError), transaction.atomic():
        Chunk.objects.filter(version=job.version).update(ordinal=0)


def test_retired_documents_leave_search_and_can_come_back():
    job = ingest("returns.md", RETURNS_MD)
    services.document_retire(document=job.document)
    assert search("e-bike returns", min_cosine=0) == []
    services.document_restore(document=job.document)
    assert search("e-bike returns")


def test_drafts_are_never_searchable():
    ingest("returns.md", RETURNS_MD, verify=False)
    assert Document.objects.get().status == Document.Status.DRAFT
    assert search("e-bike returns", min_cosine=0) == []


def test_weak_matches_are_dropped_not_padded():
    ingest("returns.md", RETURNS_MD)
    assert search("what colour is the moon at night", k=5) == []
    assert len(search("refund payment method", k=50)) <= Chunk.objects.count()


def test_k_is_capped_by_setting(settings):
    ingest("returns.md", RETURNS_MD)
    settings.SEARCH_MAX_K = 1
    assert len(search("returns refunds e-bikes shipping", k=10, min_cosine=0)) == 1


def test_search_returns_the_top_k_above_the_floor_with_their_sentence_data():
    """The floor and k apply in the SQL: what comes back is the ranked list cut there, never more,
    and each hit carries its chunk's sentence spans and vectors exactly as stored."""
    ingest("returns.md", RETURNS_MD)
    question = "how long do I have to send back an e-bike?"
    everything = search(question, k=50, min_cosine=-1)
    assert len(everything) == Chunk.objects.filter(searchable=True).count()
    floor = everything[2].cosine
    above = search(question, k=50, min_cosine=floor)
    assert above == [h for h in everything if h.cosine >= floor] and len(above) >= 3
    assert search(question, k=2, min_cosine=-1) == everything[:2]
    for hit in everything:
        chunk = Chunk.objects.get(pk=hit.chunk_id)
        assert hit.sentence_spans == chunk.sentence_spans and hit.sentence_vectors == bytes(chunk.sentence_vectors)
        assert hit.version_title == chunk.version.title


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_given_the_same_file_make_one_version():
    jobs = services.jobs_create(files=[SourceFile("returns.md", RETURNS_MD.encode())] * 2, verify=True)
    embeddings.warm()
    barrier = threading.Barrier(2)
    results = {}

    def run(job_id: int) -> None:
        try:
            barrier.wait()
            results[job_id] = services.job_run(job_id=job_id).outcome
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job.pk,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == ["added", "unchanged"]
    assert DocumentVersion.objects.count() == 1
    assert Chunk.objects.filter(searchable=True).count() == Chunk.objects.count() > 0


def test_a_claimed_job_is_not_run_twice():
    (job,) = services.jobs_create(files=[SourceFile("returns.md", RETURNS_MD.encode())], verify=True)
    services.job_run(job_id=job.pk)
    result = services.job_run(job_id=job.pk)  # a redelivered message
    assert result.outcome == "added"
    job.refresh_from_db()
    assert job.attempts == 1 and DocumentVersion.objects.count() == 1


@pytest.fixture
def eager_retries():
    # Eager mode re-runs a retried task inline only when errors do not propagate.
    from config.celery import app

    old = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = old


def test_transient_errors_are_retried_at_most_three_times(monkeypatch, eager_retries):
    from knowledge import tasks

    (job,) = services.jobs_create(files=[SourceFile("returns.md", RETURNS_MD.encode())])
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        raise OSError("disk busy")

    monkeypatch.setattr("pathlib.Path.read_bytes", flaky)
    tasks.ingest_job.apply(kwargs={"job_id": job.pk})
    job.refresh_from_db()
    assert len(calls) == 4  # the first try and 3 retries
    assert job.state == "failed" and "gave up after 4 attempts" in job.error and job.attempts == 4


def test_transient_error_then_success(monkeypatch, eager_retries):
    from pathlib import Path

    from knowledge import tasks

    (job,) = services.jobs_create(files=[SourceFile("returns.md", RETURNS_MD.encode())], verify=True)
    real = Path.read_bytes
    calls = []

    def once_flaky(self):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("temporarily unavailable")
        return real(self)

    monkeypatch.setattr("pathlib.Path.read_bytes", once_flaky)
    tasks.ingest_job.apply(kwargs={"job_id": job.pk})
    job.refresh_from_db()
    assert (job.state, job.outcome, job.attempts) == ("done", "added", 2)


def test_bad_files_in_a_batch_fail_alone(settings, tmp_path):
    settings.INGEST_MAX_FILE_BYTES = 50_000
    archive = make_zip(
        {
            "good/returns.md": RETURNS_MD.encode(),
            "good/warranty.pdf": make_pdf(["Warranty", "", "Frames carry a lifetime warranty."]),
            "../escape.md": b"# x",
            "empty.md": b"",
            "latin1.txt": "Café".encode("cp1252"),
            "photo.png": b"\x89PNG",
            "big.md": b"# Big\n\n" + b"word " * 20_000,
        }
    )
    (tmp_path / "export.zip").write_bytes(archive)
    with pytest.raises(CommandError, match="5 file"):
        call_command("ingest", str(tmp_path / "export.zip"), "--verify")
    jobs = {j.source_key: j for j in IngestionJob.objects.all()}
    assert jobs["good/returns.md"].outcome == "added" and jobs["good/warranty.pdf"].outcome == "added"
    assert "escapes" in jobs["../escape.md"].error
    assert "empty" in jobs["empty.md"].error
    assert "UTF-8" in jobs["latin1.txt"].error
    assert "unsupported" in jobs["photo.png"].error
    assert "limit" in jobs["big.md"].error
    # nothing half-visible: failed files left no documents behind
    assert set(Document.objects.values_list("source_key", flat=True)) == {"good/returns.md", "good/warranty.pdf"}


def test_command_reports_each_outcome(tmp_path, capsys):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text(RETURNS_MD)
    call_command("ingest", str(folder), "--verify")
    (folder / "returns.md").write_text(RETURNS_MD.replace("30 days", "45 days"))
    (folder / "new.txt").write_text("Gift cards\n\nGift cards are valid for 24 months.\n")
    call_command("ingest", str(folder))
    out = capsys.readouterr().out
    assert "added     returns.md" in out
    assert "updated   returns.md" in out and "added     new.txt" in out
    assert "1 added, 1 updated, 0 unchanged, 0 failed" in out


def test_source_key_is_editable_and_unique():
    a = ingest("a.md", "# A\n\nAlpha text here.").document
    ingest("b.md", "# B\n\nBeta text here.")
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="already has"):
        services.document_set_source_key(document=a, source_key="b.md")
    with pytest.raises(ApplicationError, match="relative path"):
        services.document_set_source_key(document=a, source_key="../x.md")
    services.document_set_source_key(document=a, source_key="help/a.md")
    assert ingest("help/a.md", "# A\n\nAlpha text here.").outcome == "unchanged"


def test_full_text_reads_the_rarest_terms_first_within_the_postings_budget(settings):
    ingest("returns.md", RETURNS_MD)
    ingest("shipping.md", "# Shipping\n\nReturns of e-bikes are collected by courier within 14 days.")
    ingest("courier.md", "# Couriers\n\nOur courier calls before delivery. Returns go by courier too.")
    terms = dict(selectors.query_terms("courier odometer"))
    assert set(terms) == {"courier", "odomet"} or set(terms) == {"courier"}
    everything = dict(selectors.query_terms("e-bike returns courier"))
    settings.SEARCH_FTS_MAX_POSTINGS = 1
    bounded = dict(selectors.query_terms("e-bike returns courier"))
    # The budget keeps the rarest term only; without it every known term is read.
    assert len(bounded) == 1 and len(everything) > 1
    rarest = min(everything, key=lambda t: -everything[t])
    assert set(bounded) == {rarest}


def test_postings_follow_searchable_in_the_same_transaction():
    job = ingest("returns.md", RETURNS_MD)
    chunk_ids = set(job.version.chunks.values_list("id", flat=True))
    assert set(ChunkTerm.objects.values_list("chunk_id", flat=True)) == chunk_ids
    one = Chunk.objects.get(pk=min(chunk_ids))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM unnest(%s::tsvector)", [one.search_vector])
        (lexemes,) = cursor.fetchone()
    assert ChunkTerm.objects.filter(chunk=one).count() == lexemes > 0
    services.document_retire(document=job.document)
    assert not ChunkTerm.objects.exists()
    services.document_restore(document=job.document)
    assert set(ChunkTerm.objects.values_list("chunk_id", flat=True)) == chunk_ids
    # A verified new version replaces the old postings; deleting chunks removes theirs.
    job2 = ingest("returns.md", RETURNS_MD.replace("14 days", "21 days"))
    new_ids = set(job2.version.chunks.values_list("id", flat=True))
    assert set(ChunkTerm.objects.values_list("chunk_id", flat=True)) == new_ids
    Chunk.objects.filter(pk__in=new_ids).delete()
    assert not ChunkTerm.objects.exists()


def test_truncating_chunks_empties_the_postings():
    ingest("returns.md", RETURNS_MD)
    assert ChunkTerm.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending deferred checks
        cursor.execute("TRUNCATE knowledge_chunk CASCADE")
    assert not ChunkTerm.objects.exists()


def test_bm25_weighs_a_rare_term_above_a_common_one():
    ingest("a.md", "# Bikes\n\nEvery bike comes with a bell.")
    ingest("b.md", "# Bikes\n\nA bike is shipped in a box.")
    ingest("c.md", "# Bikes\n\nThe bike frame has a warranty.")
    ingest("d.md", "# Odometer\n\nThe odometer shows kilometres.")
    # "bike" matches three documents, "odometer" one: the rare match ranks first.
    hits = search("bike odometer", k=4, mode="text", min_cosine=0)
    assert hits[0].source_key == "d.md"
    assert hits[0].text_score > max(h.text_score for h in hits[1:])


def test_postings_are_vacuumed_after_a_hundredth_of_the_table_changes():
    # Index-only scans need a current visibility map (docs/benchmarks.md: 14 ms -> 4.6 ms).
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'knowledge_chunkterm'")
        (options,) = cursor.fetchone()
    assert "autovacuum_vacuum_insert_scale_factor=0.01" in options
    assert "autovacuum_vacuum_scale_factor=0.01" in options


def test_content_equal_to_an_older_version_becomes_current_again_after_verification():
    # given v1, then v2 (verified)
    v1 = ingest("returns.md", RETURNS_MD)
    ingest("returns.md", RETURNS_MD.replace("14 days", "21 days"))
    assert {h.version_number for h in search("e-bike return days", k=5)} == {2}
    chunks_before = Chunk.objects.count()
    # when v1's text comes back (not verified yet)
    job = ingest("returns.md", RETURNS_MD, verify=False)
    # then it is a new draft version with v1's text and v1's chunks copied (nothing embedded again)
    assert job.outcome == "reverted" and job.version.number == 3 and not job.version.is_current
    assert job.version.content_hash == v1.version.content_hash
    assert Chunk.objects.count() == chunks_before + v1.version.chunks.count()
    assert all("14 days" not in h.text for h in search("e-bike return days", k=5))
    # and once verified it answers, v2 no longer does
    services.version_verify(version=job.version)
    hits = search("e-bike return days", k=5)
    assert {h.version_number for h in hits} == {3}
    assert any("14 days" in h.text for h in hits) and all("21 days" not in h.text for h in hits)


def test_revert_with_verify_answers_at_once():
    ingest("returns.md", RETURNS_MD)
    ingest("returns.md", RETURNS_MD.replace("14 days", "21 days"))
    job = ingest("returns.md", RETURNS_MD, verify=True)
    assert job.outcome == "reverted" and job.version.is_current
    assert any("14 days" in h.text for h in search("e-bike return days", k=5))


def test_unchanged_file_of_a_retired_document_says_so():
    job = ingest("returns.md", RETURNS_MD)
    services.document_retire(document=job.document)
    again = ingest("returns.md", RETURNS_MD)
    assert again.outcome == "retired" and "restore" in again.error
    assert DocumentVersion.objects.count() == 1


def test_two_sources_with_the_same_key_never_collide():
    from knowledge.models import Source

    other = Source.objects.create(name="Help site", kind=Source.Kind.WEBSITE, url="http://example.test/")
    first = ingest("returns.md", RETURNS_MD)
    version, outcome = services.version_ingest(
        source_key="returns.md", data=RETURNS_MD.replace("14 days", "9 days").encode(), source=other
    )
    assert outcome == "added" and version.number == 1
    assert version.document_id != first.document_id
    assert Document.objects.filter(source_key="returns.md").count() == 2
    assert first.document.source.kind == "upload"
