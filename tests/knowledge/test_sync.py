"""Syncing a website source end to end against a local site: first sync, unchanged pages (304),
changed and reverted pages, deleted pages retired on the second miss, robots.txt, PDFs, failures
in the report, the page cap, a worker that dies mid-run, and the scheduler."""

from __future__ import annotations

import json
import socket
import subprocess
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core import embeddings
from knowledge import crawler, selectors, sync
from knowledge.models import Document, DocumentVersion, Source, SourceItem, SyncRun, upload_source_id
from knowledge.selectors import chunk_search
from tests.factories import make_pdf
from tests.knowledge.help_site import article

pytestmark = pytest.mark.django_db

NAV = ("/returns", "/shipping", "/warranty", "/manual.pdf", "/private/staff", "/old-shipping")
RETURNS_V1 = (
    "<p>You can return any unused item within 30 days of delivery for a full refund.</p>"
    "<h2>E-bikes</h2><p>E-bikes must be returned within 14 days and the battery must be above 30 percent.</p>"
)
RETURNS_V2 = RETURNS_V1.replace("within 14 days", "within 21 days")
SHIPPING = "<p>Standard shipping takes 3 to 5 working days and is free for orders over 50 euros.</p>"
WARRANTY = "<p>Every frame carries a lifetime warranty; other parts are covered for two years.</p>"


@pytest.fixture
def site(help_site, _memoized_chunk_embeddings):
    help_site.page("/", article("Acme Help Centre", "<p>Find answers about orders, returns and bikes.</p>", links=NAV))
    help_site.page("/returns", article("Returns and refunds", RETURNS_V1, links=NAV))
    help_site.page("/shipping", article("Shipping", SHIPPING, links=NAV))
    help_site.page("/warranty", article("Warranty", WARRANTY, links=NAV))
    help_site.page(
        "/manual.pdf",
        make_pdf(["E-bike manual", "Charge the battery fully before the first ride, for at least 6 hours."]),
        content_type="application/pdf",
    )
    help_site.page("/private/staff", article("Staff", "<p>Internal discount codes for staff only.</p>"))
    help_site.redirect("/old-shipping", "/shipping")
    return help_site


@pytest.fixture
def source(site, curator):
    return sync.source_create(name="Acme help", kind="website", url=site.url("/"), user=curator)


def run_sync(source: Source) -> SyncRun:
    run = sync.sync_start(source=source, enqueue=False)
    return sync.sync_run(run_id=run.pk)


def doc(site, path: str) -> Document:
    return Document.objects.get(source_key=site.url(path))


def search(question: str):
    return chunk_search(query=question, vector=embeddings.embed_query(question), k=5)


def test_first_sync_makes_a_draft_document_per_page_without_the_template(site, source):
    run = run_sync(source)
    assert run.state == "done" and run.error == ""
    keys = set(Document.objects.filter(source=source).values_list("source_key", flat=True))
    assert keys == {site.url(p) for p in ("/", "/returns", "/shipping", "/warranty", "/manual.pdf")}
    assert run.pages_new == 5 and run.pages_failed == 0
    # the redirect is one document, under the address it lands on
    assert site.asked("/old-shipping") and not Document.objects.filter(source_key=site.url("/old-shipping")).exists()
    # robots.txt: the staff page was never asked for
    assert site.asked("/private/staff") == []
    text = DocumentVersion.objects.get(document=doc(site, "/returns")).text
    assert "14 days" in text
    for template in ("cookie", "All rights reserved", "Related articles"):
        assert template.lower() not in text.lower()
    assert doc(site, "/manual.pdf").versions.get().source_format == "pdf"
    # auto-verify is off: nothing answers until a curator verifies, in one click
    assert search("how long to return an e-bike") == []
    review = selectors.source_review(source)
    assert (review.new, review.changed, review.gone) == (5, 0, 0)
    assert sync.source_verify_pending(source=source) == 5
    top = search("how long do I have to return an e-bike")[0]
    assert "14 days" in top.text and top.heading_path == "Returns and refunds › E-bikes"
    assert selectors.source_review(source).total == 0


