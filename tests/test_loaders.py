"""Loading sources: encodings, formats, URLs, and clear errors for bad input."""

import logging
import random
import socket
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import docx
import httpx
import pytest
from pypdf import PdfWriter

from ingest.errors import (
    EmptyArticleError,
    FetchError,
    SourceNotFoundError,
    SourceTooLargeError,
    UnreadableSourceError,
    UnsupportedSourceError,
)
from ingest.loaders import LoaderLimits, check_address, load_bytes, load_source
from tests.conftest import make_settings

ZH = "Sora能够根据文本提示创建详细的视频,最长能生成60秒视频。"
ZH_TW = "繁體中文的測試文字,這是一個測試。"
JA = "日本語のテキストです。これは文字コードの判定を確かめるための試験用の文章です。" * 6  # 234 chars
PAGE = f"""<html><head><title>Sora 简介</title></head><body>
<nav><a href="/">首页</a> | <a href="/about">关于我们</a></nav>
<article><h1>Sora 简介</h1><p>{ZH}</p><p>OpenAI并未单纯将Sora视为视频模型,而是作为“世界模拟器”。</p></article>
<footer>版权所有 © 2024 某某网站 保留所有权利</footer></body></html>"""
LOCAL = LoaderLimits(allow_private_urls=True)


def pdf_with_text(pages: list[str], title: str) -> bytes:
    """A PDF with a Helvetica text layer, one page per string, written by hand: no PDF
    writer that draws text (reportlab, fpdf) is installed."""
    kids = b" ".join(b"%d 0 R" % (5 + 2 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (%s) >>" % title.encode(),
    ]
    for i, text in enumerate(pages):
        stream = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode()
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (6 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def blank_pdf(password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# -- text encodings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, encoding",
    [
        (f"标题\n\n{ZH}", "utf-8"),
        (f"标题\n\n{ZH}", "utf-8-sig"),
        (f"标题\n\n{ZH}", "utf-16"),  # with a BOM, as Windows Notepad saves "Unicode"
        (f"标题\n\n{ZH}", "gbk"),
        (f"标题\n\n{ZH}", "gb18030"),
        (ZH_TW, "big5"),  # GB18030 also "decodes" these bytes, into private-use characters
        (JA, "shift_jis"),  # and these, into a jumble of rare Chinese characters
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "gbk", "gb18030", "big5", "shift_jis"],
)
def test_text_is_decoded_in_any_common_encoding(tmp_path, text, encoding):
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode(encoding))
    loaded = load_source(str(path))
    assert loaded.text == text
    assert (loaded.source, loaded.source_key, loaded.kind) == (str(path), "a.txt", "text")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", [f"标题\n\n{ZH}", "Mars base\n\nThe base will hold twelve astronauts.\n"])
def test_utf16_without_a_bom_is_read_not_called_binary(text, encoding):
    assert load_bytes(text.encode(encoding), "a.txt").text == text


def test_short_shift_jis_is_read_as_japanese_and_said_so():
    text = "火星基地建設計画\n\n基地の第一期には十二名の宇宙飛行士が滞在できます。"  # too short to judge by its mess
    loaded = load_bytes(text.encode("shift_jis"), "a.txt")
    assert loaded.text == text
    assert loaded.notes == ("a.txt was read as Japanese (Shift-JIS)",)


def _utf8_with_bad_bytes(paragraph: str, size: int, bad: int) -> bytes:
    """About `size` bytes of UTF-8 with `bad` stray 0xFF bytes, each between two characters."""
    text = (paragraph * (size // len(paragraph.encode()) + 1)).encode()[:size].decode(errors="ignore")
    data = bytearray(text.encode())  # cut at a character's end
    boundaries = [i for i in range(1, len(data)) if data[i] & 0xC0 != 0x80]
    for at in sorted(random.Random(0).sample(boundaries, bad), reverse=True):
        data[at:at] = b"\xff"
    return bytes(data)


@pytest.mark.parametrize("bad", [1, 6])
def test_utf8_with_a_few_bad_bytes_is_read_and_the_replacements_counted(tmp_path, bad):
    path = tmp_path / "a.txt"
    path.write_bytes(_utf8_with_bad_bytes(f"{ZH}\n", 20_000, bad))  # ~6,700 characters: up to 6 tolerated
    loaded = load_source(str(path))
    assert loaded.text.count("\ufffd") == bad
    assert loaded.text.replace("\ufffd", "").startswith(ZH)
    plural = "s" if bad > 1 else ""
    assert loaded.notes == (f"a.txt is not quite UTF-8: {bad} character{plural} replaced by “\ufffd”",)


def test_utf8_with_more_bad_bytes_than_tolerated_is_refused():
    data = _utf8_with_bad_bytes(f"{ZH}\n", 20_000, 40)  # 0.6% of its characters: not "a few"
    with pytest.raises(UnreadableSourceError, match="Cannot tell the text encoding of a.txt; save it as UTF-8"):
        load_bytes(data, "a.txt")


def test_valid_text_carries_no_notes():
    assert load_bytes(f"标题\n\n{ZH}".encode(), "a.txt").notes == ()
    assert load_bytes(f"标题\n\n{ZH}".encode("gbk"), "a.txt").notes == ()


def test_replaced_characters_are_told_in_the_ingest_summary(tmp_path, embeddings):
    from bot.wiring import build

    bot = build(make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None)
    data = _utf8_with_bad_bytes(f"{ZH}\n", 3_000, 1)
    result = bot.library.ingest_bytes(data, "sora.txt", title="Sora")
    assert result.notes == ("sora.txt is not quite UTF-8: 1 character replaced by “\ufffd”",)
    assert result.describe().endswith("; sora.txt is not quite UTF-8: 1 character replaced by “\ufffd”)")


def test_binary_garbage_without_nul_bytes_is_refused():
    garbage = bytes(b for b in random.Random(0).randbytes(5000) if b)
    with pytest.raises(UnreadableSourceError, match="noise.txt"):
        load_bytes(garbage, "noise.txt")


# -- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "markdown, title",
    [
        (f"# 火星基地\n\n{ZH}", "火星基地"),
        (f"[![build](badge.svg)](ci)\n\n# 火星基地\n\n{ZH}", "火星基地"),
        (f"```sh\n# install it\npip install x\n```\n\n# 火星基地\n\n{ZH}", "火星基地"),
        (f"## 小节\n\n{ZH}", None),
    ],
)
def test_markdown_title_is_its_first_level_one_heading(markdown, title):
    loaded = load_bytes(markdown.encode(), "notes.md")
    assert (loaded.title, loaded.kind, loaded.text) == (title, "markdown", markdown)


def test_html_main_text_is_extracted_without_navigation_or_footer():
    loaded = load_bytes(PAGE.encode(), "page.html")
    assert loaded.text.splitlines() == ["Sora 简介", ZH, "OpenAI并未单纯将Sora视为视频模型,而是作为“世界模拟器”。"]
    assert loaded.title == "Sora 简介" and loaded.kind == "html"


def test_pdf_text_and_title_are_read(tmp_path):
    path = tmp_path / "sora.pdf"
    path.write_bytes(pdf_with_text(["Sora makes videos from text.", "They last up to a minute."], "Sora notes"))
    loaded = load_source(str(path))
    assert loaded.text == "Sora makes videos from text.\n\nThey last up to a minute."
    assert (loaded.title, loaded.kind, loaded.source_key) == ("Sora notes", "pdf", "sora.pdf")


def test_docx_paragraphs_are_read(tmp_path):
    document = docx.Document()
    document.core_properties.title = "文档标题"
    document.add_paragraph(ZH)
    document.add_paragraph("第二段。")
    path = tmp_path / "a.docx"
    document.save(path)
    loaded = load_source(str(path))
    assert loaded.text == f"{ZH}\n\n第二段。" and loaded.title == "文档标题" and loaded.kind == "docx"


@pytest.mark.parametrize(
    "name, data, error, message",
    [
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", UnreadableSourceError, "broken.pdf is not a readable PDF"),
        ("scan.pdf", blank_pdf(), EmptyArticleError, "scan.pdf has no text layer"),
        ("locked.pdf", blank_pdf(password="secret"), UnreadableSourceError, "locked.pdf is password-protected"),
        ("broken.docx", b"PK\x03\x04 not a zip", UnreadableSourceError, "broken.docx is not a readable .docx"),
        ("garbage.txt", bytes(range(256)) * 40, UnreadableSourceError, "garbage.txt is not a text file"),
        ("slides.pptx", b"whatever", UnsupportedSourceError, "supported file types are .docx, .htm, .html"),
        ("blank.txt", b" \n\t\n", EmptyArticleError, "blank.txt contains no text"),
        ("empty.html", b"<html><body><script>x()</script></body></html>", EmptyArticleError, "No article text"),
    ],
)
def test_bad_files_get_a_clear_error(name, data, error, message):
    with pytest.raises(error, match=message):
        load_bytes(data, name)


def test_pypdf_remarks_stay_out_of_the_log_only_while_we_parse(caplog):
    caplog.set_level(logging.WARNING)
    with pytest.raises(UnreadableSourceError, match="page.pdf is not a readable PDF"):
        load_bytes(b"<html><body><p>A web page saved as .pdf</p></body></html>", "page.pdf")
    assert [r for r in caplog.records if r.name.startswith("pypdf")] == []  # "invalid pdf header"…
    logging.getLogger("pypdf._reader").warning("after the parse")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == ["after the parse"]


def test_missing_file(tmp_path):
    with pytest.raises(SourceNotFoundError, match="No such file"):
        load_source(str(tmp_path / "nope.txt"))


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text(ZH * 100, encoding="utf-8")
    with pytest.raises(SourceTooLargeError, match="big.txt is larger than the limit of 1,000 bytes"):
        load_source(str(path), LoaderLimits(max_bytes=1000))


def test_upload_over_the_size_limit_is_refused():
    with pytest.raises(SourceTooLargeError, match="big.txt is larger than the limit of 10 bytes"):
        load_bytes(b"x" * 11, "big.txt", LoaderLimits(max_bytes=10))


def test_other_url_schemes_are_not_taken_for_file_names():
    with pytest.raises(UnsupportedSourceError, match="Only http"):
        load_source("ftp://example.com/a.txt")


# -- URLs ----------------------------------------------------------------------------------


class _Site(BaseHTTPRequestHandler):
    """A tiny web site: an article, redirects, a 404, an image, pages too big to read."""

    routes = {
        "/article.html": (200, "text/html; charset=utf-8", PAGE.encode()),
        "/notes.txt": (200, "text/plain; charset=gbk", ZH.encode("gbk")),
        "/short-ja.txt": (200, "text/plain; charset=shift_jis", "短い日本語の文章。".encode("shift_jis")),
        "/image.png": (200, "image/png", b"\x89PNG\r\n"),
        "/huge.html": (200, "text/html", b"<p>x</p>" * 5000),
    }
    # /to-closed-port: to an address where nothing listens (port 1 refuses connections)
    redirects = {
        "/moved": "/article.html",
        "/loop": "/loop",
        "/moved-missing": "/missing",
        "/to-closed-port": "http://127.0.0.1:1/article.html",
    }
    requests: list[tuple[str, str | None]] = []  # (path, Host header) of every request, in order

    def do_GET(self):  # noqa: N802 - the http.server API
        self.requests.append((self.path, self.headers["Host"]))
        if self.path.startswith("/slow-hop/"):  # each hop answers after 0.8 s, well within a read timeout
            hops = int(self.path.rsplit("/", 1)[1])
            time.sleep(0.8)
            self.send_response(302)
            self.send_header("Location", f"/slow-hop/{hops - 1}" if hops > 1 else "/article.html")
            self.end_headers()
            return
        if self.path == "/trickle.txt":  # a byte every 0.5 s: every read gets an answer in time
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(60):  # 30 s, unless the client hangs up first
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.5)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.end_headers()
            return
        if self.path == "/endless.txt":  # no Content-Length: HTTP/1.0, the body ends at close
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x" * 1000)
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)  # a slow answer does not hold up the others
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_url_html_page_is_fetched_through_a_redirect_and_extracted(site):
    loaded = load_source(f"{site}/moved#top", LOCAL)
    assert ZH in loaded.text and loaded.title == "Sora 简介" and loaded.kind == "html"
    assert loaded.source == loaded.source_key == f"{site}/moved"


