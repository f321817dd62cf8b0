"""Load a source — a file path, an http(s) URL, or uploaded bytes — as plain text.

Every failure a user can cause ends in one of `ingest.errors`' exceptions with a message
fit to show them; nothing here writes to the store, so a failed load loses nothing.
"""

from __future__ import annotations

import codecs
import dataclasses
import ipaddress
import logging
import queue
import re
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath
from urllib.parse import SplitResult, urldefrag, urljoin, urlsplit

import httpx
from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

from ingest.errors import (
    EmptyArticleError,
    FetchError,
    SourceNotFoundError,
    SourceTooLargeError,
    UnreadableSourceError,
    UnsupportedSourceError,
)

KINDS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
CONTENT_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "text",
    "text/markdown": "markdown",
    "application/pdf": "pdf",
}
MAX_REDIRECTS = 5
# How long past FETCH_TIMEOUT the caller waits for the fetching thread's own error before
# giving up on it (a read in progress at the deadline, a slow DNS resolver).
_DEADLINE_GRACE_S = 0.5
USER_AGENT = "articlebot/0.1 (+https://github.com/articlebot)"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoaderLimits:
    max_bytes: int = 10_000_000
    fetch_timeout_s: float = 15.0
    allow_private_urls: bool = False


@dataclass(frozen=True)
class LoadedSource:
    text: str  # extracted text, paragraphs on their own lines; not yet cleaned
    title: str | None  # from the document itself, when it has one
    source: str  # URL, absolute path, or the uploaded file's name
    source_key: str  # what makes two ingests "the same article": URL or file name
    kind: str  # text | markdown | html | pdf | docx
    # What the admin should know about how it was read (characters replaced as not UTF-8);
    # `IngestResult.describe` adds these to the ingest's summary.
    notes: tuple[str, ...] = ()
    # A web page's validators (ETag, Last-Modified), for a conditional fetch next time.
    etag: str | None = None
    last_modified: str | None = None
    # The bytes as read or fetched (None: the text was given, not read), with the charset
    # the server declared: the store keeps them as the article's source (`Source`).
    original: bytes | None = dataclasses.field(default=None, repr=False)
    charset: str | None = None


def supported() -> str:
    return ", ".join(sorted(KINDS))


def load_source(location: str, limits: LoaderLimits = LoaderLimits()) -> LoadedSource:
    """A file path or an http(s) URL."""
    if _scheme(location.strip()) in ("http", "https"):
        return load_url(location, limits)
    if "://" in location:  # ftp://, file://, … : say so rather than "no such file"
        shown = _shown(location)
        raise UnsupportedSourceError(
            f"Only http(s) URLs and files can be ingested, not {shown}.", code="url_or_file_scheme", url=shown
        )
    path = Path(location).expanduser()
    if not path.is_file():
        raise SourceNotFoundError(f"No such file: {location}", code="not_found", path=location)
    kind = _kind_of(path.name)
    _check_size(path.name, path.stat().st_size, limits)
    try:
        data = path.read_bytes()
    except OSError as exc:
        why = exc.strerror or exc.__class__.__name__
        raise UnreadableSourceError(
            f"Cannot read {path.name} ({why}).", code="read_failed", name=path.name, detail=why
        ) from exc
    return _extract(data, kind, path.name, str(path.resolve()), path.name)


def load_bytes(
    data: bytes, filename: str, limits: LoaderLimits = LoaderLimits(), source: str | None = None
) -> LoadedSource:
    """An uploaded file's contents; its type comes from the file name's extension."""
    name = PurePosixPath(filename).name or "upload"
    kind = _kind_of(name)
    _check_size(name, len(data), limits)
    return _extract(data, kind, name, source or name, name)


def check_upload(name: str, size: int, limits: LoaderLimits = LoaderLimits()) -> None:
    """Refuse an upload by its name and announced size, before spending time downloading it."""
    name = PurePosixPath(name).name or "upload"
    _kind_of(name)
    _check_size(name, size, limits)


