"""Reading a generation's chunk and sentence-vector collections: chunks by version, dense
search (exact over the live vectors, kept in memory), sentence vectors by id.

Dense search is exact up to EXACT_SEARCH_MAX_CHUNKS live chunks: Chroma's HNSW index is
approximate, and a big article of near-identical chunks (a template repeated a thousand
times) cut other articles off its graph, differently in each process
(docs/how-it-works.md, benchmarks/recall.py).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import chromadb
import numpy as np
from langchain_core.documents import Document

from vectorstore.chroma import IN_LIMIT, of_version, of_versions, pages
from vectorstore.keyword_tokens import BM25_TOKENS

# Up to this many live chunks, search scans every live vector (154 MB of them at 100k,
# loaded once after a start: docs/how-it-works.md); above it, Chroma's HNSW index.
EXACT_SEARCH_MAX_CHUNKS = 100_000
# A chunk's metadata that is the store's bookkeeping, not the chunk's (`article_chunks`).
BOOKKEEPING = ("run", "written_at", BM25_TOKENS)


def sentence_id(article_id: str, version: str, text: str) -> str:
    """The stored sentence vector of `text` (as embedded) in this version of an article.

    Named by the text itself, so a lookup finds a vector only for exactly the text it would
    embed (a changed sentence splitter finds none, and embeds), and a sentence that two
    overlapping chunks share is embedded and stored once."""
    return f"{article_id}:{version}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def version_of(record_id: str) -> str:
    """The version in a chunk's or sentence vector's id (`article_id:version:…`)."""
    return record_id.rsplit(":", 2)[-2]


def chunks_of(collection: chromadb.Collection, versions: Sequence[str] | None) -> list[Document]:
    """The chunks of these versions, or (None) every stored chunk, live or not."""
    where = None if versions is None else of_versions(versions)
    return [
        Document(page_content=text or "", metadata=dict(meta or {}), id=chunk_id)
        for page in pages(collection, where, ["documents", "metadatas"])
        for chunk_id, text, meta in zip(page["ids"], page["documents"] or [], page["metadatas"] or [])
    ]


def article_chunks(collection: chromadb.Collection, article_id: str, version: str) -> tuple[list[Document], np.ndarray]:
    """The chunks of one version of an article, in order, without the store's bookkeeping,
    and their vectors (one row each, as stored)."""
    docs: list[Document] = []
    rows: list[np.ndarray] = []
    for page in pages(collection, of_version(article_id, version), ["documents", "metadatas", "embeddings"]):
        embedded = page["embeddings"] if page["embeddings"] is not None else []
        for chunk_id, text, meta, vector in zip(
            page["ids"], page["documents"] or [], page["metadatas"] or [], embedded
        ):
            kept = {k: v for k, v in (meta or {}).items() if k not in BOOKKEEPING}
            docs.append(Document(page_content=text or "", metadata=kept, id=chunk_id))
            rows.append(np.asarray(vector, dtype=np.float32))
    order = sorted(range(len(docs)), key=lambda i: int(str(docs[i].metadata["position"])))
    matrix = np.vstack([rows[i] for i in order]) if rows else np.zeros((0, 0), dtype=np.float32)
    return [docs[i] for i in order], matrix


def approximate_search(
    collection: chromadb.Collection, query_vector: Sequence[float], k: int, versions: Sequence[str]
) -> list[tuple[Document, float]]:
    """Chroma's HNSW search among these versions' chunks, with cosine similarity."""
    query: list[Sequence[float]] = [[float(x) for x in query_vector]]
    got = collection.query(
        query_embeddings=query,
        n_results=k,
        where=of_versions(versions),
        include=["documents", "metadatas", "distances"],
    )
    found = zip(
        got["ids"][0], (got["documents"] or [[]])[0], (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0]
    )
    return [
        (Document(page_content=text, metadata=dict(meta or {}), id=chunk_id), 1.0 - distance)
        for chunk_id, text, meta, distance in found
        if text is not None
    ]


def sentence_vectors(collection: chromadb.Collection, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored sentence vectors of these `sentence_id`s (those stored: none of a version
    replaced meanwhile)."""
    if not ids:
        return {}
    got = collection.get(ids=list(dict.fromkeys(ids)), include=["embeddings"])
    vectors = got["embeddings"] if got["embeddings"] is not None else []
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], vectors)}


