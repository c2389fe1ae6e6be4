"""Fetch a help-centre website the way a polite crawler does. Plain Python, no Django models.

- robots.txt is read once per site (`urllib.robotparser`) and obeyed, its Crawl-delay included;
- one request at a time, and at least `delay` seconds between two requests to the same host;
- conditional requests (If-None-Match / If-Modified-Since): an unchanged page answers 304;
- every response is capped: `timeout` seconds in all (not per read), `max_bytes` of body;
- redirects are followed by hand, at most `max_redirects`, and only within the site;
- a page's main text is cut out of its template (navigation, header, footer, cookie banner) by
  trafilatura, with the page's <main>/<article> as the fallback, and handed on as HTML so its
  headings survive into the chunks' heading paths.

The sync service (`knowledge.sync`) drives a `Frontier` with a `Fetcher` and stores what it gets.
"""

from __future__ import annotations

import fnmatch
import glob
import ipaddress
import re
import socket
import time
import urllib.robotparser
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import requests
from django.conf import settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
# The format name each content type is parsed as (knowledge.parsing picks the parser by suffix).
PARSED_AS = {
    "text/html": "page.html",
    "application/xhtml+xml": "page.html",
    "application/pdf": "page.pdf",
    "text/plain": "page.txt",
    "text/markdown": "page.md",
}
XML_TYPES = ("application/xml", "text/xml")
# Links to these are never pages; skipping them saves a request each.
_NOT_PAGES = re.compile(
    r"\.(?:png|jpe?g|gif|webp|svg|ico|css|js|mjs|json|zip|gz|tar|mp4|mp3|webm|woff2?|ttf|eot|exe|dmg|docx?|xlsx?)$",
    re.IGNORECASE,
)
_DROP_QUERY = re.compile(r"^(?:utm_[a-z]+|fbclid|gclid|mc_[a-z]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_bytes: int
    timeout: float
    delay: float
    max_redirects: int
    user_agent: str

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_pages=settings.SOURCE_MAX_PAGES,
            max_bytes=settings.SOURCE_MAX_PAGE_BYTES,
            timeout=settings.SOURCE_FETCH_TIMEOUT_SECONDS,
            delay=settings.SOURCE_CRAWL_DELAY_SECONDS,
            max_redirects=settings.SOURCE_MAX_REDIRECTS,
            user_agent=settings.SOURCE_USER_AGENT,
        )


@dataclass
class Page:
    """What one fetch gave. `status`: ok, not_modified, gone (404/410), failed, skipped."""

    url: str
    status: str
    final_url: str = ""
    http_status: int | None = None
    reason: str = ""
    content_type: str = ""
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""


# --- URLs and scope -------------------------------------------------------------------------


def canonical(url: str, base: str | None = None) -> str | None:
    """One spelling per page: absolute, no fragment, lower-case scheme and host, no default port,
    tracking parameters dropped. None for what is not an http(s) URL."""
    url = url.strip()
    if not url or url.startswith(("mailto:", "tel:", "javascript:", "data:")):
        return None
    if base:
        url = urljoin(base, url)
    url, _ = urldefrag(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    port = parts.port
    netloc = host if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not _DROP_QUERY.match(p.split("=", 1)[0]))
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def same_path(a: str, b: str) -> bool:
    """Whether two URLs name the same page, query string and trailing slash aside."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc, pa.path.rstrip("/")) == (pb.scheme, pb.netloc, pb.path.rstrip("/"))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Scope:
    """Which URLs belong to a source: the start URL's site (scheme, host and port), and paths that
    match an include pattern (when there are any) and no exclude pattern. Patterns are shell-style
    (`/help/*`); a pattern without a wildcard is a path prefix; one ending in `$` is the whole path
    (`/help/returns$`, as in robots.txt)."""

    site: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, start_url: str, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Scope:
        return cls(origin(canonical(start_url) or start_url), tuple(include), tuple(exclude))

    def same_site(self, url: str) -> bool:
        return origin(url) == self.site

    def allows(self, url: str) -> bool:
        if not self.same_site(url):
            return False
        path = urlsplit(url).path or "/"
        if _NOT_PAGES.search(path):
            return False
        if self.include and not any(_matches(path, p) for p in self.include):
            return False
        return not any(_matches(path, p) for p in self.exclude)


def _matches(path: str, pattern: str) -> bool:
    exact = pattern.endswith("$")
    pattern = pattern.removesuffix("$")
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern)  # anchored at both ends
    return path == pattern if exact else path.startswith(pattern)


def exact_pattern(url: str) -> str:
    """The pattern that matches this page's path and nothing else (wildcards in it escaped)."""
    return glob.escape(urlsplit(url).path or "/") + "$"