def test_unchanged_pages_make_no_version_and_are_asked_conditionally(site, source):
    run_sync(source)
    versions = DocumentVersion.objects.count()
    run = run_sync(source)
    assert run.pages_new == 0 and run.pages_changed == 0 and run.pages_unchanged == 5
    assert DocumentVersion.objects.count() == versions
    last = site.asked("/returns")[-1]
    assert last.headers.get("If-None-Match") and last.status == 304


def test_changed_page_is_a_new_version_for_review_and_revert_comes_back(site, source):
    run_sync(source)
    sync.source_verify_pending(source=source)
    site.page("/returns", article("Returns and refunds", RETURNS_V2, links=NAV))
    run = run_sync(source)
    assert run.pages_changed == 1 and run.pages_new == 0
    assert [r["key"] for r in run.report if r["outcome"] == "changed"] == [site.url("/returns")]
    assert selectors.source_review(source).changed == 1
    assert any("14 days" in h.text for h in search("how long do I have to return an e-bike"))  # v1 until verified
    sync.source_verify_pending(source=source)
    assert any("21 days" in h.text for h in search("how long do I have to return an e-bike"))
    # reverted to its earlier text: a third version with v1's text, answering once verified
    site.page("/returns", article("Returns and refunds", RETURNS_V1, links=NAV))
    run = run_sync(source)
    assert run.pages_changed == 1
    versions = list(doc(site, "/returns").versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2, 3] and versions[2].content_hash == versions[0].content_hash
    sync.source_verify_pending(source=source)
    hits = search("how long do I have to return an e-bike")
    assert any("14 days" in h.text for h in hits) and not any("21 days" in h.text for h in hits)


def test_auto_verify_source_answers_at_once(site, curator):
    source = sync.source_create(name="Trusted", kind="website", url=site.url("/"), auto_verify=True)
    run_sync(source)
    assert any("14 days" in h.text for h in search("how long do I have to return an e-bike"))
    assert selectors.source_review(source).total == 0


def test_deleted_page_is_retired_on_the_second_run_in_a_row(site, source):
    run_sync(source)
    sync.source_verify_pending(source=source)
    site.remove("/warranty")
    first = run_sync(source)
    assert first.pages_gone == 1 and doc(site, "/warranty").status == "verified"
    assert selectors.source_review(source).gone == 1
    second = run_sync(source)
    assert second.pages_retired == 1 and doc(site, "/warranty").status == "retired"
    assert not any("lifetime" in h.text for h in search("what does the frame warranty cover"))
    assert selectors.source_review(source).gone == 1
    # a third run changes nothing more, and says nothing more
    third = run_sync(source)
    assert third.pages_retired == 0 and third.pages_gone == 0 and doc(site, "/warranty").status == "retired"
    assert not [r for r in third.report if r["outcome"] in ("gone", "retired")]
    assert selectors.source_review(source).gone == 0
    # and the page coming back restores its document
    site.page("/warranty", article("Warranty", WARRANTY, links=NAV))
    back = run_sync(source)
    assert back.pages_changed == 1 and doc(site, "/warranty").status == "verified"


def test_a_page_gone_once_then_back_is_never_retired(site, source):
    run_sync(source)
    site.remove("/warranty")
    run_sync(source)
    site.page("/warranty", article("Warranty", WARRANTY, links=NAV))
    run_sync(source)
    site.remove("/warranty")
    run_sync(source)
    assert doc(site, "/warranty").status != "retired"
    assert SourceItem.objects.get(key=site.url("/warranty")).misses == 1


def test_failed_pages_are_listed_with_their_reason(site, source, settings):
    settings.SOURCE_FETCH_TIMEOUT_SECONDS = 0.5
    settings.SOURCE_MAX_PAGE_BYTES = 200_000
    links = (*NAV, "/slow", "/huge", "/loop-a", "/nowhere", "/broken")
    site.page("/", article("Acme Help Centre", "<p>Find answers about orders, returns and bikes.</p>", links=links))
    site.page("/slow", article("Slow", "<p>late</p>"), delay=2.0)
    site.page("/huge", "<p>" + "word " * 60_000 + "</p>")
    site.redirect("/loop-a", "/loop-b")
    site.redirect("/loop-b", "/loop-a")
    site.page("/broken", "oops", status=500)
    run = run_sync(source)
    assert run.state == "done" and source.__class__.objects.get(pk=source.pk).status == "partial"
    reasons = {r["key"].removeprefix(site.base): r["reason"] for r in run.failures}
    assert set(reasons) == {"/slow", "/huge", "/loop-a", "/nowhere", "/broken"}
    assert "timed out" in reasons["/slow"]
    assert "SOURCE_MAX_PAGE_BYTES" in reasons["/huge"]
    assert "redirect loop" in reasons["/loop-a"]
    assert "broken link" in reasons["/nowhere"]
    assert "HTTP 500" in reasons["/broken"]
    assert run.pages_failed == 5 and run.pages_new == 5


