"""The ONNX backend is a speed-up, not another model: its vectors are torch's, computed
without torch. The int8 one is close, and keeps an index of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODELS_DIR, REPOSITORY
from tests.processes import BIN, articlebot_env
from vectorstore.client import make_client
from vectorstore.embeddings import DEFAULT_MODEL, SentenceEmbeddings, load_embeddings
from vectorstore.errors import EmbeddingModelError, ModelMismatchError
from vectorstore.onnx_encoder import OnnxEncoder
from vectorstore.store import ArticleStore
from vectorstore.token_ids import SentencePieceIds, TokenizersIds

# Different lengths in one batch, so padding is exercised too.
TEXTS = ["Sora", "Sora最长能生成多长的视频?", "OpenAI于2024年2月发布了文生视频模型Sora,它可以生成长达60秒的视频。" * 4]
LONG_ZH = "OpenAI于2024年2月发布了文生视频模型Sora,它可以生成长达60秒的视频。" * 30  # > 512 tokens
LONG_EN = "Sora is a text-to-video model that OpenAI released in February 2024. " * 60  # > 512 tokens
# More than one batch of 8, Chinese and English, short and long, and the spacing
# (runs of spaces, a trailing space, nothing at all) where tokenizers differ.
MIXED = [
    *TEXTS,
    "Who named Sora?",
    "谁给Sora起的名字?",
    "  Sora   can  make videos of up to a minute. ",
    "",
    "Sora能够根据文本提示创建详细的视频,扩展现有视频中的叙述以及从静态图像生成场景。The model understands physics poorly.",
    LONG_ZH,
    LONG_EN,
    "长城站位于南极乔治王岛,1985年建成。",
    "A minute-long video, generated from a single prompt, with several characters.",
]
HEAVY_MODULES = ("torch", "transformers", "sentence_transformers")


def torch_vectors(texts: list[str], tmp_path: Path) -> dict[str, np.ndarray]:
    """The torch backend's vectors of `texts` (as queries, as passages), of "Sora" as a query,
    and its fingerprint: computed in a process of its own (tests/torch_vectors.py), so that
    torch's memory leaves with it instead of staying in the test process."""
    texts_file, out = tmp_path / "texts.json", tmp_path / "torch.npz"
    texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tests.torch_vectors", str(MODELS_DIR), str(texts_file), str(out)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with np.load(out) as saved:
        return {name: saved[name] for name in saved.files}


def test_onnx_backend_gives_torch_vectors_and_shares_the_fingerprint(embeddings: SentenceEmbeddings, tmp_path):
    torch = torch_vectors(MIXED, tmp_path)
    assert isinstance(embeddings.encoder, OnnxEncoder)  # the default backend, torch-free

    for query, name in ((True, "queries"), (False, "passages")):
        onnx_vectors = embeddings.encode(MIXED, query=query)
        assert onnx_vectors.dtype == np.float32 and onnx_vectors.shape == (len(MIXED), embeddings.dimension)
        assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1, atol=1e-5)
        assert np.all(np.sum(onnx_vectors * torch[name], axis=1) >= 0.9999)
    assert np.dot(embeddings.embed_query("Sora"), torch["sora"]) >= 0.9999
    assert embeddings.fingerprint == str(torch["fingerprint"])


# Where SentencePiece and tokenizers could part: special tokens written out, whitespace
# of every kind, full-width forms, emoji with variation selectors and skin tones, scripts
# with combining characters (a decomposed accent, Hangul jamo, Devanagari), nothing at all.
EDGES = [
    "<s>Sora</s> is a <mask> model<pad><unk>",
    "tabs\tand\nnewlines\r\n,\u3000全角空格\u00a0no-break\x85next line\u2028 \u200b zero-width",
    "ＡＢＣ１２３！（全角）",
    "❤️ Sora 👍🏽 🇨🇳 👨‍👩‍👧",
    "café, cafe\u0301, 한국어, \u1112\u1161\u11ab, नमस्ते, ﾊﾟﾝ",
    "   ",
    "",
]


