"""What the answering engine returns; both faces (CLI, Telegram) render these values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.language import language_of


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
    # The article version (short content hash) the quoted chunk belongs to: which text an
    # answer came from, kept with feedback on it. Not part of the `ask --json` contract.
    version: str = ""
    # The web page the article was fetched from; None for a file's or an upload's article.
    url: str | None = None

    @classmethod
    def of_chunk(cls, n: int, metadata: dict[str, Any], quote: str, score: float) -> Citation:
        """A citation of a quote from the stored chunk with this metadata."""
        source = str(metadata.get("source", ""))
        return cls(
            n=n,
            article_id=metadata["article_id"],
            title=metadata["title"],
            section=metadata.get("section", ""),
            quote=quote,
            score=round(score, 4),
            version=str(metadata.get("version", "")),
            url=source if source.startswith(("http://", "https://")) else None,
        )


@dataclass(frozen=True)
class Answer:
    """A reply: `text` carries [n] markers that refer to `citations[i].n`.

    A refusal (the articles don't cover the question) has `refused=True`, an empty text
    and no citations: the engine decides, each face words it in the question's
    `language` (the CLI in bot/cli/wording.py, Telegram in bot/telegram/texts.py).
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
    # Why an answer quotes the articles in another language than the question's, when it
    # does: "no_model" (no chat model to translate with), "failed" (no translation in
    # time, or one that failed the checks); None when it is in the question's language.
    untranslated: str | None = None

    @property
    def language(self) -> str:
        """The question's language, "zh" or "en": the one to answer or refuse in."""
        return language_of(self.question)

    @property
    def understood_as(self) -> str:
        """The question as answered: what a follow-up after this one refers back to."""
        return self.standalone or self.question

    @property
    def turn(self) -> Turn:
        """This question and answer as a turn of its conversation."""
        return Turn(self.understood_as, self.text)
