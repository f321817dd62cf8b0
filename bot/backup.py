"""Back up, restore, move: every live article to one archive file, and back into a store.

Export reads each article's live chunks and vectors as stored, and its source as ingested
(`bot.archive` says what the file holds). Import reads and checks the whole archive first,
then stores every article that is new or changed in one `ArticleStore.put_articles` call,
the path ingest takes: new chunks are written first, then all the articles switch at once,
so an import that fails midway leaves every article as it was, still answerable, and
writes nothing live. Imported articles get versions of their own, as every write does: an
archive's versions are never trusted to be distinct from what is live.

An archived article is the store's article of the same id, else of the same source (like
ingest, never by title); one whose content hash and source are the same is skipped. The
vectors in the archive are stored as they are when the store's embedding model has the
fingerprint they were made with, else the chunks are embedded again with the store's model.
Sources are restored with their articles, so a moved library can still export them.
Articles in the store that the archive lacks are left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.documents import Document

from bot.archive import Archive, ArchivedArticle, ArchiveLimits, read_archive, write_archive
from bot.errors import ArchiveError
from ingest.pipeline import IngestResult
from vectorstore.progress import Progress, no_progress
from vectorstore.schema import ArticleRecord, Source
from vectorstore.store import ArticleStore

READ_ATTEMPTS = 3  # reads of one article replaced meanwhile (by another process) before giving up


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    articles: int
    chunks: int
    sources: int  # articles whose source as ingested is in it
    size: int  # bytes

    @property
    def size_text(self) -> str:
        """The archive's size, as people write it: 47 KB, 3.2 MB."""
        if self.size < 1024 * 1024:
            return f"{max(1, round(self.size / 1024))} KB"
        return f"{self.size / 1024 / 1024:.1f} MB"

    def describe(self) -> str:
        """One line, printed by `articlebot export`."""
        line = (
            f"Exported {self.articles} article{'' if self.articles == 1 else 's'} "
            f"({self.chunks} chunks, {self.size_text}) to {self.path}."
        )
        missing = self.articles - self.sources
        if missing:
            line += (
                f" {missing} of them {'has' if missing == 1 else 'have'} no source in it: ingested before "
                "articlebot kept sources (ingest them again to keep theirs)."
            )
        return line


@dataclass(frozen=True)
class ImportSummary:
    path: Path
    results: list[IngestResult]  # one per archived article, in the archive's order
    reused_vectors: bool  # False: the chunks were embedded again with `model`
    model: str

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def describe(self) -> str:
        """The last line `articlebot import` prints, after each article's own line."""
        n = len(self.results)
        counts = f"{self.count('new')} added, {self.count('replaced')} replaced, {self.count('unchanged')} unchanged"
        stored = self.count("new") + self.count("replaced")
        how = ""
        if stored:
            how = "; vectors as archived (same model)" if self.reused_vectors else f"; embedded with {self.model}"
        return f"Imported {n} article{'' if n == 1 else 's'} from {self.path}: {counts}{how}."


def export_store(store: ArticleStore, path: Path) -> ExportSummary:
    """Write every live article of `store` to the archive `path` (replacing a file there)."""
    records = store.articles()
    written = write_archive(
        path,
        embedding_model=store.embeddings.name,
        embedding_fingerprint=store.embeddings.fingerprint,
        articles=_live_articles(store, records),
    )
    return ExportSummary(path, written.articles, written.chunks, written.sources, written.size)


def _live_articles(
    store: ArticleStore, records: list[ArticleRecord]
) -> Iterator[tuple[ArticleRecord, list, np.ndarray, Source | None]]:
    """Each article's chunks, vectors and source, read one article at a time. On a Chroma
    server an article may be replaced (its old chunks deleted) or removed while this runs:
    then its new version is read, or it is left out."""
    for record in records:
        current: ArticleRecord | None = record
        for _ in range(READ_ATTEMPTS):
            if current is None:
                break
            chunks, vectors = store.article_chunks(current)
            source = store.source(current)
            if len(chunks) == current.chunk_count and (source is not None or not current.source_sha256):
                yield current, chunks, vectors, source
                break
            current = store.get_article(record.article_id)
        else:
            raise ArchiveError(f"The article {record.article_id} kept changing during the export; export again.")