@pytest.mark.parametrize("path, text", [("/notes.txt", ZH), ("/short-ja.txt", "短い日本語の文章。")])
def test_url_text_in_the_charset_the_server_declares(site, path, text):
    assert load_source(f"{site}{path}", LOCAL).text == text


def test_url_credentials_are_neither_recorded_nor_shown(site):
    with_password = site.replace("http://", "http://reader:s3cret@")
    loaded = load_source(f"{with_password}/article.html", LOCAL)
    assert loaded.source == loaded.source_key == f"{site}/article.html"
    with pytest.raises(FetchError) as error:
        load_source(f"{with_password}/missing", LOCAL)
    assert str(error.value) == f"{site}/missing answered HTTP 404 Not Found."


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("/missing", FetchError, "HTTP 404 Not Found"),
        ("/image.png", UnsupportedSourceError, "image/png, not a web page, text or PDF"),
        ("/huge.html", SourceTooLargeError, "limit of 10,000 bytes"),
        ("/endless.txt", SourceTooLargeError, "limit of 10,000 bytes"),
        ("/loop", FetchError, "redirects more than 5 times"),
    ],
)
def test_bad_urls_get_a_clear_error(site, path, error, message):
    with pytest.raises(error, match=message):
        load_source(f"{site}{path}", LoaderLimits(max_bytes=10_000, allow_private_urls=True))


