"""Issue #18 in a real browser: a curator adds a help-centre website, watches the sync's progress
bar fill while a worker crawls it, reviews the new pages and verifies them in one click; the
source screens never scroll sideways on a phone."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from playwright.sync_api import expect

from knowledge import sync
from knowledge.models import Document, Source
from tests.browser.conftest import shot
from tests.knowledge.help_site import article

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "curator-pass-123"
PAGES = ("/returns", "/shipping", "/warranty", "/pickup")


@pytest.fixture
def worker(monkeypatch):
    """Stands in for the Celery worker: a queued sync runs in a thread of its own, so the page
    can watch it (eager tasks would run it inside the request)."""
    threads: list[threading.Thread] = []

    def enqueue(task_name: str, **kwargs) -> None:
        assert task_name == "knowledge.sync_source"

        def run() -> None:
            try:
                time.sleep(0.5)
                sync.sync_run(run_id=kwargs["run_id"])
            finally:
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(
        sync, "enqueue_on_commit", lambda name, **kw: transaction.on_commit(lambda: enqueue(name, **kw))
    )
    yield threads
    for thread in threads:
        thread.join(timeout=30)


def publish(help_site) -> None:
    help_site.page("/", article("Acme Help Centre", "<p>Answers about orders, returns and bikes.</p>", links=PAGES))
    for path in PAGES:
        name = path.strip("/").title()
        help_site.page(path, article(name, f"<p>All about {name.lower()} at Acme, explained in full here.</p>"))


def curator_page(browser, live_server):
    """A page logged in as a curator."""
    user = User.objects.create_user("cur", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="curators")[0])
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "cur")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    return page


def test_curator_adds_a_website_watches_the_sync_and_verifies(
    browser, live_server, help_site, worker, settings, _memoized_chunk_embeddings
):
    settings.SOURCE_CRAWL_DELAY_SECONDS = 0.4  # slow enough to watch
    publish(help_site)
    page = curator_page(browser, live_server)
    page.get_by_role("link", name="Sources").first.click()
    page.get_by_role("link", name="Add a website or folder").click()
    page.get_by_label("Name").fill("Acme help centre")
    page.get_by_label("Start page or sitemap.xml").fill(help_site.url("/"))
    page.get_by_label("Sync again").select_option("daily")
    page.get_by_role("button", name="Add and sync now").click()

    # the bar fills while the worker crawls (the partial is polled every second)
    expect(page.get_by_role("heading", name="Syncing now")).to_be_visible()
    values = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        values.append(int(page.locator("progress").get_attribute("value") or 0))
        if page.get_by_role("heading", name="Last sync").count():
            break
        page.wait_for_timeout(200)
    shot(page, "sources-synced")
    expect(page.locator("#run-counts")).to_contain_text("5 new")
    assert any(0 < v < 100 for v in values), values
    assert values == sorted(values), values  # it only ever moves forward
    assert page.locator("progress").get_attribute("value") == "100"

    # auto-verify is off: a curator reviews and verifies in one click
    expect(page.locator("#review")).to_contain_text("0 changed, 5 new, 0 gone — review")
    page.get_by_role("button", name="Verify all 5").click()
    expect(page.get_by_text("5 document(s) verified")).to_be_visible()
    source = Source.objects.get(name="Acme help centre")
    assert source.schedule == "daily" and source.status == "ok"
    assert Document.objects.filter(source=source, status="verified").count() == 5
    page.context.close()


def test_source_screens_fit_a_phone(browser, live_server, help_site, settings, tmp_path):
    long_url = help_site.url("/help-centre/articles/" + "very-long-section-name-" * 6)
    source = Source.objects.create(name="Help", kind="website", url=long_url, include_patterns=["/help-centre/*"])
    User.objects.create_superuser("boss", "b@example.com", PASSWORD)
    run = sync.sync_start(source=source, enqueue=False)
    run = sync.sync_run(run_id=run.pk)  # the start page is missing: the run fails with its reason
    assert run.state == "failed"
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    wide = []
    for path in (
        "/kb/sources/",
        "/kb/sources/new/",
        f"/kb/sources/{source.pk}/edit/",
        f"/kb/sources/{source.pk}/delete/",
        f"/kb/sources/{source.pk}/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response.ok, path
        shot(page, "sources-390-" + (path.strip("/").replace("/", "-")))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide.append(f"{path}: {width}px")
    expect(page.get_by_role("alert")).to_contain_text("could not be read")
    assert not wide, wide
    page.context.close()


def test_curator_edits_a_source_leaves_a_page_out_and_deletes_it_after_confirming(
    browser, live_server, help_site, _memoized_chunk_embeddings
):
    publish(help_site)
    source = sync.source_create(name="Acme help", kind="website", url=help_site.url("/"), auto_verify=True)
    sync.sync_run(run_id=sync.sync_start(source=source, enqueue=False).pk)
    page = curator_page(browser, live_server)
    page.goto(f"{live_server.url}/kb/sources/{source.pk}/")

    # edit: a new name and a path left out; the next sync retires that page and lists it
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Name")).to_have_value("Acme help")
    page.get_by_label("Name").fill("Acme help centre")
    page.get_by_label("Never these paths").fill("/pickup")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Pages now left out are retired by the next sync")).to_be_visible()
    expect(page.get_by_role("heading", name="Acme help centre")).to_be_visible()
    sync.sync_run(run_id=sync.sync_start(source=source, enqueue=False).pk)
    page.reload()
    expect(page.locator("#run-report")).to_contain_text("excluded")
    expect(page.locator("#run-report")).to_contain_text(help_site.url("/pickup"))

    # leave one page out from its row in the page list: it stops answering at once
    page.locator("#source-items").get_by_role("button", name=f"Leave out {help_site.url('/warranty')}").click()
    expect(page.get_by_text("is left out from now on")).to_be_visible()
    warranty = Document.objects.get(source=source, source_key=help_site.url("/warranty"))
    assert warranty.status == "retired"
    assert Source.objects.get(pk=source.pk).exclude_patterns == ["/pickup", "/warranty$"]
    shot(page, "source-edited")

    # delete: a confirmation page says what happens; "Keep it" changes nothing
    page.get_by_role("link", name="Delete").click()
    expect(page.locator("#delete-effects")).to_contain_text("3 documents are retired")
    expect(page.locator("#delete-effects")).to_contain_text("stays readable")
    shot(page, "source-delete-confirm")
    page.get_by_role("link", name="Keep it").click()
    expect(page.get_by_role("heading", name="Acme help centre")).to_be_visible()
    assert Source.objects.get(pk=source.pk).deleted_at is None
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete Acme help centre").click()
    expect(page.get_by_text("Acme help centre is deleted: 3 document(s) retired")).to_be_visible()
    expect(page.get_by_role("link", name="Acme help centre")).to_have_count(0)
    assert not Document.objects.filter(source=source).exclude(status="retired").exists()
    assert Document.objects.filter(source=source).count() == 5  # retired, not destroyed
    page.context.close()
