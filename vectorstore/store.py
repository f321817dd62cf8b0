"""ArticleStore: articles and their chunks in Chroma, replaced atomically.

A short tour::

    store = ArticleStore(make_client(Path("data/chroma")), load_embeddings(DEFAULT_MODEL, models))
    store.put_articles([(record, chunk_documents)])   # new, or replaces the same article_id
    store.search(store.embeddings.embed_query("Sora能生成多长的视频?"), k=4)
    store.remove_article(record.article_id)

Replacing never leaves a moment where questions find nothing: the new version's chunks
are added first, then the registry switches the article to the new version, then the old
chunks are deleted. Searches only return chunks whose version the registry lists, so a
crash midway leaves the previous version answerable and the half-written chunks invisible;
`sweep_leftovers` deletes them when the store next opens or writes (on a Chroma server only
once they are LEFTOVER_AGE_S old: another process's ingest in progress looks the same).

Every `put_articles` call writes under versions of its own (`new_version`), never under a
version that is or was live, whatever its caller or an archive says: so what a run deletes
when it fails or is stopped (its own records) can never be the live article, and a sweep
deletes only the version a switch replaced, never another run's work in progress. An
article switched by another run while this one wrote is not overwritten: the run is
refused (`ArticleChangedError`) and removes what it wrote.

Every vector an answer needs is computed here, at ingest, once: each chunk's, and each of
its sentences' (the texts `sentences_of` gives, kept in a second collection, `<name>__sentences`,
that retrieval never searches). Sentence vectors carry their article's version and ingest
run like chunks do, so they go live, are replaced, removed and swept with them; answering
then embeds only the question (`sentence_vectors` looks them up by `sentence_id`).

Each version's source as ingested (the file's bytes, the page as fetched) is kept too, in
`<name>__sources`, so an export can hold it (`source`); it goes live, is replaced and
removed with its version, like the sentence vectors.

The store's size stays bounded however often articles are replaced. Chroma's write-ahead
log is purged every HNSW_SYNC_THRESHOLD writes to a collection; its HNSW index keeps every
vector ever written (a delete only marks one), so an embedded store rebuilds the chunk,
sentence and source collections as a new generation holding only the live records once
most of what they hold is deleted (`_compact`; the live collection's metadata names the
generation in use). A Chroma server's store is not compacted (benchmarks/store_growth.py).

Dense search is exact (a scan of the live vectors, cached in memory) up to
EXACT_SEARCH_MAX_CHUNKS live chunks: Chroma's HNSW index loses chunks of one article next to
a big article of near-identical chunks (measured in benchmarks/recall.py).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

import chromadb
import numpy as np
from chromadb.api.collection_configuration import (
    CreateCollectionConfiguration,
    UpdateHNSWConfiguration,
)
from langchain_chroma import Chroma
from langchain_core.documents import Document

from vectorstore.client import remove_unused_indexes
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.errors import ArticleChangedError, ArticleNotFoundError, ModelMismatchError
from vectorstore.progress import Progress, no_progress
from vectorstore.schema import ArticleRecord, Source
from vectorstore.tokens import BM25_TOKENS, words_to_store

logger = logging.getLogger(__name__)

# Chunks (or sentences) embedded and written to Chroma per call. A batch is embedded in
# pieces of the model's own batch size, with a progress report (of the count stored so
# far) before each piece: a caller stops an ingest by raising from its progress callback
# (a stopping bot), so it waits for one piece, well under a second, never a whole batch.
ADD_BATCH = 32
SENTENCES_SUFFIX = "__sentences"  # the sentence vectors' collection: `<chunks collection>__sentences`
SOURCES_SUFFIX = "__sources"  # the sources as ingested: `<chunks collection>__sources`
# A source is stored compressed, in base64, in parts of at most this many characters (one
# part a record and a request, so a 10 MB PDF is a few requests of 1 MB to a Chroma server).
SOURCE_PART_CHARS = 1 << 20
STATE_TTL_S = 0.5  # how stale this process's view of other processes' changes may be
# The registry is read whole only when its change counter moved (see `live_state`), and at
# least this often anyway: a writer that died between its switch and its count is seen late.
FULL_READ_S = 30.0
LIVE_SUFFIX = "__live"  # a collection whose metadata counts the registry's changes
_PLACEHOLDER_VECTOR = [0.0]  # registry records are looked up by id, never by similarity
# Up to this many live chunks, search scans every live vector (exact: nothing can hide a
# chunk); above it, Chroma's HNSW index with a raised ef_search. Measured on 2 busy cores
# (benchmarks/recall.py): 100k chunks are 154 MB of vectors, 24 ms a scan, 10.5 s to load
# them once after a start (the BM25 index loads every live chunk's text anyway).
EXACT_SEARCH_MAX_CHUNKS = 100_000
# Chroma's HNSW settings (its defaults: ef_search 100, M 16). Next to a template article of
# 20k near-identical chunks, the default graph found 19-26 of a normal article's 26 chunks
# in their own top 10, ef_search 500 with M 16 as few as 2, with M 32 all 26: approximate
# search is not to be relied on, hence exact search below EXACT_SEARCH_MAX_CHUNKS.
HNSW_EF_SEARCH = 500  # can be raised on an existing collection (done on open)
HNSW_M = 32  # only for a collection created from now on
# Chroma saves a collection's HNSW index every this many records written, and only then
# purges the write-ahead log (`embeddings_queue`, in chroma.sqlite3) up to what it saved:
# with its default of 1,000 the log held ~1,100 rows (2 MB) for a 20-chunk article replaced
# 10 times; with 100, a few (benchmarks/store_growth.py). Can be set on an existing collection.
HNSW_SYNC_THRESHOLD = 100
# A new collection's configuration, but the chunks' (see `_collections`).
_SYNCED: CreateCollectionConfiguration = {"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}}
# An embedded store's chunk, sentence and source collections are rebuilt with only their live
# records (`_compact`) once the chunks written since they were built, less the live ones, are
# at least as many as the live chunks and at least this many: chromadb's HNSW index keeps every
# vector it was ever given (a delete only marks it), so an article replaced again and again
# grew the store without bound. Rebuilding costs a copy of the live records, no embedding.
COMPACT_MIN_RETIRED = 100
# Server mode only: a non-live version whose ingest wrote nothing for this long is a
# leftover of an interrupted ingest (an ingest in progress writes a batch every few seconds).
LEFTOVER_AGE_S = 3600.0
_writing: set[str] = set()  # ingest runs in progress in this process (see sweep_leftovers)
_writing_guard = threading.Lock()  # held by sweep_leftovers throughout


@dataclass(frozen=True)
class LiveState:
    versions: list[str]  # the live version of each article
    token: str  # changes whenever any article is added, replaced or removed
    chunks: int = 0  # live chunks, as the registry counts them
    change: str | None = None  # the registry's change counter when it was read


@dataclass
class _Vectors:
    """The live chunks' vectors, unit length, one row each; rebuilt when the live state changes."""

    token: str  # which live versions
    ids: list[str]
    matrix: np.ndarray
    by_version: dict[str, tuple[list[str], np.ndarray]]  # views into matrix