@pytest.mark.parametrize(
    "path, failed",
    [
        (
            "/to-closed-port",
            "Cannot fetch http://127.0.0.1:1/article.html (where {site}/to-closed-port redirects): "
            "cannot connect to the server.",
        ),
        ("/moved-missing", "{site}/missing (where {site}/moved-missing redirects) answered HTTP 404 Not Found."),
    ],
)
def test_a_redirect_that_fails_names_the_hop_that_failed(site, path, failed):
    with pytest.raises(FetchError) as error:
        load_source(f"{site}{path}", LOCAL)
    assert str(error.value) == failed.format(site=site)


@pytest.mark.parametrize("path", ["/trickle.txt", "/slow-hop/5"], ids=["trickled-body", "slow-redirects"])
def test_fetch_timeout_is_one_deadline_for_the_whole_fetch(site, path):
    limits = LoaderLimits(fetch_timeout_s=2, allow_private_urls=True)
    started = time.monotonic()
    with pytest.raises(FetchError, match=rf"Cannot fetch {site}{path}: no complete answer within 2 seconds"):
        load_source(f"{site}{path}", limits)
    assert time.monotonic() - started < 2 + 3  # the deadline, plus slack for a busy machine


def test_a_slow_but_timely_fetch_succeeds(site):
    loaded = load_source(f"{site}/slow-hop/1", LoaderLimits(fetch_timeout_s=10, allow_private_urls=True))
    assert ZH in loaded.text


