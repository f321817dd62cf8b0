"""How to decide a question asked across languages once it is translated: the refusal
model's confidence (`RefusalModel.confidence`) of the question as asked and of its
translation, combined by four rules, on the dev files. The engine uses "mean"
(`Engine.understood`); nothing here is fitted, the rules are compared.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/translated_refusals.py \
        [--limit 3] [--translations cache.json]

Questions: the first `--limit` passages of both cross-language XQuAD files, the English
off-topic set and the dev set's English questions, all about articles in the other
language. Per rule: answerable questions whose quoted answer (before it is translated)
holds the gold, unanswerable ones refused. The chat model is the configured one
(`local` when none is); `--translations` keeps its translations between runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.answering.citing import cite_sentences
from bot.answering.engine import Engine
from bot.answering.selection import choose, content_terms
from bot.evaluation import question_sets, squad
from bot.evaluation.squad import SQUAD_ANSWER_CHARS, answer_chars
from bot.generation.generator import build_generator
from bot.language import language_of
from bot.settings import Settings
from bot.wiring import build
from vectorstore.embeddings import load_embeddings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
XQUAD = [SHARED / "benchmarks" / "xquad" / f"xquad_{name}.json" for name in ("zhctx_enq", "enctx_zhq")]


@dataclass(frozen=True)
class Asked:
    """One question's two forms: their confidences, and whether each one's quoted answer holds the gold."""

    source: str
    answerable: bool
    asked: float
    translated: float | None  # None: no translation (the model failed)
    asked_holds: bool
    translated_holds: bool


# rule -> (answered, whose answer) from the two confidences
RULES: dict[str, Callable[[float, float], tuple[bool, bool]]] = {
    "asked only": lambda a, t: (a >= 0, False),
    "surer form": lambda a, t: (max(a, t) >= 0, t > a),
    "translation only": lambda a, t: (t >= 0, True),
    "mean": lambda a, t: ((a + t) / 2 >= 0, t > a),
}


def ask(engine: Engine, source: str, question: str, answerable: bool, golds, limit: int) -> Asked:
    def holds(text: str) -> tuple[float, bool]:
        scored = engine.candidates(text, translated=text != question)
        quoted = cite_sentences(choose(scored, limit), content_terms(text), limit)[0] if scored else ""
        return engine.refusal.confidence(text, scored), any(g in quoted for g in golds)

    assert engine.translator is not None
    asked, asked_holds = holds(question)
    translation = engine.translator.question(question, "zh" if language_of(question) == "en" else "en")
    translated, translated_holds = holds(translation) if translation else (None, False)
    return Asked(source, answerable, asked, translated, asked_holds, translated_holds)


def decided(item: Asked, rule: str) -> tuple[bool, bool]:
    """(answered, the answer holds the gold) under `rule`."""
    if item.translated is None:
        return item.asked >= 0, item.asked_holds
    answered, translated = RULES[rule](item.asked, item.translated)
    return answered, item.translated_holds if translated else item.asked_holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=3, help="Passages of each XQuAD file.")
    parser.add_argument("--translations", type=Path, help="A JSON file of translations to reuse and extend.")
    args = parser.parse_args()
    settings = Settings()
    if settings.llm_provider in ("none", "auto"):
        settings = settings.model_copy(update={"llm_provider": "local"})
    settings = settings.model_copy(update={"llm_answers": False})
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir, backend=settings.embedding_backend)
    chat = build_generator(settings)
    cache: list[list[str]] = (
        json.loads(args.translations.read_text(encoding="utf-8"))
        if args.translations and args.translations.exists()
        else []
    )
    asked: list[Asked] = []

    def run(engine: Engine, questions) -> None:
        assert engine.translator is not None
        engine.translator.remember(cache)
        asked.extend(ask(engine, *q) for q in questions)
        cache[:] = engine.translator.remembered()

    for path in XQUAD:
        passages = squad.read_squad(path, args.limit)
        with squad.squad_bot(passages, settings, embeddings, chat) as (bot, _):
            name = path.stem.removeprefix("xquad_")
            run(
                bot.engine,
                [(name, q.text, q.answerable, q.golds, answer_chars(p.text)) for p in passages for q in p.questions],
            )
    with tempfile.TemporaryDirectory() as tmp:
        engine = build(
            settings.model_copy(update={"data_dir": Path(tmp)}), embeddings=embeddings, generator=chat
        ).engine
        offtopic = question_sets.read_questions(ROOT / "eval" / "offtopic_en.jsonl")
        dev = [q for q in question_sets.read_questions(SHARED / "eval" / "dev_qa.jsonl") if q.lang == "en"]
        limit = SQUAD_ANSWER_CHARS * 2
        run(engine, [("offtopic_en", q.q, False, (), limit) for q in offtopic])
        run(engine, [("dev_en", q.q, q.answerable, tuple(s for g in q.expect for s in g), limit) for q in dev])
    if args.translations:
        args.translations.write_text(json.dumps(cache, ensure_ascii=False), encoding="utf-8")
    print(f"{'rule':18}" + "".join(f" | {s:>22}" for s in dict.fromkeys(a.source for a in asked)))
    for rule in RULES:
        cells = []
        for source in dict.fromkeys(a.source for a in asked):
            mine = [a for a in asked if a.source == source]
            yes, no = [a for a in mine if a.answerable], [a for a in mine if not a.answerable]
            holds = sum(all(decided(a, rule)) for a in yes)
            refused = sum(not decided(a, rule)[0] for a in no)
            cells.append(f"gold {holds:3}/{len(yes):<3} ref {refused:3}/{len(no):<3}")
        print(f"{rule:18}" + "".join(f" | {c:>22}" for c in cells))


if __name__ == "__main__":
    main()