def test_page_cap_stops_the_crawl_and_says_so(site, source, settings):
    settings.SOURCE_MAX_PAGES = 3
    run = run_sync(source)
    assert run.pages_seen == 3 and Document.objects.filter(source=source).count() <= 3
    assert any(r["outcome"] == "capped" and "SOURCE_MAX_PAGES=3" in r["reason"] for r in run.report)


def test_include_and_exclude_patterns(site, curator):
    source = sync.source_create(
        name="Only returns", kind="website", url=site.url("/"), include=["/", "/returns"], exclude=["/returns/old"]
    )
    run_sync(source)
    keys = set(Document.objects.filter(source=source).values_list("source_key", flat=True))
    # "/" as a prefix takes everything; the exact include list is shell patterns
    assert site.url("/returns") in keys
    narrow = sync.source_create(name="Narrow", kind="website", url=site.url("/returns"), include=["/returns"])
    run_sync(narrow)
    assert set(Document.objects.filter(source=narrow).values_list("source_key", flat=True)) == {site.url("/returns")}


def test_sitemap_source_fetches_the_listed_pages(site):
    sitemap = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    sitemap += f"<url><loc>{site.url('/returns')}</loc></url><url><loc>{site.url('/warranty')}</loc></url></urlset>"
    site.page("/sitemap.xml", sitemap, content_type="application/xml")
    source = sync.source_create(name="By sitemap", kind="website", url=site.url("/sitemap.xml"))
    run = run_sync(source)
    keys = set(Document.objects.filter(source=source).values_list("source_key", flat=True))
    assert keys == {site.url("/returns"), site.url("/warranty")} and run.pages_new == 2


def test_unreachable_site_fails_the_run_and_retires_nothing(site, source):
    run_sync(source)
    site.page("/", "down for maintenance", status=503)
    for _ in range(3):
        run = run_sync(source)
        assert run.state == "failed" and "could not be read" in run.error
    assert not Document.objects.filter(status="retired").exists()
    assert Source.objects.get(pk=source.pk).status == "failed"


class _WorkerDied(BaseException):
    """Stands in for a killed worker: nothing after it runs."""


def test_a_worker_that_dies_mid_run_is_resumed_without_duplicates(site, source):
    run = sync.sync_start(source=source, enqueue=False)
    seen = []

    def die_after_two(progress: SyncRun) -> None:
        seen.append(progress.pages_seen)
        if progress.pages_seen == 2:
            raise _WorkerDied()

    with pytest.raises(_WorkerDied):
        sync.sync_run(run_id=run.pk, on_progress=die_after_two)
    # the run is left running, owned by a dead worker; a fresh claim is refused until it is stale
    assert sync.sync_run(run_id=run.pk).pages_seen == 2
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert sync.runs_sweep() == (1, 0)
    assert SyncRun.objects.get(pk=run.pk).state == "queued"
    run = sync.sync_run(run_id=run.pk)  # what the requeued task does
    assert run.state == "done" and run.attempts == 1
    assert run.pages_new == 5 and run.pages_seen == 5 + 1  # and the page robots.txt keeps us from
    assert Document.objects.filter(source=source).count() == 5
    for document in Document.objects.filter(source=source):
        assert document.versions.count() == 1


