"""The crawler against a real HTTP server on 127.0.0.1: robots.txt, redirects, caps, timeouts,
conditional requests, the per-host rate limit, and the article cut out of its template."""

from __future__ import annotations

import itertools
import time

import pytest

from knowledge import crawler
from knowledge.parsing import parse_document
from tests.knowledge.help_site import article

LIMITS = crawler.Limits(
    max_pages=50, max_bytes=5 * 1024 * 1024, timeout=2.0, delay=0.0, max_redirects=5, user_agent="TestBot"
)


def fetcher(**changes) -> crawler.Fetcher:
    from dataclasses import replace

    return crawler.Fetcher(replace(LIMITS, **changes))


def scope_of(site, **kwargs) -> crawler.Scope:
    return crawler.Scope.of(site.url("/"), **kwargs)


def test_canonical_spelling():
    assert (
        crawler.canonical("HTTP://Help.Example.com:80/a/b?utm_source=x&id=3#top") == "http://help.example.com/a/b?id=3"
    )
    assert crawler.canonical("../c", "https://h.test/a/b/") == "https://h.test/a/c"
    assert crawler.canonical("https://h.test") == "https://h.test/"
    assert crawler.canonical("mailto:help@h.test") is None
    assert crawler.canonical("ftp://h.test/file") is None


def test_scope_keeps_the_site_and_its_patterns():
    scope = crawler.Scope.of("https://h.test/help/", include=["/help/*"], exclude=["/help/internal"])
    assert scope.allows("https://h.test/help/returns")
    assert not scope.allows("https://other.test/help/returns")  # another site
    assert not scope.allows("http://h.test/help/returns")  # another scheme is another site
    assert not scope.allows("https://h.test/blog/post")  # not included
    assert not scope.allows("https://h.test/help/internal/staff")  # excluded (prefix)
    assert not scope.allows("https://h.test/help/logo.png")  # never a page


def test_article_without_navigation_footer_or_cookie_banner_keeps_headings():
    html = article(
        "Returns and refunds",
        "<p>You can return any unused item within 30 days of delivery for a full refund.</p>"
        "<h2>E-bikes</h2><p>E-bikes must be returned within 14 days with the battery above 30 percent.</p>",
        links=("/shipping", "/warranty"),
    ).encode()
    cut = crawler.article_html(html, "http://h.test/returns")
    parsed = parse_document("page.html", cut)
    text = parsed.text
    assert "30 days of delivery" in text and "14 days" in text
    for boilerplate in ("cookie", "All rights reserved", "Related articles", "Acme Help Centre", "Warranty"):
        assert boilerplate.lower() not in text.lower(), boilerplate
    assert parsed.title == "Returns and refunds"
    assert ("Returns and refunds", "E-bikes") in {b.heading_path for b in parsed.blocks}


def test_links_are_absolute_canonical_and_once_each():
    html = b'<a href="/a#x">A</a><a href="/a">A again</a><a href="b?utm_source=n">B</a><a href="mailto:x@y">m</a>'
    html += b'<link rel="canonical" href="/page">'
    found, declared = crawler.links(html, "http://h.test/dir/")
    assert found == ["http://h.test/a", "http://h.test/dir/b"]
    assert declared == "http://h.test/page"


def test_robots_txt_disallow_is_obeyed(help_site):
    help_site.page("/private/secret", article("Secret", "<p>Staff only text that must never be read.</p>"))
    page = fetcher().fetch(help_site.url("/private/secret"), scope=scope_of(help_site))
    assert page.status == "skipped" and "robots.txt" in page.reason
    assert help_site.asked("/private/secret") == []


def test_robots_txt_that_forbids_everything_stops_the_site(help_site):
    help_site.page("/robots.txt", "nope", content_type="text/plain", status=403)
    f = fetcher()
    assert "forbids" in f.robots_problem(help_site.url("/"))
    assert f.fetch(help_site.url("/"), scope=scope_of(help_site)).status == "skipped"


