"""A web page on 127.0.0.1 whose text changes between fetches, for the refresh tests.

It serves one HTML page at `/page.html` (and a plain text one at `/notes.txt`) with an ETag
(a hash of the body) and a Last-Modified date, answers a matching If-None-Match with 304
Not Modified, and records the conditional headers of every request; `stop()` takes it
down (connections are then refused), `start()` brings it back on the same port.
"""

from __future__ import annotations

import hashlib
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def html_page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"


class ChangingSite:
    def __init__(self, html: str, *, etags: bool = True) -> None:
        self.html = html
        self.etags = etags  # False: a server without validators, always 200
        self.extra_etag = ""  # changes the ETag without changing the text
        self.requests: list[dict[str, str]] = []  # the conditional headers of each GET
        self.statuses: list[int] = []
        self.modified_at = 1_700_000_000.0
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/page.html"

    def etag(self) -> str:
        return '"' + hashlib.sha256((self.html + self.extra_etag).encode()).hexdigest()[:16] + '"'

    def change(self, html: str) -> None:
        self.html = html
        self.modified_at += 3600

    def start(self) -> ChangingSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                conditions = {k: v for k, v in self.headers.items() if k.lower().startswith("if-")}
                site.requests.append(conditions)
                etag = site.etag()
                if site.etags and self.headers.get("If-None-Match") == etag:
                    site.statuses.append(304)
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                body = site.html.encode()
                site.statuses.append(200)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if site.etags:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", formatdate(site.modified_at, usegmt=True))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
