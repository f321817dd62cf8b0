"""Fit the answer/refuse model (bot/answering/refusal.py) on the dev files and print cross-validated
figures; `--write` commits the fit to bot/answering/refusal_model.json.

Questions, with whether the articles answer them:
- the four XQuAD files (../shared/benchmarks/xquad): answerable questions and on-topic
  unanswerable ones, in all four pairs of article and question language;
- the CMRC 2018 trial file: answerable Chinese questions of their own passages, and a
  quarter of them asked of the Sora article instead (off-topic);
- the Sora dev set (answerable and not) and the off-topic English set, of the Sora article.

Cross-validation holds out whole articles (five folds, grouped by article): each fold's
model and thresholds are fitted on the other four, so the printed figures are those of
articles the model has not seen. Each language pair's threshold comes as close as it can
to both targets (answerable kept ≥ 0.92, unanswerable refused ≥ 0.80) on the training
folds.

    .venv/bin/python benchmarks/fit_refusal.py [--rows rows.jsonl] [--write]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from bot.answering.citing import cite_sentences
from bot.answering.engine import Engine
from bot.answering.refusal import FEATURES, MODEL_FILE, RefusalModel, features, pair
from bot.answering.selection import choose, content_terms
from bot.evaluation import question_sets, squad
from bot.evaluation.squad import answer_chars
from bot.settings import Settings
from bot.wiring import build
from vectorstore.embeddings import load_embeddings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
XQUAD = sorted((SHARED / "benchmarks" / "xquad").glob("xquad_*.json"))
CMRC = SHARED / "benchmarks" / "cmrc2018_trial.json"
PAIRS = ("zh/zh", "zh/en", "en/en", "en/zh")  # question language / passage language
REGULARISATION = 1.0
# The targets: at most 8% of answerable questions refused, at least 80% of
# unanswerable ones; a threshold trades one for the other.
TARGET_KEPT, TARGET_REFUSED = 0.92, 0.80  # sklearn's C; the figures barely move between 0.1 and 10


def row(source: str, group: str, question: str, answerable: bool, engine: Engine, golds=()) -> dict:
    scored = engine.candidates(question)
    text = ""
    if scored:
        limit = answer_chars(scored[0].hit.doc.page_content)
        text = cite_sentences(choose(scored, limit), content_terms(question), limit)[0]
    return {
        "source": source,
        "group": f"{source}/{group}",
        "answerable": answerable,
        "contained": any(g in text for g in golds),  # the answer, if given, holds the gold
        "pair": pair(question, scored) if scored else None,
        "features": features(question, scored) if scored else None,  # None: nothing to answer with
    }


def squad_rows(path: Path, settings: Settings, embeddings, source: str) -> list[dict]:
    passages = squad.read_squad(path)
    with squad.squad_bot(passages, settings, embeddings) as (bot, _):
        return [
            row(source, p.key.split(".")[0] if source != "cmrc" else p.title, q.text, q.answerable, bot.engine, q.golds)
            for p in passages
            for q in p.questions
        ]


def sora_rows(settings: Settings, embeddings) -> list[dict]:
    """Questions asked of the Sora article: the dev set, off-topic English and Chinese."""
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"data_dir": Path(tmp)})
        engine = build(local, embeddings=embeddings, generator=None).engine  # seeds the Sora article
        dev = question_sets.read_questions(SHARED / "eval" / "dev_qa.jsonl")
        offtopic = question_sets.read_questions(ROOT / "eval" / "offtopic_en.jsonl")
        cmrc = [q.text for p in squad.read_squad(CMRC) for q in p.questions][::4]
        return (
            [row("sora-dev", "sora", q.q, q.answerable, engine) for q in dev]
            + [row("offtopic", f"en{i}", q.q, False, engine) for i, q in enumerate(offtopic)]
            + [row("offtopic", f"zh{i}", q, False, engine) for i, q in enumerate(cmrc)]
        )


def collect(settings: Settings) -> list[dict]:
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir, backend=settings.embedding_backend)
    rows = sora_rows(settings, embeddings)
    rows += squad_rows(CMRC, settings, embeddings, "cmrc")
    for path in XQUAD:
        rows += squad_rows(path, settings, embeddings, path.stem.removeprefix("xquad_"))
    return rows


def fit(rows: list[dict]) -> RefusalModel:
    """The regression on all `rows`, and a threshold for each language pair (`_best_threshold`)."""
    x, y = matrix(rows)
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    regression = LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=2000)
    regression.fit((x - means) / scales, y)
    model = RefusalModel(
        means=dict(zip(FEATURES, map(float, means))),
        scales=dict(zip(FEATURES, map(float, scales))),
        weights=dict(zip(FEATURES, map(float, regression.coef_[0]))),
        bias=float(regression.intercept_[0]),
        thresholds={},
    )
    probabilities = np.array([model.probability(r["features"]) for r in rows])
    pairs = np.array([r["pair"] for r in rows])
    for language_pair in PAIRS:
        mask = pairs == language_pair
        model.thresholds[language_pair] = _best_threshold(probabilities[mask], y[mask]) if mask.any() else 0.5
    return model


def _best_threshold(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The threshold that comes closest to both targets at once: the one whose worse
    shortfall (answerable kept below TARGET_KEPT, unanswerable refused below
    TARGET_REFUSED) is smallest."""
    if y.all() or not y.any():  # one class only: nothing to part
        return 0.5
    candidates = np.linspace(0.05, 0.95, 91)
    margins = [
        min((probabilities >= t)[y].mean() - TARGET_KEPT, (probabilities < t)[~y].mean() - TARGET_REFUSED)
        for t in candidates
    ]
    return round(float(candidates[int(np.argmax(margins))]), 2)


def matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[r["features"][name] for name in FEATURES] for r in rows])
    return x, np.array([r["answerable"] for r in rows])


def cross_validated(rows: list[dict]) -> np.ndarray:
    """Whether each row is answered, by a model that never saw its article."""
    answered = np.zeros(len(rows), dtype=bool)
    groups = [r["group"] for r in rows]
    for train, test in GroupKFold(n_splits=5).split(rows, groups=groups):
        model = fit([rows[i] for i in train])
        for i in test:
            answered[i] = model.probability(rows[i]["features"]) >= model.thresholds[rows[i]["pair"]]
    return answered


def print_figures(rows: list[dict], answered: np.ndarray) -> None:
    print(f"{'source':12} {'answerable':>10} {'kept':>6} {'unanswerable':>12} {'refused':>8}")
    for source in dict.fromkeys(r["source"] for r in rows):
        mask = np.array([r["source"] == source for r in rows])
        y = np.array([r["answerable"] for r in rows])
        pos, neg = mask & y, mask & ~y
        kept = f"{answered[pos].mean():6.3f}" if pos.any() else "     -"
        refused = f"{(~answered[neg]).mean():8.3f}" if neg.any() else "       -"
        print(f"{source:12} {pos.sum():10d} {kept} {neg.sum():12d} {refused}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=Path, help="Read the questions' features from this file if it exists, else write them there."
    )
    parser.add_argument(
        "--write", action="store_true", help=f"Write the model fitted on all rows to bot/answering/{MODEL_FILE}."
    )
    args = parser.parse_args()
    if args.rows and args.rows.exists():
        rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines()]
    else:
        rows = collect(Settings())
        if args.rows:
            args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # A question none of whose sentences passes the hard checks (names, numbers) is refused.
    usable = [r for r in rows if r["features"] is not None]
    answered = np.zeros(len(rows), dtype=bool)
    answered[[i for i, r in enumerate(rows) if r["features"] is not None]] = cross_validated(usable)
    print("Cross-validated (five folds, whole articles held out):")
    print_figures(rows, answered)
    model = fit(usable)
    print(f"\nFitted on all {len(usable)} questions: thresholds {model.thresholds}")
    for name, weight in sorted(model.weights.items(), key=lambda item: -abs(item[1])):
        print(f"  {name:24} {weight:+.3f}")
    if args.write:
        (ROOT / "bot" / "answering" / MODEL_FILE).write_text(model.to_json(), encoding="utf-8")
        print(f"Written to bot/answering/{MODEL_FILE}")


if __name__ == "__main__":
    main()