def _check_size(name: str, size: int, limits: LoaderLimits = LoaderLimits()) -> None:
    """Refuse a source of `size` bytes over the configured limit."""
    if size > limits.max_bytes:
        raise _too_large(name, limits.max_bytes)


def _too_large(name: str, max_bytes: int) -> SourceTooLargeError:
    return SourceTooLargeError(
        f"{name} is larger than the limit of {max_bytes:,} byte{'' if max_bytes == 1 else 's'}.",
        code="too_large",
        name=name,
        limit=max_bytes,
    )


def _kind_of(name: str) -> str:
    kind = KINDS.get(PurePosixPath(name.lower()).suffix)
    if kind is None:
        raise UnsupportedSourceError(
            f"Cannot read {name}: supported file types are {supported()}.",
            code="unsupported_type",
            name=name,
            types=supported(),
        )
    return kind


# -- decoding and extraction -------------------------------------------------------------


# A text that is UTF-8 but for a few bad bytes (a stray Latin-1 byte, a file cut short or
# edited with the wrong encoding) is read as UTF-8 with each bad sequence replaced by "\ufffd",
# and the admin told how many, rather than refused. "A few" is at most MAX_REPLACED_SHARE of
# its characters (0.1%: 6 in a 20 KB Chinese file), or MAX_REPLACED_FLOOR in a shorter one
# (one bad byte inside a multi-byte character costs up to 3), with at least
# MIN_VALID_PER_REPLACED correctly encoded non-ASCII characters per bad one: GBK, Big5,
# Shift-JIS or EUC-KR read as UTF-8 fail on every other character (docs/performance.md,
# "Figures behind limits"), real UTF-8 almost never.
MAX_REPLACED_SHARE = 0.001
MAX_REPLACED_FLOOR = 8
MIN_VALID_PER_REPLACED = 10


def decode_text_noting(data: bytes, name: str, declared: str | None = None) -> tuple[str, str | None]:
    """UTF-8 (or UTF-16, with a BOM or without), a charset the server declared, UTF-8 with a
    few bad bytes replaced, Shift-JIS when it reads as Japanese, GB18030 (a superset of GBK,
    common for Chinese files), then
    charset-normalizer's best guess; binary is refused. With the text comes a note for the
    admin when characters were replaced, else None."""
    utf16 = _utf16_of(data)
    if not utf16 and b"\x00" in data[:8192]:
        raise UnreadableSourceError(f"{name} is not a text file (it contains binary data).", code="binary", name=name)
    for encoding in (utf16 or "utf-8-sig", declared):
        text = _try_decode(data, encoding) if encoding else None
        if text is not None:
            return _checked_text(text, name), None
    if utf16:
        raise UnreadableSourceError(
            f"Cannot tell the text encoding of {name}; save it as UTF-8.", code="unknown_encoding", name=name
        )
    text, replaced = _mostly_utf8(data)
    if text is not None:
        plural = "s" if replaced != 1 else ""
        note = f"{name} is not quite UTF-8: {replaced:,} character{plural} replaced by “\ufffd”"
        return _checked_text(text, name), note
    japanese = _try_decode(data, "cp932")  # Shift-JIS: GB18030 would decode it too, as a jumble
    if japanese is not None and _reads_as_japanese(japanese):
        return _checked_text(japanese, name), f"{name} was read as Japanese (Shift-JIS)"
    text = _try_decode(data, "gb18030")
    if text is not None:
        if not _reads_as_chinese(text):
            guess = from_bytes(data).best()  # keep GB18030 if there is no better idea
            text = str(guess) if guess is not None else text
        return _checked_text(text, name), None
    guess = from_bytes(data).best()
    if guess is None:
        raise UnreadableSourceError(
            f"Cannot tell the text encoding of {name}; save it as UTF-8.", code="unknown_encoding", name=name
        )
    return _checked_text(str(guess), name), None


