"""Ingest: loaded source → clean text → chunks → the store, replacing any older version.

An article is its source (`source_key_of`): a web page's URL, a local file's absolute
path, an uploaded file's name. Ingesting the same source again replaces its article
(same id) rather than adding a second copy; unchanged text is detected by hash and
skipped. Anything else is a new article, even with a title another article has (the
summary then says so); `replace=ID` replaces a given article with another source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from langchain_core.documents import Document

from ingest.chunking import CHUNK_OVERLAP, CHUNK_SIZE, MAX_CHUNKS_PER_ARTICLE, chunk_article, content_hash
from ingest.cleaning import clean
from ingest.errors import EmptyArticleError, IngestError
from ingest.loaders import LoadedSource
from vectorstore.progress import Progress, no_progress
from vectorstore.schema import ArticleRecord, Source
from vectorstore.store import ArticleStore


class SourceTakenError(IngestError):
    """`replace=ID` with a source that already is another article: two articles of one
    source would leave the next ingest of it not knowing which to replace."""


@dataclass(frozen=True)
class IngestResult:
    record: ArticleRecord
    status: Literal["new", "unchanged", "replaced"]
    replaced: ArticleRecord | None = None  # the older version, when status == "replaced"
    # Other articles with this title, when this one is new or replaced: told, not merged.
    same_title: tuple[ArticleRecord, ...] = ()
    # What the loader noted about the source (`LoadedSource.notes`), told with the summary.
    notes: tuple[str, ...] = ()

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
            if old.source != record.source:
                what += f" from {old.source}"
        if self.same_title:
            what += f"; {_also_titled(record.title, self.same_title)}"
        for note in self.notes:
            what += f"; {note}"
        chunks = f"{record.chunk_count} chunk{'' if record.chunk_count == 1 else 's'}"
        return f"{record.article_id}  {record.title}  ({chunks}, {what})"


def _also_titled(title: str, others: Sequence[ArticleRecord]) -> str:
    ids = ", ".join(other.article_id for other in others)
    if len(others) == 1:
        return f"another article is also titled “{title}” (id {ids})"
    return f"{len(others)} other articles are also titled “{title}” (ids {ids})"


def source_key_of(loaded: LoadedSource) -> str:
    """What makes two ingests the same article: the same source, as the loader records it in
    `source` — a web page's URL (after redirects), a local file's absolute path, an uploaded
    file's name. (The loaders' `source_key` of a local file is only its name, which would
    make unrelated files in two folders, README.md and README.md, one article.)"""
    return loaded.source


# Every id `article_id_for` makes (a slug of at most 32 characters, "-", 6 hex digits) fits
# this; ids from elsewhere (an archive) are checked against it.
ARTICLE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


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
    source: Source | None  # the bytes it was read from, which the store keeps with it


def ingest_sources(
    store: ArticleStore,
    sources: Sequence[tuple[LoadedSource, str | None]],
    progress: Progress = no_progress,
    *,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
    replace: str | None = None,
    max_chunks: int = MAX_CHUNKS_PER_ARTICLE,
) -> list[IngestResult]:
    """Ingest several (source, title) pairs in one pass, one result each, in order.

    All are cleaned and chunked before anything is stored, so a bad one (an empty article,
    one of more than `max_chunks` chunks) fails the call with nothing written; their chunks are then embedded together, which
    is what makes a bulk ingest fast (see `ArticleStore.put_articles`).

    Each source replaces the article of the same source (`source_key_of`), or is added as
    a new one. `replace` (one source only) names the article to replace instead; an unknown
    id raises ArticleNotFoundError, and a source that is another article's SourceTakenError,
    both before anything is written.
    """
    if replace is not None and len(sources) != 1:
        raise ValueError("replace applies to a single source")
    target = store.article(replace) if replace is not None else None
    prepared = [
        _prepare(store, loaded, title, progress, chunk_size, chunk_overlap, target, max_chunks)
        for loaded, title in sources
    ]
    to_store = [p for p in prepared if isinstance(p, _Prepared)]
    prepared = [_with_validators(store, p, loaded) for p, (loaded, _title) in zip(prepared, sources, strict=True)]
    if to_store:
        stored = store.put_articles(
            [(p.record, p.chunks) for p in to_store],
            progress=progress,
            sources=[p.source for p in to_store],
        )
        as_stored = {record.article_id: record for record in stored}  # with what the store added
        prepared = [
            dataclasses.replace(p, record=as_stored[p.record.article_id]) if isinstance(p, _Prepared) else p
            for p in prepared
        ]
        to_store = [p for p in prepared if isinstance(p, _Prepared)]
    chunk_total = sum(p.record.chunk_count for p in prepared)
    progress("done", chunk_total, chunk_total)
    # The articles as they are now, to tell the admin about titles that are no longer unique.
    now = {r.article_id: r for r in store.articles()} if to_store else {}
    now.update((p.record.article_id, p.record) for p in to_store)

    def result(p: _Prepared | IngestResult) -> IngestResult:
        if not isinstance(p, _Prepared):
            return p
        title, own_id = p.record.title, p.record.article_id
        same = tuple(r for r in now.values() if r.title == title and r.article_id != own_id)
        return IngestResult(p.record, "replaced" if p.previous else "new", p.previous, same)

    return [
        dataclasses.replace(result(p), notes=loaded.notes) if loaded.notes else result(p)
        for p, (loaded, _title) in zip(prepared, sources, strict=True)
    ]


def _with_validators(
    store: ArticleStore, p: _Prepared | IngestResult, loaded: LoadedSource
) -> _Prepared | IngestResult:
    """An unchanged web page whose server now names its version differently (a new ETag
    or Last-Modified for the same text): remember the new validators, so the next refresh
    can be answered with a 304."""
    if not isinstance(p, IngestResult) or loaded.etag is None and loaded.last_modified is None:
        return p
    record = p.record
    etag, last_modified = loaded.etag or "", loaded.last_modified or ""
    if (record.etag, record.last_modified) == (etag, last_modified):
        return p
    updated = dataclasses.replace(record, etag=etag, last_modified=last_modified)
    store.update_record(updated)
    return dataclasses.replace(p, record=updated)


def _prepare(
    store: ArticleStore,
    loaded: LoadedSource,
    title: str | None,
    progress: Progress,
    chunk_size: int,
    chunk_overlap: int,
    target: ArticleRecord | None,
    max_chunks: int = MAX_CHUNKS_PER_ARTICLE,
) -> _Prepared | IngestResult:
    """The source's record and chunks; or the "unchanged" result when its text is stored already.

    The record replaces `target` when given, else the article of the same source, if any."""
    key = source_key_of(loaded)
    previous = store.find_article(source_key=key)
    if target is not None:
        if previous is not None and previous.article_id != target.article_id:
            raise SourceTakenError(
                f"{key} is already article {previous.article_id} (“{previous.title}”): ingest it without "
                f"--replace to update that one, or remove one of the two first."
            )
        previous = target
    progress("cleaning", 0, 0)
    cleaned = clean(loaded.text, title=title or loaded.title)
    digest = content_hash(f"{cleaned.title}\n{cleaned.text}")
    if previous is not None and previous.content_hash == digest and previous.source == loaded.source:
        return IngestResult(previous, "unchanged")
    progress("chunking", 0, 0)
    chunks = chunk_article(cleaned, chunk_size, chunk_overlap, max_chunks)
    if not chunks:
        raise EmptyArticleError("The article has no text left to index after cleaning.", code="empty_after_cleaning")
    record = ArticleRecord(
        article_id=previous.article_id if previous else article_id_for(key, cleaned.title),
        title=cleaned.title,
        source=loaded.source,
        source_key=key,
        content_hash=digest,
        version="",  # each stored version gets its own from the store (`ArticleStore.put_articles`)
        chunk_count=len(chunks),
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        kind=loaded.kind,
        etag=loaded.etag or "",
        last_modified=loaded.last_modified or "",
    )
    for chunk in chunks:
        chunk.metadata.update(article_id=record.article_id, source=record.source, ingested_at=record.ingested_at)
    source = None
    if loaded.original is not None:
        source = Source(loaded.original, loaded.source_key, loaded.kind, loaded.charset or "")
    return _Prepared(record, chunks, previous, source)
