"""Checking a generated answer against its passages, sentence by sentence.

A small model paraphrases well, but it also cites the wrong passage, adds what it
remembers from training, and misreads numbers. So an answer is only as good as its
checked sentences: each one is kept when a passage given to the model supports it — the
passage it cites or, re-cited, another one — and dropped otherwise. A sentence is
supported when the passage holds most of what it adds to the question (its words beyond
the question's) and holds its names and numbers together in one place (so "Runway: 60
seconds" is not read out of "Sora: 60 seconds; Runway: 3") or, written in another
language than the passage, when it is close in meaning to one of the passage's
sentences that states its numbers; and every number it states must be in the passage.
The sentences that support the answer are what its citations quote
(`bot.answering.citing`).

Numbers are compared by value, with their magnitude words: "15亿" is 1.5 billion, so an
answer saying "15 billion" misreads it although the digits are the same, and "30,000"
restates "3万" although they are not. A number without a magnitude word must be written
with the same digits as in the passage, as always ("60秒" is "60 seconds", years stay
years).

"One place" is a sentence with the headings, and with the sentence before it only when
neither names (in Latin script: Sora, OpenAI, Llama) anything the claim does not: a
sentence without a name of its own ("它最长能生成60秒视频") speaks of what the one before
it named, but one that names another model speaks of that model, and one that follows a
sentence naming two things could speak of either. Otherwise "Meta发布了Llama 2。Falcon
180B用了4096块GPU训练。" reads as Llama 2 trained on 4096 GPUs. Across languages the
words differ but the Latin names are the same, so there the sentence that supports a
claim must hold its numbers, and must not name another subject while leaving out a name
that the claim and the passage share.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.answering.selection import SentenceScorer, content_terms, entity_terms, lexical_overlap, rarity
from bot.language import language_of
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
# A number given with a magnitude word may be rounded: "1.5 billion" for "14.6亿" is
# within this share of the passage's value; "15 billion" for "15亿" is ten times off.
ROUNDING = 0.05

_MARKER = re.compile(r"\s*[\[【［]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】］]")
# A marker written after the sentence's full stop belongs to that sentence.
_MARKER_AFTER_STOP = re.compile(r"([。！？!?.])((?:\s*[\[【［]\s*\d{1,2}(?:\s*[,，、]\s*\d{1,2})*\s*[\]】］])+)")
# A clause that ends with its own marker is a claim of its own: "…60秒[1]，而…4秒[2]。",
# "built in 1985 [1] and holds 80 people [2]."
_CLAUSE_AFTER_MARKER = re.compile(r"(?<=[\]】］])\s*([，,；;]?)\s*(?=[^\s。！？!?.\[【［])")
_DIGITS = r"\d+(?:[.,]\d+)*"
# A number, the end of a range it starts ("3-5万": both are 万), and its magnitude word:
# Chinese 万/亿/千 and their compounds (千米, 千克, 千瓦 are units, not thousands), English
# words, and abbreviations written right after the digits ("5k", "$3M", "2bn").
_QUANTITY = re.compile(
    rf"({_DIGITS})(?:\s*(?:[-~～–—至到]|to\b)\s*({_DIGITS}))?"
    r"(?:\s*([百千]?万亿?|[百千]?亿|千(?![米克瓦])|(?i:thousand|million|billion|trillion|bn)(?![A-Za-z]))"
    r"|([kKM])(?![A-Za-z0-9]))?"
)
_MAGNITUDES = {
    "百": 1e2,
    "千": 1e3,
    "万": 1e4,
    "亿": 1e8,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "bn": 1e9,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
}
# A Latin-script name: a word with a capital or a digit that starts with a letter (one
# that starts with a digit, "180B", "4K", "60-second", is a quantity).
_NAME = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9.\-]*")
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


def first_stretch(text: str) -> str:
    """The text before its first [n] marker: what an answer says first (all of it when
    it has no marker)."""
    found = _MARKER.search(text)
    return text[: found.start()] if found else text


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
        vectors = [self.scorer.sentence_vectors(hit) for hit in passages]
        claim_vectors = self.scorer.embeddings.encode([c.text for c in claim_list], query=True)
        asked = content_terms(question)
        # Names the question or a passage writes: what a claim's first word may be.
        known = _names(question).union(*(_names(f"{_heading(hit)}\n{hit.doc.page_content}") for hit in passages))
        results = []
        for claim, claim_vector in zip(claim_list, claim_vectors):
            added = _added_words(claim.text, asked)
            names = _claim_names(claim.text, known)
            candidates = [
                _support(claim.text, names, added, claim_vector, i, passages[i], sentences[i], vectors[i])
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
    names: set[str],
    added: dict[str, float],
    vector: np.ndarray,
    index: int,
    hit: Hit,
    sentences: list[str],
    vectors: np.ndarray,
) -> Support | None:
    """Where in this passage the claim is found, or None: its new words (`added`) in the
    passage with its names and numbers together in one place, or across languages a
    close passage sentence that states its numbers and is not about another name; and
    its numbers in the passage either way."""
    if not sentences or not _numbers_in(claim, hit.doc.page_content):
        return None
    similarities = vectors @ vector
    heading = _heading(hit)
    places = [_place(sentences, i, heading, claim) for i in range(len(sentences))]
    if language_of(claim) != language_of(hit.doc.page_content):
        # The words differ, so only the numbers and the Latin names both texts write can
        # be checked: a sentence that names another subject in place of the claim's
        # states that subject's facts, however close its meaning.
        shared = {n for n in names if _mentions(f"{heading}\n{hit.doc.page_content}", n)}
        fitting = [
            i
            for i in range(len(sentences))
            if _numbers_in(claim, places[i]) and not _about_another(sentences, i, places[i], claim, shared)
        ]
        if not fitting:
            return None
        best = max(fitting, key=lambda i: similarities[i])
        if similarities[best] < MIN_SIMILARITY_ACROSS:
            return None
        return Support(index, best, float(similarities[best]), 0.0)
    overlap = _overlap(added, hit.doc.page_content) if added else 0.0
    if overlap < MIN_NEW_WORDS:
        return None
    # The claim's names and numbers must be found together, in one place: "Runway最长能
    # 生成60秒视频" has both words in a passage where 60 seconds is Sora's and Runway's
    # is 3 or 4.
    together = [
        i for i, place in enumerate(places) if all(_mentions(place, n) for n in names) and _numbers_in(claim, place)
    ]
    if not together:
        return None
    # Quote the sentence holding most of the new words (the closest one among equals).
    best = max(together, key=lambda i: (lexical_overlap(added, sentences[i]), similarities[i]))
    return Support(index, best, float(similarities[best]), overlap)


def _heading(hit: Hit) -> str:
    return f"{hit.doc.metadata.get('title', '')} {hit.doc.metadata.get('section', '')}"


def _place(sentences: list[str], i: int, heading: str, claim: str) -> str:
    """Sentence i with what it speaks about: the headings, and the sentence before it
    when neither names anything the claim does not. A sentence naming its own subject
    ("Falcon用了4096块GPU") is about that one, not about what the sentence before named;
    one without a name ("它用了4096块GPU") continues the sentence before, unless that one
    names several things and it cannot be told which."""
    if i and not _others(sentences[i], claim) and not _others(sentences[i - 1], claim):
        return f"{heading}\n{sentences[i - 1]}\n{sentences[i]}"
    return f"{heading}\n{sentences[i]}"


def _about_another(sentences: list[str], i: int, place: str, claim: str, shared: set[str]) -> bool:
    """Whether sentence i leaves out a name the claim gives its subject (`shared`: one the
    passage writes too) while it, or the sentence before that it may continue, names
    something else: then the fact it states is that other one's. A name the passage never
    writes proves nothing either way (a translation, a gloss)."""
    missing = any(not _mentions(place, n) for n in shared)
    return missing and (_others(sentences[i], claim) or (i > 0 and _others(sentences[i - 1], claim)))


def _others(sentence: str, claim: str) -> bool:
    """Whether the sentence names (in Latin script) something that the claim does not."""
    return any(not _mentions(claim, n) for n in _names(sentence))


@lru_cache(maxsize=4096)
def _names(text: str) -> frozenset[str]:
    """The Latin-script names in a text, lower-cased. Chinese has no capitals of grammar,
    so there every Latin word with a capital or a digit is one; in English a sentence's
    first word is capitalised by grammar and is left out (`entity_terms`)."""
    found: set[str] = set()
    for sentence in split_sentences(text):
        if language_of(sentence) == "zh":
            words = {w.lower().rstrip(".") for w in _NAME.findall(sentence) if re.search(r"[A-Z0-9]", w)}
        else:
            words = entity_terms(sentence)
        found |= {w for w in words if w[:1].isalpha()}
    return frozenset(found)


def _claim_names(claim: str, known: frozenset[str]) -> set[str]:
    """The claim's names. An English claim most often starts with its subject ("Falcon
    was trained on…"), whose capital `_names` cannot tell from grammar's ("The model…");
    it counts when the question or a passage writes it as a name."""
    names = set(_names(claim))
    first = _NAME.match(claim.lstrip())
    if first and first.group().lower().rstrip(".") in known:
        names.add(first.group().lower().rstrip("."))
    return names


def _mentions(text: str, name: str) -> bool:
    """Whether the text writes the name as a word of its own; a plural ("GPUs") is the
    same name as its singular."""
    stem = name[:-1] if name.endswith("s") and len(name) > 3 else name
    return re.search(rf"(?<![a-z0-9]){re.escape(stem)}s?(?![a-z0-9])", text.lower()) is not None


def _added_words(claim: str, asked: set[str]) -> dict[str, float]:
    """The claim's content words that the question doesn't have, weighted by rarity: those
    of two characters or more, or, when it adds only single characters (a unit, a
    one-character name: "1133.87亩", "龙尖"), those."""
    added = content_terms(claim) - asked
    return rarity({t for t in added if len(t) > 1} or added)


def _overlap(added: dict[str, float], passage: str) -> float:
    """`lexical_overlap` with the claim's numbers counted as found: they were checked by
    value, and "30000" states what "3万" does in other digits."""
    numbers = {t: w for t, w in added.items() if re.fullmatch(r"[\d.,]+", t)}
    words = {t: w for t, w in added.items() if t not in numbers}
    found = sum(numbers.values()) + lexical_overlap(words, passage) * sum(words.values())
    return found / (sum(numbers.values()) + sum(words.values()))


def _strength(support: Support) -> float:
    return support.similarity + support.overlap


@dataclass(frozen=True)
class _Quantity:
    digits: str  # as written, without thousands separators: "30000", "1.5"
    value: float | None  # with its magnitude word: 1.5e9 for "15亿"; None for "1.2.3"
    scaled: bool  # written with a magnitude word


def _quantities(text: str) -> list[_Quantity]:
    """The numbers a text states, each with the value its magnitude word gives it."""
    found = []
    for match in _QUANTITY.finditer(text):
        word = match.group(3) or match.group(4)
        for number in filter(None, match.group(1, 2)):
            digits = number.replace(",", "")
            value = float(digits) * _scale(word) if re.fullmatch(r"\d+(?:\.\d+)?", digits) else None
            found.append(_Quantity(digits, value, bool(word)))
    return found


def _scale(word: str | None) -> float:
    """What a magnitude word multiplies by; Chinese ones compound ("千万" is 千 × 万)."""
    if not word:
        return 1.0
    if word.isascii():
        return _MAGNITUDES.get(word) or _MAGNITUDES[word.lower()]  # "M" is not "m" (metres)
    return math.prod(_MAGNITUDES[c] for c in word)


def _same(claimed: _Quantity, stated: _Quantity) -> bool:
    """Whether a number of the claim says what one of the passage says. Without magnitude
    words on either side the digits must be the same ("60" is "60", "2023" is "2023").
    Otherwise the values must be: exactly when the claim writes all the digits ("30,000"
    for "3万"), nearly when its magnitude word lets it round ("1.5 billion" for "14.6亿")."""
    if not claimed.scaled and not stated.scaled:
        return claimed.digits == stated.digits
    if claimed.value is None or stated.value is None:
        return False
    return math.isclose(claimed.value, stated.value, rel_tol=ROUNDING if claimed.scaled else 1e-9)


def _numbers_in(claim: str, passage: str) -> bool:
    """Every number the claim states is stated in the passage, at the same magnitude (a
    misread number is the commonest invented fact; "15 billion" read out of "15亿" is
    one)."""
    stated = _quantities(passage)
    return all(any(_same(c, s) for s in stated) for c in _quantities(claim))