def _utf16_of(data: bytes) -> str | None:
    """The UTF-16 codec of a text in UTF-16: with a BOM (Notepad's "Unicode"), or without one
    when its zero bytes (the high bytes of ASCII characters) mostly fall on one side of each
    character's two bytes, which binary data's do not; None for any other data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:8192]
    if len(data) % 2 or sample.count(0) < max(2, len(sample) // 50):
        return None
    odd = sum(1 for i in range(1, len(sample), 2) if sample[i] == 0)
    even = sample.count(0) - odd
    if max(odd, even) < 0.75 * (odd + even):  # (a CJK character may have a zero byte: 一 is U+4E00)
        return None
    return "utf-16-le" if odd > even else "utf-16-be"


def _reads_as_japanese(text: str) -> bool:
    """Japanese writes kana between its kanji; GBK or GB18030 bytes read as Shift-JIS come out
    as kanji and half-width katakana, almost never as kana (U+3040-U+30FF)."""
    sample = text[:20_000]
    wide = sum(1 for c in sample if ord(c) > 0x2FFF)
    return wide > 0 and sum(1 for c in sample if "\u3040" <= c <= "\u30ff") >= 0.1 * wide


def _mostly_utf8(data: bytes) -> tuple[str | None, int]:
    """The text decoded as UTF-8 with bad sequences replaced, and how many were, when they
    are few enough (see MAX_REPLACED_SHARE); else (None, how many)."""
    text = data.decode("utf-8-sig", errors="replace")
    replaced = text.count("\ufffd") - data.count("\ufffd".encode())  # not those in the file
    valid_non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - replaced
    few = replaced <= max(MAX_REPLACED_FLOOR, len(text) * MAX_REPLACED_SHARE)
    if few and valid_non_ascii >= MIN_VALID_PER_REPLACED * replaced:
        return text, replaced
    return None, replaced


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):  # LookupError: a server declared a bogus charset
        return None


def _reads_as_chinese(text: str) -> bool:
    """GB18030 decodes almost any bytes: Big5 comes out with private-use characters, longer
    Shift-JIS or EUC-KR as a jumble that charset-normalizer's mess ratio notices (real Chinese
    of 200+ characters stays under 0.05; shorter text is too noisy to judge, so it passes)."""
    sample = text[:20_000]
    return not _PRIVATE_USE.search(sample) and (len(sample) < 200 or mess_ratio(sample, 1.0) < 0.1)


def _checked_text(text: str, name: str) -> str:
    if _looks_binary(text):
        suffix = Path(name).suffix
        raise UnreadableSourceError(
            f"{name} does not look like text; is it really a {suffix} file?", code="not_text", name=name, suffix=suffix
        )
    return text


def _looks_binary(text: str) -> bool:
    sample = text[:20_000]
    if not sample:
        return False
    odd = sum(1 for c in sample if (ord(c) < 32 and c not in "\n\r\t\f") or c == "\ufffd" or 0xE000 <= ord(c) <= 0xF8FF)
    return odd / len(sample) > 0.02


def _extract(
    data: bytes, kind: str, name: str, source: str, source_key: str, charset: str | None = None
) -> LoadedSource:
    note: str | None = None
    if kind in ("text", "markdown"):
        (text, note), title = decode_text_noting(data, name, charset), None
        if kind == "markdown":
            title = _markdown_title(text)
    elif kind == "html":
        html, note = decode_text_noting(data, name, charset)
        text, title = _html_text(html, name)
    elif kind == "pdf":
        text, title = _pdf_text(data, name)
    else:
        text, title = _docx_text(data, name)
    if not text.strip():
        raise EmptyArticleError(f"{name} contains no text.", code="no_text", name=name)
    notes = (note,) if note else ()
    return LoadedSource(
        text=text,
        title=title,
        source=source,
        source_key=source_key,
        kind=kind,
        notes=notes,
        original=data,
        charset=charset,
    )


def _markdown_title(text: str) -> str | None:
    """The first "# " heading, skipping fenced code, where "# " starts a shell comment."""
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        elif not in_code and line.startswith("# "):
            return line[2:].strip() or None
    return None


def _html_text(html: str, name: str) -> tuple[str, str | None]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True)
    if not text:
        raise EmptyArticleError(f"No article text found in {name}.", code="no_article_text", name=name)
    metadata = trafilatura.extract_metadata(html)
    return text, (metadata.title if metadata and metadata.title else None)


def _pdf_text(data: bytes, name: str) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        with _pypdf_remarks_kept_quiet(name):
            reader = PdfReader(BytesIO(data))  # opens PDFs encrypted with an empty password itself
            text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
            title = reader.metadata.title if reader.metadata and reader.metadata.title else None
    except FileNotDecryptedError as exc:
        raise UnreadableSourceError(
            f"{name} is password-protected; send a copy without a password.", code="pdf_password", name=name
        ) from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise UnreadableSourceError(
            f"{name} is not a readable PDF ({exc.__class__.__name__}).", code="pdf_unreadable", name=name
        ) from exc
    if not text.strip():
        raise EmptyArticleError(
            f"{name} has no text layer (a scanned or image-only PDF?).", code="pdf_no_text", name=name
        )
    return text, (title if isinstance(title, str) and title.strip() else None)


# pypdf logs what it repairs or gives up on ("invalid pdf header", "EOF marker not found")
# as warnings of its "pypdf…" loggers; with no logging configured (the CLI), Python prints
# them on stderr beside our own one-line error. While we parse, they are held back and
# passed on at DEBUG level as ours; one parse at a time, since the switch is the pypdf
# logger's, which nothing but this module uses.
_PYPDF_LOGGER = logging.getLogger("pypdf")
_PYPDF_QUIET = threading.Lock()


class _Remarks(logging.Handler):
    def __init__(self, source: str) -> None:
        super().__init__(logging.DEBUG)
        self.source = source

    def emit(self, record: logging.LogRecord) -> None:
        logger.debug("pypdf on %s: %s", self.source, record.getMessage())


@contextmanager
def _pypdf_remarks_kept_quiet(name: str) -> Iterator[None]:
    """pypdf's log records, while parsing `name`, go to our debug log instead of stderr."""
    with _PYPDF_QUIET:
        remarks, propagate = _Remarks(name), _PYPDF_LOGGER.propagate
        _PYPDF_LOGGER.addHandler(remarks)
        _PYPDF_LOGGER.propagate = False
        try:
            yield
        finally:
            _PYPDF_LOGGER.propagate = propagate
            _PYPDF_LOGGER.removeHandler(remarks)


