"""Ingest: loaded source → clean text → chunks → the store, replacing any older version.

The same source (same URL or file name, or failing that the same title) always maps to
the same article id, so ingesting it again replaces the article rather than adding a
second copy; unchanged text is detected by hash and skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from langchain_core.documents import Document

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

    def describe(self) -> str:
        """One line: id, title, chunk count and what happened to the store; the CLI prints
        it and the bot's admins get it as the ingest's summary, so both say the same."""
        record, old = self.record, self.replaced
        if self.status == "new":
            what = "added"
        elif self.status == "unchanged":
            what = "unchanged, skipped"
        elif old is not None:
            what = f"replaced version {old.version} of {old.ingested_at}"
            if old.title != record.title:
                what += f" titled “{old.title}”"
        chunks = f"{record.chunk_count} chunk{'' if record.chunk_count == 1 else 's'}"
        return f"{record.article_id}  {record.title}  ({chunks}, {what})"


def article_id_for(source_key: str, title: str) -> str:
    """A readable, stable id: ASCII words of the source name or title plus a short hash."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source_key.rstrip("/").rsplit("/", 1)[-1])
    words = re.findall(r"[a-z0-9]+", f"{stem} {title}".lower())
    slug = "-".join(words)[:32].strip("-") or "article"
    return f"{slug}-{hashlib.sha256(source_key.encode()).hexdigest()[:6]}"


@dataclass(frozen=True)
class _Prepared:
    """A source cleaned and chunked, ready to store."""

    record: ArticleRecord
    chunks: list[Document]
    previous: ArticleRecord | None


def ingest_many(
    store: ArticleStore,
    sources: Sequence[tuple[LoadedSource, str | None]],
    progress: Progress = no_progress,
    *,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
) -> list[IngestResult]:
    """Ingest several (source, title) pairs in one pass, one result each, in order.

    All are cleaned and chunked before anything is stored, so a bad one (an empty article)
    fails the call with nothing written; their chunks are then embedded together, which
    is what makes a bulk ingest fast (see `ArticleStore.put_articles`).
    """
    prepared = [_prepare(store, loaded, title, progress, chunk_size, chunk_overlap) for loaded, title in sources]
    to_store = [p for p in prepared if isinstance(p, _Prepared)]
    if to_store:
        store.put_articles(
            [(p.record, p.chunks) for p in to_store],
            progress=lambda done, total: progress("embedding", done, total),
        )
    chunk_total = sum(p.record.chunk_count for p in prepared)
    progress("done", chunk_total, chunk_total)
    return [
        IngestResult(p.record, "replaced" if p.previous else "new", p.previous) if isinstance(p, _Prepared) else p
        for p in prepared
    ]


def _prepare(
    store: ArticleStore,
    loaded: LoadedSource,
    title: str | None,
    progress: Progress,
    chunk_size: int,
    chunk_overlap: int,
) -> _Prepared | IngestResult:
    """The source's record and chunks; or the "unchanged" result when its text is stored already."""
    progress("cleaning", 0, 0)
    cleaned = clean(loaded.text, title=title or loaded.title)
    digest = content_hash(f"{cleaned.title}\n{cleaned.text}")
    previous = store.find_article(source_key=loaded.source_key, title=cleaned.title)
    if previous is not None and previous.content_hash == digest:
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
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        kind=loaded.kind,
    )
    for chunk in chunks:
        chunk.metadata.update(
            article_id=record.article_id,
            version=record.version,
            source=record.source,
            ingested_at=record.ingested_at,
        )
    return _Prepared(record, chunks, previous)
