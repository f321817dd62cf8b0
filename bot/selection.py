"""Extractive answers: find the sentence(s) inside retrieved chunks that answer a question.

Retrieval finds passages; a user wants the one sentence that answers. Each sentence of the
retrieved chunks is scored by its own embedding similarity to the question, by how many of
the question's words it contains, and by its chunk's retrieval rank. The best sentence is
the answer; a runner-up joins it only when it scores nearly as well (the answer spans two
sentences) and the whole stays short. Sentences are quoted exactly as stored, so every
citation points to text that is really in the article.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from jieba import posseg

from ingest.chunking import split_sentences
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.retrieval import Hit, tokenize

MAX_ANSWER_CHARS = 300
# Weights, calibrated on the dev question set (`articlebot eval`).
LEXICAL_WEIGHT = 0.15  # share of the question's words found in the sentence
RANK_WEIGHT = 0.02  # the chunk's retrieval rank
TYPE_WEIGHT = 0.06  # the sentence holds the kind of thing asked for (a person, a date, a number)
RUNNER_UP_MARGIN = 0.05
NEIGHBOUR_SPAN = 1  # how far apart (in sentences of one chunk) two answer sentences may be
_CACHE_SIZE = 20_000
# Question words that say nothing about the answer's content.
_STOPWORDS = frozenset(
    "的 了 是 在 有 和 与 及 吗 呢 么 什么 哪些 哪个 哪 谁 多少 多 怎么 怎样 如何 为什么 为何 "
    "可以 能 会 被 把 这个 那个 这 那 一 个 上 中 说 么 "
    "what which who whom whose when where why how is are was were do does did the a an of "
    "to in on for by with and or as be can could many much it its this that".split()
)
# Names, acronyms, numbers: a question naming one is about something the answer must mention.
_ENTITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")
_ANSWER_TYPES = {
    "day": re.compile(r"哪一天|哪天|几号|几月几日|what day|what date|which day|on what date", re.I),
    "date": re.compile(r"什么时候|何时|哪一年|哪年|日期|\bwhen\b|what year|which year", re.I),
    "number": re.compile(
        r"多少|几[个位家年月天次倍秒种项]|多长|多久|多高|多重|多远|多深|多宽|多大规模|面积|"
        r"how many|how much|how long|how old|how tall|how high|how far",
        re.I,
    ),
    "person": re.compile(
        r"谁|哪位|哪些人|什么人|\bwho(m|se)?\b|"
        r"\bwhich\s+(\w+\s+){0,2}(person|people|members?|researchers?|founders?|scientists?|executives?)\b",
        re.I,
    ),
    "place": re.compile(r"哪里|哪儿|何处|什么地方|什么地区|哪些地区|哪个国家|哪个城市|位于|分布在|\bwhere\b", re.I),
    "colour": re.compile(r"什么颜色|颜色|\bwhat colou?r\b", re.I),
}
_FITS = {
    "day": re.compile(r"\d{1,2}\s*[日号]|[一二三四五六七八九十]+[日号]|\b\d{1,2}(st|nd|rd|th)?\b"),
    "date": re.compile(r"\d{1,4}\s*[年月日号]|[一二三四五六七八九十]+月|\b(1[89]|20)\d\d\b"),
    # digits, Chinese numerals, and "一" only with a measure word (it also means "a", "the same")
    "number": re.compile(r"\d|[二两三四五六七八九十百千万亿]|一[个位名家年月日天次倍本只条块张台米岁元份项成]"),
}
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
_PLACE = re.compile(r"[省市县区州洲国岛湾港城镇村山河湖海洋]|\bin [A-Z]")
_COLOUR = re.compile(r"[红橙黄绿青蓝紫黑白灰褐棕粉银金]|色|\b(red|orange|yellow|green|blue|purple|black|white|grey|gray|brown)\b", re.I)
_WORK_TITLE = re.compile(r"《[^》]*》")


def content_terms(question: str) -> set[str]:
    return {t for t in tokenize(question) if t not in _STOPWORDS}


def entity_terms(question: str) -> set[str]:
    """Latin-script names, acronyms and numbers in the question, lower-cased.

    An English question's first word is capitalised by grammar, not because it names
    something, so it is skipped.
    """
    found = _ENTITY.findall(question)
    if found and question.lstrip().startswith(found[0]) and found[0].isalpha() and found[0][1:].islower():
        found = found[1:]
    return {t.lower().rstrip(".") for t in found if any(c.isupper() or c.isdigit() for c in t)}


def answer_type(question: str) -> str | None:
    """The kind of thing a question asks for, when a sentence can be checked for it."""
    for kind, pattern in _ANSWER_TYPES.items():
        if pattern.search(question):
            return kind
    return None


@lru_cache(maxsize=20_000)
def has_person_name(sentence: str) -> bool:
    """jieba tags person names; titles of works (《沙丘》) are not people, so they are left out."""
    plain = _WORK_TITLE.sub("", sentence)
    return any(flag in _PERSON_TAGS and len(word) > 1 for word, flag in posseg.cut(plain))


def fits_type(kind: str | None, sentence: str) -> bool:
    if kind is None:
        return True
    if kind == "person":
        return has_person_name(sentence)
    if kind == "place":
        return bool(_PLACE.search(sentence))
    if kind == "colour":
        return bool(_COLOUR.search(sentence))
    return bool(_FITS[kind].search(sentence))


def lexical_overlap(terms: set[str] | dict[str, float], sentence: str) -> float:
    """Weighted share of the question's content terms found in the sentence."""
    weights = terms if isinstance(terms, dict) else dict.fromkeys(terms, 1.0)
    total = sum(weights.values())
    if not total:
        return 0.0
    lowered = sentence.lower()
    return sum(w for term, w in weights.items() if term in lowered) / total


