"""The export archive: every article of a store in one zip file, to back up, restore or move.

    manifest.json               {"format": "articlebot-archive", "version": 1, "created_at",
                                 "embedding_model", "embedding_fingerprint", "dimension",
                                 "articles": [{"record": {…ArticleRecord…},
                                               "chunks": "articles/0001/chunks.jsonl", "chunks_sha256",
                                               "vectors": "articles/0001/vectors.npy", "vectors_sha256",
                                               "source": "articles/0001/source.html", "source_sha256",
                                               "source_name", "source_kind", "source_charset"}]}
    articles/0001/chunks.jsonl  one {"text", "metadata"} per chunk, in position order
    articles/0001/vectors.npy   the chunks' vectors as stored: float32, one row per chunk
    articles/0001/source.html   the source as ingested: the file's bytes, the page as fetched

It holds what the store keeps: each article's record (title, source path or URL, ingest
date, content hash), its chunks (text, section, offsets) with their vectors, which is what
answers are made of, and its source as it was read, byte for byte. An article ingested
before sources were kept (or from an archive of format 1, which had none) has no source
entry, and its record's `source_sha256` is "".

`read_archive` checks everything before it returns (format marker, version, each member's
SHA-256 and zip CRC, required fields and their types, chunk positions, vector shapes), so
an import has a whole archive or fails with one ArchiveError, having written nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document

from bot.errors import ArchiveError
from ingest.chunking import MAX_CHUNKS_PER_ARTICLE
from ingest.cleaning import clean_title
from ingest.loaders import LoaderLimits
from ingest.pipeline import ARTICLE_ID
from vectorstore.schema import ArticleRecord, Source

FORMAT = "articlebot-archive"
VERSION = 2  # raised when a reader of the old format could not read the new one (2: sources)
MANIFEST = "manifest.json"
# A record's fields and their types (annotations are strings here: `from __future__`).
_RECORD_FIELDS = {
    f.name: {"int": int, "float": float, "bool": bool}.get(str(f.type), str) for f in fields(ArticleRecord)
}
_OPTIONAL_FIELDS = {f.name for f in fields(ArticleRecord) if f.default is not MISSING}
_METADATA_TYPES = (str, int, float, bool)  # what Chroma stores as metadata
# The file name of an archived source, by the kind of source it is.
_SOURCE_SUFFIXES = {"text": ".txt", "markdown": ".md", "html": ".html", "pdf": ".pdf", "docx": ".docx"}
# A zip member that fails to read: bad CRC or compressed data, cut short, missing,
# encrypted or compressed in a way zipfile cannot read.
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError, RuntimeError, NotImplementedError)
# What a member may unpack to, checked on the sizes the zip declares before it is read
# (zipfile never unpacks past the declared size: more fails its CRC): a zip bomb is refused
# before it takes memory. A manifest is about 1 KB an article.
MAX_MANIFEST_BYTES = 64 << 20
MAX_CHUNK_LINE_BYTES = 256 << 10  # a chunk's JSON line: its text (a few hundred characters) and metadata
_NPY_HEADER_BYTES = 4096  # at most, before a vectors file's rows
# A member of over a megabyte that unpacks to more than this many times its packed size is
# no export (text packs 2-10 times, vectors hardly at all), but a bomb.
MAX_PACKING_RATIO = 200
_RATIO_FROM_BYTES = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    """What one archived article may hold: what ingest lets an article have."""

    max_chunks: int = MAX_CHUNKS_PER_ARTICLE
    max_source_bytes: int = LoaderLimits.max_bytes


@dataclass(frozen=True)
class ArchivedArticle:
    record: ArticleRecord
    chunks: list[Document]  # in position order, with their metadata as stored
    vectors: np.ndarray  # one row per chunk
    source: Source | None = None  # as ingested; None when the store kept none


@dataclass(frozen=True)
class Archive:
    created_at: str
    embedding_model: str
    embedding_fingerprint: str  # vectors are reusable only by a model of this fingerprint
    articles: list[ArchivedArticle]


@dataclass(frozen=True)
class Written:
    """What `write_archive` wrote."""

    articles: int
    chunks: int
    sources: int  # articles whose source is in it
    size: int  # bytes


def write_archive(
    path: Path,
    *,
    embedding_model: str,
    embedding_fingerprint: str,
    articles: Iterable[tuple[ArticleRecord, Sequence[Document], np.ndarray, Source | None]],
) -> Written:
    """Write the articles (read one at a time, so memory holds one article) to `path`.

    The archive is written next to `path` under a temporary name and renamed into place at
    the end: an export that fails midway leaves no half archive (and an older file of that
    name as it was)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    entries: list[dict[str, Any]] = []
    chunk_total, dimension, sources = 0, 0, 0
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for n, (record, chunks, vectors, source) in enumerate(articles, start=1):
                folder = f"articles/{n:04d}"
                lines = "".join(
                    json.dumps({"text": d.page_content, "metadata": d.metadata}, ensure_ascii=False) + "\n"
                    for d in chunks
                ).encode("utf-8")
                buffer = io.BytesIO()
                np.save(buffer, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
                matrix = buffer.getvalue()
                archive.writestr(f"{folder}/chunks.jsonl", lines)
                archive.writestr(f"{folder}/vectors.npy", matrix)
                entry = {
                    "record": record.to_metadata(),
                    "chunks": f"{folder}/chunks.jsonl",
                    "chunks_sha256": hashlib.sha256(lines).hexdigest(),
                    "vectors": f"{folder}/vectors.npy",
                    "vectors_sha256": hashlib.sha256(matrix).hexdigest(),
                }
                if source is not None:
                    member = f"{folder}/source{_SOURCE_SUFFIXES.get(source.kind, '.bin')}"
                    archive.writestr(member, source.data)
                    entry |= {
                        "source": member,
                        "source_sha256": hashlib.sha256(source.data).hexdigest(),
                        "source_name": source.name,
                        "source_kind": source.kind,
                        "source_charset": source.charset,
                    }
                    sources += 1
                entries.append(entry)
                chunk_total += len(chunks)
                dimension = dimension or (int(vectors.shape[1]) if vectors.ndim == 2 else 0)
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "embedding_model": embedding_model,
                "embedding_fingerprint": embedding_fingerprint,
                "dimension": dimension,
                "articles": entries,
            }
            archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"Cannot write {path}: {exc.strerror or exc.__class__.__name__}.") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Written(len(entries), chunk_total, sources, path.stat().st_size)