def test_a_run_held_by_a_dead_process_on_this_machine_is_taken_over_at_once(site, source):
    run = sync.sync_start(source=source, enqueue=False)

    def die_after_two(progress: SyncRun) -> None:
        if progress.pages_seen == 2:
            raise _WorkerDied()

    with pytest.raises(_WorkerDied):
        sync.sync_run(run_id=run.pk, on_progress=die_after_two)
    # held by a live process (pid 1): left alone
    SyncRun.objects.filter(pk=run.pk).update(worker=f"{socket.gethostname()}:1")
    assert sync.sync_run(run_id=run.pk).state == "running"
    # held by a process that is gone (the CLI killed with -9, a worker that crashed): taken over now
    dead = subprocess.Popen(["true"])
    dead.wait()
    SyncRun.objects.filter(pk=run.pk).update(worker=f"{socket.gethostname()}:{dead.pid}")
    run = sync.sync_run(run_id=run.pk)
    assert run.state == "done" and run.attempts == 1 and run.pages_new == 5
    assert Document.objects.filter(source=source).count() == 5
    assert all(d.versions.count() == 1 for d in Document.objects.filter(source=source))


def test_one_active_run_per_source(source):
    first = sync.sync_start(source=source, enqueue=False)
    second = sync.sync_start(source=source, enqueue=False)
    assert first.pk == second.pk and SyncRun.objects.count() == 1


def test_schedule_is_a_periodic_task_in_celery_beat(source):
    from django_celery_beat.models import PeriodicTask

    assert not PeriodicTask.objects.filter(name=f"sync source {source.pk}").exists()
    sync.source_set_schedule(source=source, schedule="hourly", auto_verify=False)
    task = PeriodicTask.objects.get(name=f"sync source {source.pk}")
    assert task.enabled and task.task == "knowledge.sync_scheduled"
    assert (task.interval.every, task.interval.period) == (1, "hours")
    assert json.loads(task.kwargs) == {"source_id": source.pk}
    sync.source_set_schedule(source=source, schedule="daily", auto_verify=True)
    task = PeriodicTask.objects.get(name=f"sync source {source.pk}")
    assert task.interval.period == "days"
    sync.source_set_schedule(source=source, schedule="off", auto_verify=True)
    assert not PeriodicTask.objects.filter(name=f"sync source {source.pk}").exists()


def test_a_beat_tick_starts_one_run_however_often_it_arrives(source, monkeypatch):
    started = []
    monkeypatch.setattr(sync, "sync_start", lambda **kw: started.append(kw) or SyncRun(pk=len(started)))
    sync.source_set_schedule(source=source, schedule="hourly", auto_verify=False)
    now = timezone.now()
    assert sync.source_sync_scheduled(source_id=source.pk, now=now) is not None
    assert sync.source_sync_scheduled(source_id=source.pk, now=now) is None  # the same tick again
    assert sync.source_sync_scheduled(source_id=source.pk, now=now + timedelta(minutes=20)) is None
    assert sync.source_sync_scheduled(source_id=source.pk, now=now + timedelta(hours=1)) is not None
    assert len(started) == 2 and started[0]["trigger"] == "schedule"
    sync.source_set_schedule(source=source, schedule="off", auto_verify=False)
    assert sync.source_sync_scheduled(source_id=source.pk, now=now + timedelta(hours=5)) is None


def test_commands_add_list_and_sync(site, capsys):
    call_command("sources", "add", "--name", "Help", "--url", site.url("/"), "--schedule", "daily")
    call_command("sources", "list")
    out = capsys.readouterr().out
    assert "Help" in out and "website" in out and "daily" in out
    call_command("sync", "Help")
    out = capsys.readouterr().out
    assert "5 new" in out and "0 failed" in out and "sources verify" in out
    call_command("sources", "verify", "Help")
    assert "5 document(s) of Help verified" in capsys.readouterr().out
    assert Document.objects.filter(source__name="Help", status="verified").count() == 5
    site.remove("/warranty")
    call_command("sync", "Help")
    out = capsys.readouterr().out
    assert "gone" in out and site.url("/warranty") in out
    with pytest.raises(CommandError, match="no source named"):
        call_command("sync", "Nope")
    site.page("/", "down", status=503)
    with pytest.raises(CommandError, match="could not sync"):
        call_command("sync", "Help")


