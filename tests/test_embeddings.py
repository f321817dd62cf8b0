"""The ONNX backend is a speed-up, not another model: its vectors are torch's. The int8
one is close, and keeps an index of its own."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import MODELS_DIR
from vectorstore.client import make_client
from vectorstore.embeddings import DEFAULT_MODEL, SentenceEmbeddings, load_embeddings
from vectorstore.errors import ModelMismatchError
from vectorstore.onnx_backend import OnnxModel
from vectorstore.store import ArticleStore

# Different lengths in one batch, so padding is exercised too.
TEXTS = ["Sora", "Sora最长能生成多长的视频?", "OpenAI于2024年2月发布了文生视频模型Sora,它可以生成长达60秒的视频。" * 4]


def test_onnx_backend_gives_torch_vectors_and_shares_the_fingerprint(embeddings: SentenceEmbeddings):
    torch_embeddings = load_embeddings(DEFAULT_MODEL, MODELS_DIR, backend="torch")
    assert isinstance(embeddings.model[0].model, OnnxModel)  # the default backend

    for query in (True, False):
        onnx_vectors = embeddings.encode(TEXTS, query=query)
        torch_vectors = torch_embeddings.encode(TEXTS, query=query)
        assert np.all(np.sum(onnx_vectors * torch_vectors, axis=1) > 0.9999)
    assert embeddings.fingerprint == torch_embeddings.fingerprint


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