@dataclass
class _Vectors:
    """The live chunks' vectors, unit length, one row each."""

    token: str  # which live versions
    ids: list[str]
    matrix: np.ndarray
    by_version: dict[str, tuple[list[str], np.ndarray]]  # views into matrix


class ExactVectors:
    """The vectors of the live versions' chunks, in memory, for exact search.

    A version's chunks never change once it is live, so a new live state fetches only the
    versions it adds; `clear` drops them all (a reindex changed every vector)."""

    def __init__(self) -> None:
        self._vectors: _Vectors | None = None
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._vectors = None

    def search(
        self, collection: chromadb.Collection, query_vector: Sequence[float], k: int, versions: list[str]
    ) -> list[tuple[Document, float]]:
        """These versions' chunks nearest to the query, with cosine similarity; every vector
        is scored, ties fall by id."""
        vectors = self.load(collection, versions)
        if not vectors.ids or k <= 0:
            return []
        query = np.asarray(query_vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        scores = vectors.matrix @ query
        n = min(k, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        ranked = sorted(((float(scores[i]), vectors.ids[i]) for i in top), key=lambda p: (-p[0], p[1]))
        got = collection.get(ids=[i for _, i in ranked], include=["documents", "metadatas"])
        found = {i: (text, meta) for i, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])}
        return [
            (Document(page_content=found[i][0] or "", metadata=dict(found[i][1] or {}), id=i), score)
            for score, i in ranked
            if i in found  # gone since the vectors were read (a concurrent replace)
        ]

    def load(self, collection: chromadb.Collection, versions: list[str]) -> _Vectors:
        """The vectors of these versions' chunks, from the cache and the store."""
        key = hashlib.sha1("|".join(sorted(versions)).encode()).hexdigest()
        with self._lock:
            cached = self._vectors
            if cached is not None and cached.token == key:
                return cached
            known = cached.by_version if cached is not None else {}
            parts = {v: known[v] for v in versions if v in known}
            missing = [v for v in versions if v not in parts]
            for start in range(0, len(missing), IN_LIMIT):
                parts.update(_fetch(collection, missing[start : start + IN_LIMIT]))
            ordered = [parts[v] for v in dict.fromkeys(versions)]
            ids = [i for part_ids, _ in ordered for i in part_ids]
            rows = [m for _, m in ordered if len(m)]
            matrix = np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
            by_version: dict[str, tuple[list[str], np.ndarray]] = {}
            offset = 0
            for version in dict.fromkeys(versions):
                part_ids = parts[version][0]
                by_version[version] = (part_ids, matrix[offset : offset + len(part_ids)])
                offset += len(part_ids)
            self._vectors = _Vectors(key, ids, matrix, by_version)
            return self._vectors


def _fetch(collection: chromadb.Collection, versions: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """The chunk ids and unit vectors of each of these versions."""
    got = collection.get(where=of_versions(versions), include=["embeddings"])
    fetched: dict[str, tuple[list[str], list]] = {v: ([], []) for v in versions}
    for chunk_id, vector in zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else []):
        version = version_of(chunk_id)
        if version in fetched:
            fetched[version][0].append(chunk_id)
            fetched[version][1].append(vector)
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for version, (ids, rows) in fetched.items():
        if not ids:  # a version removed or replaced since the live state was read
            out[version] = ([], np.zeros((0, 0), dtype=np.float32))
            continue
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        out[version] = (ids, matrix / np.where(norms == 0, 1.0, norms))
    return out
