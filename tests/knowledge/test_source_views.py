"""The sources screens over HTTP: who may do what, and that each button does it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from knowledge import sync
from knowledge.models import Document, Source, SyncRun
from tests.knowledge.help_site import article

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_site(help_site, _memoized_chunk_embeddings):
    help_site.page("/", article("Help", "<p>Answers about orders and returns for every customer.</p>", links=("/a",)))
    help_site.page("/a", article("Returns", "<p>Return any unused item within 30 days for a full refund.</p>"))
    return help_site


def test_staff_read_curators_act(client, staff_user, curator, small_site):
    source = sync.source_create(name="Help", kind="website", url=small_site.url("/"))
    client.force_login(staff_user)
    assert client.get(reverse("knowledge:sources")).status_code == 200
    assert client.get(reverse("knowledge:source", args=[source.pk])).status_code == 200
    assert client.post(reverse("knowledge:source-run", args=[source.pk])).status_code in (302, 403)
    assert not SyncRun.objects.exists()
    assert client.get(reverse("knowledge:source-new")).status_code in (302, 403)


def test_add_and_sync_now_then_verify_all(client, curator, small_site, django_capture_on_commit_callbacks):
    client.force_login(curator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("knowledge:source-new"),
            {"name": "Help", "kind": "website", "url": small_site.url("/"), "schedule": "off", "sync_now": "1"},
        )
    source = Source.objects.get(name="Help")
    assert response.status_code == 302 and response["Location"] == reverse("knowledge:source", args=[source.pk])
    run = SyncRun.objects.get(source=source)  # eager in tests: the sync ran on commit
    assert run.state == "done" and run.pages_new == 2
    page = client.get(reverse("knowledge:source", args=[source.pk])).content.decode()
    assert "0 changed, 2 new, 0 gone" in page and "Verify all 2" in page
    assert "Pages (2)" in page and small_site.url("/a") in page
    client.post(reverse("knowledge:source-verify", args=[source.pk]))
    assert Document.objects.filter(source=source, status="verified").count() == 2
    # the htmx poll gets the run partial only
    partial = client.get(reverse("knowledge:source", args=[source.pk]), headers={"HX-Request": "true"})
    assert b'id="source-run"' in partial.content and b"<html" not in partial.content


def test_bad_input_is_shown_on_the_form(client, curator, tmp_path):
    client.force_login(curator)
    response = client.post(reverse("knowledge:source-new"), {"name": "X", "kind": "website", "schedule": "off"})
    assert response.status_code == 200 and b"Give the help centre" in response.content
    response = client.post(
        reverse("knowledge:source-new"), {"name": "X", "kind": "folder", "folder": "/etc", "schedule": "off"}
    )
    assert b"must lie under" in response.content and not Source.objects.filter(name="X").exists()


def test_schedule_form(client, curator, small_site):
    from django_celery_beat.models import PeriodicTask

    source = sync.source_create(name="Help", kind="website", url=small_site.url("/"))
    client.force_login(curator)
    client.post(reverse("knowledge:source-schedule", args=[source.pk]), {"schedule": "hourly", "auto_verify": "on"})
    source.refresh_from_db()
    assert source.schedule == "hourly" and source.auto_verify
    assert PeriodicTask.objects.get(name=f"sync source {source.pk}").enabled


def test_reuploading_a_retired_documents_file_offers_restore(
    client, curator, _memoized_chunk_embeddings, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from knowledge import services

    version, _ = services.version_ingest(source_key="returns.md", data=b"# Returns\n\nThirty days to return.\n")
    services.document_retire(document=version.document)
    client.force_login(curator)
    upload = SimpleUploadedFile("returns.md", b"# Returns\n\nThirty days to return.\n", content_type="text/markdown")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("knowledge:upload"), {"files": [upload]})
    page = client.get(reverse("knowledge:jobs")).content.decode()
    assert "unchanged, but its document is retired" in page
    assert reverse("knowledge:restore", args=[version.document_id]) in page


def test_edit_form_shows_and_saves_name_address_and_patterns(client, curator, small_site):
    source = sync.source_create(name="Help", kind="website", url=small_site.url("/"), exclude=["/blog/*"])
    client.force_login(curator)
    page = client.get(reverse("knowledge:source-edit", args=[source.pk])).content.decode()
    assert 'value="Help"' in page and small_site.url("/") in page and "/blog/*</textarea>" in page
    response = client.post(
        reverse("knowledge:source-edit", args=[source.pk]),
        {"name": "Help centre", "url": small_site.url("/"), "include": "", "exclude": "/blog/*\n/a$\n"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("knowledge:source", args=[source.pk])
    source.refresh_from_db()
    assert source.name == "Help centre" and source.exclude_patterns == ["/blog/*", "/a$"]
    page = client.get(response["Location"]).content.decode()
    assert "retired by the next sync" in page and "<code>/a$</code>" in page
    # a bad pattern is shown on the form, nothing saved
    response = client.post(
        reverse("knowledge:source-edit", args=[source.pk]),
        {"name": "Help centre", "url": small_site.url("/"), "include": "help/*", "exclude": ""},
    )
    assert response.status_code == 200 and b"start it with /" in response.content
    assert Source.objects.get(pk=source.pk).include_patterns == []


def test_delete_asks_first_then_retires_the_documents(client, staff_user, curator, small_site):
    source = sync.source_create(name="Help", kind="website", url=small_site.url("/"), auto_verify=True)
    run = sync.sync_start(source=source, enqueue=False)
    sync.sync_run(run_id=run.pk)
    client.force_login(staff_user)
    assert client.post(reverse("knowledge:source-delete", args=[source.pk])).status_code in (302, 403)
    assert Source.objects.get(pk=source.pk).deleted_at is None
    client.force_login(curator)
    confirm = client.get(reverse("knowledge:source-delete", args=[source.pk])).content.decode()
    assert "Delete Help?" in confirm and "<strong>2 documents</strong> are retired" in confirm
    assert "stays readable" in confirm and Source.objects.get(pk=source.pk).deleted_at is None
    response = client.post(reverse("knowledge:source-delete", args=[source.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("knowledge:sources")
    page = response.content.decode()
    assert "Help is deleted: 2 document(s) retired" in page
    assert reverse("knowledge:source", args=[source.pk]) not in page  # no longer listed
    assert set(Document.objects.filter(source=source).values_list("status", flat=True)) == {"retired"}
    # its page stays readable (documents link to it), without buttons; the forms are gone
    page = client.get(reverse("knowledge:source", args=[source.pk])).content.decode()
    assert 'id="source-deleted"' in page and "Sync now" not in page and "Leave out" not in page
    assert client.get(reverse("knowledge:source-edit", args=[source.pk])).status_code == 404
    assert client.post(reverse("knowledge:source-delete", args=[source.pk])).status_code == 404


def test_leave_out_a_page_from_its_report_row(client, curator, small_site):
    source = sync.source_create(name="Help", kind="website", url=small_site.url("/"), auto_verify=True)
    run = sync.sync_start(source=source, enqueue=False)
    sync.sync_run(run_id=run.pk)
    client.force_login(curator)
    page = client.get(reverse("knowledge:source", args=[source.pk])).content.decode()
    assert page.count(f'name="key" value="{small_site.url("/a")}"') == 2  # its report row and its page row
    assert f'name="key" value="{small_site.url("/")}"' not in page  # never the start page
    response = client.post(reverse("knowledge:source-exclude", args=[source.pk]), {"key": small_site.url("/a")})
    assert response.status_code == 302
    page = client.get(reverse("knowledge:source", args=[source.pk])).content.decode()
    assert "is left out from now on (/a$" in page
    assert Document.objects.get(source=source, source_key=small_site.url("/a")).status == "retired"
    response = client.post(reverse("knowledge:source-exclude", args=[source.pk]), {"key": "https://x.test/a"})
    assert "is not a page of" in client.get(reverse("knowledge:source", args=[source.pk])).content.decode()