@pytest.mark.parametrize(
    "url, code, message",
    [
        ("http://127.0.0.1:99999/article.html", "url_port", "has an invalid port (99999): a port"),
        ("http://127.0.0.1:abc/article.html", "url_port", "has an invalid port (abc): a port"),
        ("http://127.0.0.1:0/article.html", "url_port", "has an invalid port (0): a port"),
        ("http:///article.html", "url_no_host", "has no host name"),
        ("http://127.0. 0.1:{port}/article.html", "url_space", "has a space in its host name"),
        ("ftp://127.0.0.1:{port}/article.html", "url_or_file_scheme", "Only http(s) URLs and files"),
        ("http://[::1:{port}/article.html", "url_invalid", "is not a valid URL"),
    ],
    ids=["port-too-big", "port-not-a-number", "port-0", "no-host", "space", "scheme", "unclosed-bracket"],
)
def test_a_malformed_url_is_refused_saying_what_is_wrong(site, url, code, message):
    url = url.format(port=site.rsplit(":", 1)[1])  # next to a real server
    with pytest.raises((FetchError, UnsupportedSourceError)) as error:
        load_source(url, LOCAL)
    assert str(error.value).startswith(url) or str(error.value).endswith(f"not {url}.")
    assert message in str(error.value) and "resolve" not in str(error.value)
    assert error.value.code == code  # what the bot words in the admin's language


