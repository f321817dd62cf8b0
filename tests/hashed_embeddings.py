"""A deterministic stand-in for the embedding model, for tests about plumbing only.

`embeddings()` is a real `SentenceEmbeddings` whose encoder hashes each text's words
(and, for Chinese, its characters and character pairs) into a few dimensions: no model to
load, the same vectors in every process and on every run, and texts that share words end
up close. It knows nothing of meaning, so a test that checks an answer, a refusal,
retrieval or a citation keeps the real model; one that checks what is stored, listed,
exported, refused at the door or shown in a message may use this one
(docs/development.md, "Tests").

It goes in where tests hand the real model in, `build(settings, embeddings=...)`, and the
store records its name and fingerprint like any model's: a store built with it is never
opened with the real one.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from vectorstore.embeddings import SentenceEmbeddings

NAME = "tests:hashed-words"
DIMENSION = 64
# Latin words and numbers, or single CJK characters (a Chinese text has no spaces to split on).
_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")


class HashedEncoder:
    """Texts → unit vectors: each token and each pair of neighbouring tokens adds one to
    the dimension its hash names; one constant dimension keeps an empty text non-zero."""

    prompts: dict[str, str] = {}
    dimension = DIMENSION

    def encode(self, texts: list[str], *, prompt: str, batch_size: int) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in zip(vectors, texts):
            tokens = _TOKEN.findall(text.lower())
            for feature in [*tokens, *(a + b for a, b in zip(tokens, tokens[1:]))]:
                row[_bucket(feature)] += 1.0
            row[0] += 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _bucket(feature: str) -> int:
    """A dimension other than 0, the same in every process (`hash()` is salted per process)."""
    digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
    return 1 + int.from_bytes(digest, "little") % (DIMENSION - 1)


def embeddings() -> SentenceEmbeddings:
    return SentenceEmbeddings(
        HashedEncoder(), name=NAME, fingerprint=hashlib.sha256(f"{NAME}:{DIMENSION}".encode()).hexdigest()
    )
