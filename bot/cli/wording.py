"""How the command line words what the engine decides: refusals, and the JSON contract
of `articlebot ask --json` (also each answer of `articlebot eval --json`)."""

from __future__ import annotations

from typing import Any

from bot.answering.answer import Answer, Citation
from bot.answering.links import citation_link

# The engine refuses with data (Answer.refused); this is what the CLI says, in the
# question's language.
REFUSALS = {
    "zh": "抱歉,现有文章中没有提到这个问题的答案。",
    "en": "Sorry, the articles don't say.",
}


# Why an answer quotes the articles in the other language (`Answer.untranslated`).
UNTRANSLATED = {
    "zh": {"no_model": "引文为英文:未安装翻译模型。", "failed": "引文为英文:没有及时得到核对过的译文。"},
    "en": {
        "no_model": "Quoted in Chinese: no translation model is installed (docs/generation.md).",
        "failed": "Quoted in Chinese: no checked translation in time.",
    },
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
        "citations": [citation_json(c) for c in answer.citations],
        "latency_ms": round(answer.latency_ms, 1),
        "standalone": answer.standalone,
        "generated_by": answer.generated_by,
        "untranslated": answer.untranslated,
    }


def citation_json(citation: Citation) -> dict[str, Any]:
    """One citation in the contract: n, article_id, title, section, quote, score, and url
    (the web page; null for a file) and link (the page at the quoted sentence)."""
    return {
        "n": citation.n,
        "article_id": citation.article_id,
        "title": citation.title,
        "section": citation.section,
        "quote": citation.quote,
        "score": citation.score,
        "url": citation.url,
        "link": citation_link(citation.url, citation.quote) if citation.url else None,
    }
