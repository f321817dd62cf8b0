"""Loading sources: encodings, formats, URLs, and clear errors for bad input."""

import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer

import docx
import pytest

from ingest.errors import (
    EmptyArticleError,
    FetchError,
    SourceNotFoundError,
    SourceTooLargeError,
    UnreadableSourceError,
    UnsupportedSourceError,
)
from ingest.loaders import LoaderLimits, check_address, load_bytes, load_source

ZH = "Sora能够根据文本提示创建详细的视频,最长能生成60秒视频。"
PAGE = f"""<html><head><title>Sora 简介</title></head><body>
<nav><a href="/">首页</a> | <a href="/about">关于我们</a></nav>
<article><h1>Sora 简介</h1><p>{ZH}</p><p>OpenAI并未单纯将Sora视为视频模型,而是作为“世界模拟器”。</p></article>
<footer>版权所有 © 2024 某某网站 保留所有权利</footer></body></html>"""
LOCAL = LoaderLimits(allow_private_urls=True)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_chinese_text_is_decoded_in_any_common_encoding(tmp_path, encoding):
    path = tmp_path / "a.txt"
    path.write_bytes(f"标题\n\n{ZH}".encode(encoding))
    loaded = load_source(str(path))
    assert loaded.text == f"标题\n\n{ZH}"
    assert loaded.source_key == "a.txt" and loaded.kind == "text"


def test_markdown_title_comes_from_its_heading():
    loaded = load_bytes(f"# 火星基地\n\n{ZH}".encode(), "notes.md")
    assert loaded.title == "火星基地" and loaded.kind == "markdown"


def test_html_main_text_is_extracted_without_navigation_or_footer():
    loaded = load_bytes(PAGE.encode(), "page.html")
    assert ZH in loaded.text
    assert "关于我们" not in loaded.text and "保留所有权利" not in loaded.text
    assert loaded.title == "Sora 简介"


def test_docx_paragraphs_are_read(tmp_path):
    document = docx.Document()
    document.core_properties.title = "文档标题"
    document.add_paragraph(ZH)
    document.add_paragraph("第二段。")
    path = tmp_path / "a.docx"
    document.save(path)
    loaded = load_source(str(path))
    assert loaded.text == f"{ZH}\n\n第二段。" and loaded.title == "文档标题"


@pytest.mark.parametrize(
    "name, data, error, message",
    [
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", UnreadableSourceError, "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", UnreadableSourceError, "not a readable .docx"),
        ("garbage.txt", bytes(range(256)) * 40, UnreadableSourceError, "not a text file"),
        ("slides.pptx", b"whatever", UnsupportedSourceError, "supported file types are"),
        ("blank.txt", b" \n\t\n", EmptyArticleError, "contains no text"),
        ("empty.html", b"<html><body><script>x()</script></body></html>", EmptyArticleError, "No article text"),
    ],
)
def test_bad_files_get_a_clear_error(name, data, error, message):
    with pytest.raises(error, match=message):
        load_bytes(data, name)


def test_missing_file(tmp_path):
    with pytest.raises(SourceNotFoundError, match="No such file"):
        load_source(str(tmp_path / "nope.txt"))


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(ZH * 100, encoding="utf-8")
    with pytest.raises(SourceTooLargeError, match="limit of 1,000 bytes"):
        load_source(str(path), LoaderLimits(max_bytes=1000))


class _Site(BaseHTTPRequestHandler):
    """A tiny web site: an article, a redirect to it, a 404, an image, a huge page."""

    routes = {
        "/article.html": (200, "text/html; charset=utf-8", PAGE.encode()),
        "/notes.txt": (200, "text/plain; charset=gbk", ZH.encode("gbk")),
        "/image.png": (200, "image/png", b"\x89PNG\r\n"),
        "/huge.html": (200, "text/html", b"<p>x</p>" * 5000),
    }

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/article.html")
            self.end_headers()
            return
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = HTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_url_html_page_is_fetched_and_extracted(site):
    loaded = load_source(f"{site}/moved#top", LOCAL)
    assert ZH in loaded.text and loaded.kind == "html"
    assert loaded.source_key == f"{site}/moved"


def test_url_plain_text_in_gbk(site):
    assert load_source(f"{site}/notes.txt", LOCAL).text == ZH


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("/missing", FetchError, "HTTP 404"),
        ("/image.png", UnsupportedSourceError, "image/png"),
        ("/huge.html", SourceTooLargeError, "limit of 10,000 bytes"),
    ],
)
def test_bad_urls_get_a_clear_error(site, path, error, message):
    with pytest.raises(error, match=message):
        load_source(f"{site}{path}", LoaderLimits(max_bytes=10_000, allow_private_urls=True))


def test_loopback_urls_are_refused_unless_allowed(site):
    with pytest.raises(FetchError, match="ALLOW_PRIVATE_URLS"):
        load_source(f"{site}/article.html")


@pytest.mark.parametrize(
    "url",
    ["http://localhost/", "http://10.0.0.8/", "http://192.168.1.1/x", "http://169.254.169.254/latest", "http://[::1]/"],
)
def test_private_addresses_are_refused(url):
    with pytest.raises(FetchError, match="private or local address"):
        check_address(url, allow_private=False)


def test_unreachable_url(site):
    closed = partial(load_source, "http://127.0.0.1:9/article.html", LoaderLimits(fetch_timeout_s=2, allow_private_urls=True))
    with pytest.raises(FetchError, match="Cannot fetch"):
        closed()


def test_only_http_urls():
    with pytest.raises(FetchError, match="Only http"):
        check_address("ftp://example.com/a.txt", allow_private=False)
