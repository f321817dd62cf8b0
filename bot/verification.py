"""Checking a generated answer against its passages, sentence by sentence.

A small model paraphrases well, but it also cites the wrong passage, adds what it
remembers from training, and misreads numbers. So an answer is only as good as its
checked sentences: each one is kept when a passage given to the model supports it — the
passage it cites or, re-cited, another one — and dropped otherwise. A sentence is
supported when the passage holds most of what it adds to the question (its words beyond
the question's) and holds its names and numbers together in one place (so "Runway: 60
seconds" is not read out of "Sora: 60 seconds; Runway: 3") or, written in another
language than the passage, when it is close in meaning to one of the passage's
sentences; and every number it states must be in the passage. What a citation quotes is the passage sentences that support the answer,
exactly as stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.answer import Citation
from bot.language import language_of
from bot.selection import SentenceScorer, content_terms, entity_terms, lexical_overlap, rarity
from ingest.chunking import split_sentences
from vectorstore.retrieval import Hit

# What a sentence adds to the question — its content words that the question doesn't
# have (`_added_words`), weighted by rarity — must be in the passage: at least this share.
# Closeness of meaning alone proves little: e5 puts "white wine has
# more sulphites" and "white wine has fewer sulphites" close together (cosine ≥ 0.92),
# and a sentence that only repeats the question ("南宁二中简称南宁二中") adds nothing.
MIN_NEW_WORDS = 0.6
# A sentence in another language than the passage shares no words with it; then the
# cosine of their e5 vectors (the sentence embedded as a query) must reach this: right
# English answers about Chinese passages scored 0.82–0.86, invented ones at most 0.78.
MIN_SIMILARITY_ACROSS = 0.80

_MARKER = re.compile(r"\s*[\[【［]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】］]")
# A marker written after the sentence's full stop belongs to that sentence.
_MARKER_AFTER_STOP = re.compile(r"([。！？!?.])((?:\s*[\[【［]\s*\d{1,2}(?:\s*[,，、]\s*\d{1,2})*\s*[\]】］])+)")
# A clause that ends with its own marker is a claim of its own: "…60秒[1]，而…4秒[2]。",
# "built in 1985 [1] and holds 80 people [2]."
_CLAUSE_AFTER_MARKER = re.compile(r"(?<=[\]】］])\s*([，,；;]?)\s*(?=[^\s。！？!?.\[【［])")
_CLAUSE_END = "，,；;"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# How models say that the passages don't answer (the prompts ask for NO_ANSWER).
_DECLINES = re.compile(
    r"没有相关信息|没有提到|未提及|无法回答|没有(给出|提供)|don'?t say|do not say|does not say|"
    r"not mentioned|no information|don'?t (mention|contain)|cannot answer",
    re.I,
)


@dataclass(frozen=True)
class Claim:
    """One sentence of a generated answer, without its markers, and the passages it cites."""

    text: str
    cited: tuple[int, ...]  # 1-based passage numbers as the model wrote them


@dataclass(frozen=True)
class Support:
    """Where a claim was found: the passage (0-based) and the sentence inside it."""

    passage: int
    sentence: int
    similarity: float
    overlap: float


def without_markers(text: str) -> str:
    """The text with its [n] markers removed."""
    return _MARKER.sub("", text)


def claims(answer: str) -> list[Claim]:
    """The answer's sentences with the passage numbers each one cites."""
    answer = _MARKER_AFTER_STOP.sub(r"\2\1", answer.strip())
    found = []
    clauses = (c for s in split_sentences(answer) for c in _CLAUSE_AFTER_MARKER.sub(r"\1\n", s).split("\n"))
    for sentence in clauses:
        cited = tuple(int(n) for group in _MARKER.findall(sentence) for n in re.split(r"\D+", group) if n)
        text = _MARKER.sub("", sentence).strip()
        if text and any(c.isalnum() for c in text):
            found.append(Claim(text, cited))
    return found


def declines(sentence: str) -> bool:
    """Whether a sentence says that the passages hold no answer."""
    return bool(_DECLINES.search(sentence))


class Verifier:
    """Finds, for each claim, the passage sentence that supports it, if any."""

    def __init__(self, scorer: SentenceScorer) -> None:
        self.scorer = scorer

    def supports(self, claim_list: list[Claim], passages: list[Hit], question: str) -> list[Support | None]:
        """One entry per claim: its support in a cited passage, else in another given
        passage, else None."""
        if not claim_list:
            return []
        sentences = [split_sentences(hit.doc.page_content) for hit in passages]
        vectors = [self.scorer.sentence_vectors(hit, s) for hit, s in zip(passages, sentences)]
        claim_vectors = self.scorer.embeddings.encode([c.text for c in claim_list], query=True)
        asked = content_terms(question)
        results = []
        for claim, claim_vector in zip(claim_list, claim_vectors):
            added = _added_words(claim.text, asked)
            candidates = [
                _support(claim.text, added, claim_vector, i, passages[i], sentences[i], vectors[i])
                for i in range(len(passages))
            ]
            cited = [candidates[n - 1] for n in claim.cited if 0 < n <= len(passages)]
            ranked = sorted((s for s in cited if s), key=_strength, reverse=True) or sorted(
                (s for s in candidates if s), key=_strength, reverse=True
            )
            results.append(ranked[0] if ranked else None)
        return results