def read_archive(path: Path, limits: ArchiveLimits = ArchiveLimits()) -> Archive:
    """The archive at `path`, checked whole; ArchiveError (saying what is wrong) if it is
    missing, not an articlebot archive, of a newer format, damaged or cut short, or holds
    more than `limits` let an article hold."""
    if not path.is_file():
        raise ArchiveError(f"No such file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive, path, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ArchiveError(
            f"Cannot import {path}: it is not an articlebot archive (not a zip file), or it is cut short or damaged."
        ) from exc
    except OSError as exc:
        raise ArchiveError(f"Cannot read {path}: {exc.strerror or exc.__class__.__name__}.") from exc


def _read(archive: zipfile.ZipFile, path: Path, limits: ArchiveLimits) -> Archive:
    def damaged(what: str) -> ArchiveError:
        return ArchiveError(f"Cannot import {path}: the archive is damaged ({what}).")

    used: set[str] = set()  # members an article was read from: each belongs to one

    def unpacked(name: str, limit: int) -> bytes:
        """The member's bytes, refused before reading when it would unpack to too much."""
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise damaged(f"{name} is missing or cannot be read") from None
        bomb = info.file_size > _RATIO_FROM_BYTES and info.file_size > MAX_PACKING_RATIO * max(info.compress_size, 1)
        if info.file_size > limit or bomb:
            raise ArchiveError(
                f"Cannot import {path}: {name} unpacks to {info.file_size:,} bytes, "
                + ("more than it can hold" if info.file_size > limit else f"over {MAX_PACKING_RATIO} times its size")
                + "; refused (it is damaged or forged)."
            )
        try:
            return archive.read(info)
        except _UNREADABLE:
            raise damaged(f"{name} is missing or cannot be read") from None

    def member(name: object, sha256: object, limit: int) -> bytes:
        if not isinstance(name, str) or not isinstance(sha256, str):
            raise damaged("the manifest lists a file without its name or checksum")
        if name in used:
            raise damaged(f"two articles are read from {name}")
        used.add(name)
        data = unpacked(name, limit)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise damaged(f"{name} does not match its checksum")
        return data

    if MANIFEST not in archive.namelist():
        raise ArchiveError(f"Cannot import {path}: it is a zip file, but not an articlebot archive.")
    raw = unpacked(MANIFEST, MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"Cannot import {path}: it is a zip file, but not an articlebot archive.")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise damaged("its format version is missing")
    if version > VERSION:
        raise ArchiveError(
            f"Cannot import {path}: it is an archive of format version {version}, made by a newer articlebot; "
            f"this one reads version {VERSION}. Upgrade articlebot to import it."
        )
    header = {key: manifest.get(key) for key in ("created_at", "embedding_model", "embedding_fingerprint")}
    entries = manifest.get("articles")
    dimension = manifest.get("dimension")
    if not all(isinstance(value, str) for value in header.values()) or not isinstance(entries, list):
        raise damaged("its manifest lacks required fields")
    if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 0:
        raise damaged("its manifest lacks required fields")
    if 2 * len(entries) > len(archive.infolist()):  # each article has its chunks and vectors files
        raise damaged(f"its manifest lists {len(entries):,} articles, more than it holds")
    articles: list[ArchivedArticle] = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise damaged(f"article {n} in the manifest is not an object")
        record = _record(entry.get("record"), n, damaged)
        if record.chunk_count > limits.max_chunks:
            raise ArchiveError(
                f"Cannot import {path}: {record.article_id} has {record.chunk_count:,} chunks, more than "
                f"the {limits.max_chunks:,} an article may have here (MAX_CHUNKS_PER_ARTICLE)."
            )
        chunk_bytes = record.chunk_count * MAX_CHUNK_LINE_BYTES
        chunks = _chunks(member(entry.get("chunks"), entry.get("chunks_sha256"), chunk_bytes), record, damaged)
        vector_bytes = _NPY_HEADER_BYTES + 4 * record.chunk_count * dimension
        vectors = _vectors(
            member(entry.get("vectors"), entry.get("vectors_sha256"), vector_bytes), record, dimension, damaged
        )
        source = None
        if "source" in entry:
            data = member(entry.get("source"), entry.get("source_sha256"), limits.max_source_bytes)
            source = _source(entry, data, damaged)
        if (source is None and record.source_sha256) or entry.get("source_sha256", "") != record.source_sha256:
            raise damaged(f"the source of {record.article_id} does not match its record")
        articles.append(ArchivedArticle(record, chunks, vectors, source))
    for key in ("article_id", "source_key"):
        values = [getattr(a.record, key) for a in articles]
        if len(set(values)) < len(values):
            raise damaged(f"two articles have the same {key.replace('_', ' ')}")
    return Archive(
        str(header["created_at"]), str(header["embedding_model"]), str(header["embedding_fingerprint"]), articles
    )


