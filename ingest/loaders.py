"""Load a source — a file path, an http(s) URL, or uploaded bytes — as plain text.

Every failure a user can cause ends in one of `ingest.errors`' exceptions with a message
fit to show them; nothing here writes to the store, so a failed load loses nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
from charset_normalizer import from_bytes

from ingest.errors import (
    EmptyArticleError,
    FetchError,
    SourceNotFoundError,
    SourceTooLargeError,
    UnreadableSourceError,
    UnsupportedSourceError,
)

KINDS = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx",
}
CONTENT_TYPES = {
    "text/html": "html", "application/xhtml+xml": "html", "text/plain": "text",
    "text/markdown": "markdown", "application/pdf": "pdf",
}
MAX_REDIRECTS = 5
USER_AGENT = "articlebot/0.1 (+https://github.com/articlebot)"


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


def supported() -> str:
    return ", ".join(sorted(KINDS))


def load_source(location: str, limits: LoaderLimits = LoaderLimits()) -> LoadedSource:
    """A file path or an http(s) URL."""
    if urlsplit(location).scheme in ("http", "https"):
        return _load_url(location, limits)
    path = Path(location).expanduser()
    if not path.is_file():
        raise SourceNotFoundError(f"No such file: {location}")
    kind = _kind_of(path.name)
    if path.stat().st_size > limits.max_bytes:
        raise SourceTooLargeError(f"{path.name} is larger than the limit of {limits.max_bytes:,} bytes.")
    return _extract(path.read_bytes(), kind, path.name, str(path.resolve()), path.name)


def load_bytes(
    data: bytes, filename: str, limits: LoaderLimits = LoaderLimits(), source: str | None = None
) -> LoadedSource:
    """An uploaded file's contents; its type comes from the file name's extension."""
    name = PurePosixPath(filename).name or "upload"
    kind = _kind_of(name)
    if len(data) > limits.max_bytes:
        raise SourceTooLargeError(f"{name} is larger than the limit of {limits.max_bytes:,} bytes.")
    return _extract(data, kind, name, source or name, name)


def _kind_of(name: str) -> str:
    kind = KINDS.get(PurePosixPath(name.lower()).suffix)
    if kind is None:
        raise UnsupportedSourceError(f"Cannot read {name}: supported file types are {supported()}.")
    return kind


# -- decoding and extraction -------------------------------------------------------------


def decode_text(data: bytes, name: str) -> str:
    """UTF-8, then GB18030 (a superset of GBK), then the best guess; binary is refused."""
    if b"\x00" in data[:8192]:
        raise UnreadableSourceError(f"{name} is not a text file (it contains binary data).")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        guess = from_bytes(data).best()
        if guess is None:
            raise UnreadableSourceError(f"Cannot tell the text encoding of {name}; save it as UTF-8.")
        text = str(guess)
    if _looks_binary(text):
        raise UnreadableSourceError(f"{name} does not look like text; is it really a {Path(name).suffix} file?")
    return text


def _looks_binary(text: str) -> bool:
    sample = text[:20_000]
    if not sample:
        return False
    odd = sum(
        1 for c in sample
        if (ord(c) < 32 and c not in "\n\r\t\f") or c == "\ufffd" or 0xE000 <= ord(c) <= 0xF8FF
    )
    return odd / len(sample) > 0.02


def _extract(data: bytes, kind: str, name: str, source: str, source_key: str) -> LoadedSource:
    if kind in ("text", "markdown"):
        text, title = decode_text(data, name), None
        if kind == "markdown":
            title = _markdown_title(text)
    elif kind == "html":
        text, title = _html_text(decode_text(data, name), name)
    elif kind == "pdf":
        text, title = _pdf_text(data, name)
    else:
        text, title = _docx_text(data, name)
    if not text.strip():
        raise EmptyArticleError(f"{name} contains no text.")
    return LoadedSource(text=text, title=title, source=source, source_key=source_key, kind=kind)


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
        if line.strip():
            return None
    return None


def _html_text(html: str, name: str) -> tuple[str, str | None]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True)
    if not text:
        raise EmptyArticleError(f"No article text found in {name}.")
    metadata = trafilatura.extract_metadata(html)
    return text, (metadata.title if metadata and metadata.title else None)


def _pdf_text(data: bytes, name: str) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(BytesIO(data))
        text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
        title = reader.metadata.title if reader.metadata and reader.metadata.title else None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableSourceError(f"{name} is not a readable PDF ({exc.__class__.__name__}).") from exc
    if not text.strip():
        raise EmptyArticleError(f"{name} has no text layer (a scanned or image-only PDF?).")
    return text, title


def _docx_text(data: bytes, name: str) -> tuple[str, str | None]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(BytesIO(data))
    except (PackageNotFoundError, ValueError, KeyError, OSError) as exc:
        raise UnreadableSourceError(f"{name} is not a readable .docx file.") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors from broken files
        raise UnreadableSourceError(f"{name} is not a readable .docx file.") from exc
    text = "\n\n".join(p.text for p in document.paragraphs if p.text.strip())
    return text, document.core_properties.title or None


# -- URLs -----------------------------------------------------------------------------------


def check_address(url: str, allow_private: bool) -> None:
    """Refuse URLs whose host resolves to a loopback, private or otherwise internal address,
    so that nobody can make the bot read the machine's own services."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"Only http(s) URLs can be ingested: {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise FetchError(f"Cannot resolve the host {parts.hostname}.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{parts.hostname} is a private or local address ({address}); "
                "set ALLOW_PRIVATE_URLS=true to ingest from it."
            )


def _load_url(url: str, limits: LoaderLimits) -> LoadedSource:
    url = urldefrag(url).url
    current = url
    with httpx.Client(timeout=limits.fetch_timeout_s, headers={"User-Agent": USER_AGENT}) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            check_address(current, limits.allow_private_urls)  # every hop, not just the first
            try:
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        current = urljoin(current, response.headers.get("location", ""))
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"{url} answered HTTP {response.status_code}.")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    kind = CONTENT_TYPES.get(content_type)
                    if kind is None:
                        raise UnsupportedSourceError(
                            f"{url} is {content_type or 'of unknown type'}, not a web page, text or PDF."
                        )
                    data = _read_capped(response, limits.max_bytes, url)
            except httpx.HTTPError as exc:
                raise FetchError(f"Cannot fetch {url} ({exc.__class__.__name__}).") from exc
            return _extract(data, kind, url, url, url)
    raise FetchError(f"{url} redirects more than {MAX_REDIRECTS} times.")


def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    body = bytearray()
    for piece in response.iter_bytes():
        body.extend(piece)
        if len(body) > max_bytes:
            raise SourceTooLargeError(f"{url} is larger than the limit of {max_bytes:,} bytes.")
    return bytes(body)
