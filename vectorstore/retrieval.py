"""Hybrid retrieval: dense (Chroma) fused with BM25 over jieba tokens by reciprocal rank.

Dense vectors find paraphrases and cross-language matches (an English question about a
Chinese article); BM25 finds rare exact terms (names, numbers) that a small embedding
model blurs. The BM25 index is derived from Chroma's live chunks and rebuilt whenever the
store's registry changes, so Chroma stays the single source of truth. The dense side is
`ArticleStore.search`: exact, so no other article (however big or repetitive) can hide a
chunk from it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass

from langchain_community.retrievers import BM25Retriever
from langchain_core.documents import Document
from rank_bm25 import BM25Okapi

from vectorstore.keyword_tokens import bm25_words, tokenize
from vectorstore.store import ArticleStore, LiveState

RRF_K = 60  # the usual reciprocal-rank-fusion constant


@dataclass
class Hit:
    """A retrieved chunk with the evidence that brought it."""

    doc: Document
    dense: float  # cosine similarity to the question (0 when only BM25 found it)
    fused: float  # reciprocal-rank-fusion score
    bm25_rank: int | None = None

    @property
    def chunk_id(self) -> str:
        """The stored chunk's id (every document the store returns has one)."""
        return str(self.doc.id)


class HybridRetriever:
    """Dense + BM25 retrieval over an ArticleStore, fused by reciprocal rank."""

    def __init__(self, store: ArticleStore, fetch_k: int = 10, bm25_weight: float = 1.0) -> None:
        self.store = store
        self.fetch_k = fetch_k
        self.bm25_weight = bm25_weight
        self._bm25: BM25Retriever | None = None
        self._bm25_token: str | None = None
        self._lock = threading.Lock()

    def _bm25_index(self, state: LiveState) -> BM25Retriever | None:
        with self._lock:
            if state.token != self._bm25_token:
                # In id order, not the store's insertion order: BM25 ties then fall the same
                # way in every store holding these chunks (an imported library answers as
                # the one it came from; dense search breaks its ties by id too).
                docs = sorted(self.store.live_chunks(state.versions), key=lambda d: str(d.id))
                # What `BM25Retriever.from_documents` builds, from the words stored at ingest
                # rather than from tokenizing every chunk again (vectorstore/keyword_tokens.py).
                self._bm25 = (
                    BM25Retriever(
                        vectorizer=BM25Okapi([bm25_words(d) for d in docs]),
                        docs=docs,
                        preprocess_func=lambda t: list(tokenize(t)),
                        k=self.fetch_k,
                    )
                    if docs
                    else None
                )
                self._chunks_by_id = {d.id: d for d in docs}
                self._bm25_token = state.token
            return self._bm25

    def vocabulary(self) -> Collection[str]:
        """Every word (BM25 token) of the live articles."""
        bm25 = self._bm25_index(self.store.live_state())
        return bm25.vectorizer.idf if bm25 is not None else ()

    @staticmethod
    def _vocabulary_coverage(bm25: BM25Retriever | None, question: str) -> float:
        """Share of the question's words that occur in the articles at all.

        BM25 ranks by shared words; an English question about a Chinese article shares
        almost none, and its BM25 ranking is noise that would drown the dense ranking.
        """
        words = tokenize(question)
        if bm25 is None or not words:
            return 0.0
        return sum(w in bm25.vectorizer.idf for w in words) / len(words)

    def retrieve(self, question: str, query_vector: list[float], k: int) -> list[Hit]:
        """The `k` best live chunks for a question, best first."""
        hits: dict[str, Hit] = {}
        state = self.store.live_state()
        for rank, (doc, similarity) in enumerate(self.store.search(query_vector, self.fetch_k, state.versions)):
            hits[str(doc.id)] = Hit(doc=doc, dense=similarity, fused=1.0 / (RRF_K + rank + 1))
        bm25 = self._bm25_index(state)
        weight = self.bm25_weight * self._vocabulary_coverage(bm25, question)
        if bm25 is not None and weight > 0:
            for rank, found in enumerate(bm25.invoke(question)):
                chunk_id = str(found.id)
                bonus = weight / (RRF_K + rank + 1)
                if chunk_id in hits:
                    hits[chunk_id].fused += bonus
                    hits[chunk_id].bm25_rank = rank
                elif chunk_id in self._chunks_by_id:
                    hits[chunk_id] = Hit(self._chunks_by_id[chunk_id], 0.0, bonus, rank)
        return sorted(hits.values(), key=lambda h: h.fused, reverse=True)[:k]
