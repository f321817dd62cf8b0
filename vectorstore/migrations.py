"""The store's schema version, and the numbered migrations that bring an older store to it.

The version is kept in the live collection's metadata (`schema`, vectorstore/registry.py),
beside the generation and the change counter: a store on a Chroma server has no data
directory of ours, and the record that names the collections in use is the one place
every process sharing the store reads anyway. A store made before there was a version
(articlebot ea8a103 and before) has none and counts as version 0.

`migrate` runs at open, under the store's write guard (an embedded store is also locked to
its process, vectorstore/client.py), each migration not yet recorded, in order, and
records the version after each. Every migration is idempotent (it writes only what is
missing), so one killed midway is simply run again at the next open: it is either done
or redone. On a Chroma server two processes opening an old store at once may both run a
migration; they write the same values.

The rest of vectorstore reads only the current schema. To change it: append a migration
here (never renumber or edit a released one), and write new records in the new form.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import chromadb
from langchain_core.documents import Document

from vectorstore.chroma import HNSW_EF_SEARCH, HNSW_SYNC_THRESHOLD, pages, records, tune
from vectorstore.errors import StoreUnavailableError
from vectorstore.keyword_tokens import BM25_TOKENS, words_to_store
from vectorstore.registry import schema_of

if TYPE_CHECKING:
    from vectorstore.store import ArticleStore

logger = logging.getLogger(__name__)

_UPDATE_BATCH = 1000


def tune_hnsw(store: ArticleStore) -> bool:
    """1: collections made before our HNSW settings get them (ef_search and sync_threshold
    are the ones chromadb 1.5.9 lets be modified; HNSW_M only counts for a new collection)."""
    synced = {"sync_threshold": HNSW_SYNC_THRESHOLD}
    for collection in (
        store.registry.collection,
        store.registry.live,
        store.sentence_collection,
        store.source_collection,
    ):
        tune(collection, synced)
    tune(store.chunk_collection, {"ef_search": HNSW_EF_SEARCH, **synced})
    return True


def stamp_runs(store: ArticleStore) -> bool:
    """2: every record carries the ingest run that wrote it and when (what the sweep reads);
    records written before runs were get run "" and, for chunks, their article's ingest
    time (else 0: old), which is what the sweep took them for."""
    for collection in store.generation.collections().values():
        _update_missing(collection, _run_and_time)
    return True


def _run_and_time(meta: Mapping) -> dict | None:
    if "run" in meta and isinstance(meta.get("written_at"), int | float):
        return None
    try:
        at = datetime.fromisoformat(str(meta.get("ingested_at"))).timestamp()
    except ValueError:
        at = 0.0
    return {"run": str(meta.get("run", "")), "written_at": at}


def store_bm25_words(store: ArticleStore) -> bool:
    """3: every chunk carries its BM25 words (vectorstore/keyword_tokens.py), computed as
    ingest computes them."""
    for page in pages(store.chunk_collection, None, ["documents", "metadatas"]):
        missing = [
            (chunk_id, {BM25_TOKENS: words_to_store(Document(page_content=text or "", metadata=dict(meta or {})))})
            for chunk_id, text, meta in zip(page["ids"], page["documents"] or [], page["metadatas"] or [])
            if not isinstance((meta or {}).get(BM25_TOKENS), str)
        ]
        _update(store.chunk_collection, missing)
    return True


def source_keys_are_sources(store: ArticleStore) -> bool:
    """4: an article's source_key is its source (`ingest.pipeline.source_key_of`): records
    stored when a local file's source_key was only its name get their path."""
    stale = [r for r in store.registry.articles() if r.source_key != r.source]
    store.registry.update([dataclasses.replace(r, source_key=r.source) for r in stale])
    return True


def store_sentence_vectors(store: ArticleStore) -> bool:
    """5: live articles stored without sentence vectors get them, as ingest stores them.
    Needs the store's sentence splitter and the model its chunks were embedded with: a
    store opened without the one (tests) or with another model (for `reindex`, which
    rebuilds every sentence vector) stops before this."""
    if store.sentences_of is None or store.built_with()[1] not in (None, store.embeddings.fingerprint):
        return False
    lacking = [r for r in store.registry.articles() if not r.sentence_vectors]
    if lacking:
        logger.info("Storing the sentence vectors of %d articles stored without them", len(lacking))
    for record in lacking:
        chunks, _ = store.article_chunks(record)
        sentences = store._sentences([(record.article_id, record.version, chunk) for chunk in chunks])
        store._write_sentences(sentences, uuid.uuid4().hex, lambda _done: None)
        store.registry.update([dataclasses.replace(record, sentence_vectors=True)])
    return True


# The schema's history: migration n brings version n-1 to n. Append only.
MIGRATIONS: tuple[Callable[[ArticleStore], bool], ...] = (
    tune_hnsw,
    stamp_runs,
    store_bm25_words,
    source_keys_are_sources,
    store_sentence_vectors,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(store: ArticleStore) -> list[int]:
    """Run the migrations this store has not had, recording the version after each; returns
    their numbers. A migration that cannot run in this store (returns False) and those
    after it are left for a later open."""
    version = schema_of(store.registry.bookkeeping())
    if version > SCHEMA_VERSION:
        raise StoreUnavailableError(
            f"The article store is of schema version {version}, made by a newer articlebot; this one "
            f"reads version {SCHEMA_VERSION}. Upgrade articlebot to open it.",
            code="newer_store",
        )
    ran: list[int] = []
    for number in range(version + 1, SCHEMA_VERSION + 1):
        if not MIGRATIONS[number - 1](store):
            break
        store.registry.record(store.registry.bookkeeping(), schema=number)
        ran.append(number)
    if ran:
        logger.info("Migrated the article store to schema version %d (migrations %s)", ran[-1], ran)
    return ran


def _update_missing(collection: chromadb.Collection, missing: Callable[[Mapping], dict | None]) -> None:
    """Add to each record's metadata what `missing(metadata)` gives (None: nothing)."""
    ids, metas = records(collection, None)
    _update(collection, [(i, added) for i, m in zip(ids, metas) if (added := missing(m)) is not None])


def _update(collection: chromadb.Collection, changes: list[tuple[str, dict]]) -> None:
    """Merge these fields into these records' metadata."""
    for start in range(0, len(changes), _UPDATE_BATCH):
        batch = changes[start : start + _UPDATE_BATCH]
        collection.update(ids=[i for i, _ in batch], metadatas=[m for _, m in batch])