def test_folder_source(tmp_path, _memoized_chunk_embeddings):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\n\nReturn any unused item within 30 days for a full refund.\n")
    (folder / "shipping.md").write_text("# Shipping\n\nStandard shipping takes 3 to 5 working days.\n")
    source = sync.source_create(name="Folder", kind="folder", folder=str(folder))
    assert run_sync(source).pages_new == 2
    (folder / "returns.md").write_text("# Returns\n\nReturn any unused item within 45 days for a full refund.\n")
    (folder / "shipping.md").unlink()
    run = run_sync(source)
    assert run.pages_changed == 1 and run.pages_gone == 1
    assert run_sync(source).pages_retired == 1
    assert Document.objects.get(source=source, source_key="shipping.md").status == "retired"
    # the same key in the uploads is another document
    from knowledge import services

    services.version_ingest(source_key="returns.md", data=b"# Returns\n\nUploaded copy of the text.\n")
    assert Document.objects.filter(source_key="returns.md").count() == 2


def test_folder_sources_from_the_screen_stay_under_the_roots(tmp_path):
    from core.errors import ApplicationError

    inside = tmp_path / "allowed" / "kb"
    inside.mkdir(parents=True)
    sync.source_create(name="ok", kind="folder", folder=str(inside), folder_roots=[tmp_path / "allowed"])
    with pytest.raises(ApplicationError, match="must lie under"):
        sync.source_create(name="no", kind="folder", folder="/etc", folder_roots=[tmp_path / "allowed"])


def test_rel_canonical_folds_variants_of_a_page_but_never_other_pages(site, source):
    links = (*NAV, "/returns?ref=home")
    site.page("/", article("Acme Help Centre", "<p>Find answers about orders, returns and bikes.</p>", links=links))
    canonical = f'<link rel="canonical" href="{site.url("/returns")}"></head>'
    site.page("/returns", article("Returns and refunds", RETURNS_V1, links=NAV).replace("</head>", canonical))
    home = f'<link rel="canonical" href="{site.url("/")}">'
    site.page("/shipping", article("Shipping", SHIPPING, links=NAV).replace("</head>", home + "</head>"))
    run_sync(source)
    keys = set(Document.objects.filter(source=source).values_list("source_key", flat=True))
    assert site.url("/returns?ref=home") not in keys and site.url("/returns") in keys
    assert site.url("/shipping") in keys  # its canonical names the home page: ignored


def test_a_run_in_slices_goes_on_where_it_stopped(site, source):
    run = sync.sync_start(source=source, enqueue=False)
    slices = 0
    while run.state != "done" and slices < 20:
        run = sync.sync_run(run_id=run.pk, slice_seconds=0.001)  # one page per slice
        slices += 1
    assert run.state == "done" and slices > 5
    assert run.pages_new == 5 and Document.objects.filter(source=source).count() == 5
    assert DocumentVersion.objects.filter(document__source=source).count() == 5


def test_stale_runs_are_swept_by_the_scheduler(settings):
    from knowledge import tasks

    assert settings.CELERY_BEAT_SCHEDULE["sync-runs-sweep"]["task"] == "knowledge.runs_sweep"
    assert tasks.runs_sweep() == {"requeued": 0, "failed": 0}


def test_a_run_whose_worker_keeps_dying_fails_after_three_takeovers(source):
    run = sync.sync_start(source=source, enqueue=False)
    old = timezone.now() - timedelta(hours=1)
    SyncRun.objects.filter(pk=run.pk).update(state="running", heartbeat_at=old, attempts=sync.RUN_MAX_TAKEOVERS)
    assert sync.runs_sweep() == (0, 1)
    run.refresh_from_db()
    assert run.state == "failed" and "gave up" in run.error
    assert Source.objects.get(pk=source.pk).status == "failed"
    assert sync.sync_start(source=source, enqueue=False).pk != run.pk  # a new run may start


# --- Editing, deleting, leaving a page out ----------------------------------------------------------


