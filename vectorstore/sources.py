"""Each version's source as ingested (the file's bytes, the page as fetched), kept so that an
export can hold it. Stored compressed, in base64, in parts of a generation's sources
collection; written before the version goes live, and deleted and swept with it.
"""

from __future__ import annotations

import base64
import hashlib
import time
import zlib

import chromadb
import numpy as np

from vectorstore.chroma import PLACEHOLDER_VECTOR
from vectorstore.schema import ArticleRecord, Source

# One part is one record and one request, so a 10 MB PDF is a few requests of 1 MB to a
# Chroma server. The payload goes in a metadata field, not the document: Chroma indexes
# documents for full-text search, which made sources many times slower to write
# (docs/how-it-works.md).
SOURCE_PART_CHARS = 1 << 20


def write_source(collection: chromadb.Collection, record: ArticleRecord, source: Source, run: str) -> int:
    """Store the source of this version, stamped with its ingest run; returns how many parts."""
    encoded = base64.b64encode(zlib.compress(source.data)).decode("ascii")
    parts = [encoded[i : i + SOURCE_PART_CHARS] for i in range(0, len(encoded), SOURCE_PART_CHARS)]
    for n, part in enumerate(parts):
        collection.upsert(
            ids=[f"{record.article_id}:{record.version}:{record.source_sha256[:16]}:{n}"],
            embeddings=np.asarray([PLACEHOLDER_VECTOR], dtype=np.float32),
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


def read_source(collection: chromadb.Collection, record: ArticleRecord) -> Source | None:
    """The source this version of an article was ingested from, as it was read; None when
    none is kept (text given directly), or it was replaced or removed meanwhile."""
    if not record.source_sha256:
        return None
    got = collection.get(
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
    return Source(data, str(first["name"]), str(first["kind"]), str(first["charset"]))
