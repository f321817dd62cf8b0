"""The Chroma client factory: embedded `PersistentClient` by default, `HttpClient` for a server.

    make_client(Path("data/chroma"))                            # embedded: one process at a time
    make_client(host="127.0.0.1", port=8000, headers=headers)   # a `chroma run` server: any number

**Embedded.** Chroma keeps a collection's vector index in the memory of the process that
opened it: a second process writing the same directory leaves the first one answering
from a stale index (it sees new ids but not their vectors), and two writers can corrupt
the index files. So an embedded store is locked to one process (an `flock` on a file in
its directory, held until the process exits); another process is refused with a message
that explains server mode. Within one process any number of clients share the lock.

**Server.** Every request goes through one guard: a server that cannot be reached, times
out, fails (5xx, 429) or refuses the credentials (401, 403) becomes a
`StoreUnavailableError` with a one-line message (never a header value). Nothing is cached
across a failure, so the next request after the server is back simply works.

The headers (token included) go through chromadb's public `HttpClient(headers=...)`. The
timeout and the guard cannot: chromadb 1.5.9 has no public way to either (see
`_guard_session`), so that one function reaches into the client; nothing else here does.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api.base_http_client import BaseHTTPClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import AuthorizationError, ChromaAuthError

from vectorstore.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

LOCK_FILE = "articlebot.lock"
# No answer within these many seconds counts as an outage (chromadb's own default is to wait forever).
SERVER_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
_UNAVAILABLE_STATUS = {429, 500, 502, 503, 504}
_REFUSED_STATUS = {401, 403}


def make_client(
    persist_dir: Path | None = None,
    *,
    host: str | None = None,
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
) -> chromadb.ClientAPI:
    """Open the store; exactly one of `persist_dir` (embedded) or `host` (server) is used."""
    if persist_dir is not None and host is not None:
        raise ValueError("Give either a persist directory or a server host, not both.")
    settings = ChromaSettings(anonymized_telemetry=False)  # no phoning home from here
    if host is None:
        if persist_dir is None:
            raise ValueError("An embedded store needs a persist directory.")
        persist_dir.mkdir(parents=True, exist_ok=True)
        _lock_for_this_process(persist_dir)
        return chromadb.PersistentClient(path=str(persist_dir), settings=settings)
    where = _server_name(host, port)
    headers = dict(headers or {})
    _preflight(host, port, ssl, headers, where, settings)
    try:
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, headers=headers, settings=settings)
    except (ChromaAuthError, AuthorizationError) as exc:
        raise StoreUnavailableError(_refused(where, exc.__class__.__name__)) from exc
    except Exception as exc:  # the server went away between the preflight and here
        raise StoreUnavailableError(_unavailable(_failed(where, exc))) from exc
    _guard_session(client, where)
    return client


# -- server ------------------------------------------------------------------------------


def _server_name(host: str, port: int) -> str:
    """`host:port` for messages; a URL's user and password are left out."""
    if "://" in host:
        parts = urlsplit(host)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return f"{host}:{port}"


def _unavailable(reason: str) -> str:
    return f"The article store is unavailable ({reason}); try again shortly."


def _failed(where: str, exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError) or "Could not connect" in str(exc):
        return f"cannot connect to the Chroma server at {where}"
    if isinstance(exc, httpx.TimeoutException):
        return f"the Chroma server at {where} did not answer in time"
    return f"the connection to the Chroma server at {where} failed: {exc.__class__.__name__}"


def _refused(where: str, why: str) -> str:
    return (
        f"The Chroma server at {where} refused articlebot's credentials ({why}); "
        "check CHROMA_AUTH_TOKEN and CHROMA_HEADERS."
    )


