"""Where to put the refusal threshold: confidences (selection.confidence) of answerable
questions against questions the articles cannot answer, per question language.

Answerable: the answerable questions of a question set (default: the dev set).
Unanswerable: its unanswerable ones, the off-topic English set (eval/offtopic_en.jsonl),
and the CMRC 2018 trial questions (Chinese questions about other topics), all asked
against the default Sora article. Prints, for each candidate threshold, the share of
answerable questions kept and of unanswerable questions refused.

With --squad-answerable, the same figures for the SQuAD file's questions asked of their
own passages (in-domain questions the bot should answer; slower: ingests every passage).

    .venv/bin/python benchmarks/calibrate_refusal.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bot import evaluation, squad
from bot.engine import REFUSAL_THRESHOLD, Engine
from bot.language import language_of
from bot.selection import confidence
from bot.settings import Settings
from vectorstore.client import make_client
from vectorstore.embeddings import load_embeddings
from vectorstore.store import ArticleStore

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def best_score(engine: Engine, question: str) -> float:
    """0 when no sentence passes the hard checks (names, days, numbers)."""
    scored = engine.candidates(question)
    return confidence(question, scored[0]) if scored else 0.0


def in_domain_scores(path: Path, base: Settings, embeddings) -> list[float]:
    """Confidences of the SQuAD file's questions, asked of a store holding their passages."""
    passages = squad.read_squad(path)
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "seed_default_corpus": False})
        engine = Engine(settings, ArticleStore(make_client(settings.chroma_dir), embeddings, "squad"))
        engine.ingest_many([p.as_source() for p in passages])
        engine.warm_up()
        return [best_score(engine, question) for p in passages for question, _ in p.questions]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=SHARED / "eval" / "dev_qa.jsonl")
    parser.add_argument("--offtopic", type=Path, default=ROOT / "eval" / "offtopic_en.jsonl")
    parser.add_argument("--squad", type=Path, default=SHARED / "benchmarks" / "cmrc2018_trial.json")
    parser.add_argument("--squad-answerable", action="store_true",
                        help="Also score the SQuAD questions against their own passages (minutes).")
    args = parser.parse_args()
    base = Settings()
    embeddings = load_embeddings(base.embedding_model, base.models_dir, backend=base.embedding_backend)
    with tempfile.TemporaryDirectory() as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp)})
        engine = Engine(settings, ArticleStore(make_client(settings.chroma_dir), embeddings))
        engine.seed_default_corpus()
        dev = evaluation.read_questions(args.dev)
        positives = [(q.q, best_score(engine, q.q)) for q in dev if q.answerable]
        negatives = [(q.q, best_score(engine, q.q)) for q in dev if not q.answerable]
        negatives += [(q.q, best_score(engine, q.q)) for q in evaluation.read_questions(args.offtopic)]
        negatives += [
            (question, best_score(engine, question))
            for passage in squad.read_squad(args.squad)
            for question, _ in passage.questions
        ]
    in_domain = in_domain_scores(args.squad, base, embeddings) if args.squad_answerable else []
    for language in ("zh", "en"):
        pos = [s for q, s in positives if language_of(q) == language]
        neg = [s for q, s in negatives if language_of(q) == language]
        print(f"\n{language}: {len(pos)} answerable (lowest {min(pos):.3f}), "
              f"{len(neg)} unanswerable (highest {max(neg):.3f}); current threshold {REFUSAL_THRESHOLD[language]}")
        squad_kept = in_domain if language == "zh" else []  # the SQuAD set is Chinese
        print("threshold  answerable kept  unanswerable refused" + ("  SQuAD in-domain kept" if squad_kept else ""))
        low = round(min(min(pos), max(neg)) - 0.03, 2)
        for step in range(9):
            t = low + step * 0.01
            kept = sum(s >= t for s in pos) / len(pos)
            refused = sum(s < t for s in neg) / len(neg)
            extra = f"  {sum(s >= t for s in squad_kept) / len(squad_kept):20.1%}" if squad_kept else ""
            print(f"{t:9.2f}  {kept:15.1%}  {refused:20.1%}{extra}")


if __name__ == "__main__":
    main()
