"""Export and import: how long they take and how big the archive is.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/backup.py [--articles 20]

A temporary library holds the Sora article and N synthetic Chinese articles (about 20
chunks each, ingested through the library). It is exported, then imported into a fresh
data dir twice: as it is (vectors reused: same model) and with the archive's model
fingerprint changed (every chunk embedded again). Prints the archive's size and each
step's time, and checks that the moved library answers a question of each article the
same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.settings import Settings  # noqa: E402
from bot.wiring import build  # noqa: E402
from ingest.loaders import load_bytes  # noqa: E402
from vectorstore.embeddings import load_embeddings  # noqa: E402

PARAGRAPH = "第{i}号{place}观测站建于{year}年,站内有{people}名研究员,每天记录{count}次{what}数据。"
PLACES = ("海岛", "高原", "沙漠", "冰川", "雨林", "草原", "峡谷", "火山")
WHATS = ("风速", "气温", "降水", "地震", "潮汐", "辐射")


def article(n: int) -> str:
    place = PLACES[n % len(PLACES)]
    paragraphs = [
        PARAGRAPH.format(
            i=n * 100 + i,
            place=place,
            year=1950 + (n * 7 + i) % 70,
            people=3 + (n + i) % 17,
            count=i * 13 % 300,
            what=WHATS[i % len(WHATS)],
        )
        for i in range(60)
    ]
    return f"{place}观测网{n}\n\n" + "\n\n".join(paragraphs)


def seconds(start: float) -> str:
    return f"{time.perf_counter() - start:6.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)

        def settings(name: str) -> Settings:
            return Settings(_env_file=None, ARTICLEBOT_DATA_DIR=root / name)

        base = settings("origin")
        embeddings = load_embeddings(base.embedding_model, base.models_dir)
        origin = build(base, embeddings=embeddings, generator=None)
        limits = origin.library.limits
        sources = [(load_bytes(article(n).encode(), f"station-{n}.txt", limits), None) for n in range(args.articles)]
        start = time.perf_counter()
        origin.library.ingest_many(sources)
        chunks = sum(r.chunk_count for r in origin.library.articles())
        print(f"library: {len(origin.library.articles())} articles, {chunks} chunks; ingest {seconds(start)}")
        questions = ["Sora最长能生成多长的视频?"] + [
            f"第{n * 100 + 7}号观测站有多少名研究员?" for n in range(args.articles)
        ]
        expected = [origin.engine.answer(q) for q in questions]

        archive = root / "library.zip"
        start = time.perf_counter()
        exported = origin.library.export_archive(archive)
        print(f"export:                {seconds(start)}  {exported.size_text}")

        other = root / "other-model.zip"
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(other, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                data = source.read(item)
                if item.filename == "manifest.json":
                    data = json.dumps({**json.loads(data), "embedding_fingerprint": "another"}).encode()
                target.writestr(item, data)

        for name, path in (("import, same model", archive), ("import, re-embedded", other)):
            folder_name = name.replace(" ", "").replace(",", "-")
            moved = build(settings(folder_name), embeddings=embeddings, generator=None, seed=False)
            start = time.perf_counter()
            summary = moved.library.import_archive(path)
            took = seconds(start)
            same = all(  # (but the cited versions: every store names what it stores its own way)
                (a.text, [replace(c, version="") for c in a.citations])
                == (b.text, [replace(c, version="") for c in b.citations])
                for a, b in zip(expected, (moved.engine.answer(q) for q in questions), strict=True)
            )
            print(f"{name + ':':22} {took}  reused vectors: {summary.reused_vectors}; same answers: {same}")


if __name__ == "__main__":
    main()