def test_narrowed_patterns_retire_pages_on_the_next_sync_and_widened_ones_bring_them_back(site, source):
    run_sync(source)
    sync.source_verify_pending(source=source)
    sync.source_update(source=source, exclude=["/warranty", "/manual.pdf$"])
    assert doc(site, "/warranty").status == "verified"  # nothing happens before the sync
    asked = len(site.asked("/warranty"))
    run = run_sync(source)
    excluded = {r["key"]: r["reason"] for r in run.report if r["outcome"] == "excluded"}
    assert set(excluded) == {site.url("/warranty"), site.url("/manual.pdf")}
    assert "outside the source's address or patterns" in excluded[site.url("/warranty")]
    assert run.pages_retired == 2 and len(site.asked("/warranty")) == asked  # not even fetched
    assert doc(site, "/warranty").status == "retired" and doc(site, "/warranty").versions.count() == 1
    assert not any("lifetime" in h.text for h in search("what does the frame warranty cover"))
    # the next sync has nothing more to say about them
    again = run_sync(source)
    assert not [r for r in again.report if r["outcome"] == "excluded"] and again.pages_retired == 0
    # widened again: back, with the text they had (a 304 or the same hash makes no version)
    sync.source_update(source=source, exclude=[])
    back = run_sync(source)
    restored = {r["key"] for r in back.report if r["outcome"] == "restored"}
    assert restored == {site.url("/warranty"), site.url("/manual.pdf")}
    assert doc(site, "/warranty").status == "verified" and doc(site, "/warranty").versions.count() == 1
    assert any("lifetime" in h.text for h in search("what does the frame warranty cover"))


def test_a_page_retired_by_hand_stays_retired_when_patterns_leave_it_out_and_let_it_in(site, source):
    from knowledge import services

    run_sync(source)
    services.document_retire(document=doc(site, "/warranty"))
    sync.source_update(source=source, exclude=["/warranty"])
    run = run_sync(source)
    assert [r["key"] for r in run.report if r["outcome"] == "excluded"] == [site.url("/warranty")]
    assert not [r for r in run_sync(source).report if r["outcome"] == "excluded"]  # said once
    sync.source_update(source=source, exclude=[])
    run_sync(source)
    assert doc(site, "/warranty").status == "retired"


def test_a_new_address_retires_the_old_sites_pages(site, source, help_site):
    from tests.knowledge.help_site import HelpSite, serve

    run_sync(source)
    other = HelpSite()
    server = serve(other)
    try:
        other.page("/", article("New help", "<p>Our new help centre answers questions about deliveries.</p>"))
        sync.source_update(source=source, url=other.url("/"))
        run = run_sync(source)
    finally:
        server.shutdown()
        server.server_close()
    assert run.pages_new == 1 and run.pages_retired == 5
    live = Document.objects.filter(source=source).exclude(status="retired")
    assert [d.source_key for d in live] == [other.url("/")]


def test_exact_path_patterns_leave_out_one_page_only():
    scope = crawler.Scope.of("https://h.test/", exclude=["/returns$", crawler.exact_pattern("https://h.test/a[1]*?")])
    assert not scope.allows("https://h.test/returns")
    assert scope.allows("https://h.test/returns-policy") and scope.allows("https://h.test/returns/e-bikes")
    assert not scope.allows("https://h.test/a[1]*") and scope.allows("https://h.test/a1x")
    assert crawler.Scope.of("https://h.test/", exclude=["/returns"]).allows("https://h.test/returns-policy") is False


def test_edits_are_checked(site, source, curator, settings, tmp_path):
    from core.errors import ApplicationError

    other = sync.source_create(name="Other", kind="website", url=site.url("/shipping"))
    with pytest.raises(ApplicationError, match="already a source named"):
        sync.source_update(source=other, name="Acme help")
    with pytest.raises(ApplicationError, match="start it with /"):
        sync.source_update(source=other, include=["help/*"])
    with pytest.raises(ApplicationError, match="http"):
        sync.source_update(source=other, url="ftp://h.test/")
    with pytest.raises(ApplicationError, match="uploaded files' source"):
        sync.source_update(source=other, name="uploads")
    folder = sync.source_create(name="Folder", kind="folder", folder=str(tmp_path))
    with pytest.raises(ApplicationError, match="apply to websites"):
        sync.source_update(source=folder, exclude=["/drafts/*"])
    with pytest.raises(ApplicationError, match="apply to websites"):
        sync.source_create(name="Folder 2", kind="folder", folder=str(tmp_path), include=["/a"])
    settings.SOURCE_MAX_PATTERNS = 3
    with pytest.raises(ApplicationError, match="At most 3 patterns"):
        sync.source_update(source=other, exclude=["/a", "/b", "/c", "/d"])
    assert sync.source_update(source=other, exclude=["/a", "/b", "/c", "/a"]).exclude_patterns == ["/a", "/b", "/c"]
    # while a sync is under way: a new name is fine, new patterns wait
    sync.sync_start(source=source, enqueue=False)
    with pytest.raises(ApplicationError, match="sync is under way"):
        sync.source_update(source=source, exclude=["/blog/*"])
    renamed = sync.source_update(source=source, name="Acme help centre", user=curator)
    assert renamed.name == "Acme help centre" and Source.objects.get(pk=source.pk).exclude_patterns == []
    from core.models import AuditEvent

    event = AuditEvent.objects.get(action="source.edit", object_id=str(source.pk))
    assert event.detail == {"name": {"old": "Acme help", "new": "Acme help centre"}}


