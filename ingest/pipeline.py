"""Ingest: loaded source → clean text → chunks → the store, replacing any older version.

The same source (same URL or file name, or failing that the same title) always maps to
the same article id, so ingesting it again replaces the article rather than adding a
second copy; unchanged text is detected by hash and skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from ingest.chunking import CHUNK_OVERLAP, CHUNK_SIZE, chunk_article, content_hash
from ingest.cleaning import clean
from ingest.errors import EmptyArticleError
from ingest.loaders import LoadedSource
from vectorstore.schema import ArticleRecord
from vectorstore.store import ArticleStore

# progress(stage, done, total): "cleaning", "chunking", "embedding" (done/total chunks), "done"
Progress = Callable[[str, int, int], None]


def no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


@dataclass(frozen=True)
class IngestResult:
    record: ArticleRecord
    status: Literal["new", "unchanged", "replaced"]
    replaced: ArticleRecord | None = None  # the older version, when status == "replaced"


def article_id_for(source_key: str, title: str) -> str:
    """A readable, stable id: ASCII words of the source name or title plus a short hash."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source_key.rstrip("/").rsplit("/", 1)[-1])
    words = re.findall(r"[a-z0-9]+", f"{stem} {title}".lower())
    slug = "-".join(words)[:32].strip("-") or "article"
    return f"{slug}-{hashlib.sha256(source_key.encode()).hexdigest()[:6]}"


def ingest_loaded(
    store: ArticleStore,
    loaded: LoadedSource,
    title: str | None = None,
    progress: Progress = no_progress,
    *,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
) -> IngestResult:
    """Clean, chunk and store one loaded source; the previous version stays live until the
    new one is completely stored."""
    progress("cleaning", 0, 0)
    cleaned = clean(loaded.text, title=title or loaded.title)
    digest = content_hash(f"{cleaned.title}\n{cleaned.text}")
    previous = store.find_article(source_key=loaded.source_key, title=cleaned.title)
    if previous is not None and previous.content_hash == digest:
        progress("done", previous.chunk_count, previous.chunk_count)
        return IngestResult(previous, "unchanged")

    progress("chunking", 0, 0)
    chunks = chunk_article(cleaned, chunk_size, chunk_overlap)
    if not chunks:
        raise EmptyArticleError("The article has no text left to index after cleaning.")
    record = ArticleRecord(
        article_id=previous.article_id if previous else article_id_for(loaded.source_key, cleaned.title),
        title=cleaned.title,
        source=loaded.source,
        source_key=loaded.source_key,
        content_hash=digest,
        version=digest[:12],
        chunk_count=len(chunks),
        ingested_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        kind=loaded.kind,
    )
    for chunk in chunks:
        chunk.metadata.update(
            article_id=record.article_id,
            version=record.version,
            source=record.source,
            ingested_at=record.ingested_at,
        )
    store.put_article(record, chunks, progress=lambda done, total: progress("embedding", done, total))
    progress("done", len(chunks), len(chunks))
    return IngestResult(record, "replaced" if previous else "new", previous)
