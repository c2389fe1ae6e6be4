"""Curation screens and the document viewer, through HTTP."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from knowledge.models import Document, DocumentVersion, IngestionJob
from tests.factories import RETURNS_MD, make_zip
from tests.knowledge.test_ingestion import ingest

pytestmark = pytest.mark.django_db


def upload(client, *files, verify=True, capture=None):
    payload = {"files": list(files)}
    if verify:
        payload["verify"] = "on"
    with capture(execute=True):
        return client.post(reverse("knowledge:upload"), payload)


def test_anonymous_users_are_sent_to_login(client):
    for name in ("knowledge:documents", "knowledge:jobs", "knowledge:upload"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_customers_and_non_staff_get_403(client):
    client.force_login(User.objects.create_user("someone"))
    assert client.get(reverse("knowledge:documents")).status_code == 403


def test_staff_who_are_not_curators_can_read_but_not_change(client, agent):
    doc = ingest("returns.md", RETURNS_MD).document
    client.force_login(agent)
    assert client.get(reverse("knowledge:documents")).status_code == 200
    assert client.get(reverse("knowledge:document", args=[doc.pk])).status_code == 200
    assert client.get(reverse("knowledge:upload")).status_code == 403
    assert client.post(reverse("knowledge:retire", args=[doc.pk])).status_code == 403
    doc.refresh_from_db()
    assert doc.status == Document.Status.VERIFIED


def test_upload_files_and_a_zip_makes_one_job_per_file(client, curator, django_capture_on_commit_callbacks):
    client.force_login(curator)
    response = upload(
        client,
        SimpleUploadedFile("returns.md", RETURNS_MD.encode()),
        SimpleUploadedFile(
            "export.zip", make_zip({"help/gift.txt": b"Gift cards\n\nValid for 24 months.", "bad.exe": b"MZ"})
        ),
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302 and "/kb/jobs/?batch=" in response["Location"]
    jobs = {j.source_key: j for j in IngestionJob.objects.all()}
    assert jobs["returns.md"].outcome == "added" and jobs["help/gift.txt"].outcome == "added"
    assert jobs["bad.exe"].state == "failed" and "unsupported" in jobs["bad.exe"].error
    page = client.get(response["Location"])
    assert b"help/gift.txt" in page.content and b"unsupported file type" in page.content


def test_upload_without_files_shows_an_error(client, curator):
    client.force_login(curator)
    response = client.post(reverse("knowledge:upload"), {})
    assert response.status_code == 200 and b"This field is required" in response.content


def test_upload_over_the_size_limit_fails_that_file_only(client, curator, settings, django_capture_on_commit_callbacks):
    settings.INGEST_MAX_FILE_BYTES = 100
    client.force_login(curator)
    upload(
        client,
        SimpleUploadedFile("big.md", b"# Big\n\n" + b"x " * 200),
        SimpleUploadedFile("small.md", b"# Small\n\nTiny."),
        capture=django_capture_on_commit_callbacks,
    )
    jobs = {j.source_key: j for j in IngestionJob.objects.all()}
    assert "limit" in jobs["big.md"].error and jobs["small.md"].outcome == "added"


def test_jobs_partial_polls_only_while_work_is_active(client, staff_user):
    ingest("returns.md", RETURNS_MD)
    client.force_login(staff_user)
    done = client.get(reverse("knowledge:jobs"), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' not in done.content
    IngestionJob.objects.update(state="running", progress=40)
    running = client.get(reverse("knowledge:jobs"), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' in running.content and b'value="40"' in running.content
    assert b"<html" not in running.content  # a partial, not the page


def test_diff_verify_and_retire_from_the_document_page(client, curator):
    doc = ingest("returns.md", RETURNS_MD).document
    ingest("returns.md", RETURNS_MD.replace("14 days", "21 days"), verify=False)
    client.force_login(curator)
    page = client.get(reverse("knowledge:document", args=[doc.pk]))
    assert b"waiting for verification" in page.content
    diff = client.get(reverse("knowledge:diff", args=[doc.pk, 2]))
    assert diff.status_code == 200
    assert b"14 days" in diff.content and b"21 days" in diff.content and b"1 changed line" in diff.content
    client.post(reverse("knowledge:verify", args=[doc.pk, 2]))
    assert DocumentVersion.objects.get(is_current=True).number == 2
    client.post(reverse("knowledge:retire", args=[doc.pk]))
    doc.refresh_from_db()
    assert doc.status == "retired"


def test_source_key_edit_reports_conflicts(client, curator):
    a = ingest("a.md", "# A\n\nAlpha.").document
    ingest("b.md", "# B\n\nBeta.")
    client.force_login(curator)
    response = client.post(reverse("knowledge:source_key", args=[a.pk]), {"source_key": "b.md"}, follow=True)
    assert b"already has the source key" in response.content
    a.refresh_from_db()
    assert a.source_key == "a.md"


def test_viewer_highlights_the_cited_chunk_and_hides_drafts_from_customers(client):
    job = ingest("returns.md", RETURNS_MD)
    chunk = job.version.chunks.get(heading_path__endswith="E-bikes")
    response = client.get(reverse("version_view", args=[job.document_id, 1]) + f"?chunk={chunk.pk}")
    assert response.status_code == 200
    assert f'class="chunk highlight" id="chunk-{chunk.pk}"'.encode() in response.content
    draft = ingest("returns.md", RETURNS_MD + "\nDraft only.", verify=False)
    assert client.get(reverse("version_view", args=[draft.document_id, 2])).status_code == 404
    # an old version stays readable after a newer one is verified (citations keep working)
    from knowledge import services

    services.version_verify(version=draft.version)
    old = client.get(reverse("version_view", args=[job.document_id, 1]))
    assert old.status_code == 200 and b"superseded" in old.content