def test_deleting_a_source_retires_its_documents_and_keeps_them_auditable(site, source, curator, answer_freely):
    from support.pipeline import run as pipeline
    from support.services import conversation_create

    sync.source_set_schedule(source=source, schedule="daily", auto_verify=False)
    run_sync(source)
    sync.source_verify_pending(source=source)
    reply = pipeline.turn(
        conversation=conversation_create(channel="web").conversation, text="how long do I have to return an e-bike"
    ).reply
    cited = list(reply.citations.select_related("version__document"))
    assert cited and all(c.version.document.source_id == source.pk for c in cited)
    versions = DocumentVersion.objects.filter(document__source=source).count()
    active = sync.sync_start(source=source, enqueue=False)

    assert sync.source_delete(source=source, user=curator) == 5
    source.refresh_from_db()
    assert source.deleted_at is not None and source.schedule == "off" and not source.can_sync
    assert set(Document.objects.filter(source=source).values_list("status", flat=True)) == {"retired"}
    assert DocumentVersion.objects.filter(document__source=source).count() == versions  # nothing destroyed
    for citation in reply.citations.all():  # the reply still says which text it quoted
        assert citation.version.text and citation.chunk.text
    assert search("how long do I have to return an e-bike") == []
    active.refresh_from_db()
    assert active.state == "failed" and "deleted" in active.error
    from django_celery_beat.models import PeriodicTask

    assert not PeriodicTask.objects.filter(name=f"sync source {source.pk}").exists()
    assert source not in selectors.source_list()
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="was deleted"):
        sync.sync_start(source=source, enqueue=False)
    with pytest.raises(ApplicationError, match="deleted already"):
        sync.source_delete(source=source)
    with pytest.raises(ApplicationError, match="was deleted"):
        sync.source_update(source=source, name="x")
    from knowledge import services

    with pytest.raises(ApplicationError, match="Its source, Acme help, was deleted"):
        services.document_restore(document=doc(site, "/returns"))
    assert sync.source_sync_scheduled(source_id=source.pk) is None
    # its name is free: a new source of the same site makes new documents
    again = sync.source_create(name="Acme help", kind="website", url=site.url("/"))
    assert run_sync(again).pages_new == 5
    uploads = Source.objects.get(pk=upload_source_id())
    with pytest.raises(ApplicationError, match="not a source to delete"):
        sync.source_delete(source=uploads)


def test_a_page_stored_after_its_source_was_deleted_is_retired_by_the_worker(site, source):
    run = sync.sync_start(source=source, enqueue=False)

    def delete_after_one(progress: SyncRun) -> None:
        if progress.pages_seen == 1:
            # Deleted, and its documents swept, by someone else between two pages; this worker
            # does not see its claim go until it saves, so it stores the next page first.
            Source.objects.filter(pk=source.pk).update(deleted_at=timezone.now())
            Document.objects.filter(source=source).update(status="retired")

    run = sync.sync_run(run_id=run.pk, on_progress=delete_after_one)
    assert run.state == "failed" and "deleted" in run.error
    assert Document.objects.filter(source=source).count() == 2  # and nothing after it
    assert set(Document.objects.filter(source=source).values_list("status", flat=True)) == {"retired"}


