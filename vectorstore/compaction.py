"""Compaction: an embedded store's size stays bounded however often articles are replaced.

chromadb 1.5.9 gives every vector written a new slot in a collection's HNSW index and a
delete only marks one, so an article replaced again and again grew the store without
bound (the write-ahead log is bounded by HNSW_SYNC_THRESHOLD). So once most of what a
generation's collections hold is deleted, the live records are copied into the
collections of a new generation (no embedding), and the store switches to it in one write
(the live collection's metadata). Stopped at any point, the store answers from the old
generation until the switch and from the new one, complete, after it; the other is deleted
by the next sweep (`drop_retired`). A Chroma server's store is never compacted: other
processes would write to the collections being replaced (benchmarks/store_growth.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

import chromadb

from vectorstore.chroma import copy_versions
from vectorstore.client import remove_unused_indexes
from vectorstore.generation import Generation, names_pattern, open_generation
from vectorstore.registry import Registry
from vectorstore.schema import new_version

logger = logging.getLogger(__name__)

# Compact once the chunks written in a generation, less the live ones, are at least as many
# as the live chunks and at least this many.
COMPACT_MIN_RETIRED = 100


def worthwhile(written: int, live_chunks: int) -> bool:
    """Whether a generation that had `written` chunks written and holds `live_chunks` live
    ones is worth compacting."""
    return written - live_chunks >= max(live_chunks, COMPACT_MIN_RETIRED)


def compact(
    registry: Registry, base: str, current: Generation, versions: list[str], bookkeeping: Mapping, chunks: int
) -> Generation:
    """Copy these live versions' records into a new generation and switch to it; returns it.
    `bookkeeping`: the live collection's metadata as read; `chunks`: the live chunks."""
    generation = new_version()
    target = open_generation(registry.client, base, generation, current.chunks.metadata or {})
    for name, collection in current.collections().items():
        copied = copy_versions(collection, target.collections()[name], versions)
        stored = target.collections()[name].count()
        if stored != copied:
            raise RuntimeError(f"compaction copied {copied} {name} records, stored {stored}")
    registry.record(bookkeeping, generation=generation, written=chunks, change=uuid.uuid4().hex)
    logger.info("Compacted the article store: %d live chunks kept", chunks)
    return target


def drop_retired(client: chromadb.ClientAPI, base: str, current: Generation) -> None:
    """Delete the collections of generations not in use (replaced by a compaction, or a
    compaction's that was interrupted), and the index files chromadb leaves of them."""
    in_use = {c.name for c in current.collections().values()}
    ours = names_pattern(base)
    retired = [c.name for c in client.list_collections() if ours.fullmatch(c.name) and c.name not in in_use]
    for name in retired:
        client.delete_collection(name)
    if retired:
        remove_unused_indexes(client)
