"""The Chroma client factory: embedded `PersistentClient` by default, `HttpClient` for a server."""

from __future__ import annotations

from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

from vectorstore.errors import StoreUnavailableError


def make_client(
    persist_dir: Path | None = None,
    *,
    host: str | None = None,
    port: int = 8000,
    ssl: bool = False,
    headers: dict[str, str] | None = None,
) -> chromadb.ClientAPI:
    """Open the store; exactly one of `persist_dir` (embedded) or `host` (server) is used."""
    if persist_dir is not None and host is not None:
        raise ValueError("Give either a persist directory or a server host, not both.")
    settings = ChromaSettings(anonymized_telemetry=False)  # no phoning home from here
    if host is None:
        if persist_dir is None:
            raise ValueError("An embedded store needs a persist directory.")
        persist_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(persist_dir), settings=settings)
    try:
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, headers=headers, settings=settings)
    except Exception as exc:  # connection refused, DNS, TLS
        raise StoreUnavailableError(
            f"Cannot reach the Chroma server at {host}:{port} ({exc.__class__.__name__})."
        ) from exc