def test_leaving_one_page_out_retires_it_at_once_until_the_pattern_goes(site, source, curator):
    from core.errors import ApplicationError

    run_sync(source)
    sync.source_verify_pending(source=source)
    updated = sync.source_exclude_page(source=source, key=site.url("/warranty"), user=curator)
    assert updated.exclude_patterns == ["/warranty$"]
    assert doc(site, "/warranty").status == "retired"
    item = SourceItem.objects.get(source=source, key=site.url("/warranty"))
    assert item.last_outcome == "excluded" and item.retired_by_sync
    asked = len(site.asked("/warranty"))
    run = run_sync(source)
    assert len(site.asked("/warranty")) == asked and not [r for r in run.report if r["outcome"] == "excluded"]
    # twice is once; the start page and other sites' pages are refused
    assert sync.source_exclude_page(source=source, key=site.url("/warranty")).exclude_patterns == ["/warranty$"]
    with pytest.raises(ApplicationError, match="start page"):
        sync.source_exclude_page(source=source, key=site.url("/"))
    with pytest.raises(ApplicationError, match="not a page of"):
        sync.source_exclude_page(source=source, key="https://elsewhere.test/warranty")
    # a broken link can be left out too (no document): it is no longer fetched or reported
    sync.source_exclude_page(source=source, key=site.url("/old-shipping"))
    sync.source_update(source=source, exclude=[])
    run_sync(source)
    assert doc(site, "/warranty").status == "verified"


def test_a_run_held_by_a_dead_local_worker_is_requeued_by_the_next_sweep(source):
    run = sync.sync_start(source=source, enqueue=False)
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(
        state="running", heartbeat_at=now, worker=f"{socket.gethostname()}:{dead.pid}"
    )
    assert sync.runs_sweep() == (1, 0)  # at once, not after SOURCE_SYNC_STALE_SECONDS
    assert SyncRun.objects.get(pk=run.pk).state == "queued"
    SyncRun.objects.filter(pk=run.pk).update(state="running", heartbeat_at=now, worker=f"{socket.gethostname()}:1")
    assert sync.runs_sweep() == (0, 0)  # alive: left alone


def test_commands_edit_and_delete(site, capsys):
    call_command("sources", "add", "--name", "Help", "--url", site.url("/"))
    call_command("sync", "Help")
    call_command("sources", "edit", "Help", "--name", "Help centre", "--exclude", "/warranty", "--exclude", "/shipping")
    out = capsys.readouterr().out
    assert "never /warranty, /shipping" in out and "retired by the next sync" in out
    call_command("sync", "Help centre")
    out = capsys.readouterr().out
    assert "excluded" in out and site.url("/warranty") in out and "2 retired" in out
    call_command("sources", "edit", "Help centre", "--no-exclude")
    assert "never nothing" in capsys.readouterr().out
    with pytest.raises(CommandError, match="start it with /"):
        call_command("sources", "edit", "Help centre", "--include", "help")
    with pytest.raises(CommandError, match="--yes"):
        call_command("sources", "delete", "Help centre")
    assert Source.objects.get(name="Help centre").deleted_at is None
    call_command("sources", "delete", "Help centre", "--yes")
    assert "3 document(s) retired" in capsys.readouterr().out  # two were left out already
    with pytest.raises(CommandError, match="no source named"):
        call_command("sync", "Help centre")
    call_command("sources", "list")
    assert "Help centre" not in capsys.readouterr().out


def test_the_page_list_shows_each_pages_last_outcome_and_why(site, source):
    run_sync(source)
    site.page("/shipping", "oops", status=500)
    site.remove("/warranty")
    run_sync(source)
    items = {i.key.removeprefix(site.base): i for i in selectors.source_items(source)}
    shipping = items["/shipping"]
    assert (shipping.last_outcome, shipping.last_reason) == ("failed", "HTTP 500 Internal Server Error")
    assert items["/shipping"].document.versions.count() == 1  # a failure changes nothing else
    assert items["/warranty"].last_outcome == "gone" and "1 of 2 runs" in items["/warranty"].last_reason
    assert (items["/returns"].last_outcome, items["/returns"].last_reason) == ("unchanged", "")
    site.page("/shipping", article("Shipping", SHIPPING, links=NAV))
    run_sync(source)
    shipping = SourceItem.objects.get(source=source, key=site.url("/shipping"))
    assert (shipping.last_outcome, shipping.last_reason) == ("unchanged", "")
