"""The Chroma client factory: embedded `PersistentClient` by default, `HttpClient` for a server.

    make_client(Path("data/chroma"))                            # embedded: one process at a time
    make_client(host="127.0.0.1", port=8000, headers=headers)   # a `chroma run` server: any number

**Embedded.** Chroma keeps a collection's vector index in the memory of the process that
opened it: a second process writing the same directory leaves the first one answering
from a stale index (it sees new ids but not their vectors), and two writers can corrupt
the index files. So an embedded store is locked to one process (an `flock` on a file in
its directory, held until the process exits); another process is refused with a message
that explains server mode. Within one process any number of clients share the lock.

**A damaged embedded store** is refused in one line that names the file and what to do,
never recreated: chromadb would silently start a new, empty database over a 0-byte or
missing `chroma.sqlite3` (and articlebot would seed it), losing every article. A full disk,
a read-only directory or a damaged database met later, mid-ingest or mid-query, becomes
the same kind of one line (`_guard_bindings`).

**Server.** Every request goes through one guard: a server that cannot be reached, times
out, fails (5xx, 429) or refuses the credentials (401, 403) becomes a
`StoreUnavailableError` with a one-line message (never a header value). Nothing is cached
across a failure, so the next request after the server is back simply works.

The headers (token included) go through chromadb's public `HttpClient(headers=...)`. The
timeout and the guard cannot: chromadb 1.5.9 has no public way to either (see
`_guard_session`), so that one function reaches into the client; nothing else here does.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api.base_http_client import BaseHTTPClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import AuthorizationError, ChromaAuthError, ChromaError

from vectorstore.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

LOCK_FILE = "articlebot.lock"
SQLITE_FILE = "chroma.sqlite3"  # chromadb's database in an embedded store's directory
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
        return _open_embedded(persist_dir, settings)
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


# -- embedded: opening, and the errors of a damaged, full or read-only store -----------------


def _open_embedded(persist_dir: Path, settings: ChromaSettings) -> chromadb.ClientAPI:
    """`PersistentClient` on `persist_dir`, locked to this process, with its errors made one line."""
    path, persist_dir = str(persist_dir), persist_dir.resolve()  # messages name the full path
    try:
        persist_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable_dir(persist_dir, exc) from None
    try:
        _lock_for_this_process(persist_dir)
    except OSError as exc:
        raise _unusable_dir(persist_dir, exc) from None
    _refuse_lost_database(persist_dir)  # once locked: another process may be creating the store
    try:
        client = chromadb.PersistentClient(path=path, settings=settings)
    except Exception as exc:
        translated = _store_error(persist_dir, exc)
        if translated is None:
            raise
        raise translated from None  # its message says it all; chromadb's traceback would not help
    _guard_bindings(client, persist_dir)
    return client


def _refuse_lost_database(persist_dir: Path) -> None:
    """Refuse a store whose database is empty or missing while its index directories are there.

    chromadb takes a 0-byte or missing `chroma.sqlite3` for a new store and creates an empty
    one; articlebot would then seed it, and every article stored before would be gone
    without a word. The index directories (one per collection, written with its first
    vectors and kept after its articles are removed) tell a store that held articles from
    one whose creation never finished (a full disk leaves a 0-byte database and nothing
    else): that one has nothing to lose and is simply created again.
    """
    database = persist_dir / SQLITE_FILE
    if not any(child.is_dir() for child in persist_dir.iterdir()):
        return
    start_over = (
        f"Restore {persist_dir} from a backup, or delete that directory to start over with an "
        "empty store (the default article is added again; other articles must be ingested again)."
    )
    if database.is_file() and database.stat().st_size == 0:
        raise StoreUnavailableError(
            f"The article store's database {database} is empty (0 bytes): it was damaged, perhaps "
            f"by a full disk or an interrupted copy, and is left as it is. {start_over}"
        )
    if not database.exists():
        raise StoreUnavailableError(
            f"The article store's database {database} is missing, though {persist_dir} holds "
            f"the store's index files; nothing was changed. {start_over}"
        )


def _unusable_dir(persist_dir: Path, exc: OSError) -> StoreUnavailableError:
    """The error for a store directory that cannot be created or written."""
    blocker = next((p for p in (persist_dir, *persist_dir.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        return StoreUnavailableError(
            f"The article store cannot be created in {persist_dir}: {blocker} is a file, not a "
            "directory. Move that file away, or set ARTICLEBOT_DATA_DIR to a directory."
        )
    if exc.errno == errno.ENOSPC:
        return _disk_full(persist_dir)
    return StoreUnavailableError(
        f"The article store {persist_dir} cannot be written ({exc.strerror or exc}). Give the user "
        "running articlebot write access to it, or set ARTICLEBOT_DATA_DIR to a writable directory."
    )


def _disk_full(persist_dir: Path) -> StoreUnavailableError:
    """Coded (`disk_full`, with the path), so that a face may word it in its user's language."""
    return StoreUnavailableError(
        f"The disk holding the article store {persist_dir} is full. Free some space there and run "
        "the command again (an ingest that failed left the stored articles as they were).",
        code="disk_full",
        path=str(persist_dir),
    )