def test_a_url_pasted_with_spaces_around_it_is_fetched(site):
    assert ZH in load_source(f"  {site}/article.html\n", LOCAL).text


def test_loopback_urls_are_refused_unless_allowed(site):
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 is a private or local address .*ALLOW_PRIVATE_URLS"):
        load_source(f"{site}/article.html")


@pytest.mark.parametrize(
    "target, message",
    [
        ("http://127.0.0.1:8080/admin", "127.0.0.1 is a private or local address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a private or local address"),
        ("file:///etc/passwd", "Only http"),
    ],
)
def test_a_redirect_from_a_public_host_to_a_private_one_is_refused(monkeypatch, target, message):
    # A public host cannot be reached from the tests, so httpx's transport stands in for it.
    requested = []

    def public_host(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"Location": target})

    monkeypatch.setattr(httpx, "Client", partial(httpx.Client, transport=httpx.MockTransport(public_host)))
    with pytest.raises(FetchError, match=message):
        load_source("http://93.184.215.14/story")
    assert requested == ["http://93.184.215.14/story"]  # the private hop was never requested


def test_a_host_name_is_resolved_once_per_hop_and_named_in_each_request(site, monkeypatch):
    port = site.rsplit(":", 1)[1]
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def counted(host, *args, **kwargs):  # the real resolver, counting lookups of the name
        if host == "localhost":
            lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counted)
    _Site.requests.clear()
    loaded = load_source(f"http://localhost:{port}/moved", LOCAL)
    assert ZH in loaded.text and loaded.source == f"http://localhost:{port}/moved"
    assert lookups == ["localhost", "localhost"]  # one per hop: connecting resolves nothing
    assert _Site.requests == [("/moved", f"localhost:{port}"), ("/article.html", f"localhost:{port}")]


def test_dns_rebinding_cannot_steer_the_fetch_to_a_private_address(site, monkeypatch):
    # A resolver stub: the first lookup of the name answers a public address (so the check
    # passes), every later one 127.0.0.1, where the local site is. Connecting to the address
    # that was checked fails (nothing reachable listens there: refused, or no answer by the
    # deadline); resolving again to connect would fetch the local page. TEST-NET addresses
    # (192.0.2.0/24) would not do: the check itself refuses them, not being global.
    port = int(site.rsplit(":", 1)[1])
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host != "news.rebind.test":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        address = "93.184.215.14" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    _Site.requests.clear()
    url = f"http://news.rebind.test:{port}/article.html"
    with pytest.raises(
        FetchError, match=r"Cannot fetch .*: (cannot connect to the server|no complete answer within 1 )"
    ):
        load_source(url, LoaderLimits(fetch_timeout_s=1))
    assert lookups == ["news.rebind.test"]  # checked once, never looked up again to connect
    assert _Site.requests == []  # the private page was never requested


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://10.0.0.8/",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
    ],
)
def test_private_addresses_are_refused(url):
    with pytest.raises(FetchError, match="private or local address"):
        check_address(url, allow_private=False)


def test_unreachable_url():
    with pytest.raises(FetchError, match=r"Cannot fetch http://127\.0\.0\.1:9/article\.html: cannot connect"):
        load_source("http://127.0.0.1:9/article.html", LoaderLimits(fetch_timeout_s=2, allow_private_urls=True))


@pytest.mark.parametrize(
    "url, message", [("ftp://example.com/a.txt", "Only http"), ("http:///no-host", "has no host name")]
)
def test_only_http_urls_with_a_host(url, message):
    with pytest.raises(FetchError, match=message):
        check_address(url, allow_private=False)
