"""Encode texts with the exported ONNX graph, without torch: a tokenizer (SentencePiece or
`tokenizers`, `token_ids`) and ONNX Runtime only.

Importing sentence-transformers and torch took most of a one-shot `articlebot ask` and
~450 MB of its memory; all an answer needs from them is a tokenizer, one graph and a few
lines of numpy. So this does what
sentence-transformers does for a Transformer → Pooling (→ Normalize) model, as the model
folder's files say: the query/passage prompts (`config_sentence_transformers.json`),
truncation to `max_seq_length` (`sentence_bert_config.json`), texts sorted by length into
batches, mean (or CLS) pooling over the attention mask (`modules.json`,
`1_Pooling/config.json`), L2 normalisation, float32. The tokenizer is transformers' own,
saved once as a `tokenizer.json` beside the graph; both are written, with torch, by
`onnx_export`. Vectors equal sentence-transformers' on torch at cosine ≥ 0.9999
(tests/test_embeddings.py).

    pipeline = read_pipeline(model_folder, name)  # fails fast on a model it cannot run
    encoder = OnnxEncoder(pipeline, graph, tokenizer_file, sentencepiece_file)
    vectors = encoder.encode(["Sora"], prompt="query: ", batch_size=8)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.errors import EmbeddingModelError
from vectorstore.token_ids import token_ids

INPUTS = ("input_ids", "attention_mask")
OUTPUT = "last_hidden_state"
# sentence-transformers < 6 wrote one flag per pooling mode; 6 writes `pooling_mode`.
POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class Pipeline:
    """What a sentence-transformers folder says about turning tokens into vectors."""

    max_seq_length: int
    lower_case: bool
    pooling: str  # "mean" or "cls"
    dimension: int
    prompts: dict[str, str]


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class _Unsupported(Exception):
    """Why the model is not one this encoder reproduces."""


def read_pipeline(folder: Path, name: str) -> Pipeline:
    """Read the configuration of the model `name` in `folder`. Anything but a Transformer →
    Pooling (mean or CLS) → optional Normalize model is an `EmbeddingModelError`, before
    any graph is exported for it."""
    try:
        return _read_pipeline(folder)
    except _Unsupported as exc:
        raise EmbeddingModelError(
            f"The ONNX backend cannot run embedding model '{name}': {exc}. Set EMBEDDING_BACKEND=torch."
        ) from None
    except (ValueError, LookupError, TypeError, AttributeError) as exc:  # broken or unexpected JSON files
        raise EmbeddingModelError(
            f"Cannot load embedding model '{name}': its configuration files in {folder} are unreadable "
            f"({exc.__class__.__name__})."
        ) from exc


def _read_pipeline(folder: Path) -> Pipeline:
    modules = _json(folder / "modules.json")
    kinds = [module.get("type", "").rsplit(".", 1)[-1] for module in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise _Unsupported(f"its modules are {kinds or 'not listed (no modules.json)'}")
    transformer = folder / modules[0].get("path", "")
    pooling = _json(folder / modules[1]["path"] / "config.json")
    modes = pooling.get("pooling_mode") or [mode for flag, mode in POOLING_FLAGS.items() if pooling.get(flag)] or "mean"
    modes = [modes] if isinstance(modes, str) else list(modes)
    if modes not in (["mean"], ["cls"]):
        raise _Unsupported(f"its pooling is {' + '.join(modes)}, not mean or CLS")
    if pooling.get("include_prompt", True) is False:
        raise _Unsupported("its pooling leaves the prompt out")
    bert_config = _json(transformer / "sentence_bert_config.json")
    # As sentence-transformers: its own max_seq_length, else the tokenizer's capped by the model's.
    max_seq_length = bert_config.get("max_seq_length") or min(
        _json(transformer / "tokenizer_config.json").get("model_max_length", 1 << 30),
        _json(transformer / "config.json").get("max_position_embeddings", 1 << 30),
    )
    return Pipeline(
        max_seq_length=int(max_seq_length),
        lower_case=bool(bert_config.get("do_lower_case", False)),
        pooling=modes[0],
        dimension=int(pooling.get("embedding_dimension") or pooling["word_embedding_dimension"]),
        prompts=dict(_json(folder / "config_sentence_transformers.json").get("prompts") or {}),
    )


class OnnxEncoder:
    """Texts → unit-length float32 vectors, as sentence-transformers computes them.

    `tokenizer_file` is the model's tokenizer as transformers builds it
    (`onnx_export.export_tokenizer`); `sentencepiece_file` the same as a SentencePiece
    model, when it could be written (`token_ids.export_sentencepiece`): less memory and a
    faster start, the same ids.
    """

    def __init__(
        self, pipeline: Pipeline, graph: Path, tokenizer_file: Path, sentencepiece_file: Path | None = None
    ) -> None:
        import onnxruntime

        self.tokens = token_ids(tokenizer_file, sentencepiece_file, pipeline.max_seq_length, pipeline.lower_case)
        self.pipeline = pipeline
        self.prompts = pipeline.prompts
        self.dimension = pipeline.dimension

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # ORT's warnings about unused initializers are noise
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], *, prompt: str, batch_size: int) -> np.ndarray:
        """Vectors of shape [len(texts), dimension], in the order of `texts`."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Longest first, in batches of similar lengths (less padding): sentence-transformers' order.
        order = np.argsort([-len(text) for text in texts])
        for start in range(0, len(texts), batch_size):
            batch = order[start : start + batch_size]
            token_lists = self.tokens.ids([prompt + texts[i] for i in batch])
            width = max(map(len, token_lists))
            ids = np.full((len(batch), width), self.tokens.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, tokens in enumerate(token_lists):  # padded on the right, as transformers does
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            (hidden,) = self.session.run([OUTPUT], {"input_ids": ids, "attention_mask": mask})
            vectors[batch] = self._pool(hidden, mask)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pipeline.pooling == "cls":
            return hidden[np.arange(len(hidden)), mask.argmax(axis=1)]  # the first token, wherever padding is
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
