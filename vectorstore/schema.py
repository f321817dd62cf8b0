"""What the store keeps of an article: its registry record, and its source.

A chunk (sentence vector, source) is live only while its `version` equals its article's
registry version (vectorstore/registry.py), which is what makes replacing an article
atomic for readers. How the records are laid out in Chroma has a version of its own
(vectorstore/migrations.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


def new_version() -> str:
    """A version name no other run uses: 12 hex digits, never a `:` (ids are split on it)."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class ArticleRecord:
    """One ingested article as the registry remembers it."""

    article_id: str
    title: str
    source: str
    source_key: str  # what makes two ingests "the same article": URL or file name
    content_hash: str  # SHA-256 of the cleaned text; unchanged text is skipped
    version: str  # its own per stored version (`ArticleStore.put_articles`); chunk ids and metadata carry it
    chunk_count: int
    ingested_at: str  # ISO-8601, UTC
    kind: str = "text"
    # A web page's validators from its last fetch, sent back when it is refreshed
    # (If-None-Match / If-Modified-Since) so an unchanged page costs a 304; "" when the
    # server sent none, or the article is not a web page.
    etag: str = ""
    last_modified: str = ""

    @property
    def is_web_page(self) -> bool:
        """Whether the article was fetched from an http(s) URL, which refreshing fetches again."""
        return self.source.startswith(("http://", "https://"))

    # Its sentences' vectors are stored (False: stored by a store opened without
    # `sentences_of`, whose answers embed its sentences when a question needs them).
    sentence_vectors: bool = False
    # SHA-256 of its source as ingested (`Source.data`), which the store keeps; "" when it
    # keeps none (text given directly, or imported from an archive without it).
    source_sha256: str = ""

    def to_metadata(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> ArticleRecord:
        return cls(**{f.name: meta[f.name] for f in fields(cls) if f.name in meta})


@dataclass(frozen=True)
class Source:
    """An article's source as ingested: the file's bytes, or the page as fetched.

    Kept with the article so an export holds what was read, not only what was made of it:
    a restored or moved library can be cleaned and chunked again from its sources."""

    data: bytes
    name: str  # the file's name, or the page's URL
    kind: str  # text | markdown | html | pdf | docx, as the loader read it
    charset: str = ""  # the charset a web server declared for the page ("" when none)