def new_version() -> str:
    """A version name no other run uses: 12 hex digits, never a `:` (ids are split on it)."""
    return uuid.uuid4().hex[:12]


def sentence_id(article_id: str, version: str, text: str) -> str:
    """The stored sentence vector of `text` (as embedded) in this version of an article.

    Named by the text itself, so a lookup finds a vector only for exactly the text it would
    embed (a changed sentence splitter finds none, and embeds), and a sentence that two
    overlapping chunks share is embedded and stored once."""
    return f"{article_id}:{version}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"


@dataclass(frozen=True)
class _Sentence:
    """A sentence vector to store: its id, the text embedded, and its article version."""

    id: str
    text: str
    article_id: str
    version: str


class ArticleStore:
    """Chunks (searchable), their sentences' vectors, the sources they were made from, and a
    registry of articles: four Chroma collections."""

    def __init__(
        self,
        client: chromadb.ClientAPI,
        embeddings: SentenceEmbeddings,
        collection: str = "articles",
        *,
        check_model: bool = True,
        sentences_of: Callable[[Document], list[str]] | None = None,
    ) -> None:
        """`sentences_of(chunk)`: the texts to store a sentence vector for, embedded with the
        chunk (`ingest.chunking.embedded_sentences`); None stores none."""
        self.client = client
        self.embeddings = embeddings
        self.collection_name = collection
        self.sentences_of = sentences_of
        self.registry = client.get_or_create_collection(f"{collection}__registry", configuration=_SYNCED)
        # Its metadata's "change" is set anew after every switch and removal: reading it is
        # one small request, reading the whole registry is 0.3 s at 4,000 articles. It also
        # names the generation of the other three collections (`_compact`), and counts the
        # chunks written in it.
        self.live_collection = client.get_or_create_collection(f"{collection}{LIVE_SUFFIX}", configuration=_SYNCED)
        for kept in (self.registry, self.live_collection):
            _tune(kept, {"sync_threshold": HNSW_SYNC_THRESHOLD})
        self._generation = ""
        self._use(self._generation_of(self._live_metadata()))
        self._state: tuple[float, LiveState] | None = None
        self._read_at = 0.0  # when the registry was last read whole
        self._vectors: _Vectors | None = None
        self._vectors_lock = threading.Lock()
        # An embedded client is this process's alone (vectorstore/client.py locks it), so
        # nobody else can be writing to it; a server is shared with other processes.
        self.sole_writer = "fastapi" not in client.get_settings().chroma_api_impl.lower()
        self.sweep_leftovers()
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

    # -- the collections of a generation ----------------------------------------------

    def _collections(self, generation: str, chunk_metadata: Mapping | None = None) -> dict[str, chromadb.Collection]:
        """The chunk, sentence and source collections of a generation, created if need be
        (a new chunk collection with `chunk_metadata`, by default this model's), with our
        HNSW settings (`_tune`)."""
        name = f"{self.collection_name}.{generation}" if generation else self.collection_name
        # The metadata counts only when the collection is created (chromadb ignores it for
        # an existing one, which is what lets check_model see the model it was built with).
        # No embedding function on the collection, as langchain-chroma does: it embeds itself.
        chunks = self.client.get_or_create_collection(
            name=name,
            embedding_function=None,
            metadata=dict(chunk_metadata)
            if chunk_metadata is not None
            else {
                "hnsw:space": "cosine",
                "embedding_model": self.embeddings.name,
                "embedding_fingerprint": self.embeddings.fingerprint,
            },
            # Also only at creation: the HNSW graph that search uses above EXACT_SEARCH_MAX_CHUNKS.
            configuration={
                "hnsw": {
                    "space": "cosine",
                    "ef_search": HNSW_EF_SEARCH,
                    "max_neighbors": HNSW_M,
                    "sync_threshold": HNSW_SYNC_THRESHOLD,
                }
            },
        )
        _tune(chunks, {"ef_search": HNSW_EF_SEARCH, "sync_threshold": HNSW_SYNC_THRESHOLD})
        # Looked up by id only, never searched: its HNSW graph is kept small and cheap to build.
        sentences = self.client.get_or_create_collection(
            name=f"{name}{SENTENCES_SUFFIX}",
            embedding_function=None,
            metadata={"hnsw:space": "cosine"},
            configuration={"hnsw": {"space": "cosine", "sync_threshold": HNSW_SYNC_THRESHOLD}},
        )
        # The payload goes in a metadata field, not the document: Chroma indexes documents
        # for full-text search, which made 12 MB of base64 take 92 MB and 25 s (37 MB, 0.7 s
        # as metadata; measured with chromadb 1.5.9).
        sources = self.client.get_or_create_collection(
            name=f"{name}{SOURCES_SUFFIX}", embedding_function=None, configuration=_SYNCED
        )
        for collection in (sentences, sources):
            _tune(collection, {"sync_threshold": HNSW_SYNC_THRESHOLD})
        return {"chunks": chunks, "sentences": sentences, "sources": sources}

    def _use(self, generation: str, collections: dict[str, chromadb.Collection] | None = None) -> None:
        """Read and write the collections of this generation from now on."""
        found = self._collections(generation) if collections is None else collections
        self.chunk_collection = found["chunks"]
        # One collection of chunks, reached through two public APIs: chromadb's collection
        # for what langchain-chroma has no method for (collection metadata, count, updating
        # vectors only, writing vectors embedded here, in pieces: `_embed`), langchain-chroma's
        # wrapper for getting and searching.
        self.chunks = Chroma(
            client=self.client, collection_name=self.chunk_collection.name, embedding_function=self.embeddings
        )
        self.sentence_collection = found["sentences"]
        self.source_collection = found["sources"]
        self._generation = generation

    def _live_metadata(self) -> Mapping:
        """The live collection's metadata as stored now: the change counter, the generation."""
        return self.client.get_collection(self.live_collection.name).metadata or {}

    def _generation_of(self, live: Mapping) -> str:
        return str(live.get("generation") or "")  # "" (stores compacted never): the first names

    def _follow(self, live: Mapping) -> None:
        """Use the generation `live` names, when another store object (or process) compacted."""
        generation = self._generation_of(live)
        if generation != self._generation:
            self._use(generation)

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

    def find_article(self, *, source_key: str) -> ArticleRecord | None:
        """The article an ingest of this source replaces: the one with this source_key, else
        one whose `source` is it (a local file stored when its source_key was only its file
        name). Never by title: two unrelated articles may share one."""
        for field in ("source_key", "source"):
            got = self.registry.get(where={field: source_key}, include=["metadatas"])
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

        Checked at most every STATE_TTL_S seconds: other processes' changes show within
        that time, this store's own changes at once. A check reads the registry's change
        counter and, only when it moved (or FULL_READ_S passed), the whole registry.
        """
        now = time.monotonic()
        cached = self._state
        if cached is not None and now - cached[0] < STATE_TTL_S:
            return cached[1]
        change = self._change()
        if cached is not None and cached[1].change == change and now - self._read_at < FULL_READ_S:
            self._state = (now, cached[1])
            return cached[1]
        got = self.registry.get(include=["metadatas"])
        metas = got["metadatas"] or []
        versions = [str(m["version"]) for m in metas]
        pairs = sorted(f"{i}:{v}" for i, v in zip(got["ids"], versions))
        chunks = sum(int(str(m.get("chunk_count") or 0)) for m in metas)
        state = LiveState(versions, hashlib.sha1("|".join(pairs).encode()).hexdigest(), chunks, change)
        self._state = (now, state)
        self._read_at = now
        return state

    def _change(self) -> str | None:
        """The registry's change counter, as stored now (read before the registry it counts)."""
        live = self._live_metadata()
        self._follow(live)
        change = live.get("change")
        return None if change is None else str(change)

    def _changed(self, written: int = 0) -> None:
        """Tell every process sharing the store that the live versions changed; `written`:
        chunks this switch wrote (counted for `_compact_if_worthwhile`)."""
        with _writing_guard:  # (no compaction switches the generation meanwhile)
            live = self._live_metadata()
            chunks = int(str(live.get("written") or 0)) + written
            self.live_collection.modify(metadata={**live, "change": uuid.uuid4().hex, "written": chunks})
        self._state = None

    # -- writes ------------------------------------------------------------------------

    def put_articles(
        self,
        articles: Sequence[tuple[ArticleRecord, Sequence[Document]]],
        progress: Progress = no_progress,
        *,
        vectors: Sequence[np.ndarray] | None = None,
        sources: Sequence[Source | None] | None = None,
    ) -> list[ArticleRecord]:
        """Store new versions of several articles, then make them all live at once; returns
        their records as stored: each with a version of its own (`new_version`, whatever
        version it came with) and `sentence_vectors` set when sentence vectors were stored.

        Their chunks are embedded together, longest first, in batches of similar length:
        the model then pads little, and Chroma commits once a batch instead of once an
        article (bulk ingest runs close to the raw speed of the model). Then their
        sentences (`sentences_of`), each distinct text of a version once, the same way.
        Progress counts both, as stored: chunks, then sentences (see ADD_BATCH). `vectors`,
        one array per article with a row per chunk, are stored instead of embedding the
        chunks: an imported archive made with this very model (`embeddings.fingerprint`).
        `sources`, one per article (or None), are kept as the sources of these versions
        (`source`), written before they go live like their chunks.

        Raises ArticleChangedError, having removed what it wrote, when another run added,
        replaced or removed one of these articles meanwhile (it is not overwritten with
        what may be older text), or deleted part of what this call wrote.
        """
        if len({record.article_id for record, _ in articles}) < len(articles):
            raise ValueError("put_articles takes each article once")
        if vectors is not None and [len(v) for v in vectors] != [len(chunks) for _, chunks in articles]:
            raise ValueError("put_articles takes one vector per chunk")
        if sources is not None and len(sources) != len(articles):
            raise ValueError("put_articles takes one source (or None) per article")
        kept = list(sources) if sources is not None else [None] * len(articles)
        records = [
            dataclasses.replace(
                r,
                version=new_version(),
                sentence_vectors=self.sentences_of is not None,
                source_sha256=hashlib.sha256(source.data).hexdigest() if source is not None else "",
            )
            for (r, _), source in zip(articles, kept)
        ]
        # The chunks as this call stores them: of its records' versions, whatever they said.
        versioned = [
            (r, [Document(page_content=d.page_content, metadata={**d.metadata, "version": r.version}) for d in chunks])
            for r, (_, chunks) in zip(records, articles)
        ]
        given = iter(row for matrix in vectors for row in matrix) if vectors is not None else None
        docs = [
            (f"{r.article_id}:{r.version}:{d.metadata['position']}", d, next(given) if given is not None else None)
            for r, chunks in versioned
            for d in chunks
        ]
        docs.sort(key=lambda item: -len(item[1].page_content))
        sentences = self._sentences([(r.article_id, r.version, d) for r, chunks in versioned for d in chunks])
        total = len(docs) + len(sentences)
        ids = [record.article_id for record in records]
        before = self._registered_versions(ids)  # what this call replaces, checked again before the switch
        run = uuid.uuid4().hex  # this call's chunks, for sweep_leftovers
        with _writing_guard:  # (no compaction switches the generation while it is in progress)
            self._follow(self._live_metadata())
            _writing.add(run)
        embedded = partial(progress, "embedding")  # (the one stage the store reports)
        try:
            embedded(0, total)
            parts = sum(self._write_source(r, source, run) for r, source in zip(records, kept) if source is not None)
            for start in range(0, len(docs), ADD_BATCH):
                batch = docs[start : start + ADD_BATCH]
                written_at = time.time()  # the run's heartbeat: how sweep_leftovers tells it is alive
                stamped = [
                    Document(
                        page_content=d.page_content, metadata={**_with_words(d), "run": run, "written_at": written_at}
                    )
                    for _, d, _ in batch
                ]
                texts = [d.page_content for d in stamped]
                self.chunk_collection.upsert(  # what langchain-chroma's add_documents does
                    ids=[i for i, _, _ in batch],
                    embeddings=(
                        self._embed(texts, partial(embedded, start, total))
                        if vectors is None
                        else np.asarray([v for _, _, v in batch], dtype=np.float32)
                    ),
                    documents=texts,
                    metadatas=[d.metadata for d in stamped],
                )
                embedded(min(start + ADD_BATCH, len(docs)), total)
            self._write_sentences(sentences, run, lambda done: embedded(len(docs) + done, total))
            self._check_run(run, {"chunks": len(docs), "sentences": len(sentences), "sources": parts})
            with _writing_guard:  # live and no longer in progress at once, for sweep_leftovers
                self._check_unchanged(ids, before)
                self.registry.upsert(
                    ids=ids,
                    embeddings=np.asarray([_PLACEHOLDER_VECTOR] * len(records), dtype=np.float32),
                    metadatas=[record.to_metadata() for record in records],
                    documents=[record.title for record in records],
                )
                _writing.discard(run)
        except BaseException:  # a failed write, a cancelled ingest (stop, Ctrl-C, SIGTERM), a clash
            with _writing_guard:
                _writing.discard(run)
            self._remove_run(run)
            raise
        self._changed(written=len(docs))  # other processes see it at their next check, this one at once
        for article_id, version in before.items():
            self._delete_version(article_id, version)
        self.sweep_leftovers()
        self._compact_if_worthwhile()
        return records

    def _registered_versions(self, article_ids: Sequence[str]) -> dict[str, str]:
        """The registry's live version of each of these articles that it holds."""
        got = self.registry.get(ids=list(article_ids), include=["metadatas"])
        return {i: str(m["version"]) for i, m in zip(got["ids"], got["metadatas"] or [])}

    def _check_unchanged(self, article_ids: Sequence[str], before: dict[str, str]) -> None:
        """Refuse to switch articles that another run added, replaced or removed since `before`."""
        now = self._registered_versions(article_ids)
        for article_id in article_ids:
            if now.get(article_id) != before.get(article_id):
                raise ArticleChangedError(
                    f"Article {article_id} was changed by another ingest or removal while this one ran, "
                    "so this one stored nothing and the other's change stays. Run it again to replace that.",
                    code="article_changed",
                    article_id=article_id,
                )

    def _check_run(self, run: str, written: dict[str, int]) -> None:
        """Refuse to make versions live that lost records while they were written: on a Chroma
        server, another process's `sweep_leftovers` takes a run that wrote nothing for
        LEFTOVER_AGE_S (this process was suspended that long) for a dead one, and so does an
        older articlebot's sweep. Nobody else writes to an embedded store: nothing to count."""
        if self.sole_writer:
            return
        found = {name: len(_records(c, {"run": run}, include=[])[0]) for name, c in self._swept().items()}
        if found != written:
            raise ArticleChangedError(
                "Another process deleted part of what this ingest wrote while it ran, so it stored nothing. "
                "Run it again.",
                code="ingest_lost_records",
            )

    def _sentences(self, chunks: Sequence[tuple[str, str, Document]]) -> list[_Sentence]:
        """The sentence vectors to store for these (article id, version, chunk)s: each
        distinct text of a version once, longest first (as chunks are embedded)."""
        if self.sentences_of is None:
            return []
        found: dict[str, _Sentence] = {}
        for article_id, version, chunk in chunks:
            for text in self.sentences_of(chunk):
                key = sentence_id(article_id, version, text)
                found.setdefault(key, _Sentence(key, text, article_id, version))
        return sorted(found.values(), key=lambda s: -len(s.text))

    def _write_sentences(self, sentences: Sequence[_Sentence], run: str, progress: Callable[[int], None]) -> None:
        """Embed and store sentence vectors, stamped with their ingest run like chunks."""
        for start in range(0, len(sentences), ADD_BATCH):
            batch = sentences[start : start + ADD_BATCH]
            written_at = time.time()
            self.sentence_collection.upsert(
                ids=[s.id for s in batch],
                embeddings=self._embed([s.text for s in batch], partial(progress, start)),
                documents=[s.text for s in batch],
                metadatas=[
                    {"article_id": s.article_id, "version": s.version, "run": run, "written_at": written_at}
                    for s in batch
                ],
            )
            progress(min(start + ADD_BATCH, len(sentences)))

    def _embed(self, texts: list[str], between: Callable[[], None]) -> np.ndarray:
        """Passage vectors of `texts`, embedded in pieces of the model's batch size (as it
        would anyway), with `between()` before each piece but the first: where a caller's
        progress callback may stop the work (see ADD_BATCH)."""
        piece = self.embeddings.batch_size
        parts = []
        for start in range(0, len(texts), piece):
            if start:
                between()
            parts.append(self.embeddings.encode(texts[start : start + piece], query=False))
        return np.vstack(parts)

    def _write_source(self, record: ArticleRecord, source: Source, run: str) -> int:
        """Store the source of this version, compressed, in parts, stamped with its run;
        returns how many parts."""
        encoded = base64.b64encode(zlib.compress(source.data)).decode("ascii")
        parts = [encoded[i : i + SOURCE_PART_CHARS] for i in range(0, len(encoded), SOURCE_PART_CHARS)]
        for n, part in enumerate(parts):
            self.source_collection.upsert(
                ids=[f"{record.article_id}:{record.version}:{record.source_sha256[:16]}:{n}"],
                embeddings=np.asarray([_PLACEHOLDER_VECTOR], dtype=np.float32),
                metadatas=[
                    {
                        "article_id": record.article_id,
                        "version": record.version,
                        "sha256": record.source_sha256,
                        "part": n,
                        "parts": len(parts),
                        "name": source.name,
                        "kind": source.kind,
                        "charset": source.charset,
                        "data": part,
                        "run": run,
                        "written_at": time.time(),
                    }
                ],
            )
        return len(parts)

    def source(self, record: ArticleRecord) -> Source | None:
        """The source this version of an article was ingested from, as it was read; None when
        none is kept (ingested before sources were, or from text given directly), or it was
        replaced or removed meanwhile."""
        if not record.source_sha256:
            return None
        got = self.source_collection.get(
            where={
                "$and": [
                    {"article_id": record.article_id},
                    {"version": record.version},
                    {"sha256": record.source_sha256},
                ]
            },
            include=["metadatas"],
        )
        parts = sorted(got["metadatas"] or [], key=lambda m: int(str(m["part"])))
        if not parts or len(parts) != int(str(parts[0]["parts"])):
            return None
        data = zlib.decompress(base64.b64decode("".join(str(m["data"]) for m in parts)))
        if hashlib.sha256(data).hexdigest() != record.source_sha256:
            return None
        first = parts[0]
        return Source(data, str(first["name"]), str(first["kind"]), str(first.get("charset") or ""))

    def _remove_run(self, run: str) -> None:
        """Delete what an unfinished `put_articles` call wrote, now rather than at the next
        sweep: an ingest cancelled by a stopping bot leaves the store as it found it. Best
        effort: when the store itself failed, `sweep_leftovers` removes them later."""
        try:
            for collection in self._swept().values():
                collection.delete(where={"run": run})
        except Exception:
            logger.warning("Could not remove the chunks of an unfinished ingest; they go at the next sweep")

    def update_record(self, record: ArticleRecord) -> None:
        """Rewrite an article's registry record whose chunks stay as they are (a web page's
        new validators after a fetch that found the same text). Its version must not change."""
        current = self.article(record.article_id)
        if current.version != record.version:
            raise ValueError("update_record keeps the version; put_articles stores a new one")
        self.registry.update(ids=[record.article_id], metadatas=[record.to_metadata()])
        self._state = None

    def _delete_version(self, article_id: str, version: str) -> None:
        """Delete the chunks, sentence vectors and source of one version of an article (one
        no longer live: a version is written by one run only, so no other run's work goes)."""
        where: dict = {"$and": [{"article_id": article_id}, {"version": version}]}
        for collection in self._swept().values():
            collection.delete(where=where)

    def sweep_leftovers(self) -> int:
        """Delete the chunks (and sentence vectors and sources) of versions that never went
        live (an ingest killed midway); returns how many chunks. Run when the store opens and after
        every write.

        Which non-live chunks may go depends on who else could be writing them:

        - embedded store: only this process (vectorstore/client.py locks the directory), so
          every non-live chunk is a leftover except those of this process's own ingests in
          progress (`_writing`, e.g. another thread's). A killed ingest is gone at next open.
        - Chroma server: another process's ingest in progress looks exactly like a leftover
          (its chunks are written, its version not live yet), and there is no lock to ask.
          So every chunk carries its ingest run and the time its batch was written; a run
          in progress writes a batch every few seconds, so a run whose newest chunk is older
          than LEFTOVER_AGE_S is dead. A timestamp on the chunks rather than a record of
          runs elsewhere: nothing to clean up after a crash, and no extra write per ingest.
          Clocks of the machines sharing a server may differ by far less than that age.
          Chunks written before runs were recorded have neither field and count as old.
        """
        with _writing_guard:  # no ingest of this process starts or goes live meanwhile
            removed = self._sweep_leftovers(set(_writing))
            if self.sole_writer:
                self._drop_retired_generations()
            return removed

    def _sweep_leftovers(self, mine: set[str]) -> int:
        live = self.live_state_now().versions
        where = {"version": {"$nin": live}} if live else None
        found = {name: _records(collection, where) for name, collection in self._swept().items()}
        newest: dict[str, float] = {}  # run → when it last wrote (a chunk or a sentence vector)
        for _, metas in found.values():
            for meta in metas:
                run = str(meta.get("run", ""))
                newest[run] = max(newest.get(run, 0.0), _written_at(meta))
        if not newest:
            return 0
        cutoff = time.time() - LEFTOVER_AGE_S
        dead = {run for run, at in newest.items() if run not in mine and (self.sole_writer or at < cutoff)}
        removed: dict[str, int] = {}
        for name, (ids, metas) in found.items():
            doomed = [i for i, m in zip(ids, metas) if str(m.get("run", "")) in dead]
            for start in range(0, len(doomed), 5000):
                self._swept()[name].delete(ids=doomed[start : start + 5000])
            removed[name] = len(doomed)
        if any(removed.values()):
            logger.info(
                "Removed %d chunks, %d sentence vectors and %d source parts of interrupted ingests",
                removed["chunks"],
                removed["sentences"],
                removed["sources"],
            )
        return removed["chunks"]

    # -- compaction --------------------------------------------------------------------

    def _compact_if_worthwhile(self) -> None:
        """Compact an embedded store whose collections hold more deleted records than live
        ones (COMPACT_MIN_RETIRED). Not a Chroma server's: other processes would write to
        the collections being replaced, and the server's directory is not ours to clean.

        A compaction that fails (a full disk) is logged and left for a later write: the
        write that triggered it has succeeded, and the live generation is untouched."""
        if not self.sole_writer:
            return
        with _writing_guard:  # no ingest of this process starts, goes live or counts meanwhile
            if _writing:  # (another thread's ingest in progress: the next write compacts)
                return
            state = self.live_state_now()
            live = self._live_metadata()
            retired = int(str(live.get("written") or 0)) - state.chunks
            if retired < max(state.chunks, COMPACT_MIN_RETIRED):
                return
            try:
                self._compact(state.versions, live, state.chunks)
            except Exception:
                logger.warning("Could not compact the article store; the next write tries again", exc_info=True)

    def _compact(self, versions: list[str], live: Mapping, chunks: int) -> None:
        """Copy the live versions' chunks, sentence vectors and sources into collections of a
        new generation, then switch to it in one write (the live collection's metadata).

        Why collections of their own: chromadb 1.5.9 gives every vector written a new slot
        in the HNSW index and a delete only marks one, so nothing else shrinks an index (the
        write-ahead log is bounded by HNSW_SYNC_THRESHOLD). Stopped at any point, the store
        answers from the old generation until the switch and from the new one, complete,
        after it; the other is deleted by the next sweep (`_drop_retired_generations`).
        """
        generation = new_version()
        target = self._collections(generation, self.chunk_collection.metadata)
        for name, collection in self._swept().items():
            copied = _copy(collection, target[name], versions)
            if target[name].count() != copied:
                raise RuntimeError(f"compaction copied {copied} {name} records, stored {target[name].count()}")
        self.live_collection.modify(
            metadata={**live, "generation": generation, "written": chunks, "change": uuid.uuid4().hex}
        )
        self._use(generation, target)
        self._state = None
        logger.info("Compacted the article store: %d live chunks kept", chunks)

    def _drop_retired_generations(self) -> None:
        """Delete the collections of generations not in use (replaced by a compaction, or a
        compaction's that was interrupted), and the index files chromadb leaves of them."""
        current = {c.name for c in self._swept().values()}
        base = re.escape(self.collection_name)
        ours = re.compile(rf"{base}(\.[0-9a-f]{{12}})?({SENTENCES_SUFFIX}|{SOURCES_SUFFIX})?")
        retired = [c.name for c in self.client.list_collections() if ours.fullmatch(c.name) and c.name not in current]
        for name in retired:
            self.client.delete_collection(name)
        if retired:
            remove_unused_indexes(self.client)

    def _swept(self) -> dict[str, chromadb.Collection]:
        """The collections whose records belong to an article version (not the registry)."""
        return {
            "chunks": self.chunk_collection,
            "sentences": self.sentence_collection,
            "sources": self.source_collection,
        }

    def live_state_now(self) -> LiveState:
        """live_state, read from the registry now (not up to STATE_TTL_S old)."""
        self._state = None
        return self.live_state()

    def article(self, article_id: str) -> ArticleRecord:
        """The article with this id; ArticleNotFoundError when there is none."""
        record = self.get_article(article_id)
        if record is None:
            raise ArticleNotFoundError(f"No article with id '{article_id}'. `articlebot list` shows the ids.")
        return record

    def remove_article(self, article_id: str) -> ArticleRecord:
        record = self.article(article_id)
        self.registry.delete(ids=[article_id])  # readers stop seeing it at once
        self._changed()
        self._delete_version(article_id, record.version)
        self.sweep_leftovers()  # (an embedded store: with the article's leftovers, if any)
        self._compact_if_worthwhile()
        return record

    def reindex(self, progress: Progress = no_progress) -> int:
        """Re-embed every stored chunk with the current model and rebuild every sentence
        vector (adding them to articles stored before there were any), then record the
        model; returns the number of chunks. Progress counts chunks, then sentences.

        The model is recorded only after the last batch, so an interrupted reindex still
        reports a mismatch and can simply be run again. Sentence vectors are overwritten
        in place (same text, same id) and only then are the ones no chunk asks for any
        more deleted, so answers find stored vectors throughout.
        """
        chunks = self.live_chunks(versions=None, every_version=True)
        sentences = self._sentences([(str(d.metadata["article_id"]), str(d.metadata["version"]), d) for d in chunks])
        total = len(chunks) + len(sentences)
        embedded = partial(progress, "embedding")
        embedded(0, total)
        for start in range(0, len(chunks), ADD_BATCH):
            batch = chunks[start : start + ADD_BATCH]
            vectors = self._embed([d.page_content for d in batch], partial(embedded, start, total))
            self.chunk_collection.update(
                ids=[str(d.id) for d in batch], embeddings=vectors, metadatas=[_with_words(d) for d in batch]
            )
            embedded(min(start + ADD_BATCH, len(chunks)), total)
        self._write_sentences(sentences, uuid.uuid4().hex, lambda done: embedded(len(chunks) + done, total))
        versions = {str(d.metadata["version"]) for d in chunks}
        kept = {s.id for s in sentences}  # (the old model's vectors of any other text must go)
        stored, _ = _records(self.sentence_collection, None)
        stale = [i for i in stored if i.rsplit(":", 2)[-2] in versions and i not in kept]
        for start in range(0, len(stale), 5000):
            self.sentence_collection.delete(ids=stale[start : start + 5000])
        records = [dataclasses.replace(r, sentence_vectors=self.sentences_of is not None) for r in self.articles()]
        if records:
            self.registry.update(ids=[r.article_id for r in records], metadatas=[r.to_metadata() for r in records])
        self._state = None
        self._record_model()
        with self._vectors_lock:
            self._vectors = None  # the cached vectors are the old model's
        return len(chunks)

    def articles_without_sentence_vectors(self) -> list[ArticleRecord]:
        """Articles stored before sentence vectors were (their sentences are embedded when
        a question needs them, which is slower: `reindex` adds them)."""
        return [r for r in self.articles() if not r.sentence_vectors]

    # -- reads -------------------------------------------------------------------------

    def search(
        self, query_vector: Sequence[float], k: int, versions: list[str] | None = None
    ) -> list[tuple[Document, float]]:
        """Live chunks nearest to the query, with cosine similarity (higher is closer).

        Exact: every live vector is scored (up to EXACT_SEARCH_MAX_CHUNKS), so what an
        article's chunks are found for never depends on what else is stored. Chroma's HNSW
        index is approximate, and a big article of near-identical chunks (a template
        repeated a thousand times) can cut other articles off its graph: they were then
        missing from their own top 10, differently in each process, and filtering by live
        version makes that worse. benchmarks/recall.py measures both.
        """
        versions = self.live_versions() if versions is None else versions
        if not versions:
            return []
        if self.live_state().chunks <= EXACT_SEARCH_MAX_CHUNKS:
            return self._exact_search(query_vector, k, versions)
        hits = self.chunks.similarity_search_by_vector_with_relevance_scores(
            list(query_vector),
            k=k,
            filter={"version": {"$in": versions}},  # type: ignore[dict-item]  # typed dict[str, str], passed to Chroma as a where
        )
        return [(doc, 1.0 - distance) for doc, distance in hits]

    def _exact_search(self, query_vector: Sequence[float], k: int, versions: list[str]) -> list[tuple[Document, float]]:
        vectors = self._live_vectors(versions)
        if not vectors.ids or k <= 0:
            return []
        query = np.asarray(query_vector, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        scores = vectors.matrix @ query
        n = min(k, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        ranked = sorted(((float(scores[i]), vectors.ids[i]) for i in top), key=lambda p: (-p[0], p[1]))
        got = self.chunk_collection.get(ids=[i for _, i in ranked], include=["documents", "metadatas"])
        found = {i: (text, meta) for i, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])}
        return [
            (Document(page_content=found[i][0] or "", metadata=dict(found[i][1] or {}), id=i), score)
            for score, i in ranked
            if i in found  # gone since the vectors were read (a concurrent replace)
        ]

    def _live_vectors(self, versions: list[str]) -> _Vectors:
        """The vectors of these versions' chunks, cached: a version's chunks never change once
        it is live (reindex drops the cache), so a new live state fetches only new versions."""
        key = hashlib.sha1("|".join(sorted(versions)).encode()).hexdigest()
        with self._vectors_lock:
            cached = self._vectors
            if cached is not None and cached.token == key:
                return cached
            known = cached.by_version if cached is not None else {}
            parts = {v: known[v] for v in versions if v in known}
            missing = [v for v in versions if v not in parts]
            for start in range(0, len(missing), 500):
                wanted = missing[start : start + 500]
                got = self.chunk_collection.get(
                    where={"version": {"$in": wanted}},  # type: ignore[dict-item]  # mypy reads "$in" as str
                    include=["embeddings"],
                )
                fetched: dict[str, tuple[list[str], list]] = {v: ([], []) for v in wanted}
                for chunk_id, vector in zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else []):
                    version = chunk_id.rsplit(":", 2)[-2]  # ids are article_id:version:position
                    if version in fetched:
                        fetched[version][0].append(chunk_id)
                        fetched[version][1].append(vector)
                for version, (ids, rows) in fetched.items():
                    if not ids:  # a live version without chunks (a store damaged by an older articlebot)
                        parts[version] = ([], np.zeros((0, 0), dtype=np.float32))
                        continue
                    matrix = np.asarray(rows, dtype=np.float32)
                    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                    parts[version] = (ids, matrix / np.where(norms == 0, 1.0, norms))
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

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of these `sentence_id`s (those stored: none for an
        article stored before there were any, or one replaced meanwhile)."""
        if not ids:
            return {}
        got = self.sentence_collection.get(ids=list(dict.fromkeys(ids)), include=["embeddings"])
        vectors = got["embeddings"] if got["embeddings"] is not None else []
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], vectors)}

    def live_chunks(self, versions: list[str] | None = None, *, every_version: bool = False) -> list[Document]:
        """The chunks of these versions (default: the live ones); `every_version`: every
        stored chunk, live or not."""
        versions = self.live_versions() if versions is None else versions
        if not versions and not every_version:
            return []
        where = None if every_version else {"version": {"$in": versions}}
        docs: list[Document] = []
        while True:  # in pages: embedded Chroma fails to return ~32k chunks' texts at once
            got = self.chunks.get(
                where=where,  # type: ignore[arg-type]  # mypy reads "$in" as str, not the Literal
                include=["documents", "metadatas"],
                limit=10_000,
                offset=len(docs),
            )
            docs += [
                Document(page_content=text, metadata=meta, id=chunk_id)
                for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
            ]
            if len(got["ids"]) < 10_000:
                return docs

    def article_chunks(self, record: ArticleRecord) -> tuple[list[Document], np.ndarray]:
        """The chunks of this version of an article, in order, and their vectors (one row
        each, as stored); fewer than `record.chunk_count` when it was replaced or removed
        meanwhile. Chunks carry their metadata without the store's own bookkeeping (the
        ingest run that wrote them, and when)."""
        where = {"$and": [{"article_id": record.article_id}, {"version": record.version}]}
        docs: list[Document] = []
        rows: list[np.ndarray] = []
        while True:  # in pages, as in live_chunks
            got = self.chunk_collection.get(
                where=where,  # type: ignore[arg-type]
                include=["documents", "metadatas", "embeddings"],
                limit=10_000,
                offset=len(docs),
            )
            embedded = got["embeddings"] if got["embeddings"] is not None else []
            for chunk_id, text, meta, vector in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], embedded
            ):
                kept = {k: v for k, v in (meta or {}).items() if k not in ("run", "written_at", BM25_TOKENS)}
                docs.append(Document(page_content=text or "", metadata=kept, id=chunk_id))
                rows.append(np.asarray(vector, dtype=np.float32))
            if len(got["ids"]) < 10_000:
                break
        order = sorted(range(len(docs)), key=lambda i: int(str(docs[i].metadata.get("position", 0))))
        matrix = np.vstack([rows[i] for i in order]) if rows else np.zeros((0, 0), dtype=np.float32)
        return [docs[i] for i in order], matrix


def _tune(collection: chromadb.Collection, wanted: Mapping[str, int]) -> None:
    """Give an existing collection these HNSW settings (ef_search and sync_threshold are the
    ones chromadb 1.5.9 lets be modified), so a store created before them is migrated on open."""
    hnsw = (collection.configuration_json or {}).get("hnsw") or {}
    changed = {key: value for key, value in wanted.items() if hnsw.get(key) != value}
    if changed:
        collection.modify(configuration={"hnsw": cast(UpdateHNSWConfiguration, changed)})


def _with_words(chunk: Document) -> dict:
    """A chunk's metadata with its BM25 words, computed once, here (vectorstore/tokens.py)."""
    return {**chunk.metadata, BM25_TOKENS: words_to_store(chunk)}