def _record(raw: object, n: int, damaged: Any) -> ArticleRecord:
    if not isinstance(raw, dict):
        raise damaged(f"article {n} has no record")
    for name, kind in _RECORD_FIELDS.items():
        if name not in raw and name in _OPTIONAL_FIELDS:
            continue
        value = raw.get(name)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise damaged(f"article {n}'s record has no valid {name}")
    record = ArticleRecord.from_metadata(raw)
    # Ids are what the store's record ids are made of (`article_id:version:position`): an
    # archive's are checked as ingest makes them. Its version is only checked: the store
    # gives every version it stores a new one.
    if not ARTICLE_ID.fullmatch(record.article_id) or not record.version or record.chunk_count < 1:
        raise damaged(f"article {n}'s record has no valid id, version or chunk count")
    try:
        datetime.fromisoformat(record.ingested_at)
    except ValueError:
        raise damaged(f"article {n}'s record has no valid ingest date") from None
    title = clean_title(record.title)  # printed by `list`: no escape sequences, no second line
    if not title:
        raise damaged(f"article {n}'s record has no title")
    return replace(record, title=title)


def _chunks(data: bytes, record: ArticleRecord, damaged: Any) -> list[Document]:
    what = f"the chunks of {record.article_id}"
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise damaged(f"{what} are not JSON lines") from None
    if len(rows) != record.chunk_count:
        raise damaged(f"{what}: {len(rows)} of {record.chunk_count}")
    chunks = []
    for position, row in enumerate(rows):
        text = row.get("text") if isinstance(row, dict) else None
        meta = row.get("metadata") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text or not isinstance(meta, dict):
            raise damaged(f"{what}: chunk {position} lacks its text or metadata")
        if meta.get("position") != position or not all(isinstance(v, _METADATA_TYPES) for v in meta.values()):
            raise damaged(f"{what}: chunk {position} has bad metadata")
        chunks.append(Document(page_content=text, metadata=meta))
    return chunks


def _source(entry: dict, data: bytes, damaged: Any) -> Source:
    name, kind, charset = (entry.get(key) for key in ("source_name", "source_kind", "source_charset"))
    if not isinstance(name, str) or not isinstance(kind, str) or not isinstance(charset, str):
        raise damaged(f"the source {entry.get('source')} lacks its name, kind or charset")
    return Source(data, name, kind, charset)


def _vectors(data: bytes, record: ArticleRecord, dimension: int, damaged: Any) -> np.ndarray:
    what = f"the vectors of {record.article_id}"
    try:
        vectors = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise damaged(f"{what} cannot be read") from None
    if vectors.dtype != np.float32 or vectors.shape != (record.chunk_count, dimension):
        raise damaged(f"{what} do not fit its chunks")
    if not np.isfinite(vectors).all():
        raise damaged(f"{what} are not numbers")
    return vectors
