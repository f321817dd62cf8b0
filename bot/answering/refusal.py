"""Answer or refuse: a logistic model over the scores the engine already computes.

One threshold per question language, fitted on a few questions, refused English questions
about Chinese articles (their scores are lower across languages) and answered on-topic
questions the articles cannot answer (their best sentence shares the topic's words). The
decision now weighs several signals, each telling apart something the others miss:
how close the best sentence is (cosine, and the fused score), how much of the question's
rarer words it and its chunk hold, whether the question's names and numbers are there,
whether it holds the kind of thing asked for, and how far it stands out from the rest —
each also by language pair, since across languages words cannot match and similarities
run lower. The weights are fitted, cross-validated and written by
`benchmarks/fit_refusal.py` on the dev files; `refusal_model.json` holds them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from bot.answering.glossary import bridged_overlap
from bot.answering.selection import (
    Scored,
    answer_type,
    content_terms,
    entity_terms,
    mentions,
    rarity,
    subject_coverage,
)
from bot.language import language_of

MODEL_FILE = "refusal_model.json"
# Signals of one question's candidates; each also enters multiplied by "cross" (question
# and best passage in different languages), whose own weight shifts the threshold.
SIGNALS = (
    "score",
    "dense",
    "chunk_dense",
    "words_in_sentence",
    "words_in_chunk",
    "names_in_chunk",
    "subject",
    "fits",
    "margin",
    "dense_gap",
    "dense_z",
    "typed",
)
FEATURES = (*SIGNALS, "cross", *(f"cross*{s}" for s in SIGNALS), "en_question")


def features(question: str, scored: list[Scored]) -> dict[str, float]:
    """The signals of the best candidate sentence for this question (see the module doc)."""
    best = scored[0]
    chunk = best.hit.doc
    meta = chunk.metadata
    chunk_text = f"{meta.get('title', '')} {meta.get('section', '')} {chunk.page_content}".lower()
    cross = language_of(question) != language_of(chunk.page_content)
    names = entity_terms(question)
    others = [s.score for s in scored if s.hit.chunk_id != chunk.id]
    dense = [s.dense for s in scored]
    signals = {
        "score": best.score,
        "dense": best.dense,
        "chunk_dense": best.hit.dense,
        "words_in_sentence": words_found(question, best.sentence, cross),
        "words_in_chunk": words_found(question, chunk_text, cross),
        "names_in_chunk": sum(mentions(chunk_text, n) for n in names) / len(names) if names else 1.0,
        "subject": subject_coverage(question, best.hit),
        "fits": float(best.fits),
        "margin": best.score - max(others, default=best.score - 0.1),
        "dense_gap": best.dense - max((s.dense for s in scored[1:] if s.dense < best.dense), default=best.dense),
        "dense_z": (best.dense - float(np.mean(dense))) / (float(np.std(dense)) + 0.01),
        "typed": float(answer_type(question) is not None),
    }
    return {
        **signals,
        "cross": float(cross),
        **{f"cross*{name}": cross * value for name, value in signals.items()},
        "en_question": float(language_of(question) == "en"),
    }


def pair(question: str, scored: list[Scored]) -> str:
    """ "question language/passage language" of the best candidate, e.g. "en/zh"."""
    return f"{language_of(question)}/{language_of(scored[0].hit.doc.page_content)}"


def words_found(question: str, text: str, cross: bool) -> float:
    """Share of the question's content words in the text: each weighted by its squared
    general-language rarity (a rare word's presence tells more), or across languages
    through the dictionary."""
    terms = content_terms(question)
    if cross:
        return bridged_overlap(terms, text, english_terms=language_of(question) == "en")
    weights = {t: w**2 for t, w in rarity(terms).items()}
    lowered = text.lower()
    return sum(w for t, w in weights.items() if t in lowered) / (sum(weights.values()) or 1.0)


@dataclass(frozen=True)
class RefusalModel:
    """Logistic regression on standardised features; answers at or above the threshold of
    the language pair (`pair`): where the probabilities of answerable and unanswerable
    questions part differs between same-language and cross-language questions."""

    means: dict[str, float]
    scales: dict[str, float]
    weights: dict[str, float]
    bias: float
    thresholds: dict[str, float]

    def probability(self, values: dict[str, float]) -> float:
        """How likely a question with these `features` is answered by its best candidate."""
        z = self.bias + sum(
            w * (values[name] - self.means[name]) / self.scales[name] for name, w in self.weights.items()
        )
        return 1 / (1 + math.exp(-max(min(z, 30.0), -30.0)))

    def confidence(self, question: str, scored: list[Scored]) -> float:
        """How far the best candidate's probability stands above its language pair's
        threshold: at or above zero the question is answered, below it refused (-1 when
        there is no candidate). Unlike the probability it compares a question with its
        translation, whose pair differs."""
        if not scored:
            return -1.0
        return self.probability(features(question, scored)) - self.thresholds[pair(question, scored)]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True) + "\n"


@lru_cache(maxsize=1)
def load_model() -> RefusalModel:
    """The committed model (bot/answering/refusal_model.json)."""
    data = json.loads(resources.files("bot.answering").joinpath(MODEL_FILE).read_text(encoding="utf-8"))
    return RefusalModel(**data)
