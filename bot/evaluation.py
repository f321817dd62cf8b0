"""Score the engine on a question set (schema: ../shared/eval/README.md).

A question is right when its answer (at most 300 characters) contains at least one
string of every `expect` group, or, for an unanswerable question, when it is refused.
A right answer cites correctly when one of its quotes contains the `gold` passage.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.answer import Answer
from bot.errors import QuestionError
from bot.selection import MAX_ANSWER_CHARS


@dataclass(frozen=True)
class Question:
    id: str
    q: str
    answerable: bool
    expect: list[list[str]]
    gold: str | None
    lang: str = ""


@dataclass(frozen=True)
class Graded:
    question: Question
    answer: Answer
    right: bool
    cites_gold: bool


def read_questions(path: Path) -> list[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [
            Question(**{k: v for k, v in json.loads(line).items() if k in Question.__dataclass_fields__})
            for line in lines
            if line.strip()
        ]
    except (OSError, ValueError, TypeError) as exc:
        raise QuestionError(f"Cannot read question set {path}: {exc}") from exc


def grade(question: Question, answer: Answer) -> Graded:
    if not question.answerable:
        return Graded(question, answer, right=answer.refused, cites_gold=answer.refused)
    text = answer.text
    right = (
        not answer.refused
        and len(text) <= MAX_ANSWER_CHARS
        and all(any(s.lower() in text.lower() for s in group) for group in question.expect)
    )
    cites = bool(question.gold) and any(question.gold in c.quote for c in answer.citations)
    return Graded(question, answer, right, right and cites)


def run(questions: list[Question], ask: Callable[[str], Answer]) -> Iterator[Graded]:
    for question in questions:
        yield grade(question, ask(question.q))


@dataclass(frozen=True)
class Summary:
    total: int
    right: int
    cites_gold: int
    right_answerable: int
    refusal_rate: float  # share of unanswerable questions refused
    false_refusal_rate: float  # share of answerable questions refused
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, graded: list[Graded]) -> Summary:
        unanswerable = [g for g in graded if not g.question.answerable]
        answerable = [g for g in graded if g.question.answerable]
        latencies = sorted(g.answer.latency_ms for g in graded) or [0.0]
        return cls(
            total=len(graded),
            right=sum(g.right for g in graded),
            cites_gold=sum(g.cites_gold for g in answerable),
            right_answerable=sum(g.right for g in answerable),
            refusal_rate=_share(sum(g.answer.refused for g in unanswerable), len(unanswerable)),
            false_refusal_rate=_share(sum(g.answer.refused for g in answerable), len(answerable)),
            p50_ms=statistics.median(latencies),
            p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        )

    def lines(self) -> list[str]:
        return [
            f"answer accuracy    {self.right}/{self.total}",
            f"citations of gold  {self.cites_gold}/{self.right_answerable} right answers to answerable questions",
            f"refusal rate       {self.refusal_rate:.0%} of unanswerable",
            f"false refusals     {self.false_refusal_rate:.0%} of answerable",
            f"latency            p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms",
        ]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