def _support(
    claim: str,
    added: dict[str, float],
    vector: np.ndarray,
    index: int,
    hit: Hit,
    sentences: list[str],
    vectors: np.ndarray,
) -> Support | None:
    """Where in this passage the claim is found, or None: its new words (`added`) in the
    passage with its names and numbers together in one place, or across languages a
    close passage sentence; and its numbers in the passage either way."""
    if not sentences or not _numbers_in(claim, hit.doc.page_content):
        return None
    similarities = vectors @ vector
    if language_of(claim) != language_of(hit.doc.page_content):
        best = int(np.argmax(similarities))
        if similarities[best] < MIN_SIMILARITY_ACROSS:
            return None
        return Support(index, best, float(similarities[best]), 0.0)
    overlap = lexical_overlap(added, hit.doc.page_content) if added else 0.0
    if overlap < MIN_NEW_WORDS:
        return None
    # The claim's names and numbers must be found together, in one sentence with the one
    # before it and the headings: "Runway最长能生成60秒视频" has both words in a passage
    # where 60 seconds is Sora's and Runway's is 3 or 4.
    names = entity_terms(claim)
    heading = f"{hit.doc.metadata.get('title', '')} {hit.doc.metadata.get('section', '')} "
    together = [i for i in range(len(sentences)) if _holds(heading + " ".join(sentences[max(i - 1, 0) : i + 1]), names)]
    if not together:
        return None
    # Quote the sentence holding most of the new words (the closest one among equals).
    best = max(together, key=lambda i: (lexical_overlap(added, sentences[i]), similarities[i]))
    return Support(index, best, float(similarities[best]), overlap)


def _holds(text: str, names: set[str]) -> bool:
    lowered = text.lower()
    return all(name in lowered for name in names)


def _added_words(claim: str, asked: set[str]) -> dict[str, float]:
    """The claim's content words that the question doesn't have, weighted by rarity: those
    of two characters or more, or, when it adds only single characters (a unit, a
    one-character name: "1133.87亩", "龙尖"), those."""
    added = content_terms(claim) - asked
    return rarity({t for t in added if len(t) > 1} or added)


def _strength(support: Support) -> float:
    return support.similarity + support.overlap


def _numbers_in(claim: str, passage: str) -> bool:
    """Every number the claim states appears in the passage (a misread number is the
    commonest invented fact)."""
    digits = {n.replace(",", "") for n in _NUMBER.findall(passage)}
    return all(n.replace(",", "") in digits for n in _NUMBER.findall(claim))


def cite(
    claim_list: list[Claim], supports: list[Support | None], passages: list[Hit], max_chars: int
) -> tuple[str, list[Citation]]:
    """The supported claims with markers renumbered in order of first use, and their
    citations; ("", []) when no claim is supported. Claims past `max_chars` are left out."""
    numbers: dict[int, int] = {}
    quoted: dict[int, set[int]] = {}
    text = ""
    for claim, support in zip(claim_list, supports):
        if support is None:
            continue
        n = numbers.get(support.passage, len(numbers) + 1)
        body = claim.text.rstrip(_CLAUSE_END)
        piece = f"{body}[{n}]{claim.text[len(body):]}"  # a clause's marker goes before its comma
        if text and len(text) + len(piece) > max_chars:
            break
        numbers[support.passage] = n
        quoted.setdefault(support.passage, set()).add(support.sentence)
        text += piece if _joins_tightly(text, claim.text) else f" {piece}"
    citations = []
    for passage, n in numbers.items():
        hit = passages[passage]
        citations.append(
            Citation.of_chunk(
                n,
                hit.doc.metadata,
                _quote(hit.doc.page_content, sorted(quoted[passage])),
                max(s.similarity for s in supports if s and s.passage == passage),
            )
        )
    return text.strip(), citations


def _joins_tightly(text: str, nxt: str) -> bool:
    """Chinese sentences follow each other without a space; English ones with one."""
    return not text or not (nxt[:1].isascii() and nxt[:1].isalnum())


def _quote(content: str, indexes: list[int]) -> str:
    """The supporting sentences as the article has them: one stretch when they are close
    together, else each one, joined by an ellipsis."""
    sentences = split_sentences(content)
    if indexes[-1] - indexes[0] <= 2:
        start = content.find(sentences[indexes[0]])
        end = content.find(sentences[indexes[-1]], max(start, 0))
        if start >= 0 and end >= 0:
            return content[start : end + len(sentences[indexes[-1]])]
    return " … ".join(sentences[i] for i in indexes)
