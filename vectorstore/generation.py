"""A generation: the chunk, sentence-vector and source collections the store reads and writes.

Every record of these three belongs to one version of one article (the registry says which
version is live). An embedded store is compacted by copying the live records into the
collections of a new generation (vectorstore/compaction.py); the live collection's
metadata names the generation in use ("" names the first one, made when the store was).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import chromadb

from vectorstore.chroma import HNSW_EF_SEARCH, HNSW_M, HNSW_SYNC_THRESHOLD, SYNCED

SENTENCES_SUFFIX = "__sentences"  # the sentence vectors' collection: `<chunks collection>__sentences`
SOURCES_SUFFIX = "__sources"  # the sources as ingested: `<chunks collection>__sources`


@dataclass(frozen=True)
class Generation:
    name: str  # "" for the first generation, else 12 hex digits
    chunks: chromadb.Collection  # searchable: text, BM25 words and vector of each chunk
    sentences: chromadb.Collection  # the vector of each distinct sentence of a version, by `sentence_id`
    sources: chromadb.Collection  # each version's source as ingested, in parts (vectorstore/sources.py)

    def collections(self) -> dict[str, chromadb.Collection]:
        """The three collections by what they hold (for what is done to all: sweep, delete, copy)."""
        return {"chunks": self.chunks, "sentences": self.sentences, "sources": self.sources}


def chunks_name(base: str, generation: str) -> str:
    return f"{base}.{generation}" if generation else base


def names_pattern(base: str) -> re.Pattern[str]:
    """Every collection name of every generation of the store named `base`."""
    return re.compile(rf"{re.escape(base)}(\.[0-9a-f]{{12}})?({SENTENCES_SUFFIX}|{SOURCES_SUFFIX})?")


def open_generation(
    client: chromadb.ClientAPI, base: str, generation: str, chunk_metadata: Mapping[str, str]
) -> Generation:
    """The collections of a generation, created if need be (a new chunk collection with
    `chunk_metadata`: the model it embeds with) with our HNSW settings."""
    name = chunks_name(base, generation)
    # The metadata and configuration count only when the collection is created (chromadb
    # ignores them for an existing one, which is what lets the store see the model it was
    # built with). No embedding function: the store embeds itself.
    chunks = client.get_or_create_collection(
        name=name,
        embedding_function=None,
        metadata={"hnsw:space": "cosine", **chunk_metadata},
        # The HNSW graph that search uses above EXACT_SEARCH_MAX_CHUNKS (vectorstore/index.py).
        configuration={
            "hnsw": {
                "space": "cosine",
                "ef_search": HNSW_EF_SEARCH,
                "max_neighbors": HNSW_M,
                "sync_threshold": HNSW_SYNC_THRESHOLD,
            }
        },
    )
    # Looked up by id only, never searched: its HNSW graph is kept small and cheap to build.
    sentences = client.get_or_create_collection(
        name=f"{name}{SENTENCES_SUFFIX}",
        embedding_function=None,
        metadata={"hnsw:space": "cosine"},
        configuration={"hnsw": {"space": "cosine", "sync_threshold": HNSW_SYNC_THRESHOLD}},
    )
    sources = client.get_or_create_collection(
        name=f"{name}{SOURCES_SUFFIX}", embedding_function=None, configuration=SYNCED
    )
    return Generation(generation, chunks, sentences, sources)