def import_archive(
    store: ArticleStore, path: Path, progress: Progress = no_progress, limits: ArchiveLimits = ArchiveLimits()
) -> ImportSummary:
    """Restore the archive at `path` into `store`; ArchiveError, with nothing written, when
    it is not a whole articlebot archive, holds more than `limits` let an article hold, or
    its articles clash with the store's."""
    progress("reading", 0, 0)
    archive = read_archive(path, limits)
    store.check_model()  # never mix two models' vectors in one index
    plan = _plan(store, archive)
    to_store = [(record, chunks, a) for record, chunks, a, previous in plan if chunks]
    reuse = archive.embedding_fingerprint == store.embeddings.fingerprint
    if reuse and to_store:  # the same model makes vectors of one width; a forged archive might not
        width = len(store.embeddings.embed_query("width"))
        reuse = all(a.vectors.shape[1] == width for _, _, a in to_store)
    stored: dict[str, ArticleRecord] = {}  # as the store made them: with a version of their own
    if to_store:
        written = store.put_articles(
            [(record, chunks) for record, chunks, _ in to_store],
            progress=progress,
            vectors=[a.vectors for _, _, a in to_store] if reuse else None,
            sources=[a.source for _, _, a in to_store],
        )
        stored = {record.article_id: record for record in written}
    # The store now holds a restored library: the default article must not come back into it.
    store.mark_seeded()
    total = sum(record.chunk_count for record, chunks, _, _ in plan if chunks)
    progress("done", total, total)
    results = [
        IngestResult(stored[record.article_id], "replaced" if previous else "new", previous)
        if chunks
        else IngestResult(record, "unchanged")
        for record, chunks, _, previous in plan
    ]
    return ImportSummary(path, results, reuse, store.embeddings.name)


Plan = list[tuple[ArticleRecord, list[Document], ArchivedArticle, ArticleRecord | None]]


def _plan(store: ArticleStore, archive: Archive) -> Plan:
    """What to do with each archived article: (record to store, its chunks, the archived
    article, the article it replaces); no chunks when the stored one is unchanged."""
    plan: Plan = []
    taken: dict[str, str] = {}  # target id → the archived id that goes there
    for archived in archive.articles:
        wanted = archived.record
        previous = store.get_article(wanted.article_id) or store.find_article(source_key=wanted.source_key)
        record = dataclasses.replace(wanted, article_id=previous.article_id) if previous else wanted
        if record.article_id in taken:
            raise ArchiveError(
                f"Cannot import {_named(archived)}: it and {taken[record.article_id]} are both article "
                f"{record.article_id} here (one by id, one by source). Nothing was imported."
            )
        taken[record.article_id] = wanted.article_id
        if previous is not None and previous.content_hash == wanted.content_hash and previous.source == wanted.source:
            plan.append((previous, [], archived, previous))
            continue
        holder = store.find_article(source_key=record.source_key)
        if holder is not None and holder.article_id != record.article_id:
            raise ArchiveError(
                f"Cannot import {_named(archived)}: its source {record.source} is article {holder.article_id} "
                f"here, and its id another article. Nothing was imported; remove one of the two first."
            )
        chunks = [
            Document(
                page_content=chunk.page_content,
                metadata={
                    **chunk.metadata,
                    "article_id": record.article_id,
                    "source": record.source,
                    "ingested_at": record.ingested_at,
                },
            )
            for chunk in archived.chunks
        ]
        plan.append((record, chunks, archived, previous))
    return plan


def _named(archived: ArchivedArticle) -> str:
    return f"{archived.record.article_id} (“{archived.record.title}”)"
