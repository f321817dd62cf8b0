"""The registry: which articles the store holds, and which version of each is live.

Two small collections. `<name>__registry` holds one record per article (`ArticleRecord`);
a chunk, sentence vector or source is live only while its version is its article's
version here, which is what makes replacing an article atomic for readers.
`<name>__live` holds no records: its metadata is the store's own bookkeeping, read in one
small request (reading the whole registry is 0.3 s at 4,000 articles):

    change      set anew after every switch and removal: other processes re-read the registry
    written     chunks written in the current generation (vectorstore/compaction.py)
    generation  the generation in use (vectorstore/generation.py)
    schema      the schema version (vectorstore/migrations.py)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import chromadb
import numpy as np

from vectorstore.chroma import PLACEHOLDER_VECTOR, SYNCED
from vectorstore.schema import ArticleRecord

LIVE_SUFFIX = "__live"
REGISTRY_SUFFIX = "__registry"


@dataclass(frozen=True)
class LiveState:
    versions: list[str]  # the live version of each article
    token: str  # changes whenever any article is added, replaced or removed
    chunks: int = 0  # live chunks, as the registry counts them
    change: str | None = None  # the registry's change counter when it was read


class Registry:
    """The article records and the live collection's bookkeeping of a store named `base`."""

    def __init__(self, client: chromadb.ClientAPI, base: str) -> None:
        self.client = client
        self.collection = client.get_or_create_collection(f"{base}{REGISTRY_SUFFIX}", configuration=SYNCED)
        self.live = client.get_or_create_collection(f"{base}{LIVE_SUFFIX}", configuration=SYNCED)

    # -- articles ----------------------------------------------------------------------

    def articles(self) -> list[ArticleRecord]:
        got = self.collection.get(include=["metadatas"])
        records = [ArticleRecord.from_metadata(m) for m in got["metadatas"] or []]
        return sorted(records, key=lambda r: r.ingested_at)

    def get(self, article_id: str) -> ArticleRecord | None:
        got = self.collection.get(ids=[article_id], include=["metadatas"])
        metas = got["metadatas"] or []
        return ArticleRecord.from_metadata(metas[0]) if metas else None

    def find(self, source_key: str) -> ArticleRecord | None:
        """The article with this source_key. Never by title: two unrelated articles may share one."""
        got = self.collection.get(where={"source_key": source_key}, include=["metadatas"])
        metas = got["metadatas"] or []
        return ArticleRecord.from_metadata(metas[0]) if metas else None

    def versions_of(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The live version of each of these articles that the registry holds."""
        got = self.collection.get(ids=list(article_ids), include=["metadatas"])
        return {i: str(m["version"]) for i, m in zip(got["ids"], got["metadatas"] or [])}

    def put(self, records: Sequence[ArticleRecord]) -> None:
        """Add or switch these articles: from now on their records' versions are live."""
        self.collection.upsert(
            ids=[r.article_id for r in records],
            embeddings=np.asarray([PLACEHOLDER_VECTOR] * len(records), dtype=np.float32),
            metadatas=[r.to_metadata() for r in records],
            documents=[r.title for r in records],
        )

    def update(self, records: Sequence[ArticleRecord]) -> None:
        """Rewrite these records (their versions unchanged)."""
        if records:
            self.collection.update(ids=[r.article_id for r in records], metadatas=[r.to_metadata() for r in records])

    def delete(self, article_id: str) -> None:
        self.collection.delete(ids=[article_id])

    def is_seeded(self) -> bool:
        """Whether the default corpus was ever ingested (removing it must not bring it back)."""
        return bool((self.collection.metadata or {}).get("seeded"))

    def mark_seeded(self) -> None:
        self.collection.modify(metadata={**(self.collection.metadata or {}), "seeded": True})

    def read_state(self, change: str | None) -> LiveState:
        """The live version of every article, read from the registry now; `change`: the
        change counter read just before."""
        got = self.collection.get(include=["metadatas"])
        metas = got["metadatas"] or []
        versions = [str(m["version"]) for m in metas]
        pairs = sorted(f"{i}:{v}" for i, v in zip(got["ids"], versions))
        chunks = sum(int(str(m["chunk_count"])) for m in metas)
        return LiveState(versions, hashlib.sha1("|".join(pairs).encode()).hexdigest(), chunks, change)

    # -- the live collection's metadata ---------------------------------------------------

    def bookkeeping(self) -> Mapping:
        """The live collection's metadata as stored now (not as this process last saw it)."""
        return self.client.get_collection(self.live.name).metadata or {}

    def record(self, bookkeeping: Mapping, **changes: str | int) -> None:
        """Store `bookkeeping` (as read by `bookkeeping()`) with these changes."""
        self.live.modify(metadata={**bookkeeping, **changes})

    def count_change(self, written: int) -> None:
        """Tell every process sharing the store that the live versions changed; `written`:
        chunks this switch wrote."""
        now = self.bookkeeping()
        self.record(now, change=uuid.uuid4().hex, written=written_of(now) + written)


def change_of(bookkeeping: Mapping) -> str | None:
    change = bookkeeping.get("change")
    return None if change is None else str(change)


def written_of(bookkeeping: Mapping) -> int:
    return int(str(bookkeeping.get("written") or 0))


def generation_of(bookkeeping: Mapping) -> str:
    return str(bookkeeping.get("generation") or "")


def schema_of(bookkeeping: Mapping) -> int:
    """The schema version; 0 for a store made before the store recorded one (articlebot ea8a103 and before)."""
    return int(str(bookkeeping.get("schema") or 0))
