"""Score the engine on a question set (schema: eval/README.md).

A question is right when its answer (at most 300 characters) contains at least one
string of every `expect` group, or, for an unanswerable question, when it is refused.
A right answer cites correctly when one of its quotes contains the `gold` passage.

Follow-up conversations (eval/followups.jsonl, one JSON object a line):

| field | meaning |
| --- | --- |
| id, lang | as in a question set |
| turns | the questions of one conversation, oldest first; the last one is graded |
| standalone | groups: the last question as the engine understood it (its standalone form) must contain one string of every group |
| expect, gold | the last question's answer, as in a question set (always answerable) |
| control | optional: true when the last question already stands on its own and must not be rewritten (default: it already contains every `standalone` group) |

Each conversation is asked as a chat would ask it: every turn with the turns before it
(standalone question and answer) as `earlier`. The last question is also asked without them, the
baseline that shows what remembering the conversation is worth.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bot.answering.answer import Answer, Turn
from bot.answering.selection import MAX_ANSWER_CHARS
from bot.errors import EmptyQuestionError, QuestionError

T = TypeVar("T")


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


def _field_names(kind: type) -> set[str]:
    return {f.name for f in dataclasses.fields(kind)}


def _read_jsonl(path: Path, kind: type[T], what: str) -> list[T]:
    """One `kind` per non-empty line of a JSON-lines file; unknown fields are ignored."""
    try:
        return [
            kind(**{k: v for k, v in json.loads(line).items() if k in _field_names(kind)})
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (OSError, ValueError, TypeError) as exc:
        raise QuestionError(f"Cannot read {what} {path}: {exc}") from exc


def read_questions(path: Path) -> list[Question]:
    return _read_jsonl(path, Question, "question set")


def holds_all(text: str, groups: list[list[str]]) -> bool:
    """Whether `text` contains one string of every group (case-insensitive)."""
    return all(any(s.lower() in text.lower() for s in group) for group in groups)


def grade(question: Question, answer: Answer) -> Graded:
    if not question.answerable:
        return Graded(question, answer, right=answer.refused, cites_gold=answer.refused)
    right = not answer.refused and len(answer.text) <= MAX_ANSWER_CHARS and holds_all(answer.text, question.expect)
    gold = question.gold
    cites = any(gold in c.quote for c in answer.citations) if gold else False
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


# -- follow-up conversations ------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: list[str]
    standalone: list[list[str]]
    expect: list[list[str]]
    gold: str | None
    lang: str = ""
    control: bool | None = None

    @property
    def question(self) -> str:
        """The graded (last) question."""
        return self.turns[-1]

    @property
    def is_control(self) -> bool:
        """Whether the last question already stands on its own (must not be rewritten)."""
        return self.control if self.control is not None else holds_all(self.question, self.standalone)


def read_conversations(path: Path) -> list[Conversation]:
    conversations = _read_jsonl(path, Conversation, "follow-up set")
    if empty := [c.id for c in conversations if not c.turns]:
        raise QuestionError(f"Cannot read follow-up set {path}: no turns in {', '.join(empty)}")
    return conversations


# engine.answer, or anything with its signature: ask(question, earlier=[...]) -> Answer
Ask = Callable[..., Answer]


def ask_or_decline(ask: Ask, question: str, **options) -> Answer:
    """`ask`'s answer, or a refusal when the question has nothing to look up on its own
    ("When was that?" asked without the conversation): graded as the engine declining it."""
    try:
        return ask(question, **options)
    except EmptyQuestionError:
        return Answer(question=question, text="", refused=True, citations=[], latency_ms=0.0)


@dataclass(frozen=True)
class GradedConversation:
    conversation: Conversation
    earlier: list[Turn]  # the turns the last question was asked after
    final: Graded  # the last question, asked after the earlier turns
    alone: Graded  # the last question, asked without them (baseline)

    @property
    def answer(self) -> Answer:
        return self.final.answer

    @property
    def understood(self) -> bool:
        """Its standalone form contains every `standalone` group."""
        return holds_all(self.answer.understood_as, self.conversation.standalone)

    @property
    def rewritten(self) -> bool:
        return self.answer.standalone is not None


def ask_conversation(conversation: Conversation, ask: Ask, history_turns: int = 4) -> GradedConversation:
    """Ask the questions in order, each after the (at most `history_turns`) turns before
    it, as a chat does; grade the last answer."""
    earlier: list[Turn] = []
    for turn in conversation.turns[:-1]:
        earlier = [*earlier, ask(turn, earlier=list(earlier)).turn][-history_turns:]
    question = Question(
        id=conversation.id,
        q=conversation.question,
        answerable=True,
        expect=conversation.expect,
        gold=conversation.gold,
        lang=conversation.lang,
    )
    return GradedConversation(
        conversation=conversation,
        earlier=earlier,
        final=grade(question, ask(conversation.question, earlier=list(earlier))),
        alone=grade(question, ask_or_decline(ask, conversation.question, earlier=[])),
    )


def run_followups(
    conversations: Sequence[Conversation], ask: Ask, history_turns: int = 4
) -> Iterator[GradedConversation]:
    for conversation in conversations:
        yield ask_conversation(conversation, ask, history_turns)


@dataclass(frozen=True)
class FollowUpSummary:
    total: int
    follow_ups: int  # conversations whose last question leans on the earlier ones
    controls: int  # ... and whose last question stands on its own
    understood: int  # standalone form holds every group, all conversations
    understood_follow_ups: int
    right: int  # last answers right, asked after the conversation
    right_alone: int  # the same questions asked without it (baseline)
    right_follow_ups: int
    right_alone_follow_ups: int
    cites_gold: int  # right last answers that cite the gold passage
    controls_rewritten: int  # controls rewritten at all
    controls_broken: int  # ... whose rewrite lost a word of a `standalone` group
    p50_ms: float

    @classmethod
    def of(cls, graded: list[GradedConversation]) -> FollowUpSummary:
        follow_ups = [g for g in graded if not g.conversation.is_control]
        controls = [g for g in graded if g.conversation.is_control]
        latencies = sorted(g.answer.latency_ms for g in graded) or [0.0]
        return cls(
            total=len(graded),
            follow_ups=len(follow_ups),
            controls=len(controls),
            understood=sum(g.understood for g in graded),
            understood_follow_ups=sum(g.understood for g in follow_ups),
            right=sum(g.final.right for g in graded),
            right_alone=sum(g.alone.right for g in graded),
            right_follow_ups=sum(g.final.right for g in follow_ups),
            right_alone_follow_ups=sum(g.alone.right for g in follow_ups),
            cites_gold=sum(g.final.cites_gold for g in graded),
            controls_rewritten=sum(g.rewritten for g in controls),
            controls_broken=sum(g.rewritten and not g.understood for g in controls),
            p50_ms=statistics.median(latencies),
        )

    def lines(self) -> list[str]:
        return [
            f"rewrite accuracy   {self.understood}/{self.total} understood "
            f"(follow-ups {self.understood_follow_ups}/{self.follow_ups}, "
            f"controls {self.understood - self.understood_follow_ups}/{self.controls})",
            f"answer accuracy    {self.right}/{self.total} with the conversation, "
            f"{self.right_alone}/{self.total} without (follow-ups {self.right_follow_ups} vs "
            f"{self.right_alone_follow_ups} of {self.follow_ups})",
            f"citations of gold  {self.cites_gold}/{self.right} right answers",
            f"controls rewritten {self.controls_rewritten}/{self.controls} needlessly "
            f"({self.controls_broken} losing a key word)",
            f"latency            p50 {self.p50_ms:.0f} ms (last question, with the conversation)",
        ]
