"""What the answering engine returns; both faces (CLI, Telegram) render these values."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Turn:
    """One earlier question of a conversation, as it was understood, and the answer's text.
    A follow-up may point into either: "它" for the question's subject, "他" for the
    person the answer named."""

    question: str  # standalone form
    answer: str


@dataclass(frozen=True)
class Citation:
    """One numbered source passage behind an answer's inline marker [n]."""

    n: int
    article_id: str
    title: str
    section: str
    quote: str
    score: float

    @classmethod
    def of_chunk(cls, n: int, metadata: dict[str, Any], quote: str, score: float) -> Citation:
        """A citation of a quote from the stored chunk with this metadata."""
        return cls(
            n=n,
            article_id=metadata["article_id"],
            title=metadata["title"],
            section=metadata.get("section", ""),
            quote=quote,
            score=round(score, 4),
        )


@dataclass(frozen=True)
class Answer:
    """A reply: `text` carries [n] markers that refer to `citations[i].n`.

    A refusal has `refused=True`, a text saying the articles don't cover the question,
    and no citations.
    """

    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    latency_ms: float = 0.0
    # The question as answered, when a follow-up was rewritten to stand on its own.
    standalone: str | None = None
    # The chat model that wrote the answer; None for an extractive answer or a refusal.
    generated_by: str | None = None

    @property
    def understood_as(self) -> str:
        """The question as answered: what a follow-up after this one refers back to."""
        return self.standalone or self.question

    @property
    def turn(self) -> Turn:
        """This question and answer as a turn of its conversation."""
        return Turn(self.understood_as, self.text)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON contract of `articlebot ask --json`."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "latency_ms": round(self.latency_ms, 1),
            "standalone": self.standalone,
            "generated_by": self.generated_by,
        }