def term_weights(terms: set[str], sentences: list[str]) -> dict[str, float]:
    """IDF of each question term over the candidate sentences.

    The question's subject ("夜来香" in "夜来香的种子有什么特点?") is in nearly every
    candidate sentence and tells them apart least; the predicate ("种子") singles out
    the answering sentence, so it weighs more.
    """
    lowered = [s.lower() for s in sentences]
    n = len(lowered)
    return {t: math.log(1 + n / (1 + sum(t in s for s in lowered))) for t in terms}


@dataclass(frozen=True)
class Scored:
    """A candidate answer sentence and where it came from."""

    sentence: str
    hit: Hit
    index: int  # position of the sentence inside its chunk
    dense: float
    lexical: float
    fits: bool  # holds the kind of thing asked for
    score: float


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

    def warm_up(self, hits: list[Hit]) -> None:
        """Embed every sentence of these chunks now, so that later answers only embed
        their question."""
        for start in range(0, len(hits), 64):
            batch = hits[start : start + 64]
            self._vectors([_in_context(h, s) for h in batch for s in split_sentences(h.doc.page_content)])

    def score(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Scored]:
        """Sentences of the hits that could answer (they mention the question's names and
        numbers, and hold a date or number when one is asked for), best first."""
        terms = content_terms(question)
        entities = entity_terms(question)
        kind = answer_type(question)
        spans = [
            (hit, i, sentence)
            for hit in hits
            if _mentions(entities, hit)
            for i, sentence in enumerate(split_sentences(hit.doc.page_content))
        ]
        if not spans:
            return []
        sentences = [s for _, _, s in spans]
        weights = term_weights(terms, sentences)
        dense = self._vectors([_in_context(hit, s) for hit, _, s in spans]) @ query_vector
        scored = []
        for (hit, i, sentence), similarity in zip(spans, dense):
            fits = fits_type(kind, sentence)
            if not fits and kind in ("day", "date", "number"):
                continue
            lexical = lexical_overlap(weights, sentence)
            total = (
                float(similarity)
                + LEXICAL_WEIGHT * lexical
                + RANK_WEIGHT * hit.fused * 60  # 1/(60+rank), scaled to at most RANK_WEIGHT
                + TYPE_WEIGHT * (fits and kind is not None)
            )
            scored.append(Scored(sentence, hit, i, float(similarity), lexical, fits, total))
        return sorted(scored, key=lambda s: s.score, reverse=True)


def _in_context(hit: Hit, sentence: str) -> str:
    """A sentence as embedded: after its section heading (or the article title), which
    names what "it" in the sentence refers to."""
    meta = hit.doc.metadata
    return f"{meta.get('section') or meta.get('title', '')}: {sentence}"


def _mentions(entities: set[str], hit: Hit) -> bool:
    """Whether a chunk (with its title and section) mentions every name the question does."""
    meta = hit.doc.metadata
    text = f"{meta.get('title', '')} {meta.get('section', '')} {hit.doc.page_content}".lower()
    return all(entity in text for entity in entities)


# A sentence opening with one of these concludes from, or refers back to, the one before.
_REFERS_BACK = re.compile(r"^(因此|所以|因而|故而|由此|于是|这是因为|这就是|这|此|该|其|它|他|她|they\b|this\b|it\b|so\b)", re.I)


def choose(scored: list[Scored], max_chars: int = MAX_ANSWER_CHARS) -> list[Scored]:
    """The best sentence, with the sentence before it when it refers back to that one,
    or with a neighbour that scores nearly as well (the answer spans two sentences) —
    as long as both fit the length cap."""
    if not scored:
        return []
    best = scored[0]
    fits = lambda other: len(best.sentence) + len(other.sentence) + 6 <= max_chars  # noqa: E731
    if best.index > 0 and _REFERS_BACK.match(best.sentence):
        before = split_sentences(best.hit.doc.page_content)[best.index - 1]
        previous = Scored(before, best.hit, best.index - 1, best.dense, best.lexical, best.fits, best.score)
        if fits(previous):
            return [previous, best]
    for other in scored[1:3]:
        neighbours = other.hit is best.hit and abs(other.index - best.index) <= NEIGHBOUR_SPAN
        if neighbours and best.score - other.score <= RUNNER_UP_MARGIN and fits(other):
            return sorted([best, other], key=lambda s: s.index)
    return [best]


def shorten(sentence: str, terms: set[str], limit: int) -> str:
    """A sentence over `limit` characters cut to its clauses that share most words with
    the question, marked with an ellipsis."""
    if len(sentence) <= limit:
        return sentence
    clauses = re.findall(r"[^,，;；:：]+[,，;；:：]?", sentence)
    best, best_overlap = clauses[0][: limit - 1], -1.0
    for start in range(len(clauses)):
        window = ""
        for clause in clauses[start:]:
            if len(window) + len(clause) > limit - 1:
                break
            window += clause
        overlap = lexical_overlap(terms, window)
        if window and overlap > best_overlap:
            best, best_overlap = window, overlap
    return best.rstrip(",，;；:：") + "…"
