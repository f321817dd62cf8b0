"""Answer quality on every dev file, in one table: the Sora dev set, the CMRC 2018 trial
file and the four XQuAD files (both languages, both ways, with on-topic unanswerable
questions); extractive answers, and with --generation also generation mode (the
configured LLM_PROVIDER, `local` when none is) side by side.

    .venv/bin/python benchmarks/quality.py [--generation] [--limit N]

Columns (SQuAD files; the dev set fills those it has): recall@1/@5 of the question's own
passage, answer containment (the gold, in either language, in an answer of at most 150
characters; dev set: the answer is right), CMRC F1, gold cited (a citation quotes the
gold), false refusals, unanswerable questions refused, latency p50.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bot.evaluation import question_sets, squad
from bot.generation.generator import Generator, build_generator
from bot.settings import Settings
from bot.wiring import build
from vectorstore.embeddings import SentenceEmbeddings, load_embeddings

SHARED = Path(__file__).resolve().parents[2] / "shared"
FILES = [
    SHARED / "benchmarks" / "cmrc2018_trial.json",
    *sorted((SHARED / "benchmarks" / "xquad").glob("xquad_*.json")),
]
COLUMNS = ("R@1", "R@5", "contain", "F1", "gold", "falseref", "unans-ref", "p50 ms")


def dev_row(settings: Settings, embeddings: SentenceEmbeddings, generator: Generator | None) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp)})
        engine = build(local, embeddings=embeddings, generator=generator).engine  # seeds the Sora article
        graded = list(question_sets.run(question_sets.read_questions(SHARED / "eval" / "dev_qa.jsonl"), engine.answer))
    s = question_sets.Summary.of(graded)
    answerable = s.total - sum(not g.question.answerable for g in graded)
    return [
        "-",
        "-",
        f"{s.right_answerable}/{answerable}",
        "-",
        f"{s.cites_gold}/{answerable}",
        f"{s.false_refusal_rate:.3f}",
        f"{s.refusal_rate:.3f}",
        f"{s.p50_ms:.0f}",
    ]


def squad_row(path: Path, settings, embeddings, generator, limit: int | None) -> list[str]:
    r = squad.run_squad(squad.read_squad(path, limit), settings, embeddings, generator=generator)
    unanswerable = "-" if r.unanswerable_refused is None else f"{r.unanswerable_refused:.3f}"
    figures = (r.recall_at_1, r.recall_at_5, r.containment, r.f1, r.gold_cited, r.refused)
    return [*(f"{v:.3f}" for v in figures), unanswerable, f"{r.p50_ms:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generation", action="store_true", help="Also in generation mode, side by side.")
    parser.add_argument("--limit", type=int, help="Only the first N passages of each SQuAD file.")
    args = parser.parse_args()
    settings = Settings()
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir, backend=settings.embedding_backend)
    modes: list[tuple[str, Generator | None]] = [("extractive", None)]
    if args.generation:
        llm = settings if settings.llm_provider != "none" else settings.model_copy(update={"llm_provider": "local"})
        modes.append(("generation", build_generator(llm)))
    names = ["dev_qa", *(p.stem.removeprefix("xquad_") for p in FILES)]
    table: dict[str, list[list[str]]] = {name: [] for name in names}
    for _, generator in modes:
        table["dev_qa"].append(dev_row(settings, embeddings, generator))
        for name, path in zip(names[1:], FILES):
            table[name].append(squad_row(path, settings, embeddings, generator, args.limit))
    header = " | ".join(f"{c:>9}" for c in COLUMNS)
    for mode, _ in modes:
        print(f"{'':18}   {mode:^{len(header)}}", end="")
    print(f"\n{'file':18} " + " ".join(f"| {header}" for _ in modes))
    for name in names:
        cells = " ".join("| " + " | ".join(f"{v:>9}" for v in row) for row in table[name])
        print(f"{name:18} {cells}")


if __name__ == "__main__":
    main()
