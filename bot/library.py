"""The article library: what admins do to the store (ingest, list, remove, reindex, seed,
export and import).

Answering only reads the store (`bot.answering.engine`); every write goes through here, so
the limits on what may be ingested and the chunking settings live in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from bot import backup
from bot.settings import Settings
from ingest.loaders import LoadedSource, LoaderLimits, check_upload, load_bytes, load_source, load_url
from ingest.pipeline import IngestResult, Progress, ingest_many, no_progress
from vectorstore.schema import ArticleRecord
from vectorstore.store import ArticleStore

DEFAULT_CORPUS = ("ingest", "corpus/sora-raw.txt")


class Library:
    """The articles of one store, and the only way to change them."""

    def __init__(self, settings: Settings, store: ArticleStore) -> None:
        self.settings = settings
        self.store = store
        self.limits = LoaderLimits(
            max_bytes=settings.max_source_bytes,
            fetch_timeout_s=settings.fetch_timeout_s,
            allow_private_urls=settings.allow_private_urls,
        )

    @property
    def model_name(self) -> str:
        """The embedding model the store's vectors come from."""
        return self.store.embeddings.name

    def articles(self) -> list[ArticleRecord]:
        return self.store.articles()

    def article(self, article_id: str) -> ArticleRecord:
        """The article with this id, or ArticleNotFoundError."""
        return self.store.article(article_id)

    def ingest(
        self,
        location: str,
        title: str | None = None,
        progress: Progress = no_progress,
        *,
        replace: str | None = None,
    ) -> IngestResult:
        """Ingest a file path or http(s) URL: it replaces the article of the same path or URL,
        or the article `replace` names; otherwise it is a new article."""
        if replace is not None:
            self.store.article(replace)  # ArticleNotFoundError before fetching anything
        progress("fetching", 0, 0)
        return self.ingest_loaded(load_source(location, self.limits), title, progress, replace=replace)

    def ingest_url(self, url: str, title: str | None = None, progress: Progress = no_progress) -> IngestResult:
        """Ingest an http(s) URL, never a local path: what remote admins may ask for."""
        progress("fetching", 0, 0)
        return self.ingest_loaded(load_url(url, self.limits), title, progress)

    def check_upload(self, filename: str, size: int) -> None:
        """Refuse an upload by its name and size before it is downloaded."""
        check_upload(filename, size, self.limits)

    def ingest_bytes(
        self, data: bytes, filename: str, title: str | None = None, progress: Progress = no_progress
    ) -> IngestResult:
        """Ingest an uploaded file's contents: it replaces the article of an earlier upload
        of the same file name (an upload has no path; see docs/telegram.md)."""
        return self.ingest_loaded(load_bytes(data, filename, self.limits), title, progress)

    def ingest_loaded(
        self,
        loaded: LoadedSource,
        title: str | None = None,
        progress: Progress = no_progress,
        *,
        replace: str | None = None,
    ) -> IngestResult:
        """Ingest an already loaded source with the configured chunking."""
        return self.ingest_many([(loaded, title)], progress, replace=replace)[0]

    def ingest_many(
        self,
        sources: Sequence[tuple[LoadedSource, str | None]],
        progress: Progress = no_progress,
        *,
        replace: str | None = None,
    ) -> list[IngestResult]:
        """Ingest loaded (source, title) pairs in one pass: much faster than one by one.

        Each replaces the article of the same source (`ingest.pipeline.source_key_of`: URL,
        file path, or an upload's file name) or is added; `replace` (one source only) is the
        id of the article to replace instead."""
        return ingest_many(
            self.store,
            sources,
            progress,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            max_chunks=self.settings.max_chunks_per_article,
            replace=replace,
        )

    def remove(self, article_id: str) -> ArticleRecord:
        return self.store.remove_article(article_id)

    def reindex(self, progress: Callable[[int, int], None] = lambda _done, _total: None) -> int:
        """Re-embed every chunk with the current model; returns the number of chunks."""
        return self.store.reindex(progress)

    def export_archive(self, path: Path) -> backup.ExportSummary:
        """Write every article, with its chunks and vectors, to one archive file."""
        return backup.export_store(self.store, path)

    def import_archive(self, path: Path, progress: Progress = no_progress) -> backup.ImportSummary:
        """Restore an archive: new and changed articles go live together, unchanged ones
        are skipped; nothing is written unless the whole archive reads correctly."""
        return backup.import_archive(self.store, path, progress)

    def seed_default_corpus(self, progress: Progress = no_progress) -> IngestResult | None:
        """Ingest the bundled Sora article into a store that has never been seeded."""
        if not self.settings.seed_default_corpus or self.store.is_seeded():
            return None
        data = resources.files(DEFAULT_CORPUS[0]).joinpath(DEFAULT_CORPUS[1]).read_bytes()
        result = self.ingest_loaded(load_bytes(data, "sora-raw.txt", self.limits), None, progress)
        self.store.mark_seeded()
        return result
