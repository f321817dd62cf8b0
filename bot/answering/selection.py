"""Extractive answers: find the sentence(s) inside retrieved chunks that answer a question.

Retrieval finds passages; a user wants the one sentence that answers. Each sentence of the
retrieved chunks is scored by its own embedding similarity to the question, by how many of
the question's words it contains, and by its chunk's retrieval rank. The best sentence is
the answer's core (with the sentence before it when it refers back, or a neighbour that
scores nearly as well); further sentences of the same article that score nearly as well
fill the answer up to about FILL_CHARS characters, after the passage of the best one.
Sentences are quoted exactly as stored, so every citation points to text that is really
in the article. Their vectors were computed at ingest and are looked up in the store, so a
question embeds only itself (a sentence whose vector is not stored, as in a passage of an
article replaced since it was retrieved, is embedded when needed, and kept).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from bot.answering.glossary import bridged_overlap
from bot.language import join_sentences, language_of, tagged_words
from ingest.chunking import embedded_sentences, split_sentences, stretch
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.keyword_tokens import tokenize
from vectorstore.retrieval import Hit
from vectorstore.store import ArticleStore, sentence_id

MAX_ANSWER_CHARS = 300
# Weights, calibrated on the dev question set and the CMRC trial set (`articlebot eval`).
LEXICAL_WEIGHT = 0.1  # share of the question's words found in the sentence
RANK_WEIGHT = 0.02  # the chunk's retrieval rank
TYPE_WEIGHT = 0.03  # the sentence holds the kind of thing asked for (a person, a date, a number)
RUNNER_UP_MARGIN = 0.05
NEIGHBOUR_SPAN = 1  # how far apart (in sentences of one chunk) two answer sentences may be
# Further sentences of the best one's article that score at most FILL_MARGIN below it fill
# the answer up to FILL_CHARS Chinese characters (markers included; `stretch`ed for English): the answer to "what is it
# like?" or "how did it happen?" often takes a few sentences, and a short answer is kept.
FILL_MARGIN = 0.1
FILL_CHARS = 150
_CACHE_SIZE = 20_000  # sentence vectors embedded on demand (articles stored without them)
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
    # digits, Chinese numerals, and "一" only with a measure word (it also means "a", "the same");
    # in English text, number words
    "number": re.compile(
        r"\d|[二两三四五六七八九十百千万亿]|一[个位名家年月日天次倍本只条块张台米岁元份项成]|"
        r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
        r"hundreds?|thousands?|millions?|billions?|dozens?|half|once|twice|several|single|double)\b",
        re.I,
    ),
}
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
_PLACE = re.compile(r"[省市县区州洲国岛湾港城镇村山河湖海洋]|\bin [A-Z]")
_COLOUR = re.compile(
    r"[红橙黄绿青蓝紫黑白灰褐棕粉银金]|色|\b(red|orange|yellow|green|blue|purple|black|white|grey|gray|brown)\b", re.I
)
_WORK_TITLE = re.compile(r"《[^》]*》")


def content_terms(question: str) -> set[str]:
    return {t for t in tokenize(question) if t not in _STOPWORDS}


def entity_terms(question: str) -> set[str]:
    """Latin-script names, acronyms and numbers in the question, lower-cased.

    An English sentence's first word is capitalised by grammar, not because it names
    something, so it is skipped ("What is…"); one that runs on into Chinese is a name
    ("Runway开发了…").
    """
    found = _ENTITY.findall(question)
    text = question.lstrip()
    first = bool(found) and text.startswith(found[0])
    into_chinese = first and "\u4e00" <= text[len(found[0]) : len(found[0]) + 1] <= "\u9fff"
    if first and not into_chinese and found[0].isalpha() and found[0][1:].islower():
        found = found[1:]
    return {t.lower().rstrip(".") for t in found if any(c.isupper() or c.isdigit() for c in t)}


@lru_cache(maxsize=1)
def _general_idf() -> tuple[dict[str, float], float]:
    """jieba's IDF table of general Chinese text (and its median, for unknown words), read
    from its file as `jieba.analyse` reads it: importing that module would also load
    jieba's part-of-speech tagger (half a second), which most questions do not need."""
    idf: dict[str, float] = {}
    shared: dict[str, float] = {}  # 3,328 values for 270,132 words: one float object each
    with resources.files("jieba").joinpath("analyse", "idf.txt").open(encoding="utf-8") as lines:
        for line in lines:  # "word idf"; line by line, not all at once: half the memory (32 MB)
            word, value = line.split()
            idf[word] = shared.setdefault(value, float(value))
    return idf, sorted(idf.values())[len(idf) // 2]


def rarity(terms: set[str]) -> dict[str, float]:
    """Each term's IDF in general Chinese text (jieba's table; unknown words get its
    median): "纸飞机" counts for much more than "很多" or "包括"."""
    idf, median = _general_idf()
    return {t: idf.get(t, median) for t in terms}


def subject_coverage(question: str, hit: Hit) -> float:
    """Share of the question's content words found in a chunk's article title and section
    heading, each weighted by its squared general-language IDF, so the question's subject
    (a name, a rare word) counts far more than common words."""
    terms = content_terms(question)
    if not terms:
        return 0.0
    weights = {t: w**2 for t, w in rarity(terms).items()}
    meta = hit.doc.metadata
    headings = f"{meta.get('title', '')} {meta.get('section', '')}".lower()
    return sum(w for t, w in weights.items() if t in headings) / sum(weights.values())


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
    return any(flag in _PERSON_TAGS and len(word) > 1 for word, flag in tagged_words(plain))


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


def mentions(text: str, term: str) -> bool:
    """Whether lower-cased `text` holds `term`, a number only as the whole number: "100"
    is not in "第1100号", nor "3" in "3.5" or "1" in "1,000"."""
    if not term[:1].isdigit() and not term[-1:].isdigit():
        return term in text
    return re.search(rf"(?<!\d)(?<!\d[.,]){re.escape(term)}(?![.,]?\d)", text) is not None


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
    """Scores sentences of retrieved chunks by their vectors stored at ingest."""

    def __init__(self, embeddings: SentenceEmbeddings, store: ArticleStore | None = None) -> None:
        """`store`: where the chunks' sentence vectors are; None (passages that are not
        stored) embeds every sentence when needed."""
        self.store = store
        self.embeddings = embeddings
        # The sentences whose vectors were not stored: what was embedded on demand.
        self._encoded: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _vectors(self, hits: list[Hit], texts: list[str]) -> np.ndarray:
        """The vectors of these texts (`embedded_sentences` of each hit's chunk), in one
        lookup: stored at ingest; embedded now only when not stored (passages not from the
        store, an article replaced since it was retrieved)."""
        ids = [
            sentence_id(str(h.doc.metadata.get("article_id")), str(h.doc.metadata.get("version")), t)
            for h, t in zip(hits, texts, strict=True)
        ]
        with self._lock:
            found = {i: self._encoded[i] for i in ids if i in self._encoded}
        if self.store is not None:
            found.update(self.store.sentence_vectors([i for i in ids if i not in found]))
        missing = {i: t for i, t in zip(ids, texts) if i not in found}
        if missing:
            encoded = self.embeddings.encode(list(missing.values()), query=False)
            with self._lock:
                self._encoded.update(zip(missing, encoded))
                while len(self._encoded) > _CACHE_SIZE:
                    self._encoded.popitem(last=False)
            found.update(zip(missing, encoded))
        if not ids:
            return np.zeros((0, self.embeddings.dimension), dtype=np.float32)
        return np.stack([found[i] for i in ids])

    def sentence_vectors(self, hit: Hit) -> np.ndarray:
        """The vectors of a hit's sentences (`split_sentences` order), as `score` compares them."""
        texts = embedded_sentences(hit.doc)
        return self._vectors([hit] * len(texts), texts)

    def score(
        self,
        question: str,
        query_vector: np.ndarray,
        hits: list[Hit],
        vocabulary: Collection[str],
        translated: bool = False,
    ) -> list[Scored]:
        """Sentences of the hits that could answer (they mention the question's names and
        numbers, and hold a day or a number when one is asked for), best first.
        `vocabulary`: the articles' words, which tell how they write a name (`_mentions`);
        a `translated` question's names are held to it as across languages (the model
        may keep a name in its own script, or give it another transliteration).

        A date is only preferred, not required: "when" is often answered by an event
        ("after the war", "in his second year at school")."""
        terms = content_terms(question)
        entities = entity_terms(question)
        kind = answer_type(question)
        language = language_of(question)
        spans = [
            (hit, i, sentence, text)
            for hit in hits
            if _mentions(entities, hit, language, vocabulary, translated)
            for i, (sentence, text) in enumerate(
                zip(split_sentences(hit.doc.page_content), embedded_sentences(hit.doc), strict=True)
            )
        ]
        if not spans:
            return []
        sentences = [s for _, _, s, _ in spans]
        weights = term_weights(terms, sentences)
        dense = self._vectors([hit for hit, *_ in spans], [text for *_, text in spans]) @ query_vector
        scored = []
        for (hit, i, sentence, _), similarity in zip(spans, dense):
            fits = fits_type(kind, sentence)
            if not fits and kind in ("day", "number"):
                continue
            if language_of(hit.doc.page_content) == language:
                lexical = lexical_overlap(weights, sentence)
            else:
                lexical = bridged_overlap(terms, sentence, english_terms=language == "en")
            total = (
                float(similarity)
                + LEXICAL_WEIGHT * lexical
                + RANK_WEIGHT * hit.fused * 60  # 1/(60+rank), scaled to at most RANK_WEIGHT
                + TYPE_WEIGHT * (fits and kind is not None)
            )
            scored.append(Scored(sentence, hit, i, float(similarity), lexical, fits, total))
        return sorted(scored, key=lambda s: s.score, reverse=True)


def _mentions(
    entities: set[str], hit: Hit, language: str, vocabulary: Collection[str], translated: bool = False
) -> bool:
    """Whether a chunk (with its title and section) mentions every name and number the
    question does.

    A chunk in another language than the question may write a name in its own script
    ("Jared Allen" is "贾里德·艾伦" in a Chinese article), so there a name is only required
    when the articles write it as the question does somewhere (a Chinese article about
    "Runway"), and a number by its digits."""
    meta = hit.doc.metadata
    text = f"{meta.get('title', '')} {meta.get('section', '')} {hit.doc.page_content}".lower()
    if translated or language_of(hit.doc.page_content) != language:
        written = {e for e in entities if all(t in vocabulary for t in tokenize(e))}
        entities = written | {d for entity in entities - written for d in re.findall(r"\d+", entity)}
    return all(mentions(text, entity) for entity in entities)


# A sentence opening with one of these concludes from, or refers back to, the one before.
_REFERS_BACK = re.compile(
    r"^(因此|所以|因而|故而|由此|于是|这是因为|这就是|这|此|该|其|它|他|她|they\b|this\b|it\b|so\b)", re.I
)


def choose(scored: list[Scored], max_chars: int = MAX_ANSWER_CHARS) -> list[Scored]:
    """The answer's sentences: its core (`_core`), then further sentences of the same
    article scoring within FILL_MARGIN of the best and sharing a word with the question,
    best first, each while the answer stays within FILL_CHARS (or `max_chars`, when
    smaller). Arranged by `_arrange`."""
    if not scored:
        return []
    core = _core(scored, max_chars)
    chosen = list(core)
    budget = min(max_chars, FILL_CHARS * stretch(scored[0].sentence))
    best = scored[0]
    if answer_length(_arrange(chosen, core)) <= budget:
        seen = {s.sentence for s in chosen}
        article = best.hit.doc.metadata.get("article_id")
        for other in scored[1:]:
            if best.score - other.score > FILL_MARGIN:
                break
            if other.sentence in seen or other.hit.doc.metadata.get("article_id") != article:
                continue
            if not other.lexical:  # close in meaning but sharing no word: filler ("大力出奇迹。")
                continue
            if answer_length(_arrange([*chosen, other], core)) <= budget:
                chosen.append(other)
                seen.add(other.sentence)
    return _arrange(chosen, core)


def _arrange(chosen: list[Scored], core: list[Scored]) -> list[Scored]:
    """The passage holding the core first (its sentences in article order, so that one
    joining it just before or after reads on), then the other sentences in article order."""
    grouped = runs(sorted(chosen, key=_article_offset))
    core_ids = {id(item) for item in core}
    holds_core = [any(id(item) in core_ids for item in run) for run in grouped]
    first = [run for run, held in zip(grouped, holds_core) if held]
    rest = [run for run, held in zip(grouped, holds_core) if not held]
    return [item for run in first + rest for item in run]


def _article_offset(item: Scored) -> int:
    """Where a sentence starts in its article (chunks overlap, so not (chunk, index))."""
    doc = item.hit.doc
    return int(doc.metadata.get("start", 0)) + max(doc.page_content.find(item.sentence), 0)


def runs(chosen: list[Scored]) -> list[list[Scored]]:
    """Consecutive sentences of one chunk, which share one citation marker."""
    grouped: list[list[Scored]] = []
    for item in chosen:
        last = grouped[-1][-1] if grouped else None
        if last is not None and last.hit.chunk_id == item.hit.chunk_id and item.index == last.index + 1:
            grouped[-1].append(item)
        else:
            grouped.append([item])
    return grouped


def chunk_numbers(chosen: list[Scored]) -> dict[str, int]:
    """Citation number of each cited chunk, in order of first use."""
    numbers: dict[str, int] = {}
    for item in chosen:
        numbers.setdefault(item.hit.chunk_id, len(numbers) + 1)
    return numbers


def answer_length(chosen: list[Scored]) -> int:
    """Characters of the answer text of these sentences (in this order), markers included."""
    numbers = chunk_numbers(chosen)
    markers = sum(len(f"[{numbers[run[0].hit.chunk_id]}]") for run in runs(chosen))
    return len(join_sentences(s.sentence for s in chosen)) + markers


def _core(scored: list[Scored], max_chars: int) -> list[Scored]:
    """The best sentence, with the sentence before it when it refers back to that one,
    or with a neighbour that scores nearly as well (the answer spans two sentences) —
    as long as both fit the length cap."""
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


def best_clauses(sentence: str, terms: set[str], limit: int) -> str:
    """A sentence over `limit` characters cut to its clauses that share most words with
    the question, marked with an ellipsis; a clause longer than half the limit by its
    words, so that a long English clause does not leave only its neighbour."""
    if len(sentence) <= limit:
        return sentence
    clauses = [
        piece
        for clause in re.findall(r"[^,，;；:：]+[,，;；:：]?", sentence)
        for piece in (re.split(r"(?<=\s)(?=\S)", clause) if len(clause) > limit // 2 else [clause])
    ]
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