def test_sentencepiece_gives_the_token_ids_of_transformers_tokenizer(embeddings: SentenceEmbeddings):
    """The default model tokenizes with SentencePiece (less memory, faster start); every
    text, the default article's lines included, gets the ids of transformers' tokenizer."""
    tokens = embeddings.encoder.tokens
    assert isinstance(tokens, SentencePieceIds)
    article = (Path(__file__).parent.parent / "ingest" / "corpus" / "sora-raw.txt").read_text(encoding="utf-8")
    texts = [prompt + text for prompt in ("query: ", "passage: ") for text in [*article.splitlines(), *MIXED]]
    reference = TokenizersIds(tokens.tokenizer_json, max_length=512)

    assert tokens.ids(texts) == reference.ids(texts)
    assert tokens.fallback is None  # nothing in them needed tokenizers
    assert tokens.ids(EDGES) == reference.ids(EDGES)
    assert tokens.fallback is not None  # the combining characters did


def test_texts_longer_than_the_model_reads_are_cut_at_512_tokens(embeddings: SentenceEmbeddings):
    tail = "完全不同的结尾,关于南极长城站的建设。" * 20
    for long in (LONG_ZH, LONG_EN):
        cut, with_tail, short, short_with_tail = embeddings.encode(
            [long, long + tail, long[:200], long[:200] + tail], query=False
        )
        assert np.dot(cut, with_tail) >= 0.9999  # the tail is past 512 tokens: never read
        assert np.dot(short, short_with_tail) < 0.99  # where it is read, it counts


def test_a_model_the_onnx_backend_cannot_run_is_named_with_the_fix(tmp_path):
    """A model with a Dense layer after pooling: refused before any export, torch suggested."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(EmbeddingModelError, match=r"cannot run .*Dense.*EMBEDDING_BACKEND=torch"):
        load_embeddings(str(tmp_path), tmp_path / "models")
    assert not (tmp_path / "models").exists()


def _imports(*args: str, env: dict[str, str], cwd) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the venv's Python with `args` under `-X importtime`; the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines() if "import time:" in line
    }
    return done, names


@pytest.mark.model  # runs articlebot, which loads the model
def test_asking_and_ingesting_import_neither_torch_nor_sentence_transformers(tmp_path):
    """A real `articlebot ask` on a new data dir: the default article is ingested, then the
    question answered, and nothing of torch, transformers or sentence-transformers is loaded."""
    env = articlebot_env(tmp_path / "data", ARTICLEBOT_SEED_CORPUS="true")
    asked, imported = _imports(
        str(BIN / "articlebot"), "ask", "--json", "Sora最长能生成多长的视频?", env=env, cwd=tmp_path
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert "default article: embedding" in asked.stderr  # it did ingest
    assert "60秒" in json.loads(asked.stdout)["answer"]
    assert {"onnxruntime", "sentencepiece", "chromadb"} <= imported  # the importtime report is read right
    assert imported.isdisjoint(HEAVY_MODULES)

    _, imported = _imports("-c", "import bot.settings", env=env, cwd=tmp_path)
    assert "bot" in imported and imported.isdisjoint(HEAVY_MODULES)


def test_int8_backend_is_close_to_float32_and_keeps_its_own_index(embeddings: SentenceEmbeddings, fresh, tmp_path):
    int8 = load_embeddings(DEFAULT_MODEL, MODELS_DIR, backend="onnx-int8")

    for query in (True, False):
        similarity = np.sum(int8.encode(TEXTS, query=query) * embeddings.encode(TEXTS, query=query), axis=1)
        assert np.all(similarity > 0.98) and not np.all(similarity > 0.9999)  # close, not the same
    # An index of float32 vectors is not searched with int8 ones, nor the other way round.
    assert int8.fingerprint != embeddings.fingerprint
    article = tmp_path / "article.md"
    article.write_text("# 长城站\n\n长城站位于南极乔治王岛,1985年建成。", encoding="utf-8")
    fresh.library.ingest(str(article))  # float32 vectors
    settings = fresh.settings
    with pytest.raises(ModelMismatchError, match="EMBEDDING_BACKEND"):
        ArticleStore(make_client(settings.chroma_dir), int8, settings.collection)
