"""How the command line words what the engine decides: refusals, and the JSON contract
of `articlebot ask --json` (also each answer of `articlebot eval --json`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.answering.answer import Answer
from bot.answering.links import citation_link

# The engine refuses with data (Answer.refused); this is what the CLI says, in the
# question's language.
REFUSALS = {
    "zh": "抱歉,现有文章中没有提到这个问题的答案。",
    "en": "Sorry, the articles don't say.",
}


def answer_text(answer: Answer) -> str:
    """The answer's text, or for a refusal the sentence saying the articles don't say."""
    return REFUSALS[answer.language] if answer.refused else answer.text


def answer_json(answer: Answer) -> dict[str, Any]:
    """The documented JSON contract of `articlebot ask --json`."""
    return {
        "question": answer.question,
        "answer": answer_text(answer),
        "refused": answer.refused,
        # url: the web page (null for a file); link: the page at the quoted sentence.
        "citations": [
            {**asdict(c), "link": citation_link(c.url, c.quote) if c.url else None} for c in answer.citations
        ],
        "latency_ms": round(answer.latency_ms, 1),
        "standalone": answer.standalone,
        "generated_by": answer.generated_by,
    }
