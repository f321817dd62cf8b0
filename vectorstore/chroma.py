"""How vectorstore talks to Chroma: chromadb's own client, typed filters, reads in pages.

Every collection of the store is reached through `chromadb.Collection` and nothing else
(langchain-chroma's wrapper is not used: the store embeds and searches itself). Filters are
built here, typed as chromadb's `Where`, so a caller never spells an operator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import cast

import chromadb
from chromadb.api.collection_configuration import CreateCollectionConfiguration, UpdateHNSWConfiguration
from chromadb.api.types import GetResult, Include, LiteralValue, Where
from chromadb.base_types import InclusionExclusionOperator

# Records that are looked up by id, never by similarity (registry records, source parts),
# still need a vector: this one.
PLACEHOLDER_VECTOR = [0.0]
# Chroma's HNSW settings (its defaults: ef_search 100, M 16); docs/performance.md says why
# these (approximate search is not relied on below EXACT_SEARCH_MAX_CHUNKS, vectorstore/index.py).
HNSW_EF_SEARCH = 500  # can be raised on an existing collection
HNSW_M = 32  # only for a collection created with it
# Chroma saves a collection's HNSW index every this many records written, and only then
# purges its write-ahead log up to what it saved: the default of 1,000 let the log of a
# store whose articles are replaced grow far past its live records (docs/performance.md).
HNSW_SYNC_THRESHOLD = 100
# A new collection's configuration, but the chunks' (vectorstore/generation.py).
SYNCED: CreateCollectionConfiguration = {"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}}
PAGE = 10_000  # records per read: embedded Chroma fails to return ~32k records at once
IN_LIMIT = 500  # values in one `$in` filter


def of_versions(versions: Sequence[str]) -> Where:
    """Records of these versions."""
    included: dict[InclusionExclusionOperator, list[LiteralValue]] = {"$in": list(versions)}
    return {"version": included}


def not_of_versions(versions: Sequence[str]) -> Where | None:
    """Records of any version but these (None: every record)."""
    excluded: dict[InclusionExclusionOperator, list[LiteralValue]] = {"$nin": list(versions)}
    return {"version": excluded} if versions else None


def of_version(article_id: str, version: str) -> Where:
    """Records of one version of an article."""
    return {"$and": [{"article_id": article_id}, {"version": version}]}


def of_run(run: str) -> Where:
    """Records one ingest run wrote."""
    return {"run": run}


def pages(
    collection: chromadb.Collection, where: Where | None, include: Include, size: int = PAGE
) -> Iterator[GetResult]:
    """A collection's records matching `where`, page by page (see PAGE)."""
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=size, offset=offset)
        yield page
        offset += len(page["ids"])
        if len(page["ids"]) < size:
            return


def records(
    collection: chromadb.Collection, where: Where | None, include: Include | None = None
) -> tuple[list[str], list[Mapping]]:
    """Ids and metadata (unless `include` says less) of a collection's records matching `where`."""
    ids: list[str] = []
    metas: list[Mapping] = []
    for page in pages(collection, where, ["metadatas"] if include is None else include):
        ids += page["ids"]
        metas += page["metadatas"] or []
    return ids, metas


def copy_versions(source: chromadb.Collection, target: chromadb.Collection, versions: Sequence[str]) -> int:
    """Add the records of these versions in `source` to `target`, vectors as they are;
    returns how many."""
    copied = 0
    for start in range(0, len(versions), IN_LIMIT):
        where = of_versions(versions[start : start + IN_LIMIT])
        for page in pages(source, where, ["embeddings", "documents", "metadatas"], size=1000):
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


def delete_ids(collection: chromadb.Collection, ids: Sequence[str]) -> None:
    """Delete these records, a few thousand a request."""
    for start in range(0, len(ids), 5000):
        collection.delete(ids=list(ids[start : start + 5000]))


def tune(collection: chromadb.Collection, wanted: Mapping[str, int]) -> None:
    """Give an existing collection these HNSW settings (ef_search and sync_threshold are the
    ones chromadb 1.5.9 lets be modified)."""
    hnsw = (collection.configuration_json or {}).get("hnsw") or {}
    changed = {key: value for key, value in wanted.items() if hnsw.get(key) != value}
    if changed:
        collection.modify(configuration={"hnsw": cast(UpdateHNSWConfiguration, changed)})
