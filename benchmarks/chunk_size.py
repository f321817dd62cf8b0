"""Measure answer quality for several chunk sizes (the numbers behind CHUNK_SIZE).

For each (size, overlap): the dev question set on the Sora article, and the first
passages of the CMRC 2018 trial set (recall@1/@5, answer containment). Prints one table.

    .venv/bin/python benchmarks/chunk_size.py [--passages 64]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bot.evaluation import question_sets, squad
from bot.settings import Settings
from bot.wiring import build
from vectorstore.embeddings import load_embeddings

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIZES = [(120, 20), (200, 40), (300, 50), (400, 80)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--dev", type=Path, default=SHARED / "eval" / "dev_qa.jsonl")
    parser.add_argument("--squad", type=Path, default=SHARED / "benchmarks" / "cmrc2018_trial.json")
    args = parser.parse_args()
    base = Settings()
    embeddings = load_embeddings(base.embedding_model, base.models_dir, backend=base.embedding_backend)
    questions = question_sets.read_questions(args.dev)
    print("size overlap | dev right  gold | cmrc R@1   R@5  contain | p50 ms")
    for size, overlap in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            settings = base.model_copy(update={"data_dir": Path(tmp), "chunk_size": size, "chunk_overlap": overlap})
            engine = build(settings, embeddings=embeddings, generator=None).engine  # seeds the Sora article
            dev = question_sets.Summary.of(list(question_sets.run(questions, engine.answer)))
            cmrc = squad.run_squad(squad.read_squad(args.squad, args.passages), settings, embeddings)
        print(
            f"{size:4d} {overlap:7d} | {dev.right:4d}/{dev.total:<3d} {dev.cites_gold:4d} | "
            f"{cmrc.recall_at_1:.3f} {cmrc.recall_at_5:.3f} {cmrc.containment:7.3f} | {cmrc.p50_ms:6.0f}"
        )


if __name__ == "__main__":
    main()
