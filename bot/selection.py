"""Extractive answers: find the sentence(s) inside retrieved chunks that answer a question.

Retrieval finds passages; a user wants the one sentence that answers. Each sentence of the
retrieved chunks is scored by its own embedding similarity to the question, by how many of
the question's words it contains, and by its chunk's retrieval rank. The best sentence is
the answer; a runner-up joins it only when it scores nearly as well (the answer spans two
sentences) and the whole stays short. Sentences are quoted exactly as stored, so every
citation points to text that is really in the article.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ingest.chunking import split_sentences
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.retrieval import Hit, tokenize

MAX_ANSWER_CHARS = 300
# Weights and thresholds, calibrated on the dev question set (`articlebot eval`).
LEXICAL_WEIGHT = 0.15
RANK_WEIGHT = 0.02
RUNNER_UP_MARGIN = 0.015
_CACHE_SIZE = 20_000
# Question words that say nothing about the answer's content.
_STOPWORDS = frozenset(
    "的 了 是 在 有 和 与 及 吗 呢 么 什么 哪些 哪个 哪 谁 多少 多 怎么 怎样 如何 为什么 为何 "
    "可以 能 会 被 把 这个 那个 这 那 一 个 上 中 说 么 "
    "what which who whom whose when where why how is are was were do does did the a an of "
    "to in on for by with and or as be can could many much it its this that".split()
)
_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")


@dataclass(frozen=True)
class Scored:
    """A candidate answer sentence and where it came from."""

    sentence: str
    hit: Hit
    index: int  # position of the sentence inside its chunk
    dense: float
    lexical: float
    score: float


def content_terms(question: str) -> set[str]:
    return {t for t in tokenize(question) if t not in _STOPWORDS}


def lexical_overlap(terms: set[str], sentence: str) -> float:
    """Share of the question's content terms found in the sentence (characters for CJK)."""
    if not terms:
        return 0.0
    lowered = sentence.lower()
    return sum(term in lowered for term in terms) / len(terms)


class SentenceScorer:
    """Scores sentences of retrieved chunks; caches sentence embeddings across questions."""

    def __init__(self, embeddings: SentenceEmbeddings) -> None:
        self.embeddings = embeddings
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _vectors(self, sentences: list[str]) -> np.ndarray:
        with self._lock:
            missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing:
            encoded = self.embeddings.encode(missing, query=False)
            with self._lock:
                self._cache.update(zip(missing, encoded))
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        with self._lock:
            return np.stack([self._cache[s] for s in sentences])

    def score(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Scored]:
        """All sentences of the hits, best first."""
        terms = content_terms(question)
        spans = [
            (hit, i, sentence)
            for hit in hits
            for i, sentence in enumerate(split_sentences(hit.doc.page_content))
        ]
        if not spans:
            return []
        dense = self._vectors([s for _, _, s in spans]) @ query_vector
        scored = []
        for (hit, i, sentence), similarity in zip(spans, dense):
            lexical = lexical_overlap(terms, sentence)
            rank_prior = RANK_WEIGHT * hit.fused * 60  # 1/(60+rank) scaled to ~RANK_WEIGHT
            total = float(similarity) + LEXICAL_WEIGHT * lexical + rank_prior
            scored.append(Scored(sentence, hit, i, float(similarity), lexical, total))
        return sorted(scored, key=lambda s: s.score, reverse=True)


def choose(scored: list[Scored]) -> list[Scored]:
    """The best sentence, plus a runner-up that scores nearly as well, within the length cap."""
    if not scored:
        return []
    best = scored[0]
    chosen = [best]
    for other in scored[1:3]:
        if other.sentence == best.sentence or best.score - other.score > RUNNER_UP_MARGIN:
            continue
        if len(best.sentence) + len(other.sentence) + 8 <= MAX_ANSWER_CHARS:
            chosen.append(other)
        break
    return chosen
