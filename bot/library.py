"""The article library: what admins do to the store (ingest, list, remove, reindex, seed,
export and import).

Answering only reads the store (`bot.answering.engine`); every write goes through here, so
the limits on what may be ingested and the chunking settings live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from bot import backup
from bot.archive import ArchiveLimits
from bot.errors import NotAWebPageError
from bot.settings import Settings
from ingest.loaders import (
    LoadedSource,
    LoaderLimits,
    Validators,
    check_upload,
    load_bytes,
    load_source,
    load_url,
    load_url_if_changed,
)
from ingest.pipeline import IngestResult, ingest_sources
from vectorstore.errors import ArticlebotError, ArticleNotFoundError
from vectorstore.progress import Progress, no_progress
from vectorstore.schema import ArticleRecord
from vectorstore.store import ArticleStore

DEFAULT_CORPUS = ("ingest", "corpus/sora-raw.txt")


@dataclass(frozen=True)
class Refreshed:
    """What fetching one web page's article again did to it."""

    record: ArticleRecord  # the article as it is now: the old version unless replaced
    status: Literal["unchanged", "replaced", "failed"]
    not_modified: bool = False  # unchanged because the server answered 304
    reason: str = ""  # why it failed, written for users (an ArticlebotError's message)
    result: IngestResult | None = None  # the ingest, when the page's text was compared

    @property
    def changed(self) -> bool:
        """Whether admins should hear of it: the article was replaced, or could not be fetched."""
        return self.status != "unchanged"

    def describe(self) -> str:
        """One line, as `IngestResult.describe`: the CLI prints it, admins get it in Telegram."""
        record = self.record
        if self.status == "replaced" and self.result is not None:
            return self.result.describe()
        if self.status == "failed":
            what = f"not refreshed, the old version stays: {self.reason}"
        elif self.not_modified:
            what = "unchanged: not modified since the last fetch"
        else:
            what = "unchanged: the page has the same text"
        return f"{record.article_id}  {record.title}  ({what})"


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
        return ingest_sources(
            self.store,
            sources,
            progress,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            max_chunks=self.settings.max_chunks_per_article,
            replace=replace,
        )

    def web_articles(self, article_id: str | None = None) -> list[ArticleRecord]:
        """The articles `refresh` can fetch again: every one ingested from an http(s) URL,
        or only `article_id` (ArticleNotFoundError, or NotAWebPageError for a file's)."""
        if article_id is None:
            return [r for r in self.store.articles() if r.is_web_page]
        record = self.store.article(article_id)
        if not record.is_web_page:
            raise NotAWebPageError(
                f"Article {record.article_id} comes from {record.source}, not a web page: only articles "
                "ingested from an http(s) URL can be refreshed. Ingest the file again to update it."
            )
        return [record]

    def refresh(self, article_id: str, progress: Progress = no_progress) -> Refreshed | None:
        """Fetch a web page's article again and keep it current: a 304 (the server's
        validators) or the same text (its hash) leaves it as it is; changed text replaces it
        the way an ingest does (atomically, same id and title); a failed fetch or ingest
        keeps the old version and says why. None when the article is gone (removed meanwhile)."""
        record = self.store.get_article(article_id)
        if record is None:
            return None
        if not record.is_web_page:
            raise NotAWebPageError(f"Article {record.article_id} is not a web page.")
        progress("fetching", 0, 0)
        validators = Validators(record.etag or None, record.last_modified or None)
        try:
            loaded = load_url_if_changed(record.source, validators, self.limits)
            if loaded is None:
                return Refreshed(record, "unchanged", not_modified=True)
            # The article keeps its title (an admin's --title, or the page's at first ingest).
            result = self.ingest_loaded(loaded, record.title, progress, replace=record.article_id)
        except ArticleNotFoundError:
            return None
        except ArticlebotError as exc:
            return Refreshed(record, "failed", reason=str(exc))
        status: Literal["unchanged", "replaced"] = "replaced" if result.status == "replaced" else "unchanged"
        return Refreshed(result.record, status, result=result)

    def remove(self, article_id: str) -> ArticleRecord:
        return self.store.remove_article(article_id)

    def reindex(self, progress: Progress = no_progress) -> int:
        """Re-embed every chunk with the current model; returns the number of chunks."""
        return self.store.reindex(progress)

    def export_archive(self, path: Path) -> backup.ExportSummary:
        """Write every article, with its chunks, vectors and source, to one archive file."""
        return backup.export_store(self.store, path)

    def import_archive(self, path: Path, progress: Progress = no_progress) -> backup.ImportSummary:
        """Restore an archive: new and changed articles go live together, unchanged ones
        are skipped; nothing is written unless the whole archive reads correctly."""
        limits = ArchiveLimits(self.settings.max_chunks_per_article, self.settings.max_source_bytes)
        return backup.import_archive(self.store, path, progress, limits)

    def seed_default_corpus(self, progress: Progress = no_progress) -> IngestResult | None:
        """Ingest the bundled Sora article into a store that has never been seeded."""
        if not self.settings.seed_default_corpus or self.store.is_seeded():
            return None
        data = resources.files(DEFAULT_CORPUS[0]).joinpath(DEFAULT_CORPUS[1]).read_bytes()
        result = self.ingest_loaded(load_bytes(data, "sora-raw.txt", self.limits), None, progress)
        self.store.mark_seeded()
        return result