def test_conditional_request_answers_not_modified(help_site):
    help_site.page("/returns", article("Returns", "<p>Thirty days to return anything you bought from us.</p>"))
    f = fetcher()
    first = f.fetch(help_site.url("/returns"), scope=scope_of(help_site))
    assert first.status == "ok" and first.etag
    again = f.fetch(help_site.url("/returns"), scope=scope_of(help_site), etag=first.etag)
    assert again.status == "not_modified" and again.http_status == 304
    assert help_site.asked("/returns")[-1].headers.get("If-None-Match") == first.etag


def test_redirects_followed_within_the_site_only(help_site):
    help_site.page("/new", article("New", "<p>The page moved here and still tells you about returns.</p>"))
    help_site.redirect("/old", "/new")
    help_site.redirect("/away", "https://elsewhere.example/")
    help_site.redirect("/loop-a", "/loop-b")
    help_site.redirect("/loop-b", "/loop-a")
    f, scope = fetcher(), scope_of(help_site)
    moved = f.fetch(help_site.url("/old"), scope=scope)
    assert moved.status == "ok" and moved.final_url == help_site.url("/new")
    away = f.fetch(help_site.url("/away"), scope=scope)
    assert away.status == "failed" and "off the site" in away.reason
    loop = f.fetch(help_site.url("/loop-a"), scope=scope)
    assert loop.status == "failed" and "redirect loop" in loop.reason
    assert len(help_site.asked("/loop-a")) == 1 and len(help_site.asked("/loop-b")) == 1


def test_too_many_redirects(help_site):
    for i in range(4):
        help_site.redirect(f"/r{i}", f"/r{i + 1}")
    help_site.page("/r4", "<p>end</p>")
    page = fetcher(max_redirects=2).fetch(help_site.url("/r0"), scope=scope_of(help_site))
    assert page.status == "failed" and "more than 2 redirects" in page.reason


@pytest.mark.parametrize("send_length", [True, False])
def test_a_5_mb_page_is_refused_over_the_cap(help_site, send_length):
    big = "<html><body>" + "<p>" + "word " * 1_100_000 + "</p></body></html>"  # about 5.5 MB
    help_site.page("/huge", big, send_length=send_length)
    page = fetcher(max_bytes=5 * 1024 * 1024).fetch(help_site.url("/huge"), scope=scope_of(help_site))
    assert page.status == "failed" and "SOURCE_MAX_PAGE_BYTES" in page.reason
    assert len(page.body) == 0
    # the same page under a larger cap is read
    assert fetcher(max_bytes=8 * 1024 * 1024).fetch(help_site.url("/huge"), scope=scope_of(help_site)).status == "ok"


def test_a_slow_page_times_out(help_site):
    help_site.page("/slow", "<p>late</p>", delay=3.0)
    started = time.monotonic()
    page = fetcher(timeout=0.5).fetch(help_site.url("/slow"), scope=scope_of(help_site))
    assert page.status == "failed" and "timed out" in page.reason
    assert time.monotonic() - started < 2.5


def test_gone_and_server_errors(help_site):
    help_site.page("/broken", "oops", status=500)
    help_site.page("/removed", "gone", status=410)
    f, scope = fetcher(), scope_of(help_site)
    assert f.fetch(help_site.url("/nowhere"), scope=scope).status == "gone"
    assert f.fetch(help_site.url("/removed"), scope=scope).status == "gone"
    broken = f.fetch(help_site.url("/broken"), scope=scope)
    assert broken.status == "failed" and "HTTP 500" in broken.reason


def test_requests_to_one_host_are_spaced_by_the_delay(help_site):
    for name in ("a", "b", "c"):
        help_site.page(f"/{name}", f"<p>{name}</p>")
    f, scope = fetcher(delay=0.3), scope_of(help_site)
    for name in ("a", "b", "c"):
        f.fetch(help_site.url(f"/{name}"), scope=scope)
    times = [r.at for r in help_site.requests]  # robots.txt, a, b, c
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.28, gaps


