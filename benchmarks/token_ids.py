"""SentencePiece against transformers' tokenizer (`tokenizers`) for the default model: the
share of texts whose token ids differ, and what loading each costs a fresh process.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/token_ids.py [--random N]

The texts: every line of the default article, and every string (contexts, questions,
answers) of the JSON files under ../shared/benchmarks and ../shared/eval, each alone and
with the query prompt; then N random strings over a mixed alphabet (CJK, Latin, full-width,
whitespace of every kind, emoji, combining accents, special tokens written out).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.settings import Settings  # noqa: E402
from vectorstore.embeddings import load_embeddings  # noqa: E402
from vectorstore.token_ids import SentencePieceIds, TokenizersIds  # noqa: E402

SHARED = ROOT.parent / "shared"
ALPHABET = list(" \t\n\u3000\u00a0\u200b\u2028\x85xX1１，。é\u0301ﬁ①Ⅻ㎏\ufeff\x00😀👍🏽❤\ufe0f中文abc.-_'\"") + [
    "<s>",
    "</s>",
    "<mask>",
]
LOAD = """
import sys, time
from pathlib import Path
from vectorstore.token_ids import SentencePieceIds, TokenizersIds
start = time.perf_counter()
tokens = {kind}
tokens.ids(["Sora"])  # SentencePiece loads in a thread: wait for it
seconds = time.perf_counter() - start
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(seconds, rss / 1024)
"""


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def corpus_texts() -> list[str]:
    texts = (ROOT / "ingest" / "corpus" / "sora-raw.txt").read_text(encoding="utf-8").splitlines()
    for path in sorted([*SHARED.glob("benchmarks/**/*.json"), *SHARED.glob("eval/*.jsonl")]):
        lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else [path.read_text()]
        for line in filter(None, lines):
            texts.extend(_strings(json.loads(line)))
    return sorted(set(texts))


def differing(tokens: SentencePieceIds, reference: TokenizersIds, texts: list[str]) -> int:
    return sum(a != b for a, b in zip(tokens.ids(texts), reference.ids(texts), strict=True))


def load_cost(kind: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of a fresh Python process loading one tokenizer."""
    done = subprocess.run(
        [sys.executable, "-c", LOAD.format(kind=kind)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seconds, megabytes = map(float, done.stdout.split())
    return seconds, megabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random", type=int, default=20_000, help="random strings to compare (default 20,000)")
    args = parser.parse_args()

    settings = Settings()
    tokens = load_embeddings(settings.embedding_model, settings.models_dir).encoder.tokens
    if not isinstance(tokens, SentencePieceIds):
        sys.exit("The default model does not tokenize with SentencePiece here.")
    reference = TokenizersIds(tokens.tokenizer_json, max_length=512)

    texts = corpus_texts()
    texts += ["query: " + text for text in texts]
    rng = random.Random(0)
    noise = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 20))) for _ in range(args.random)]
    print(f"articles and benchmark files: {differing(tokens, reference, texts)} of {len(texts)} texts differ")
    print(f"random strings: {differing(tokens, reference, noise)} of {len(noise)} differ")

    json_file, model_file = tokens.tokenizer_json, tokens.model_file
    for name, kind in (
        ("tokenizers", f"TokenizersIds(Path({str(json_file)!r}), 512)"),
        ("SentencePiece", f"SentencePieceIds(Path({str(model_file)!r}), Path({str(json_file)!r}), 512)"),
    ):
        seconds, megabytes = load_cost(kind)
        print(f"{name}: loads in {seconds:.2f} s, process peak RSS {megabytes:.0f} MB")


if __name__ == "__main__":
    main()