def _nearly_full(persist_dir: Path) -> bool:
    """Whether the disk holding the store has less than LOW_SPACE_BYTES free (False when
    that cannot be told)."""
    try:
        return shutil.disk_usage(persist_dir).free < LOW_SPACE_BYTES
    except OSError:
        return False


# SQLite's result codes, as chromadb's Rust core reports them: "(code: 13) database or disk is full".
_SQLITE_CODE = re.compile(r"\(code: (\d+)\)")
_OS_ERROR = re.compile(r"os error (\d+)")
_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_FULL_CODES = {13}  # SQLITE_FULL
_UNWRITABLE_CODES = {8, 14}  # SQLITE_READONLY, SQLITE_CANTOPEN
_IO_CODES = {10}  # SQLITE_IOERR
# A full disk does not always say so: chromadb 1.5.9 reports a failed write of its log into
# the database as `InternalError: Error in compaction: Failed to apply logs to the metadata
# segment` (and every read after it as "Error sending backfill request to compactor: …"),
# without SQLite's reason. So an error it does not explain, while the store's disk has less
# than this free, is taken for a full disk. Measured: an import of 32-chunk batches failed so
# with 0.2 and 1 MB free and went through with 4 MB; a far bigger write (an HNSW index
# persisted whole) needs more, and well under this is too little for a store anyway.
LOW_SPACE_BYTES = 64 * 1024 * 1024


def _store_error(persist_dir: Path, exc: BaseException) -> StoreUnavailableError | None:
    """The one-line error for what chromadb raised about the store at `persist_dir`, or None
    when it is not about the store's files (a bad argument, a missing id: left as it is)."""
    if isinstance(exc, StoreUnavailableError):
        return exc
    if isinstance(exc, OSError):
        return _unusable_dir(persist_dir, exc)
    if not isinstance(exc, ChromaError | RuntimeError):
        return None
    text = str(exc)
    code_match = _SQLITE_CODE.search(text)
    code = int(code_match.group(1)) if code_match else None
    os_match = _OS_ERROR.search(text)
    os_errno = int(os_match.group(1)) if os_match else None
    database = persist_dir / SQLITE_FILE
    if code in _FULL_CODES or os_errno == errno.ENOSPC or "No space left" in text:
        return _disk_full(persist_dir)
    if code in _DAMAGED_CODES:
        detail = text[code_match.end() :].strip() if code_match else text
        return StoreUnavailableError(
            f"The article store's database {database} is damaged ({detail}). "
            f"Restore {persist_dir} from a backup, or delete that directory to start over with an "
            "empty store (the default article is added again; other articles must be ingested again)."
        )
    if code in _UNWRITABLE_CODES or os_errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = os.strerror(os_errno) if os_errno else (text[code_match.end() :].strip() if code_match else text)
        return StoreUnavailableError(
            f"The article store {persist_dir} cannot be written ({reason}). Give the user running "
            "articlebot write access to it, or set ARTICLEBOT_DATA_DIR to a writable directory."
        )
    if code in _IO_CODES or os_errno is not None:
        reason = os.strerror(os_errno) if os_errno else text[code_match.end() :].strip() if code_match else text
        return StoreUnavailableError(
            f"The article store {persist_dir} could not be read or written ({reason}). Check the disk "
            "it is on; if the store is damaged, restore it from a backup or delete that directory to start over."
        )
    if _nearly_full(persist_dir):  # chromadb's write of its log failed, reason unsaid (see LOW_SPACE_BYTES)
        return _disk_full(persist_dir)
    return None


