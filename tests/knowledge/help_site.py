"""A small help-centre website served from a thread on 127.0.0.1, for the crawler and sync tests.

Pages can be added, changed and removed while it runs. It answers conditional requests with 304
(ETag from the body), and records every request (path, headers, time) so tests can see what the
crawler asked for and when."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Entry:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str = ""
    delay: float = 0.0
    send_length: bool = True


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class HelpSite:
    pages: dict[str, Entry] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    base: str = ""

    def page(self, path: str, body: str | bytes, **kwargs) -> None:
        self.pages[path] = Entry(body.encode() if isinstance(body, str) else body, **kwargs)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.pages[path] = Entry(status=status, location=to)

    def remove(self, path: str) -> None:
        self.pages.pop(path, None)

    def url(self, path: str) -> str:
        return self.base + path

    def asked(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def article(title: str, body_html: str, *, links: tuple[str, ...] = ()) -> str:
    """A page as help centres make them: cookie banner, header, navigation, sidebar, footer."""
    nav = "".join(f'<li><a href="{href}">{href.strip("/").replace("-", " ").title()}</a></li>' for href in links)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} · Acme Help Centre</title></head>
<body>
<div id="cookie-banner" class="cookie-consent">We use cookies to make this site work. Accept all cookies or manage
your cookie preferences in our cookie policy.</div>
<header class="site-header"><a href="/">Acme Help Centre</a><form><input name="q"></form></header>
<nav aria-label="Help topics"><ul>{nav}</ul></nav>
<main><article>
<h1>{title}</h1>
{body_html}
</article></main>
<aside class="related"><h2>Related articles</h2><p>Popular questions our customers ask every week.</p></aside>
<footer class="site-footer"><p>© 2026 Acme Bicycles Ltd. All rights reserved.
Terms of service and privacy policy.</p></footer>
</body></html>"""


def _handler(site: HelpSite):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            record = Request(self.path, {k: v for k, v in self.headers.items()}, time.monotonic())
            site.requests.append(record)
            entry = site.pages.get(self.path.split("?")[0])
            if entry is None:
                record.status = 404
                self._send(404, b"<html><body><h1>Not found</h1></body></html>", "text/html")
                return
            if entry.delay:
                time.sleep(entry.delay)
            if entry.location:
                record.status = entry.status
                self.send_response(entry.status)
                self.send_header("Location", entry.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(entry.body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                record.status = 304
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            record.status = entry.status
            self._send(entry.status, entry.body, entry.content_type, etag=etag, length=entry.send_length)

        def _send(self, status: int, body: bytes, content_type: str, *, etag: str = "", length: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if etag:
                self.send_header("ETag", etag)
            if length:
                self.send_header("Content-Length", str(len(body)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            try:
                for start in range(0, len(body), 256 * 1024):
                    self.wfile.write(body[start : start + 256 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the crawler stopped reading (a page over the size cap)

        def log_message(self, *args) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(site: HelpSite):
    server = _Server(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server