def _copy(source: chromadb.Collection, target: chromadb.Collection, versions: Sequence[str]) -> int:
    """Add the records of these versions in `source` to `target`, vectors as they are;
    returns how many."""
    copied = 0
    for start in range(0, len(versions), 500):  # (a `$in` of a few hundred values at a time)
        where = {"version": {"$in": list(versions[start : start + 500])}}
        for page in _pages(source, where, ["embeddings", "documents", "metadatas"], size=1000):
            if page["ids"]:
                documents = page["documents"] or []
                target.add(
                    ids=page["ids"],
                    embeddings=page["embeddings"],
                    documents=documents if all(d is not None for d in documents) else None,
                    metadatas=page["metadatas"],
                )
            copied += len(page["ids"])
    return copied


def _records(
    collection: chromadb.Collection, where: dict | None, include: list | None = None
) -> tuple[list[str], list[Mapping]]:
    """Ids and metadata (unless `include` says less) of a collection's records matching `where`."""
    ids: list[str] = []
    metas: list[Mapping] = []
    for page in _pages(collection, where, ["metadatas"] if include is None else include):
        ids += page["ids"]
        metas += page["metadatas"] or []
    return ids, metas


def _pages(collection: chromadb.Collection, where: dict | None, include: list, size: int = 10_000) -> Iterator[Any]:
    """A collection's records matching `where`, page by page: embedded Chroma fails to
    return ~32k records at once."""
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=size, offset=offset)
        yield page
        offset += len(page["ids"])
        if len(page["ids"]) < size:
            return


def _written_at(meta: Mapping) -> float:
    """When a chunk was written: its batch's time, else (older chunks) its article's ingest time."""
    at = meta.get("written_at")
    if isinstance(at, int | float):
        return float(at)
    try:
        return datetime.fromisoformat(str(meta.get("ingested_at"))).timestamp()
    except ValueError:
        return 0.0