class _GuardedBindings:
    """chromadb's Rust bindings with errors about the store's files made StoreUnavailableError."""

    def __init__(self, bindings: object, persist_dir: Path) -> None:
        self._bindings = bindings
        self._persist_dir = persist_dir

    def __getattr__(self, name: str):
        value = getattr(self._bindings, name)
        if not callable(value):
            return value
        persist_dir = self._persist_dir

        def call(*args, **kwargs):
            try:
                return value(*args, **kwargs)
            except Exception as exc:
                translated = _store_error(persist_dir, exc)
                if translated is None or translated is exc:
                    raise
                raise translated from exc

        return call


def _guard_bindings(client: chromadb.ClientAPI, persist_dir: Path) -> None:
    """Give an embedded client's every call the one-line errors of `_store_error`.

    A full disk, a read-only directory or a damaged page is met by whichever call touches
    it first (an ingest's upsert, a query, a count), at every call site of ours and of
    langchain-chroma. chromadb 1.5.9's embedded client (`chromadb.api.rust.RustBindingsAPI`)
    sends every one of them through its `bindings` object, so that object is wrapped once per
    store (chromadb shares it among the clients of one path). If an upgrade moves it, this
    fails at once, as `_guard_session` does.
    """
    server = getattr(client, "_server", None)
    bindings = getattr(server, "bindings", None)
    if bindings is None:
        raise RuntimeError(
            f"chromadb {chromadb.__version__} no longer keeps its embedded bindings where articlebot "
            "expects them (client._server.bindings); vectorstore/client.py needs updating."
        )
    if not isinstance(bindings, _GuardedBindings):
        server.bindings = _GuardedBindings(bindings, persist_dir)  # type: ignore[union-attr]


# -- embedded: index files of deleted collections ------------------------------------------


def remove_unused_indexes(client: chromadb.ClientAPI) -> int:
    """Delete the index directories that no collection of an embedded store uses any more;
    returns how many.

    chromadb 1.5.9 deletes a collection's records but leaves its HNSW index on disk, a
    directory named by the collection's vector segment (chroma-core/chroma#5259: removing it
    is left to a garbage collector that an embedded store does not run). So the segments in
    use are read from chromadb's own `segments` table (read-only, as chroma-ops' `db clean`
    does), and only directories named by a segment id that is not among them are removed.
    A segment's row is written when its collection is created, before any of its files.
    """
    persist_dir = Path(client.get_settings().persist_directory)
    try:
        with closing(sqlite3.connect(f"file:{persist_dir / SQLITE_FILE}?mode=ro", uri=True)) as database:
            used = {str(row[0]) for row in database.execute("SELECT id FROM segments")}
    except sqlite3.Error:  # (busy, or a chromadb that keeps its segments elsewhere): removes nothing
        logger.warning("Could not read which index directories %s uses; none removed", persist_dir, exc_info=True)
        return 0
    if not used:  # (never the case while a collection exists: nothing is taken for unused on a misread)
        return 0
    removed = 0
    for child in persist_dir.iterdir():
        if child.is_dir() and _is_uuid(child.name) and child.name not in used:
            shutil.rmtree(child)
            removed += 1
    return removed


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False
