"""Answer quality on every dev file, in one table: the Sora dev set, the off-topic
question sets (English and Chinese, all to be refused), the CMRC 2018 trial file and the
four XQuAD files (both languages, both ways, with on-topic unanswerable questions);
extractive answers, and side by side with --translated the same with the chat model
translating across languages, with --generation generation mode (the chat model: the
configured LLM_PROVIDER, `local` when it is none or auto).

    .venv/bin/python benchmarks/quality.py [--translated] [--generation] [--limit N] [--only FILE…]

Columns (SQuAD files; the question sets fill those they have): recall@1/@5 of the
question's own passage, answer containment (the gold, in either language, in an answer of
at most 150 characters; dev set: the answer is right), lead (the gold before the answer's
first citation marker: the answer comes first), chars (the answers' mean length), CMRC
F1, gold cited (a citation quotes the gold), false refusals, unanswerable questions
refused, answers across languages written in the asker's language, answers where the
model was given up (generation or translation), latency p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.answering.engine import Engine
from bot.evaluation import question_sets, squad
from bot.generation.generator import Generator, build_generator
from bot.settings import Settings
from bot.wiring import build
from vectorstore.embeddings import SentenceEmbeddings, load_embeddings

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared"
FILES = [
    SHARED / "benchmarks" / "cmrc2018_trial.json",
    *sorted((SHARED / "benchmarks" / "xquad").glob("xquad_*.json")),
]
# Question sets about the default article: the dev set, and off-topic questions (all to be refused).
QUESTION_SETS = {name: REPOSITORY / "eval" / f"{name}.jsonl" for name in ("dev_qa", "offtopic_en", "offtopic_zh")}
COLUMNS = (
    "R@1",
    "R@5",
    "contain",
    "lead",
    "chars",
    "F1",
    "gold",
    "falseref",
    "unans-ref",
    "in-lang",
    "fallbacks",
    "p50 ms",
    "p95 ms",
)


@contextmanager
def kept_translations(engine: Engine, path: Path | None) -> Iterator[None]:
    """The engine's translator starts with the translations in `path` and adds its new
    ones there: runs after the first pay no model time for what was translated before."""
    translator = engine.translator
    if translator is not None and path is not None and path.exists():
        translator.remember(json.loads(path.read_text(encoding="utf-8")))
    try:
        yield
    finally:
        if translator is not None and path is not None:
            path.write_text(json.dumps(translator.remembered(), ensure_ascii=False), encoding="utf-8")


def question_set_row(
    path: Path,
    settings: Settings,
    embeddings: SentenceEmbeddings,
    generator: Generator | None,
    translations: Path | None,
) -> list[str]:
    """A question set about the default article (eval/*.jsonl): right answers, refusals."""
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp)})
        engine = build(local, embeddings=embeddings, generator=generator).engine  # seeds the Sora article
        with kept_translations(engine, translations):
            questions = question_sets.read_questions(path)
            graded = list(question_sets.run(questions, engine.answer))
    s = question_sets.Summary.of(graded)
    answerable = s.total - sum(not g.question.answerable for g in graded)
    return [
        "-",
        "-",
        f"{s.right_answerable}/{answerable}" if answerable else "-",
        "-",
        "-",
        "-",
        f"{s.cites_gold}/{answerable}" if answerable else "-",
        f"{s.false_refusal_rate:.3f}" if answerable else "-",
        f"{s.refusal_rate:.3f}",
        "-",
        "-",
        f"{s.p50_ms:.0f}",
        f"{s.p95_ms:.0f}",
    ]


def squad_row(path: Path, settings, embeddings, generator, limit: int | None, translations: Path | None) -> list[str]:
    passages = squad.read_squad(path, limit)
    with squad.squad_bot(passages, settings, embeddings, generator) as (bot, ingest_s):
        with kept_translations(bot.engine, translations):
            r = squad.report_of(passages, squad.ask_all(bot, passages), ingest_s)
    optional = [("-" if v is None else f"{v:.3f}") for v in (r.unanswerable_refused, r.in_question_language)]
    figures = (r.recall_at_1, r.recall_at_5, r.containment, r.led)
    rest = (r.f1, r.gold_cited, r.refused)
    return [
        *(f"{v:.3f}" for v in figures),
        f"{r.answer_chars:.0f}",
        *(f"{v:.3f}" for v in rest),
        *optional,
        str(r.fallbacks),
        f"{r.p50_ms:.0f}",
        f"{r.p95_ms:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generation", action="store_true", help="Also in generation mode, side by side.")
    parser.add_argument(
        "--translated", action="store_true", help="Also extractive with the chat model translating (LLM_ANSWERS=false)."
    )
    parser.add_argument("--limit", type=int, help="Only the first N passages of each SQuAD file.")
    parser.add_argument("--translations", type=Path, help="A JSON file of translations to reuse and extend.")
    parser.add_argument(
        "--only", nargs="+", metavar="FILE", help="Only these files (dev_qa, cmrc2018_trial, zhctx_enq…)."
    )
    args = parser.parse_args()
    settings = Settings()
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir, backend=settings.embedding_backend)
    named = settings.llm_provider not in ("none", "auto")
    llm = settings if named else settings.model_copy(update={"llm_provider": "local"})
    chat = build_generator(llm) if args.generation or args.translated else None
    modes: list[tuple[str, Settings, Generator | None]] = [("extractive", settings, None)]
    if args.translated:
        modes.append(("translated", settings.model_copy(update={"llm_answers": False}), chat))
    if args.generation:
        modes.append(("generation", llm, chat))  # a provider named: auto only translates
    paths = {p.stem.removeprefix("xquad_"): p for p in FILES}
    names = [n for n in (*QUESTION_SETS, *paths) if not args.only or n in args.only]
    table: dict[str, list[list[str]]] = {name: [] for name in names}
    for _, mode_settings, generator in modes:
        for name in names:
            if name in QUESTION_SETS:
                table[name].append(
                    question_set_row(QUESTION_SETS[name], mode_settings, embeddings, generator, args.translations)
                )
            else:
                table[name].append(
                    squad_row(paths[name], mode_settings, embeddings, generator, args.limit, args.translations)
                )
    header = " | ".join(f"{c:>9}" for c in COLUMNS)
    for mode, *_ in modes:
        print(f"{'':18}   {mode:^{len(header)}}", end="")
    print(f"\n{'file':18} " + " ".join(f"| {header}" for _ in modes))
    for name in names:
        cells = " ".join("| " + " | ".join(f"{v:>9}" for v in row) for row in table[name])
        print(f"{name:18} {cells}")


if __name__ == "__main__":
    main()
