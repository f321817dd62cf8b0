"""Votes on answers (👍 / 👎 in Telegram), kept so that bad answers become test cases.

Each vote is stored with what it judged: the question (as asked and as understood), the
answer's text, its citations and the article versions they came from, since the articles
may change after the vote. SQLite under the data dir (`feedback.sqlite3`), like the chats'
recent turns; the bot writes it, `articlebot feedback` reads it, even while the bot runs.

One vote per user per answer: voting again replaces the vote (and drops its reason).
`question_set` turns the 👎 votes into a question set in the schema `articlebot eval`
reads (eval/README.md).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.answering.answer import Answer
from bot.evaluation.question_sets import Question
from bot.language import language_of
from bot.small_database import SmallDatabase

FILE_NAME = "feedback.sqlite3"
# A reason is one line; longer ones are cut to this many characters.
MAX_REASON_CHARS = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    answer_key TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    helpful INTEGER NOT NULL,
    reason TEXT,
    question TEXT NOT NULL,
    understood_as TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    generated_by TEXT,
    voted_at TEXT NOT NULL,
    UNIQUE (chat_id, answer_key, user_id)
)
"""


@dataclass(frozen=True)
class Vote:
    """One user's verdict on one answer, with the answer as it was."""

    id: int
    chat_id: int
    user_id: int
    helpful: bool
    reason: str | None
    question: str
    understood_as: str  # the standalone form of a follow-up, else the question
    answer: str  # empty for a refusal
    refused: bool
    citations: list[dict[str, Any]]  # n, article_id, version, title, section, quote
    generated_by: str | None
    voted_at: str  # ISO-8601, UTC

    @property
    def versions(self) -> dict[str, str]:
        """The cited articles' ids and the versions the answer quoted."""
        return {c["article_id"]: c["version"] for c in self.citations}


@dataclass(frozen=True)
class Recorded:
    """What `Feedback.vote` stored: the vote's id, and whether it already has a reason
    (a 👎 repeated after its reason was given)."""

    id: int
    has_reason: bool


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [
        {
            "n": c.n,
            "article_id": c.article_id,
            "version": c.version,
            "title": c.title,
            "section": c.section,
            "quote": c.quote,
        }
        for c in answer.citations
    ]


class Feedback:
    """The votes, in SQLite at `path` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.db = SmallDatabase(path, _SCHEMA, "feedback")

    def vote(self, answer: Answer, chat_id: int, answer_key: str, user_id: int, helpful: bool) -> Recorded:
        """Record `user_id`'s vote on the answer sent to `chat_id` under `answer_key`,
        replacing their earlier one (a reason stays only while the verdict does)."""
        values = {
            "chat_id": chat_id,
            "answer_key": answer_key,
            "user_id": user_id,
            "helpful": int(helpful),
            "question": answer.question,
            "understood_as": answer.understood_as,
            "answer": answer.text,
            "refused": int(answer.refused),
            "citations": json.dumps(_citations(answer), ensure_ascii=False),
            "generated_by": answer.generated_by,
            "voted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with self.db.begin() as connection:
            row = connection.execute(
                "INSERT INTO votes (chat_id, answer_key, user_id, helpful, reason, question, understood_as,"
                " answer, refused, citations, generated_by, voted_at) VALUES (:chat_id, :answer_key,"
                " :user_id, :helpful, NULL, :question, :understood_as, :answer, :refused, :citations,"
                " :generated_by, :voted_at) ON CONFLICT (chat_id, answer_key, user_id) DO UPDATE SET"
                " reason = CASE WHEN helpful = excluded.helpful THEN reason END,"
                " helpful = excluded.helpful, voted_at = excluded.voted_at RETURNING id, reason",
                values,
            ).fetchone()
        return Recorded(int(row[0]), row[1] is not None)

    def give_reason(self, vote_id: int, reason: str) -> str:
        """Attach a reason to a 👎 vote: one line, at most MAX_REASON_CHARS; what was kept."""
        line = " ".join(reason.split())
        if len(line) > MAX_REASON_CHARS:
            line = line[: MAX_REASON_CHARS - 1].rstrip() + "…"
        with self.db.begin() as connection:
            connection.execute(
                "UPDATE votes SET reason = :reason WHERE id = :id AND helpful = 0", {"reason": line, "id": vote_id}
            )
        return line

    def negatives(self, limit: int | None = None) -> list[Vote]:
        """The 👎 votes, newest first (at most `limit`)."""
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT * FROM votes WHERE helpful = 0 ORDER BY voted_at DESC, id DESC LIMIT :limit",
                {"limit": -1 if limit is None else limit},
            ).fetchall()
        return [_vote(row) for row in rows]

    def counts(self) -> tuple[int, int]:
        """How many votes said helpful, and how many not."""
        with self.db.connect() as connection:
            up, down = connection.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM votes"
            ).fetchone()
        return int(up), int(down)


def _vote(row: sqlite3.Row) -> Vote:
    return Vote(
        id=row["id"],
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        helpful=bool(row["helpful"]),
        reason=row["reason"],
        question=row["question"],
        understood_as=row["understood_as"],
        answer=row["answer"],
        refused=bool(row["refused"]),
        citations=json.loads(row["citations"]),
        generated_by=row["generated_by"],
        voted_at=row["voted_at"],
    )


# -- a question set from 👎 votes -------------------------------------------------------------


def question_set(votes: Iterable[Vote]) -> list[dict[str, Any]]:
    """One question-set line per vote (schema: eval/README.md), oldest first.

    The question is the one the engine answered (a follow-up's standalone form), since
    `articlebot eval` asks each question on its own. What the right answer is, the vote
    cannot say: `expect` is empty and `gold` null, so as exported a case passes when the
    question is answered at all, which is the test a wrongly refused question needs. For
    a wrong answer, write what it should contain into `expect` (or set `answerable` to
    false if the articles don't say). The rest (the answer voted down, the reason, the
    cited article versions) is context for that; `articlebot eval` ignores it.
    """
    lines = []
    for vote in sorted(votes, key=lambda v: (v.voted_at, v.id)):
        question = Question(
            id=f"feedback-{vote.id}",
            q=vote.understood_as,
            answerable=True,
            expect=[],
            gold=None,
            lang=language_of(vote.understood_as),
        )
        context = {
            "asked": vote.question,
            "bad_answer": vote.answer,
            "was_refused": vote.refused,
            "reason": vote.reason,
            "citations": [{k: c[k] for k in ("article_id", "version", "title", "quote")} for c in vote.citations],
            "generated_by": vote.generated_by,
            "voted_at": vote.voted_at,
        }
        lines.append(dataclasses.asdict(question) | context)
    return lines


def write_question_set(path: Path, votes: Iterable[Vote]) -> int:
    """Write the votes as a question set (JSON lines) to `path`; how many were written."""
    lines = question_set(votes)
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return len(lines)