# What a .docx may unpack to, checked on the sizes its zip declares before python-docx reads
# it (zipfile never unpacks past them): the longest article ingest takes (2,000 chunks) is
# about 2 MB of XML, and images hardly pack; python-docx holds the XML as a tree some ten
# times its size (docs/performance.md, "Figures behind limits"). A zip bomb is refused.
MAX_DOCX_UNPACKED_BYTES = 32 << 20
MAX_DOCX_PARTS = 10_000


def _docx_text(data: bytes, name: str) -> tuple[str, str | None]:
    import docx

    _check_unpacked(data, name)
    try:
        document = docx.Document(BytesIO(data))
    except Exception as exc:  # broken files fail in zipfile, lxml or python-docx, in many ways
        raise UnreadableSourceError(f"{name} is not a readable .docx file.", code="docx_unreadable", name=name) from exc
    text = "\n\n".join(p.text for p in document.paragraphs if p.text.strip())
    return text, document.core_properties.title or None


def _check_unpacked(data: bytes, name: str) -> None:
    """Refuse a .docx whose parts would unpack to more than a document's (a zip bomb)."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableSourceError(f"{name} is not a readable .docx file.", code="docx_unreadable", name=name) from exc
    size = sum(part.file_size for part in parts)
    if size > MAX_DOCX_UNPACKED_BYTES or len(parts) > MAX_DOCX_PARTS:
        raise SourceTooLargeError(
            f"{name} unpacks to {size:,} bytes in {len(parts):,} parts, more than a document holds "
            f"(at most {MAX_DOCX_UNPACKED_BYTES:,} bytes, {MAX_DOCX_PARTS:,} parts): refused.",
            code="docx_unpacked",
            name=name,
            size=size,
            parts=len(parts),
        )


# -- URLs -----------------------------------------------------------------------------------


def check_address(url: str, allow_private: bool) -> list[str]:
    """The addresses the URL's host resolves to, refusing the URL if any is a loopback,
    private or otherwise internal one, so that nobody can make the bot read the machine's
    own services (or a cloud's metadata); with `allow_private`, any address goes.

    The fetch connects to these very addresses (`_send`): resolving the host again to
    connect would let a resolver that answers a public address first and 127.0.0.1 next
    (DNS rebinding) steer the connection to an address that was never checked."""
    host, port = _host_and_port(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError) as exc:  # ValueError, UnicodeError: an unencodable host name
        raise FetchError(f"Cannot resolve the host {host}.", code="unresolved_host", host=host) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))  # in order, once each
    if not addresses:
        raise FetchError(f"Cannot resolve the host {host}.", code="unresolved_host", host=host)
    for found in addresses:
        address = ipaddress.ip_address(found)
        if not allow_private and (not address.is_global or address.is_multicast):
            raise FetchError(
                f"{host} is a private or local address ({address}); set ALLOW_PRIVATE_URLS=true to ingest from it.",
                code="private_address",
                host=host,
                address=str(address),
            )
    return addresses


def _host_and_port(url: str) -> tuple[str, int]:
    """The host and port an http(s) URL names, or a FetchError saying what is wrong with it:
    another scheme, no host, a space in the host, a port that is no port (urllib takes
    "0", and "99999" or "abc" would otherwise end as "cannot resolve the host")."""
    shown = _shown(url)
    parts = _parts(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"Only http(s) URLs can be ingested, not {shown}.", code="url_scheme", url=shown)
    if any(c.isspace() for c in parts.netloc):
        raise FetchError(f"{shown} has a space in its host name.", code="url_space", url=shown)
    if not parts.hostname:
        raise FetchError(f"{shown} has no host name (http://host/…).", code="url_no_host", url=shown)
    try:
        port = parts.port
    except ValueError:  # not a number, or over 65535
        port = 0
    if port == 0:
        given = parts.netloc.rsplit(":", 1)[1]
        raise FetchError(
            f"{shown} has an invalid port ({given}): a port is a number from 1 to 65535.",
            code="url_port",
            url=shown,
            port=given,
        )
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _parts(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:  # "http://[::1/": an unclosed IPv6 bracket
        shown = _shown(url)
        raise FetchError(f"{shown} is not a valid URL ({exc}).", code="url_invalid", url=shown) from exc


def _scheme(location: str) -> str:
    """The scheme of a URL (lower case), "" for a path; never an error."""
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", location)
    return found.group(1).lower() if found else ""


def _shown(url: str) -> str:
    """The URL without user:password@, for messages and for what the store records."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL urllib can split: cut what may be credentials by hand
        return re.sub(r"(?<=://)[^/?#]*@", "", url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


@dataclass(frozen=True)
class Validators:
    """What a server said identifies the version of a page it sent (its ETag and
    Last-Modified headers), sent back on the next fetch so that an unchanged page is a 304
    with no body (RFC 9110, conditional requests)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def load_url(url: str, limits: LoaderLimits = LoaderLimits()) -> LoadedSource:
    """An http(s) URL (anything else is refused), GET with redirects followed by hand, so
    that every hop's address is checked, and connected to: the host is resolved once per
    hop, by `check_address`, and the request sent to an address it checked.

    `limits.fetch_timeout_s` is one deadline for the whole fetch: resolving, connecting,
    every redirect and the whole body. (httpx's own timeouts apply to each read, so a
    server sending a byte every few seconds would otherwise never time out.) The fetch
    runs in a helper thread that the caller stops waiting for at the deadline; the thread
    itself gives up when its current read returns or times out (each request's reads get
    at most the time that was left when it was sent), closing the connection."""
    fetched = _fetch_in_time(url, limits, Validators())
    assert fetched is not None  # only a conditional fetch finds a page not modified
    return fetched


def load_url_if_changed(url: str, validators: Validators, limits: LoaderLimits = LoaderLimits()) -> LoadedSource | None:
    """`load_url`, but asking the server for the page only if it changed since the version
    `validators` name: None when it answers 304 Not Modified. A server that ignores the
    conditions sends the page as usual (the caller compares its text then)."""
    return _fetch_in_time(url, limits, validators)


def _fetch_in_time(url: str, limits: LoaderLimits, validators: Validators) -> LoadedSource | None:
    """The fetch of `load_url`, with its one deadline; None for a 304."""
    url = url.strip()  # a URL pasted with a space or a line break around it
    shown = _shown(_defragged(url))
    deadline = time.monotonic() + limits.fetch_timeout_s
    outcome: queue.SimpleQueue[tuple[_Fetched | None, BaseException | None]] = queue.SimpleQueue()

    def fetch() -> None:
        try:
            outcome.put((_fetch(url, limits, deadline, validators), None))
        except BaseException as exc:  # handed to the caller, raised there
            outcome.put((None, exc))

    threading.Thread(target=fetch, name="articlebot-fetch", daemon=True).start()
    try:
        fetched, error = outcome.get(timeout=max(0.0, deadline - time.monotonic()) + _DEADLINE_GRACE_S)
    except queue.Empty:
        raise _timed_out(shown, limits) from None
    if error is not None:
        raise error
    assert fetched is not None
    if fetched.not_modified:
        return None
    loaded = _extract(fetched.data, fetched.kind, fetched.shown, fetched.shown, fetched.shown, fetched.charset)
    return dataclasses.replace(loaded, etag=fetched.validators.etag, last_modified=fetched.validators.last_modified)


@dataclass(frozen=True)
class _Fetched:
    data: bytes
    kind: str
    shown: str
    charset: str | None
    validators: Validators = Validators()
    not_modified: bool = False  # 304: the version the request's validators name is current


def _defragged(url: str) -> str:
    """The URL without its #fragment (which no server sees); as it is if urllib cannot split it."""
    try:
        return urldefrag(url).url
    except ValueError:  # refused with a clear message by `_host_and_port`
        return url


def _fetch(url: str, limits: LoaderLimits, deadline: float, validators: Validators = Validators()) -> _Fetched:
    current = _defragged(url)
    shown = _shown(current)
    # trust_env=False: no proxy from the environment, which would resolve the host itself
    # and connect wherever its own DNS answer points, past the address check.
    # No keep-alive: each hop connects to the addresses just checked for it.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(headers={"User-Agent": USER_AGENT}, trust_env=False, limits=no_reuse) as client:
        for hop in range(MAX_REDIRECTS + 1):
            # What failed, in errors: the URL asked for, or the hop it redirected to.
            where = shown if hop == 0 else f"{_shown(current)} (where {shown} redirects)"
            addresses = check_address(current, limits.allow_private_urls)  # every hop, not just the first
            # The validators are those of the URL asked for: a redirect leads elsewhere.
            conditions = validators.headers() if hop == 0 else {}
            try:
                response = _send(client, current, addresses, deadline, limits, conditions)
                try:
                    if conditions and response.status_code == httpx.codes.NOT_MODIFIED:
                        return _Fetched(b"", "", shown, None, validators, not_modified=True)
                    if response.is_redirect:
                        current = _defragged(urljoin(current, response.headers["location"]))
                        continue
                    status = response.status_code
                    if status >= 400:
                        raise FetchError(
                            f"{where} answered HTTP {status} {httpx.codes.get_reason_phrase(status)}.",
                            code="http_status",
                            url=where,
                            status=status,
                        )
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    kind = CONTENT_TYPES.get(content_type)
                    if kind is None:
                        raise UnsupportedSourceError(
                            f"{where} is {content_type or 'of unknown type'}, not a web page, text or PDF.",
                            code="unsupported_content_type" if content_type else "unknown_content_type",
                            url=where,
                            content_type=content_type,
                        )
                    data = _read_capped(response, limits.max_bytes, shown, deadline, limits)
                finally:
                    response.close()
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                timed_out = isinstance(exc, httpx.TimeoutException)  # the deadline is the whole fetch's
                raise _not_fetched(shown if timed_out else where, exc, limits) from exc
            sent = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
            return _Fetched(data, kind, shown, response.charset_encoding, sent)
    raise FetchError(
        f"{shown} redirects more than {MAX_REDIRECTS} times.", code="too_many_redirects", url=shown, limit=MAX_REDIRECTS
    )


def _send(
    client: httpx.Client,
    url: str,
    addresses: list[str],
    deadline: float,
    limits: LoaderLimits,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET `url` from the first of `addresses` (the checked ones) that takes a connection,
    its body still to be read. The request goes to the address itself, so nothing resolves
    the host again; it still names the host in its Host header and, over https, in TLS
    (SNI), where the certificate is verified for the host, not for the address."""
    target = httpx.URL(url)
    headers = {"Host": target.netloc.decode("ascii"), **(extra_headers or {})}
    extensions = {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}
    for i, address in enumerate(addresses):
        timeout = _time_left(deadline, limits)  # each read gets at most what is left
        pinned = target.copy_with(host=address)
        request = client.build_request("GET", pinned, headers=headers, extensions=extensions, timeout=timeout)
        try:
            return client.send(request, stream=True)
        except httpx.ConnectError:
            if i == len(addresses) - 1:  # as when connecting by name: try each address in turn
                raise
    raise AssertionError("check_address returns at least one address")


def _time_left(deadline: float, limits: LoaderLimits) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.TimeoutException(_too_slow(limits))
    return left


def _too_slow(limits: LoaderLimits) -> str:
    seconds = limits.fetch_timeout_s
    return f"no complete answer within {seconds:g} second{'' if seconds == 1 else 's'} (FETCH_TIMEOUT)"


def _timed_out(shown: str, limits: LoaderLimits) -> FetchError:
    return FetchError(
        f"Cannot fetch {shown}: {_too_slow(limits)}.", code="fetch_timeout", url=shown, seconds=limits.fetch_timeout_s
    )


def _not_fetched(shown: str, exc: Exception, limits: LoaderLimits) -> FetchError:
    if isinstance(exc, httpx.TimeoutException):
        return _timed_out(shown, limits)
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"Cannot fetch {shown}: cannot connect to the server.", code="fetch_connect", url=shown)
    detail = exc.__class__.__name__
    return FetchError(
        f"Cannot fetch {shown}: the transfer failed ({detail}).", code="fetch_failed", url=shown, detail=detail
    )


def _read_capped(response: httpx.Response, max_bytes: int, url: str, deadline: float, limits: LoaderLimits) -> bytes:
    """Read at most max_bytes (after decompression), whatever Content-Length claims, and
    no longer than the fetch's deadline, however steadily the bytes trickle in."""
    body = bytearray()
    for piece in response.iter_bytes():
        body.extend(piece)
        if len(body) > max_bytes:
            raise _too_large(url, max_bytes)
        _time_left(deadline, limits)
    return bytes(body)
