"""ArticleStore: articles and their chunks in Chroma, replaced atomically.

A short tour::

    store = ArticleStore(make_client(Path("data/chroma")), load_embeddings(DEFAULT_MODEL, models))
    store.put_articles([(record, chunk_documents)])   # new, or replaces the same article_id
    store.search(store.embeddings.embed_query("Sora能生成多长的视频?"), k=4)
    store.remove_article(record.article_id)

Replacing never leaves a moment where questions find nothing: the new version's chunks
are added first, then the registry switches the article to the new version, then the old
chunks are deleted. Searches only return chunks whose version the registry lists, so a
crash midway leaves the previous version answerable and the half-written chunks invisible
(the next ingest of that article sweeps them).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import chromadb
import numpy as np
from langchain_chroma import Chroma
from langchain_core.documents import Document

from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.errors import ArticleNotFoundError, ModelMismatchError
from vectorstore.schema import ArticleRecord

ADD_BATCH = 128  # chunks embedded and written to Chroma per call
STATE_TTL_S = 0.5  # how stale this process's view of other processes' changes may be
_PLACEHOLDER_VECTOR = [0.0]  # registry records are looked up by id, never by similarity


@dataclass(frozen=True)
class LiveState:
    versions: list[str]  # the live version of each article
    token: str  # changes whenever any article is added, replaced or removed


class ArticleStore:
    """Chunks (searchable) plus a registry of articles, both Chroma collections."""

    def __init__(
        self,
        client: chromadb.ClientAPI,
        embeddings: SentenceEmbeddings,
        collection: str = "articles",
        *,
        check_model: bool = True,
    ) -> None:
        self.client = client
        self.embeddings = embeddings
        self.collection_name = collection
        # One collection of chunks, reached through two public APIs: chromadb's collection
        # for what langchain-chroma has no method for (collection metadata, count, updating
        # vectors only), langchain-chroma's wrapper for adding, getting, deleting, searching.
        # No embedding function on the collection, as langchain-chroma does: it embeds itself.
        # The metadata counts only when the collection is created (chromadb ignores it for
        # an existing one, which is what lets check_model see the model it was built with).
        self.chunk_collection = client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            metadata={
                "hnsw:space": "cosine",
                "embedding_model": embeddings.name,
                "embedding_fingerprint": embeddings.fingerprint,
            },
        )
        self.chunks = Chroma(client=client, collection_name=collection, embedding_function=embeddings)
        self.registry = client.get_or_create_collection(f"{collection}__registry")
        self._state: tuple[float, LiveState] | None = None
        if check_model:
            self.check_model()

    # -- model bookkeeping -------------------------------------------------------------

    def built_with(self) -> tuple[str | None, str | None]:
        meta = self.chunk_collection.metadata or {}
        return meta.get("embedding_model"), meta.get("embedding_fingerprint")

    def check_model(self) -> None:
        """Refuse to mix vectors of two models in one index."""
        name, fingerprint = self.built_with()
        if fingerprint in (None, self.embeddings.fingerprint):
            return
        if self.chunk_count() == 0:
            self._record_model()
            return
        raise ModelMismatchError(
            f"The index was built with embedding model '{name}', but this run embeds with "
            f"'{self.embeddings.name}'. Set EMBEDDING_MODEL (or EMBEDDING_BACKEND) back, or "
            "rebuild the index with the new model: `articlebot reindex`."
        )

    def _record_model(self) -> None:
        meta = dict(self.chunk_collection.metadata or {})
        meta.pop("hnsw:space", None)  # the distance cannot be modified after creation
        meta.update(embedding_model=self.embeddings.name, embedding_fingerprint=self.embeddings.fingerprint)
        self.chunk_collection.modify(metadata=meta)

    def chunk_count(self) -> int:
        """Stored chunks of every version, live or not."""
        return self.chunk_collection.count()

    # -- registry ----------------------------------------------------------------------

    def articles(self) -> list[ArticleRecord]:
        got = self.registry.get(include=["metadatas"])
        records = [ArticleRecord.from_metadata(m) for m in got["metadatas"] or []]
        return sorted(records, key=lambda r: r.ingested_at)

    def get_article(self, article_id: str) -> ArticleRecord | None:
        got = self.registry.get(ids=[article_id], include=["metadatas"])
        metas = got["metadatas"] or []
        return ArticleRecord.from_metadata(metas[0]) if metas else None

    def find_article(self, *, source_key: str | None = None, title: str | None = None) -> ArticleRecord | None:
        """The article an ingest would replace: same source first, then same title."""
        for key, value in (("source_key", source_key), ("title", title)):
            if value:
                got = self.registry.get(where={key: value}, include=["metadatas"])
                if got["metadatas"]:
                    return ArticleRecord.from_metadata(got["metadatas"][0])
        return None

    def is_seeded(self) -> bool:
        """Whether the default corpus was ever ingested (removing it must not bring it back)."""
        return bool((self.registry.metadata or {}).get("seeded"))

    def mark_seeded(self) -> None:
        self.registry.modify(metadata={**(self.registry.metadata or {}), "seeded": True})

    def live_versions(self) -> list[str]:
        return self.live_state().versions

    def live_state(self) -> LiveState:
        """The live version of every article.

        Read at most every STATE_TTL_S seconds: other processes' changes show within that
        time, this store's own changes at once.
        """
        now = time.monotonic()
        cached = self._state
        if cached is not None and now - cached[0] < STATE_TTL_S:
            return cached[1]
        got = self.registry.get(include=["metadatas"])
        versions = [str(m["version"]) for m in got["metadatas"] or []]
        pairs = sorted(f"{i}:{v}" for i, v in zip(got["ids"], versions))
        state = LiveState(versions, hashlib.sha1("|".join(pairs).encode()).hexdigest())
        self._state = (now, state)
        return state

    # -- writes ------------------------------------------------------------------------

    def put_articles(
        self,
        articles: Sequence[tuple[ArticleRecord, Sequence[Document]]],
        progress: Callable[[int, int], None] = lambda _done, _total: None,
    ) -> None:
        """Store new versions of several articles, then make them all live at once.

        Their chunks are embedded together, longest first, in batches of similar length:
        the model then pads little, and Chroma commits once a batch instead of once an
        article (bulk ingest runs close to the raw speed of the model).
        """
        if len({record.article_id for record, _ in articles}) < len(articles):
            raise ValueError("put_articles takes each article once")
        docs = [(f"{r.article_id}:{r.version}:{d.metadata['position']}", d) for r, chunks in articles for d in chunks]
        docs.sort(key=lambda pair: -len(pair[1].page_content))
        total = len(docs)
        progress(0, total)
        for start in range(0, total, ADD_BATCH):
            batch = docs[start : start + ADD_BATCH]
            self.chunks.add_documents([d for _, d in batch], ids=[i for i, _ in batch])
            progress(min(start + ADD_BATCH, total), total)
        self.registry.upsert(
            ids=[record.article_id for record, _ in articles],
            embeddings=np.asarray([_PLACEHOLDER_VECTOR] * len(articles), dtype=np.float32),
            metadatas=[record.to_metadata() for record, _ in articles],
            documents=[record.title for record, _ in articles],
        )
        self._state = None  # this process sees its own change at once
        for record, _ in articles:
            self.sweep(record.article_id, keep_version=record.version)

    def sweep(self, article_id: str, keep_version: str | None) -> None:
        """Delete an article's chunks of every version but `keep_version`."""
        where: dict = {"article_id": article_id}
        if keep_version is not None:
            where = {"$and": [where, {"version": {"$ne": keep_version}}]}
        self.chunks.delete(where=where)

    def article(self, article_id: str) -> ArticleRecord:
        """The article with this id; ArticleNotFoundError when there is none."""
        record = self.get_article(article_id)
        if record is None:
            raise ArticleNotFoundError(f"No article with id '{article_id}'. `articlebot list` shows the ids.")
        return record

    def remove_article(self, article_id: str) -> ArticleRecord:
        record = self.article(article_id)
        self.registry.delete(ids=[article_id])  # readers stop seeing it at once
        self._state = None
        self.sweep(article_id, keep_version=None)
        return record

    def reindex(self, progress: Callable[[int, int], None] = lambda _done, _total: None) -> int:
        """Re-embed every stored chunk with the current model, then record the model.

        The model is recorded only after the last batch, so an interrupted reindex still
        reports a mismatch and can simply be run again.
        """
        got = self.chunks.get(include=["documents"])
        total = len(got["ids"])
        progress(0, total)
        for start in range(0, total, ADD_BATCH):
            ids = got["ids"][start : start + ADD_BATCH]
            vectors = self.embeddings.embed_documents(got["documents"][start : start + ADD_BATCH])
            self.chunk_collection.update(ids=ids, embeddings=np.asarray(vectors, dtype=np.float32))
            progress(min(start + ADD_BATCH, total), total)
        self._record_model()
        return total

    # -- reads -------------------------------------------------------------------------

    def search(
        self, query_vector: Sequence[float], k: int, versions: list[str] | None = None
    ) -> list[tuple[Document, float]]:
        """Live chunks nearest to the query, with cosine similarity (higher is closer)."""
        versions = self.live_versions() if versions is None else versions
        if not versions:
            return []
        hits = self.chunks.similarity_search_by_vector_with_relevance_scores(
            list(query_vector),
            k=k,
            filter={"version": {"$in": versions}},  # type: ignore[dict-item]  # typed dict[str, str], passed to Chroma as a where
        )
        return [(doc, 1.0 - distance) for doc, distance in hits]

    def live_chunks(self, versions: list[str] | None = None) -> list[Document]:
        versions = self.live_versions() if versions is None else versions
        if not versions:
            return []
        got = self.chunks.get(
            where={"version": {"$in": versions}},  # type: ignore[dict-item]  # mypy reads "$in" as str, not the Literal
            include=["documents", "metadatas"],
        )
        return [
            Document(page_content=text, metadata=meta, id=chunk_id)
            for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
        ]