def test_crawl_delay_from_robots_txt_wins_when_longer(help_site):
    help_site.page("/robots.txt", "User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    help_site.page("/a", "<p>a</p>")
    help_site.page("/b", "<p>b</p>")
    f, scope = fetcher(delay=0.0), scope_of(help_site)
    f.fetch(help_site.url("/a"), scope=scope)
    f.fetch(help_site.url("/b"), scope=scope)
    a, b = help_site.asked("/a")[0].at, help_site.asked("/b")[0].at
    assert b - a >= 0.98  # robotparser reads whole seconds only


def test_sitemap_lists_pages_and_nested_sitemaps():
    index = b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    index += b"<sitemap><loc>http://h.test/s1.xml</loc></sitemap></sitemapindex>"
    assert crawler.sitemap_urls(index) == ([], ["http://h.test/s1.xml"])
    urlset = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    urlset += b"<url><loc>http://h.test/a</loc></url><url><loc> http://h.test/b </loc></url></urlset>"
    assert crawler.sitemap_urls(urlset) == (["http://h.test/a", "http://h.test/b"], [])
    assert crawler.sitemap_urls(b"not xml") == ([], [])


def test_frontier_caps_pages_and_round_trips():
    frontier = crawler.Frontier(max_pages=2)
    assert frontier.add("a") and frontier.add("b") and not frontier.add("c") and not frontier.add("a")
    assert frontier.capped == 1
    again = crawler.Frontier.from_json(frontier.as_json(), 2)
    assert again.pop() == "a" and again.seen == {"a", "b"} and again.capped == 1


PLAIN_PAGE = b"""<html><head><title>Shipping | Acme Help</title></head><body>
<div class="cookie-notice">We use cookies. <a href="/cookies">Cookie policy</a> <button>Accept all</button></div>
<div class="top"><a href="/">Home</a> <a href="/shipping">Shipping</a> <a href="/returns">Returns</a>
<a href="/contact">Contact</a></div>
<div class="sidebar"><ul><li><a href="/a">Track my parcel online</a></li><li><a href="/b">Change my address</a></li>
<li><a href="/c">Shipping to islands</a></li></ul></div>
<div class="content"><h1>Shipping</h1>
<p>Standard shipping takes 3 to 5 working days and is free for orders over 50 euros.</p>
<h2>Express</h2><p>Express delivery arrives the next working day when you order before 14:00.</p></div>
<div class="bottom">Copyright Acme 2026</div>
</body></html>"""


@pytest.mark.parametrize("html", [PLAIN_PAGE, PLAIN_PAGE.replace(b'class="content"', b'role="main"')])
def test_article_of_a_page_without_landmarks(html):
    parsed = parse_document("page.html", crawler.article_html(html))
    text = parsed.text
    assert "3 to 5 working days" in text and "next working day" in text
    for boilerplate in ("cookie", "Accept all", "Track my parcel", "Contact"):
        assert boilerplate.lower() not in text.lower(), boilerplate
    assert parsed.title == "Shipping"
    assert ("Shipping", "Express") in {b.heading_path for b in parsed.blocks}


def test_short_article_keeps_its_heading_structure():
    html = article("Returns", "<p>You can return any unused item within 30 days.</p><h2>E-bikes</h2><p>14 days.</p>")
    parsed = parse_document("page.html", crawler.article_html(html.encode()))
    assert parsed.title == "Returns" and "Acme Help Centre" not in parsed.text
    assert ("Returns", "E-bikes") in {b.heading_path for b in parsed.blocks}


def test_a_cookie_notice_named_nothing_telling_goes_but_an_article_about_cookies_stays():
    html = b"""<html><body><div class="strip">This site uses cookies for statistics.
    <button>Accept</button><a href="/privacy">Read more</a></div>
    <div class="content"><h1>Privacy</h1><p>We use cookies only to keep you signed in; no tracking cookies are set.</p>
    <p>You can delete cookies in your browser at any time without losing your orders.</p></div></body></html>"""
    text = parse_document("page.html", crawler.article_html(html)).text
    assert "statistics" not in text
    assert "keep you signed in" in text and "delete cookies" in text


def test_link_local_addresses_are_refused():
    # where clouds serve instance credentials: never asked, not even for robots.txt
    assert "link-local" in fetcher().robots_problem("http://169.254.169.254/latest/meta-data/")
    assert "link-local" in crawler.refused_address("169.254.169.254")
    assert crawler.refused_address("127.0.0.1") == ""
