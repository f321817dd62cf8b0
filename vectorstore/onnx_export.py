"""Export a sentence-transformers model's transformer to ONNX once, with torch; quantize it.

On this machine's 2 CPU cores ONNX Runtime encodes multilingual-e5-small about twice as
fast as PyTorch (the 925 CMRC chunks of benchmarks/speed.py: 36.1 s → 16.6 s), with vectors
equal to cosine 0.9999 (both are float32; ORT just runs a better-fused graph).
sentence-transformers has an ONNX backend of its own, but it needs `optimum`, which pins
transformers < 4.58; so the model is exported here with PyTorch's own exporter. This is
the only place torch runs for the default backend, once per model (`articlebot prepare`);
`onnx_encoder` then encodes with the graph without importing torch.

    graph = export_onnx(models_dir / "onnx" / "e5", lambda: SentenceTransformer(path, device="cpu"))
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vectorstore.errors import EmbeddingModelError
from vectorstore.onnx_encoder import INPUTS, OUTPUT

GRAPH_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "model.onnx", "weights.bin", "tokenizer.json"


def export_onnx(target: Path, load_model: Callable[[], Any]) -> Path:
    """The transformer of the SentenceTransformer `load_model` returns, written as ONNX
    into the folder `target` unless it is there; the model is only loaded (with torch) then.

    The graph is in `model.onnx`, the weights beside it in one external file, which ONNX
    Runtime maps into memory instead of copying. Only the rows of the 250,002-token
    embedding table that texts actually use are then ever read: a new session takes
    ~150 MB instead of ~880 MB with the weights inside the graph.
    """
    return _build_once(target, lambda staging: _export(load_model(), staging))


def _export(model: Any, staging: Path) -> None:
    import onnx
    import torch

    hf_model = model[0].auto_model.eval()
    # Plain attention exports to a graph ONNX Runtime runs ~12% faster than the SDPA one.
    hf_model.set_attn_implementation("eager")
    # Two texts of different lengths: the traced graph must take padding into account.
    sample = model.tokenizer(
        ["passage: 示例", "passage: a longer example, 一个更长的例子"], padding=True, return_tensors="pt"
    )

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf_model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    dynamic = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python branches: none matter here
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in INPUTS),
            str(staging / GRAPH_FILE),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={name: dynamic for name in (*INPUTS, OUTPUT)},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter handles dynamic batch and length as is
        )
    exported = onnx.load(str(staging / GRAPH_FILE))
    onnx.save_model(exported, str(staging / GRAPH_FILE), save_as_external_data=True, location=WEIGHTS_FILE)


def export_tokenizer(folder: Path, target: Path) -> Path:
    """The tokenizer of the model in `folder` as transformers builds it, its padding set,
    saved as one tokenizer.json file `target` for `tokenizers` alone, unless it is there.

    Not a copy of the folder's own tokenizer.json: transformers 5 builds an XLM-R
    tokenizer's normaliser and pre-tokeniser from its class, so runs of spaces, a trailing
    space and an empty text give other tokens than that file would, and the vectors in
    the stores are the ones transformers' tokens give.
    """
    if target.exists():
        return target
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if tokenizer.pad_token_id is None:  # sentence-transformers could not pad a batch either
        raise EmbeddingModelError(f"The tokenizer in {folder} has no padding token.")
    backend = tokenizer.backend_tokenizer
    backend.no_truncation()  # OnnxEncoder truncates to the model's max_seq_length
    backend.enable_padding(
        pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token, direction=tokenizer.padding_side
    )
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    backend.save(str(staging))
    staging.replace(target)  # appears complete or not at all
    return target


def quantize_int8(graph: Path, target: Path) -> Path:
    """Write `graph` with its weights quantized to int8 (ONNX Runtime's dynamic
    quantization, per channel) into the folder `target`, once.

    Encoding is then ~1.7× faster on this machine's CPU, but the vectors are not the same
    (cosine to float32 ~0.997 on CMRC chunks), so they get a fingerprint of their own.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def quantize(staging: Path) -> None:
        quantize_dynamic(
            str(graph),
            str(staging / GRAPH_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            use_external_data_format=True,
        )

    return _build_once(target, quantize)


def _build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """The graph in the folder `target`, built by `build` into a staging folder first
    unless it is there: a folder appears complete or not at all, even when two processes
    build it at once."""
    graph = target / GRAPH_FILE
    if graph.exists():
        return graph
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    staging.mkdir()
    build(staging)
    try:
        staging.rename(target)
    except OSError:  # another process built it meanwhile
        shutil.rmtree(staging)
    return graph
