"""torch's vectors of texts, written to a file: `python -m tests.torch_vectors MODELS_DIR TEXTS.json OUT.npz`.

Run as a process of its own by tests/test_embeddings.py, as `articlebot prepare` (the one
command that needs torch) runs apart from the bot: torch and sentence-transformers, once
imported, keep their memory until the process ends, and a test process that imported
them would carry it through every test after.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from vectorstore.embeddings import DEFAULT_MODEL, load_embeddings


def main(models_dir: Path, texts_file: Path, out: Path) -> None:
    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    torch_embeddings = load_embeddings(DEFAULT_MODEL, models_dir, backend="torch")
    np.savez(
        out,
        queries=torch_embeddings.encode(texts, query=True),
        passages=torch_embeddings.encode(texts, query=False),
        sora=np.asarray(torch_embeddings.embed_query("Sora")),
        fingerprint=np.array(torch_embeddings.fingerprint),
    )


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:4]))
