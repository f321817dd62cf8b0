"""The ONNX backend is a speed-up, not another model: its vectors are torch's."""

from __future__ import annotations

import numpy as np

from tests.conftest import MODELS_DIR
from vectorstore.embeddings import DEFAULT_MODEL, SentenceEmbeddings, load_embeddings
from vectorstore.onnx_backend import OnnxModel

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
