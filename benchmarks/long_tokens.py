"""Whether a very long token hides its neighbours: each XQuAD passage gets a sentence
holding a 5,000-character URL put before the sentence that answers most of its
questions, and the questions that sentence answers are asked (issue 24, item 11).

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/long_tokens.py \
        ../shared/benchmarks/xquad/xquad_enctx_enq.json [--plain] [--limit N]

Prints, for the questions answered by the sentence after the URL and for the others,
answer containment, false refusals, gold cited and the longest quote. --plain leaves
the passages as they are, for the figures to compare with.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from bot.evaluation.squad import Asked, Passage, ask_all, read_squad, squad_bot
from bot.settings import Settings
from ingest.chunking import split_sentences
from vectorstore.embeddings import load_embeddings

URL = ("https://example.com/data/" + "/".join(f"seg{i:04d}x" for i in range(700)))[:5000]


def with_url(passage: Passage, chinese: bool) -> tuple[Passage, str]:
    """The passage with the URL sentence before its most answering sentence, and that sentence."""
    sentences = split_sentences(passage.text)
    answers = [sum(any(g in s for g in q.answers) for q in passage.questions) for s in sentences]
    best = sentences[max(range(len(sentences)), key=answers.__getitem__)]
    at = passage.text.find(best)
    lead = f"完整的数据见{URL} 。" if chinese else f"The full data is at {URL} for anyone to download. "
    return replace(passage, text=passage.text[:at] + lead + passage.text[at:]), best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", type=Path)
    parser.add_argument("--plain", action="store_true", help="Without the URL sentence.")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    passages = read_squad(args.squad, args.limit)
    changed = [with_url(p, "zhctx" in args.squad.name) for p in passages]
    asked_of = [p for p, _ in changed] if not args.plain else passages
    settings = Settings()
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir, backend=settings.embedding_backend)
    with squad_bot(asked_of, settings, embeddings) as (bot, _):
        asked = iter(ask_all(bot, asked_of))
    groups: dict[str, list[Asked]] = {"after the URL": [], "elsewhere": []}
    for passage, (_, best) in zip(asked_of, changed):
        for question in passage.questions:
            answer = next(asked)
            if question.answerable:
                groups["after the URL" if any(g in best for g in question.answers) else "elsewhere"].append(answer)
    for name, group in groups.items():
        n = max(len(group), 1)
        longest = max((len(c.quote) for a in group for c in a.answer.citations), default=0)
        print(
            f"{name:14} n={len(group)} contained={sum(a.contained for a in group) / n:.3f} "
            f"refused={sum(a.answer.refused for a in group) / n:.3f} "
            f"gold_cited={sum(a.gold_cited for a in group) / n:.3f} longest quote={longest}"
        )


if __name__ == "__main__":
    main()
