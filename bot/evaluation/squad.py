"""Reading-comprehension benchmark in SQuAD layout (e.g. CMRC 2018), on a temporary store.

Every passage becomes one article in a store under a temporary directory (never the
user's); every question is then asked, and we measure whether retrieval ranks the
question's own passage first (recall@1, @5, MRR) and whether a short answer contains a
gold answer string, how it scores on CMRC's own F1, and whether an answer's first
citation is the question's passage.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answering.answer import Answer
from bot.answering.engine import Engine
from bot.evaluation.question_sets import ask_or_decline
from bot.generation.generator import Generator
from bot.generation.verification import first_stretch, without_markers
from bot.language import written_in
from bot.settings import Settings
from bot.wiring import Articlebot, build
from ingest.chunking import stretch
from ingest.loaders import LoadedSource
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.errors import ArticlebotError
from vectorstore.progress import Progress, no_progress

SQUAD_ANSWER_CHARS = 150


def answer_chars(passage: str) -> int:
    """How long an answer from this passage may be: SQUAD_ANSWER_CHARS in Chinese, the
    same content in English (`stretch`)."""
    return SQUAD_ANSWER_CHARS * stretch(passage)


class SquadFormatError(ArticlebotError):
    """The file is not in SQuAD layout; the message says where."""


@dataclass(frozen=True)
class SquadQuestion:
    text: str
    answers: tuple[str, ...]  # gold answers in the passage's language (empty: unanswerable)
    translated: tuple[str, ...] = ()  # the same answers in the question's language, when it differs

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def golds(self) -> tuple[str, ...]:
        """What a right answer may contain: the gold in either language."""
        return tuple(g for g in (*self.answers, *self.translated) if g)


@dataclass(frozen=True)
class Passage:
    key: str
    title: str
    text: str
    questions: list[SquadQuestion]

    def as_source(self) -> tuple[LoadedSource, str]:
        """The passage as one article to ingest, and its title (made unique: several
        passages share a Wikipedia title, and answers name the article they cite)."""
        loaded = LoadedSource(text=self.text, title=self.title, source=self.key, source_key=self.key, kind="text")
        return loaded, f"{self.title} ({self.key})"


@dataclass(frozen=True)
class Asked:
    """One question as asked, with how its answer fared."""

    question: SquadQuestion
    answer: Answer
    rank: int | None  # of the question's own passage among retrieved articles (answerable only)
    own_passage_cited: bool
    across_languages: bool  # the question is in another language than its passage
    # Answered without the chat model's part although it was asked for: a generated answer
    # that fell back to the extractive one, or a translation that was late or failed its check.
    fell_back: bool = False

    @property
    def contained(self) -> bool:
        return any(g in self.answer.text for g in self.question.golds)

    @property
    def led(self) -> bool:
        """The answer's first stretch (its text before the first citation marker) holds a
        gold answer: the answer comes first, not after context."""
        return any(g in first_stretch(self.answer.text) for g in self.question.golds)

    @property
    def gold_cited(self) -> bool:
        """A citation quotes a gold answer (in the passage's language)."""
        return any(g and g in c.quote for c in self.answer.citations for g in self.question.answers)


@dataclass(frozen=True)
class SquadReport:
    passages: int
    answerable: int
    unanswerable: int
    recall_at_1: float  # the scores below are over the answerable questions
    recall_at_5: float
    mrr: float
    containment: float
    led: float  # the gold in the answer's first stretch (`Asked.led`)
    answer_chars: float  # mean length of the answers given, markers left out
    gold_recall: float  # mean share of the gold answer's characters the answer has, in order (LCS)
    f1: float  # CMRC 2018's official F1: longest common substring, precision and recall
    gold_cited: float  # a citation quotes the gold answer
    cites_passage: float  # of the answers given, share whose first citation is the question's passage
    generated: float  # share of answers written by the chat model (generation mode)
    fallbacks: int  # answers given without the model's part that was asked for (`Asked.fell_back`)
    refused: float  # false refusals: answerable questions refused
    unanswerable_refused: float | None  # None: the file has no unanswerable question
    # Of the answers given to questions in another language than their passage, the share
    # written in the question's language; None: no such answer.
    in_question_language: float | None
    ingest_s: float
    p50_ms: float
    p95_ms: float

    def lines(self) -> list[str]:
        refused = _share(self.unanswerable_refused)
        return [
            f"passages / questions  {self.passages} / {self.answerable} answerable, {self.unanswerable} not",
            f"recall@1 / @5 / MRR   {self.recall_at_1:.3f} / {self.recall_at_5:.3f} / {self.mrr:.3f}",
            f"answer containment    {self.containment:.3f} (answers ≤ {SQUAD_ANSWER_CHARS} Chinese chars or the same in English)",
            f"answer first          {self.led:.3f} (the gold before the first citation marker)",
            f"answer length         {self.answer_chars:.0f} characters on average",
            f"gold answer recall    {self.gold_recall:.3f} (characters, in order)",
            f"CMRC F1               {self.f1:.3f} (official: longest common substring)",
            f"gold cited            {self.gold_cited:.3f} (a citation quotes the gold answer)",
            f"cites own passage     {self.cites_passage:.3f} of answers given",
            f"generated answers     {self.generated:.3f}",
            f"model fallbacks       {self.fallbacks} (generation or translation given up)",
            f"false refusals        {self.refused:.3f}",
            f"unanswerable refused  {refused}",
            f"in asker's language   {_share(self.in_question_language)} (answers across languages)",
            f"ingest                {self.ingest_s:.1f} s",
            f"query latency         p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms",
        ]


def read_squad(path: Path, limit: int | None = None) -> list[Passage]:
    """The passages of a SQuAD 1.1 or 2.0 file (CMRC 2018, XQuAD…): paragraph ids are
    optional, unanswerable questions (`is_impossible`) have no gold, and
    `answers_in_question_language` gives the gold in the question's language."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        passages = [
            _passage(article, i, j, paragraph)
            for i, article in enumerate(data)
            for j, paragraph in enumerate(article["paragraphs"])
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise SquadFormatError(f"{path} is not a SQuAD file ({problem}).") from exc
    return passages[:limit]


def _passage(article: dict, i: int, j: int, paragraph: dict) -> Passage:
    questions = [  # the CMRC trial set has two empty questions; nobody can ask those
        SquadQuestion(
            qa["question"],
            () if qa.get("is_impossible") else tuple(a["text"] for a in qa["answers"]),
            () if qa.get("is_impossible") else tuple(qa.get("answers_in_question_language", ())),
        )
        for qa in paragraph["qas"]
        if qa["question"].strip()
    ]
    key = str(paragraph.get("id") or f"{i}.{j}")
    return Passage(key, article.get("title") or key, paragraph["context"], questions)


def run_squad(
    passages: list[Passage],
    settings: Settings,
    embeddings: SentenceEmbeddings,
    *,
    generator: Generator | None = None,
    progress: Progress = no_progress,
) -> SquadReport:
    """Ingest every passage into a throwaway store, then ask every question (answers
    written by `generator` in generation mode)."""
    with squad_bot(passages, settings, embeddings, generator, progress) as (bot, ingest_s):
        return report_of(passages, ask_all(bot, passages, progress), ingest_s)


@contextmanager
def squad_bot(
    passages: list[Passage],
    settings: Settings,
    embeddings: SentenceEmbeddings,
    generator: Generator | None = None,
    progress: Progress = no_progress,
) -> Iterator[tuple[Articlebot, float]]:
    """An engine over a throwaway store holding every passage as an article; with the
    seconds ingest took (chunk and sentence vectors: answering then embeds only questions)."""
    with tempfile.TemporaryDirectory(prefix="articlebot-squad-") as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp), "seed_default_corpus": False, "collection": "squad"})
        bot = build(local, embeddings=embeddings, generator=generator)
        started = time.perf_counter()
        bot.library.ingest_many(
            [p.as_source() for p in passages],
            lambda stage, done, total: (
                progress("ingest: embedding chunks", done, total) if stage == "embedding" else None
            ),
        )
        yield bot, time.perf_counter() - started


def ask_all(bot: Articlebot, passages: list[Passage], progress: Progress = no_progress) -> list[Asked]:
    """Every question of every passage, asked of `bot`'s engine."""
    engine = bot.engine
    article_of = {r.source_key: r.article_id for r in bot.library.articles()}
    total = sum(len(p.questions) for p in passages)
    asked: list[Asked] = []
    for passage in passages:
        own = article_of[passage.key]
        for question in passage.questions:
            answer = ask_or_decline(engine.answer, question.text, max_chars=answer_chars(passage.text))
            rank = _rank(engine, question.text, own) if question.answerable else None
            cited_own = bool(answer.citations) and answer.citations[0].article_id == own
            across = written_in(passage.text) != answer.language
            fell_back = not answer.refused and (
                (engine.generator is not None and answer.generated_by is None) or answer.untranslated == "failed"
            )
            asked.append(Asked(question, answer, rank, cited_own, across, fell_back))
            progress("ask", len(asked), total)
    return asked


def report_of(passages: list[Passage], asked: list[Asked], ingest_s: float) -> SquadReport:
    answerable = [a for a in asked if a.question.answerable]
    unanswerable = [a for a in asked if not a.question.answerable]
    given = [a for a in answerable if not a.answer.refused]
    n = max(len(answerable), 1)
    found = [a.rank for a in answerable if a.rank is not None]
    latencies = [a.answer.latency_ms for a in asked] or [0.0]
    across = [a for a in asked if not a.answer.refused and a.across_languages]
    return SquadReport(
        passages=len(passages),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        recall_at_1=sum(r == 0 for r in found) / n,
        recall_at_5=sum(r < 5 for r in found) / n,
        mrr=sum(1 / (r + 1) for r in found) / n,
        containment=sum(a.contained for a in answerable) / n,
        led=sum(a.led for a in answerable) / n,
        answer_chars=sum(len(without_markers(a.answer.text)) for a in given) / max(len(given), 1),
        gold_recall=sum(max((gold_recall(a.answer.text, g) for g in a.question.golds), default=0.0) for a in answerable)
        / n,
        f1=sum(max((cmrc_f1(a.answer.text, g) for g in a.question.golds), default=0.0) for a in answerable) / n,
        gold_cited=sum(a.gold_cited for a in answerable) / n,
        cites_passage=sum(a.own_passage_cited for a in given) / max(len(given), 1),
        generated=sum(a.answer.generated_by is not None for a in asked) / max(len(asked), 1),
        fallbacks=sum(a.fell_back for a in asked),
        refused=sum(a.answer.refused for a in answerable) / n,
        unanswerable_refused=(
            sum(a.answer.refused for a in unanswerable) / len(unanswerable) if unanswerable else None
        ),
        in_question_language=(
            sum(written_in(without_markers(a.answer.text)) == a.answer.language for a in across) / len(across)
            if across
            else None
        ),
        ingest_s=ingest_s,
        p50_ms=statistics.median(latencies),
        p95_ms=float(np.percentile(latencies, 95)),
    )


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def gold_recall(answer: str, gold: str) -> float:
    """Share of the gold answer's characters found in the answer in the same order: the
    recall half of CMRC's character F1. Containment asks for the gold string verbatim,
    which a correct paraphrase ("玩家用水枪…" for "玩家以水枪…") misses."""
    previous = [0] * (len(gold) + 1)
    for a in answer:
        current = [0]
        for j, g in enumerate(gold):
            current.append(previous[j] + 1 if a == g else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(gold)


# Tokens as CMRC's evaluation script counts them: each Chinese character, each other word;
# punctuation is not a token.
_TOKENS = re.compile(r"[\u4e00-\u9fff]|[^\W\u4e00-\u9fff]+")


def cmrc_f1(answer: str, gold: str) -> float:
    """CMRC 2018's F1 of one answer against one gold answer: Chinese characters and other
    words as tokens, punctuation removed, the longest common run of tokens as the overlap.
    Unlike containment it also counts what the answer says besides the gold, so it favours
    answers as short as the gold over long quotes that contain it."""
    ours = _TOKENS.findall(without_markers(answer).lower())  # markers are not part of the answer
    theirs = _TOKENS.findall(gold.lower())
    longest, previous = 0, [0] * (len(theirs) + 1)
    for a in ours:
        current = [0] * (len(theirs) + 1)
        for j, g in enumerate(theirs):
            if a == g:
                current[j + 1] = previous[j] + 1
                longest = max(longest, current[j + 1])
        previous = current
    if not longest:
        return 0.0
    precision, recall = longest / len(ours), longest / len(theirs)
    return 2 * precision * recall / (precision + recall)


def _rank(engine: Engine, question: str, article_id: str, depth: int = 10) -> int | None:
    """Rank of the article among the distinct articles of the retrieved chunks."""
    _vector, hits = engine.retrieve(question, k=depth)
    seen: list[str] = []
    for hit in hits:
        if hit.doc.metadata["article_id"] not in seen:
            seen.append(hit.doc.metadata["article_id"])
    return seen.index(article_id) if article_id in seen else None