def _guard_session(client: chromadb.ClientAPI, where: str) -> None:
    """Give `client`'s HTTP session our timeout and our guard: the one use of chromadb internals.

    Why not a public mechanism: in chromadb 1.5.9 the HTTP client (`chromadb.api.fastapi.FastAPI`)
    builds its own `httpx.Client(timeout=None, ...)` and sends every request, ours and
    langchain-chroma's, through `_session.request`. Its public knobs are `HttpClient(host, port,
    ssl, headers, settings)`, `Settings.chroma_server_ssl_verify` and the client auth provider:
    headers, TLS and credentials only. No setting sets the HTTP timeout (the
    `chroma_*_timeout_seconds` settings are for the distributed server's internal services), so
    a server that accepts the connection and never answers would hang a caller forever; and
    without the guard an outage surfaces as whatever chromadb lets through (a bare httpx
    `ConnectError`/`ReadTimeout`, or `Exception(<response body>)` for a 5xx), at every call
    site of every library. `Settings.chroma_api_impl` could name a subclass of `FastAPI`, but
    that subclass would still have to override the same private `_make_request`/`_session`.

    So we set the session's timeout (a public httpx property) and wrap its `request`. If a
    chromadb upgrade moves the session, this fails at once with a message saying so instead
    of silently running without a timeout; tests/test_chroma_server.py covers the behaviour
    (outages mid-session, refused credentials, recovery).
    """
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise RuntimeError(
            f"chromadb {chromadb.__version__} no longer keeps its HTTP session where articlebot "
            "expects it (client._server._session); vectorstore/client.py needs updating."
        )
    session.timeout = SERVER_TIMEOUT
    session.request = _guarded(session.request, where)  # type: ignore[method-assign]  # the patch described above


def _guarded(send: Callable[..., httpx.Response], where: str) -> Callable[..., httpx.Response]:
    """`send` (an httpx `request`) with outages and refusals turned into StoreUnavailableError.

    Wrapping the session's `request` covers every call chromadb makes, ours and
    langchain-chroma's alike.
    """

    def request(*args, **kwargs) -> httpx.Response:
        try:
            response = send(*args, **kwargs)
        except httpx.TransportError as exc:  # refused, reset, timed out, TLS
            raise StoreUnavailableError(_unavailable(_failed(where, exc))) from exc
        status = response.status_code
        if status in _REFUSED_STATUS:
            raise StoreUnavailableError(_refused(where, f"HTTP {status}"))
        if status in _UNAVAILABLE_STATUS:
            logger.warning("Chroma server %s answered HTTP %s: %.200s", where, status, response.text)
            raise StoreUnavailableError(_unavailable(f"the Chroma server at {where} answered HTTP {status}"))
        return response

    return request


def _preflight(host: str, port: int, ssl: bool, headers: dict[str, str], where: str, settings: ChromaSettings) -> None:
    """Ask the server who we are, as chromadb's client does first, but with our checks:
    an unreachable server or refused credentials get their own message, not chromadb's."""
    base = BaseHTTPClient.resolve_url(host, ssl, settings.chroma_server_api_default_path, port)
    with httpx.Client(headers=headers, timeout=SERVER_TIMEOUT) as probe:
        _guarded(probe.request, where)("GET", f"{base}/auth/identity")


# -- embedded ----------------------------------------------------------------------------

_held: dict[Path, int] = {}  # this process's store locks: directory → open lock file
_held_guard = threading.Lock()
os.register_at_fork(after_in_child=_held.clear)  # a forked child must take its own lock


def _lock_for_this_process(persist_dir: Path) -> None:
    """Make this process the only one using the embedded store at `persist_dir`."""
    directory = persist_dir.resolve()
    with _held_guard:
        if directory in _held:
            return
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreUnavailableError(
                f"The article store {directory} is in use by another process (pid {holder}); an "
                "embedded store serves one process at a time. Stop that process, or run a Chroma "
                f"server (`chroma run --path {directory} --host 127.0.0.1 --port 8000`) and set "
                "CHROMA_HOST=127.0.0.1 for the bot and every articlebot command (docs/deployment.md: 'Several processes')."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[directory] = fd
