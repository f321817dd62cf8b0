"""How the embedded store's directory grows when one small article is replaced again and again
(a web page that changes, refreshed every REFRESH_INTERVAL), and where the bytes are.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/store_growth.py [--replaces 0 10 50 100]

A temporary library (no default article) ingests one article of about 20 chunks, then
replaces it with a slightly different text each time (so every chunk and sentence is
embedded and written again), through the library as `ingest` does. At each count it prints
the chroma dir's size and its parts: chroma.sqlite3 by table (the write-ahead log
`embeddings_queue`, `embeddings`, the full-text search tables, ...) and each collection's
HNSW index files, with its record counts, and checks that a question is still answered.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.settings import Settings  # noqa: E402
from bot.wiring import build  # noqa: E402
from ingest.loaders import load_bytes  # noqa: E402

PARAGRAPH = "第{i}号观测站建于{year}年,站内有{people}名研究员,每天记录{count}次气温数据。第{rev}版。"
QUESTION = "第7号观测站有多少名研究员?"


def article(revision: int) -> bytes:
    """About 20 chunks; every paragraph names the revision, so every chunk changes."""
    paragraphs = [PARAGRAPH.format(i=i, year=1950 + i, people=3 + i, count=i * 13, rev=revision) for i in range(80)]
    return ("观测网\n\n" + "\n\n".join(paragraphs)).encode()


def kb(n: int) -> str:
    return f"{n / 1024:8.0f} KB"


def report(chroma: Path, replaces: int) -> None:
    """Print the directory's size and its parts."""
    files = [p for p in chroma.rglob("*") if p.is_file()]
    print(f"\nafter {replaces} replaces: {kb(sum(p.stat().st_size for p in files))} in {chroma.name}/")
    database = chroma / "chroma.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        sqlite = sum(p.stat().st_size for p in files if p.name.startswith("chroma.sqlite3"))
        print(f"  chroma.sqlite3 (and -wal): {kb(sqlite)}")
        tables = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
        rows = {
            name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        free = db.execute("PRAGMA freelist_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
        print(f"    {'free pages':32} {kb(free)}")
        for name, size in list(tables.items())[:8]:
            print(
                f"    {name:32} {kb(size)}  {rows.get(name, ''):>6} rows"
                if name in rows
                else f"    {name:32} {kb(size)}"
            )
        segments = db.execute(
            "SELECT s.id, c.name FROM segments s JOIN collections c ON s.collection = c.id WHERE s.scope = 'VECTOR'"
        ).fetchall()
        counts = dict(
            db.execute(
                "SELECT c.name, COUNT(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id GROUP BY c.name"
            )
        )
    for segment, collection in sorted(segments, key=lambda s: s[1]):
        folder = chroma / segment
        parts = defaultdict(int)
        for path in folder.glob("*") if folder.is_dir() else []:
            parts[path.name] += path.stat().st_size
        detail = ", ".join(f"{name} {size / 1024:.0f} KB" for name, size in sorted(parts.items()))
        print(
            f"  {collection:24} {counts.get(collection, 0):>5} records; index {kb(sum(parts.values()))}  ({detail or 'none'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replaces", type=int, nargs="+", default=[0, 10, 50, 100])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, ARTICLEBOT_DATA_DIR=Path(folder), ARTICLEBOT_SEED_CORPUS=False)
        bot = build(settings, generator=None, seed=False)
        limits = bot.library.limits
        done = 0
        bot.library.ingest_loaded(load_bytes(article(0), "stations.txt", limits))
        record = bot.library.articles()[0]
        print(f"article: {record.chunk_count} chunks")
        for target in sorted(args.replaces):
            while done < target:
                done += 1
                bot.library.ingest_loaded(load_bytes(article(done), "stations.txt", limits))
            answer = bot.engine.answer(QUESTION)
            report(settings.chroma_dir, done)
            print(f"  answer: {'refused' if answer.refused else answer.text[:60]!r}")


if __name__ == "__main__":
    main()
