"""ArticleStore: articles and their chunks in Chroma, replaced atomically; the one object
the rest of articlebot calls.

    store = ArticleStore(make_client(Path("data/chroma")), load_embeddings(DEFAULT_MODEL, models))
    store.put_articles([(record, chunk_documents)])   # new, or replaces the same article_id
    store.search(store.embeddings.embed_query("Sora能生成多长的视频?"), k=4)
    store.remove_article(record.article_id)

What it keeps, and where the code for each lives:

    registry.py     which articles there are and which version of each is live (`__registry`),
                    and the store's bookkeeping (`__live`: change counter, generation, schema)
    generation.py   the collections of a version's records: chunks, their sentences'
                    vectors (`__sentences`), the sources as ingested (`__sources`)
    index.py        reading chunks and sentence vectors; dense search (exact, in memory)
    sources.py      a version's source, compressed, in parts
    leftovers.py    sweeping what an interrupted ingest wrote
    compaction.py   bounding an embedded store's size (new generations)
    migrations.py   the schema version, and the numbered steps bringing an older store to it

Replacing never leaves a moment where questions find nothing: the new version's records
are added first, then the registry switches the article to the new version, then the old
records are deleted. Searches only return chunks whose version the registry lists, so a
crash midway leaves the previous version answerable and the half-written records
invisible; the sweep deletes them when the store next opens or writes.

Every `put_articles` call writes under versions of its own (`new_version`), never under a
version that is or was live, whatever its caller or an archive says: so what a run deletes
when it fails or is stopped (its own records) can never be the live article, and a sweep
deletes only the version a switch replaced, never another run's work in progress. An
article switched by another run while this one wrote is not overwritten: the run is
refused (`ArticleChangedError`) and removes what it wrote.

Every vector an answer needs is computed here, at ingest, once: each chunk's, and each of
its sentences' (the texts `sentences_of` gives); answering then embeds only the question
(`sentence_vectors` looks them up by `sentence_id`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import chromadb
import numpy as np
from langchain_core.documents import Document

from vectorstore import compaction, leftovers, migrations
from vectorstore.chroma import delete_ids, of_run, of_version, records
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.errors import ArticleChangedError, ArticleNotFoundError, ModelMismatchError
from vectorstore.generation import Generation, open_generation
from vectorstore.index import (
    EXACT_SEARCH_MAX_CHUNKS,
    ExactVectors,
    approximate_search,
    article_chunks,
    chunks_of,
    sentence_id,
    version_of,
)
from vectorstore.index import sentence_vectors as stored_sentence_vectors
from vectorstore.keyword_tokens import BM25_TOKENS, words_to_store
from vectorstore.progress import Progress, no_progress
from vectorstore.registry import LiveState, Registry, change_of, generation_of, written_of
from vectorstore.schema import ArticleRecord, Source, new_version
from vectorstore.sources import read_source, write_source

__all__ = ["ADD_BATCH", "ArticleStore", "LiveState", "STATE_TTL_S", "new_version", "sentence_id"]

logger = logging.getLogger(__name__)

# Chunks (or sentences) embedded and written to Chroma per call. A batch is embedded in
# pieces of the model's own batch size, with a progress report (of the count stored so
# far) before each piece: a caller stops an ingest by raising from its progress callback
# (a stopping bot), so it waits for one piece, well under a second, never a whole batch.
ADD_BATCH = 32
STATE_TTL_S = 0.5  # how stale this process's view of other processes' changes may be
# The registry is read whole only when its change counter moved (see `live_state`), and at
# least this often anyway: a writer that died between its switch and its count is seen late.
FULL_READ_S = 30.0
_writing: set[str] = set()  # ingest runs in progress in this process (see sweep_leftovers)
_writing_guard = threading.Lock()  # held by sweep_leftovers, compaction and migrations throughout


@dataclass(frozen=True)
class _Sentence:
    """A sentence vector to store: its id, the text embedded, and its article version."""

    id: str
    text: str
    article_id: str
    version: str


class ArticleStore:
    """Chunks (searchable), their sentences' vectors, the sources they were made from, and a
    registry of articles with the store's bookkeeping: five Chroma collections."""

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
        self.registry = Registry(client, collection)
        self.generation = self._open(generation_of(self.registry.bookkeeping()))
        self._state: tuple[float, LiveState] | None = None
        self._read_at = 0.0  # when the registry was last read whole
        self.exact = ExactVectors()
        # An embedded client is this process's alone (vectorstore/client.py locks it), so
        # nobody else can be writing to it; a server is shared with other processes.
        self.sole_writer = "fastapi" not in client.get_settings().chroma_api_impl.lower()
        with _writing_guard:
            self.migrated = migrations.migrate(self)  # the numbers of the migrations this open ran
        self.sweep_leftovers()
        if check_model:
            self.check_model()

    # -- the collections ---------------------------------------------------------------

    @property
    def chunk_collection(self) -> chromadb.Collection:
        return self.generation.chunks

    @property
    def sentence_collection(self) -> chromadb.Collection:
        return self.generation.sentences

    @property
    def source_collection(self) -> chromadb.Collection:
        return self.generation.sources

    @property
    def live_collection(self) -> chromadb.Collection:
        return self.registry.live

    def _open(self, generation: str) -> Generation:
        """The collections of a generation (a new chunk collection made for this model)."""
        model = {"embedding_model": self.embeddings.name, "embedding_fingerprint": self.embeddings.fingerprint}
        return open_generation(self.client, self.collection_name, generation, model)

    def _follow(self, bookkeeping: Mapping) -> None:
        """Use the generation `bookkeeping` names, when another store object (or process) compacted."""
        generation = generation_of(bookkeeping)
        if generation != self.generation.name:
            self.generation = self._open(generation)

    def chunk_count(self) -> int:
        """Stored chunks of every version, live or not."""
        return self.chunk_collection.count()

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

    # -- registry ----------------------------------------------------------------------

    def articles(self) -> list[ArticleRecord]:
        return self.registry.articles()

    def get_article(self, article_id: str) -> ArticleRecord | None:
        return self.registry.get(article_id)

    def article(self, article_id: str) -> ArticleRecord:
        """The article with this id; ArticleNotFoundError when there is none."""
        record = self.get_article(article_id)
        if record is None:
            raise ArticleNotFoundError(f"No article with id '{article_id}'. `articlebot list` shows the ids.")
        return record

    def find_article(self, *, source_key: str) -> ArticleRecord | None:
        """The article an ingest of this source replaces (`ingest.pipeline.source_key_of`)."""
        return self.registry.find(source_key)

    def is_seeded(self) -> bool:
        return self.registry.is_seeded()

    def mark_seeded(self) -> None:
        self.registry.mark_seeded()

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
        bookkeeping = self.registry.bookkeeping()  # (read before the registry it counts)
        self._follow(bookkeeping)
        change = change_of(bookkeeping)
        if cached is not None and cached[1].change == change and now - self._read_at < FULL_READ_S:
            self._state = (now, cached[1])
            return cached[1]
        state = self.registry.read_state(change)
        self._state = (now, state)
        self._read_at = now
        return state

    def live_state_now(self) -> LiveState:
        """live_state, read from the registry now (not up to STATE_TTL_S old)."""
        self._state = None
        return self.live_state()

    def _changed(self, written: int = 0) -> None:
        """Tell every process sharing the store that the live versions changed; `written`:
        chunks this switch wrote (counted for compaction)."""
        with _writing_guard:  # (no compaction switches the generation meanwhile)
            self.registry.count_change(written)
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
        before = self.registry.versions_of(ids)  # what this call replaces, checked again before the switch
        run = uuid.uuid4().hex  # this call's records, for sweep_leftovers
        with _writing_guard:  # (no compaction switches the generation while it is in progress)
            self._follow(self.registry.bookkeeping())
            _writing.add(run)
        embedded = partial(progress, "embedding")  # (the one stage the store reports)
        try:
            embedded(0, total)
            parts = sum(
                write_source(self.source_collection, r, source, run)
                for r, source in zip(records, kept)
                if source is not None
            )
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
                self.chunk_collection.upsert(
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
                self.registry.put(records)
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

    def _check_unchanged(self, article_ids: Sequence[str], before: dict[str, str]) -> None:
        """Refuse to switch articles that another run added, replaced or removed since `before`."""
        now = self.registry.versions_of(article_ids)
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
        server, another process's sweep takes a run that wrote nothing for LEFTOVER_AGE_S
        (this process was suspended that long) for a dead one, and so may a sweep of a
        process running another articlebot. Nobody else writes to an embedded store."""
        if self.sole_writer:
            return
        found = {name: len(records(c, of_run(run), include=[])[0]) for name, c in self.generation.collections().items()}
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

    def _remove_run(self, run: str) -> None:
        """Delete what an unfinished `put_articles` call wrote, now rather than at the next
        sweep: an ingest cancelled by a stopping bot leaves the store as it found it. Best
        effort: when the store itself failed, the sweep removes them later."""
        try:
            for collection in self.generation.collections().values():
                collection.delete(where=of_run(run))
        except Exception:
            logger.warning("Could not remove the chunks of an unfinished ingest; they go at the next sweep")

    def update_record(self, record: ArticleRecord) -> None:
        """Rewrite an article's registry record whose chunks stay as they are (a web page's
        new validators after a fetch that found the same text). Its version must not change."""
        current = self.article(record.article_id)
        if current.version != record.version:
            raise ValueError("update_record keeps the version; put_articles stores a new one")
        self.registry.update([record])
        self._state = None

    def _delete_version(self, article_id: str, version: str) -> None:
        """Delete the chunks, sentence vectors and source of one version of an article (one
        no longer live: a version is written by one run only, so no other run's work goes)."""
        for collection in self.generation.collections().values():
            collection.delete(where=of_version(article_id, version))

    def remove_article(self, article_id: str) -> ArticleRecord:
        record = self.article(article_id)
        self.registry.delete(article_id)  # readers stop seeing it at once
        self._changed()
        self._delete_version(article_id, record.version)
        self.sweep_leftovers()  # (an embedded store: with the article's leftovers, if any)
        self._compact_if_worthwhile()
        return record

    def reindex(self, progress: Progress = no_progress) -> int:
        """Re-embed every stored chunk with the current model and rebuild every sentence
        vector, then record the model; returns the number of chunks. Progress counts chunks,
        then sentences.

        The model is recorded only after the last batch, so an interrupted reindex still
        reports a mismatch and can simply be run again. Sentence vectors are overwritten
        in place (same text, same id) and only then are the ones no chunk asks for any
        more deleted, so answers find stored vectors throughout.
        """
        chunks = self.stored_chunks()
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
        stored, _ = records(self.sentence_collection, None)
        delete_ids(self.sentence_collection, [i for i in stored if version_of(i) in versions and i not in kept])
        self.registry.update(
            [dataclasses.replace(r, sentence_vectors=self.sentences_of is not None) for r in self.articles()]
        )
        self._state = None
        self._record_model()
        self.exact.clear()  # the cached vectors are the old model's
        return len(chunks)

    # -- sweeping and compaction -------------------------------------------------------

    def sweep_leftovers(self) -> int:
        """Delete the records of versions that never went live (an ingest killed midway:
        vectorstore/leftovers.py); returns how many chunks. Run when the store opens and
        after every write. An embedded store also drops the collections of retired
        generations here."""
        with _writing_guard:  # no ingest of this process starts or goes live meanwhile
            removed = leftovers.sweep(self.generation, self.live_state_now().versions, set(_writing), self.sole_writer)
            if self.sole_writer:
                compaction.drop_retired(self.client, self.collection_name, self.generation)
            return removed

    def _compact_if_worthwhile(self) -> None:
        """Compact an embedded store whose collections hold more deleted records than live
        ones (vectorstore/compaction.py). Not a Chroma server's: other processes would write
        to the collections being replaced, and the server's directory is not ours to clean.

        A compaction that fails (a full disk) is logged and left for a later write: the
        write that triggered it has succeeded, and the live generation is untouched."""
        if not self.sole_writer:
            return
        with _writing_guard:  # no ingest of this process starts, goes live or counts meanwhile
            if _writing:  # (another thread's ingest in progress: the next write compacts)
                return
            state = self.live_state_now()
            bookkeeping = self.registry.bookkeeping()
            if not compaction.worthwhile(written_of(bookkeeping), state.chunks):
                return
            try:
                self.generation = compaction.compact(
                    self.registry, self.collection_name, self.generation, state.versions, bookkeeping, state.chunks
                )
                self._state = None
            except Exception:
                logger.warning("Could not compact the article store; the next write tries again", exc_info=True)

    # -- reads -------------------------------------------------------------------------

    def search(
        self, query_vector: Sequence[float], k: int, versions: list[str] | None = None
    ) -> list[tuple[Document, float]]:
        """Live chunks nearest to the query, with cosine similarity (higher is closer).

        Exact (every live vector is scored) up to EXACT_SEARCH_MAX_CHUNKS, so what an
        article's chunks are found for never depends on what else is stored
        (vectorstore/index.py); Chroma's approximate HNSW search above.
        """
        versions = self.live_versions() if versions is None else versions
        if not versions:
            return []
        if self.live_state().chunks <= EXACT_SEARCH_MAX_CHUNKS:
            return self.exact.search(self.chunk_collection, query_vector, k, versions)
        return approximate_search(self.chunk_collection, query_vector, k, versions)

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of these `sentence_id`s (those stored: none of a
        version replaced meanwhile, or stored without `sentences_of`)."""
        return stored_sentence_vectors(self.sentence_collection, ids)

    def live_chunks(self, versions: list[str] | None = None) -> list[Document]:
        """The chunks of these versions (default: the live ones)."""
        versions = self.live_versions() if versions is None else versions
        return chunks_of(self.chunk_collection, versions) if versions else []

    def stored_chunks(self) -> list[Document]:
        """Every stored chunk, of every version, live or not."""
        return chunks_of(self.chunk_collection, None)

    def article_chunks(self, record: ArticleRecord) -> tuple[list[Document], np.ndarray]:
        """The chunks of this version of an article, in order, and their vectors (one row
        each, as stored); fewer than `record.chunk_count` when it was replaced or removed
        meanwhile. Chunks carry their metadata without the store's own bookkeeping (the
        ingest run that wrote them, and when)."""
        return article_chunks(self.chunk_collection, record.article_id, record.version)

    def source(self, record: ArticleRecord) -> Source | None:
        """The source this version of an article was ingested from, as it was read; None when
        none is kept (text given directly), or it was replaced or removed meanwhile."""
        return read_source(self.source_collection, record)


def _with_words(chunk: Document) -> dict:
    """A chunk's metadata with its BM25 words, computed once, here (vectorstore/keyword_tokens.py)."""
    return {**chunk.metadata, BM25_TOKENS: words_to_store(chunk)}
