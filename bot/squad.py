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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.engine import Engine
from bot.errors import QuestionError
from bot.generation import Generator
from bot.settings import Settings
from bot.verification import without_markers
from ingest.loaders import LoadedSource
from vectorstore.client import make_client
from vectorstore.embeddings import SentenceEmbeddings
from vectorstore.store import ArticleStore

SQUAD_ANSWER_CHARS = 150


@dataclass(frozen=True)
class Passage:
    key: str
    title: str
    text: str
    questions: list[tuple[str, list[str]]]  # (question, gold answers)

    def as_source(self) -> tuple[LoadedSource, str]:
        """The passage as one article to ingest, and its title (unique: several passages
        share a Wikipedia title, and the same title would replace the article)."""
        loaded = LoadedSource(text=self.text, title=self.title, source=self.key, source_key=self.key, kind="text")
        return loaded, f"{self.title} ({self.key})"


@dataclass(frozen=True)
class SquadReport:
    passages: int
    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    containment: float
    gold_recall: float  # mean share of the gold answer's characters the answer has, in order (LCS)
    f1: float  # CMRC 2018's official F1: longest common substring, precision and recall
    cites_passage: float  # of the answers given, share whose first citation is the question's passage
    generated: float  # share of answers written by the chat model (generation mode)
    refused: float  # every question has an answer in its passage, so any refusal is false
    ingest_s: float
    warm_up_s: float  # embedding every sentence once, before the first question
    p50_ms: float
    p95_ms: float

    def lines(self) -> list[str]:
        return [
            f"passages / questions  {self.passages} / {self.questions}",
            f"recall@1 / @5 / MRR   {self.recall_at_1:.3f} / {self.recall_at_5:.3f} / {self.mrr:.3f}",
            f"answer containment    {self.containment:.3f} (answers ≤ {SQUAD_ANSWER_CHARS} chars)",
            f"gold answer recall    {self.gold_recall:.3f} (characters, in order)",
            f"CMRC F1               {self.f1:.3f} (official: longest common substring)",
            f"cites own passage     {self.cites_passage:.3f} of answers given",
            f"generated answers     {self.generated:.3f}",
            f"false refusals        {self.refused:.3f}",
            f"ingest                {self.ingest_s:.1f} s (+ {self.warm_up_s:.1f} s sentence warm-up)",
            f"query latency         p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms",
        ]


def read_squad(path: Path, limit: int | None = None) -> list[Passage]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise QuestionError(f"Cannot read SQuAD file {path}: {exc}") from exc
    passages = []
    for article in data:
        for paragraph in article["paragraphs"]:
            questions = [  # the CMRC trial set has two empty questions; nobody can ask those
                (qa["question"], [a["text"] for a in qa["answers"]])
                for qa in paragraph["qas"]
                if qa["question"].strip()
            ]
            title = article.get("title") or paragraph["id"]
            passages.append(Passage(paragraph["id"], title, paragraph["context"], questions))
    return passages[:limit]


def run_squad(
    path: Path,
    settings: Settings,
    embeddings: SentenceEmbeddings,
    *,
    limit: int | None = None,
    generator: Generator | None = None,
    progress: Callable[[str, int, int], None] = lambda _stage, _done, _total: None,
) -> SquadReport:
    """Ingest every passage into a throwaway store, then ask every question (answers
    written by `generator` in generation mode)."""
    passages = read_squad(path, limit)
    with tempfile.TemporaryDirectory(prefix="articlebot-squad-") as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp), "seed_default_corpus": False})
        engine = Engine(local, ArticleStore(make_client(local.chroma_dir), embeddings, "squad"), generator)
        started = time.perf_counter()
        engine.ingest_many(
            [p.as_source() for p in passages],
            lambda stage, done, total: progress("ingest: embedding chunks", done, total) if stage == "embedding" else None,
        )
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        engine.warm_up()  # as a running bot does; latency is then that of a warm engine
        warm_up_s = time.perf_counter() - started
        return _ask_all(engine, passages, ingest_s, warm_up_s, progress)


def _ask_all(engine: Engine, passages: list[Passage], ingest_s: float, warm_up_s: float, progress) -> SquadReport:
    article_of = {r.source_key: r.article_id for r in engine.articles()}
    total = sum(len(p.questions) for p in passages)
    ranks: list[int | None] = []
    contained, recall, f1, refused, cites, generated, latencies = 0, 0.0, 0.0, 0, 0, 0, []
    for passage in passages:
        for question, golds in passage.questions:
            answer = engine.answer(question, max_chars=SQUAD_ANSWER_CHARS)
            latencies.append(answer.latency_ms)
            refused += answer.refused
            generated += answer.generated_by is not None
            cites += bool(answer.citations) and answer.citations[0].article_id == article_of[passage.key]
            contained += any(g and g in answer.text for g in golds)
            recall += max((gold_recall(answer.text, g) for g in golds if g), default=0.0)
            f1 += max((cmrc_f1(answer.text, g) for g in golds if g), default=0.0)
            ranks.append(_rank(engine, question, article_of[passage.key]))
            progress("ask", len(ranks), total)
    found = [r for r in ranks if r is not None]
    return SquadReport(
        passages=len(passages),
        questions=total,
        recall_at_1=sum(r == 0 for r in found) / total,
        recall_at_5=sum(r < 5 for r in found) / total,
        mrr=sum(1 / (r + 1) for r in found) / total,
        containment=contained / total,
        gold_recall=recall / total,
        f1=f1 / total,
        cites_passage=cites / max(total - refused, 1),
        generated=generated / total,
        refused=refused / total,
        ingest_s=ingest_s,
        warm_up_s=warm_up_s,
        p50_ms=statistics.median(latencies),
        p95_ms=float(np.percentile(latencies, 95)),
    )


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
    vector = engine.store.embeddings.embed_query(question)
    seen: list[str] = []
    for hit in engine.retriever.retrieve(question, vector, k=depth):
        if hit.doc.metadata["article_id"] not in seen:
            seen.append(hit.doc.metadata["article_id"])
    return seen.index(article_id) if article_id in seen else None