# --- The frontier ---------------------------------------------------------------------------------


@dataclass
class Frontier:
    """The URLs still to fetch and every URL ever queued, in order; saved to the run after each
    page (`as_json`) so a run that stops resumes where it was. Holds at most `max_pages` URLs in
    all; what the cap turns away is counted."""

    max_pages: int
    queue: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    capped: int = 0

    def add(self, url: str) -> bool:
        if url in self.seen:
            return False
        if len(self.seen) >= self.max_pages:
            self.capped += 1
            return False
        self.seen.add(url)
        self.queue.append(url)
        return True

    def pop(self) -> str | None:
        return self.queue.pop(0) if self.queue else None

    def as_json(self) -> dict:
        return {"queue": self.queue, "seen": sorted(self.seen), "capped": self.capped}

    @classmethod
    def from_json(cls, data: dict, max_pages: int) -> Frontier:
        return cls(max_pages, list(data.get("queue", [])), set(data.get("seen", [])), int(data.get("capped", 0)))


# --- Fetching ------------------------------------------------------------------------------------


class Fetcher:
    """One site's polite HTTP client. Not thread-safe on purpose: concurrency is one."""

    def __init__(
        self,
        limits: Limits,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = limits.user_agent
        self.clock, self.sleep = clock, sleep
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._robots_problem: dict[str, str] = {}
        self._last_request: dict[str, float] = {}
        self._delay: dict[str, float] = {}

    # robots.txt
    def robots_problem(self, url: str) -> str:
        """Why nothing of this site may be fetched ('' when robots.txt allows crawling at all)."""
        self._robots_for(url)
        return self._robots_problem.get(origin(url), "")

    def allowed(self, url: str) -> bool:
        robots = self._robots_for(url)
        return robots.can_fetch(self.limits.user_agent, url)

    def _robots_for(self, url: str) -> urllib.robotparser.RobotFileParser:
        site = origin(url)
        if site in self._robots:
            return self._robots[site]
        robots = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        page = self._request(site + "/robots.txt", {}, follow=True)
        if page.status == "ok":
            robots.parse(page.body.decode("utf-8", "replace").splitlines())
        elif page.http_status in (401, 403):
            robots.disallow_all = True
            self._robots_problem[site] = f"robots.txt answered {page.http_status}: the site forbids crawling"
        elif page.http_status is not None and 400 <= page.http_status < 500:
            robots.allow_all = True  # no robots.txt: everything may be fetched
        else:
            robots.disallow_all = True
            self._robots_problem[site] = f"robots.txt could not be read ({page.reason}); nothing was fetched"
        delay = robots.crawl_delay(self.limits.user_agent) if not robots.disallow_all else None
        self._delay[site] = max(self.limits.delay, float(delay or 0))
        self._robots[site] = robots
        return robots

    # pages
    def fetch(self, url: str, *, scope: Scope, etag: str = "", last_modified: str = "") -> Page:
        """GET one page of the site: robots.txt asked first, redirects followed within the site."""
        if not self.allowed(url):
            return Page(url, "skipped", reason="robots.txt disallows it")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        chain = [url]
        current = url
        for _hop in range(self.limits.max_redirects + 1):
            page = self._request(current, headers, follow=False)
            if page.status != "redirect":
                page.url, page.final_url = url, current
                return page
            target = canonical(page.reason, current)
            if target is None:
                return Page(url, "failed", reason=f"redirected to an address that is not a web page: {page.reason!r}")
            if not scope.same_site(target):
                return Page(url, "failed", reason=f"redirected off the site, to {target}")
            if target in chain:
                return Page(url, "failed", reason="redirect loop: " + " → ".join([*chain, target]))
            if not self.allowed(target):
                return Page(url, "skipped", reason=f"redirected to {target}, which robots.txt disallows")
            chain.append(target)
            current = target
        return Page(url, "failed", reason=f"more than {self.limits.max_redirects} redirects")

    def _wait_turn(self, url: str) -> None:
        site = origin(url)
        delay = self._delay.get(site, self.limits.delay)
        last = self._last_request.get(site)
        if last is not None:
            pause = last + delay - self.clock()
            if pause > 0:
                self.sleep(pause)
        self._last_request[site] = self.clock()

    def _request(self, url: str, headers: dict[str, str], *, follow: bool) -> Page:
        refused = refused_address(urlsplit(url).hostname or "")
        if refused:
            return Page(url, "failed", reason=refused)
        self._wait_turn(url)
        limit, timeout = self.limits.max_bytes, self.limits.timeout
        started = self.clock()
        try:
            with self.session.get(
                url, headers=headers, stream=True, timeout=(timeout, timeout), allow_redirects=follow
            ) as response:
                code = response.status_code
                if code in (301, 302, 303, 307, 308) and not follow:
                    return Page(url, "redirect", http_status=code, reason=response.headers.get("Location", ""))
                if code == 304:
                    return Page(url, "not_modified", http_status=code)
                if code in (404, 410):
                    return Page(url, "gone", http_status=code, reason=f"HTTP {code}")
                if code >= 400:
                    return Page(url, "failed", http_status=code, reason=f"HTTP {code} {response.reason or ''}".strip())
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    return _too_big(url, code, int(declared), limit)
                body = bytearray()
                for piece in response.iter_content(64 * 1024):
                    body += piece
                    if len(body) > limit:
                        return _too_big(url, code, len(body), limit)
                    if self.clock() - started > timeout:
                        return Page(url, "failed", http_status=code, reason=f"timed out after {timeout:g} s")
                return Page(
                    url,
                    "ok",
                    http_status=code,
                    content_type=response.headers.get("Content-Type", "").split(";")[0].strip().lower(),
                    body=bytes(body),
                    etag=response.headers.get("ETag", "")[:500],
                    last_modified=response.headers.get("Last-Modified", "")[:100],
                )
        except requests.Timeout:
            return Page(url, "failed", reason=f"timed out after {timeout:g} s")
        except requests.RequestException as exc:
            return Page(url, "failed", reason=f"could not connect: {type(exc).__name__}")


def refused_address(host: str) -> str:
    """Why this host may not be fetched: it resolves to a link-local address (where clouds serve
    their instance metadata and credentials), multicast or unspecified. Loopback and private
    networks stay allowed: an intranet help centre is a fair source."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ""  # the request itself will say it cannot connect
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            return f"refused: {host} is {address}, a link-local, multicast or unspecified address"
    return ""


def _too_big(url: str, code: int, size: int, limit: int) -> Page:
    return Page(
        url,
        "failed",
        http_status=code,
        reason=f"the page is over the {limit:,}-byte limit (SOURCE_MAX_PAGE_BYTES); {size:,}+ bytes",
    )


# --- Reading what came back --------------------------------------------------------------------


def links(html: bytes, base_url: str) -> tuple[list[str], str | None]:
    """The page's links (absolute, canonical, in order, once each) and its rel=canonical URL."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    base_tag = soup.find("base", href=True)
    base = urljoin(base_url, base_tag["href"]) if base_tag else base_url
    found: dict[str, None] = {}
    for anchor in soup.find_all("a", href=True):
        rel = anchor.get("rel") or []
        if "nofollow" in rel:
            continue
        url = canonical(anchor["href"], base)
        if url:
            found.setdefault(url, None)
    declared = soup.find("link", rel="canonical", href=True)
    return list(found), canonical(declared["href"], base) if declared else None


def sitemap_urls(xml: bytes) -> tuple[list[str], list[str]]:
    """(pages, nested sitemaps) listed by a sitemap.xml or a sitemap index."""
    from lxml import etree

    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return [], []
    locs = [el.text.strip() for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("loc") and el.text]
    if root.tag.endswith("sitemapindex"):
        return [], locs
    return locs, []


def is_sitemap(page: Page) -> bool:
    return page.content_type in XML_TYPES or (
        page.body.lstrip()[:200].startswith(b"<?xml") and b"<urlset" in page.body[:2000]
    )


def article_html(html: bytes, url: str = "") -> bytes:
    """The page's article as a small HTML document (title, headings, paragraphs, lists, tables),
    without navigation, header, footer, sidebars or cookie banners.

    First the template's known parts go (nav, header, footer, aside, forms, ARIA banners and
    dialogs, cookie and consent notices, hidden elements). A page that marks its article
    (<main>, <article>, role=main) gives it. Otherwise trafilatura picks the article (precision
    first: a short help article is easily padded with menus); when what it returns has lost the
    page's headings, the cleaned body is kept instead, minus blocks that are mostly links."""
    from html import escape

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    title = _SITE_SUFFIX.split(title)[0].strip() or title
    _strip_template(soup)
    landmark = soup.find("main") or soup.find(attrs={"role": "main"}) or _largest(soup.find_all("article"))
    if landmark is not None:
        inner = landmark.decode_contents()
    else:
        body = soup.body or soup
        inner = _extracted(str(soup), url, headings=len(body.find_all(_HEADINGS))) or _without_link_lists(body)
    return f"<html><head><title>{escape(title)}</title></head><body>{inner}</body></html>".encode()


_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_SITE_SUFFIX = re.compile(r"\s+[|·–—-]\s+")
_TEMPLATE_TAGS = ["script", "style", "nav", "header", "footer", "aside", "noscript", "form", "template", "iframe"]
_TEMPLATE_ROLES = {"navigation", "banner", "contentinfo", "dialog", "alertdialog", "search", "complementary"}
_NOTICE = re.compile(r"cookie|consent|gdpr|onetrust|cc-window|newsletter-popup", re.IGNORECASE)
# A cookie notice named nothing telling: it speaks of cookies and offers to accept them.
_COOKIE_TEXT = re.compile(r"\bcookies?\b", re.IGNORECASE)
_CONSENT_ACTION = re.compile(r"^\s*(?:accept|agree|allow|ok|got it|reject|decline|i understand|manage|settings)", re.I)
_NOTICE_MARKS = re.compile(r"banner|notice|bar|popup|toast|overlay|modal|alert", re.IGNORECASE)


def _strip_template(soup) -> None:
    for tag in soup(_TEMPLATE_TAGS):
        tag.decompose()
    for tag in list(soup.find_all(True)):
        if tag.decomposed or tag.attrs is None:
            continue
        marks = " ".join([tag.get("id") or "", *(tag.get("class") or [])])
        if (
            tag.get("role") in _TEMPLATE_ROLES
            or tag.get("aria-modal") == "true"
            or tag.get("aria-hidden") == "true"
            or tag.has_attr("hidden")
            or _NOTICE.search(marks)
        ):
            tag.decompose()
    for tag in list(soup.find_all(["div", "section", "p", "dialog"])):
        if tag.decomposed or tag.attrs is None or tag.find(_HEADINGS):
            continue
        text = tag.get_text(" ", strip=True)
        if len(text) > 600 or not _COOKIE_TEXT.search(text):
            continue
        marks = " ".join([tag.get("id") or "", *(tag.get("class") or [])])
        actions = tag.find_all(["button", "a"])
        if _NOTICE_MARKS.search(marks) or any(_CONSENT_ACTION.match(a.get_text(" ", strip=True)) for a in actions):
            tag.decompose()


def _largest(tags):
    tags = list(tags)
    return max(tags, key=lambda t: len(t.get_text(" ", strip=True))) if tags else None


def _extracted(html: str, url: str, *, headings: int) -> str:
    import trafilatura
    from bs4 import BeautifulSoup

    result = trafilatura.extract(
        html,
        url=url or None,
        output_format="html",
        include_formatting=True,
        include_tables=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        favor_precision=True,
        deduplicate=False,
    )
    if not result:
        return ""
    body = BeautifulSoup(result, "lxml").body
    if body is None or len(body.get_text(" ", strip=True)) < 40:
        return ""
    if headings and not body.find_all(_HEADINGS):
        return ""  # the page's structure was flattened away
    return body.decode_contents()


def _without_link_lists(body) -> str:
    for block in list(body.find_all(["ul", "ol", "div", "section", "table"])):
        if block.decomposed:
            continue
        text = len(block.get_text(" ", strip=True))
        linked = sum(len(a.get_text(" ", strip=True)) for a in block.find_all("a"))
        if len(block.find_all("a")) >= 3 and text and linked / text > 0.7:
            block.decompose()  # a menu or a list of related articles, not the article
    return body.decode_contents()
