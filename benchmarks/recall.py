"""Self-query recall: can a normal article still be found next to a big template article?

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/recall.py [--sizes 1800 5000 20000]

For each size N, a temporary embedded store holds the Sora article (26 chunks, ingested
through the library) and an adversarial article of N near-identical template chunks
("第N号实验室位于…"): the vectors of 48 real template sentences, embedded by the real
model, with a little noise (as tight a cluster as a real template article; embedding N real
chunks would take minutes). Each Sora chunk is then queried with its own vector, and the
share found in its own top 10 is printed with the time per query, for:

- exact: `ArticleStore.search`, a scan of every live vector (what articlebot uses);
- hnsw default: Chroma's HNSW with its defaults (ef_search 100, M 16) and the live-version
  `where` filter: what articlebot did before;
- hnsw ef500: ef_search 500 (what a store opened by articlebot now gets), M 16, with `where`;
- hnsw ef500 M32: ef_search 500, M 32 (only possible for a new collection), with `where`.

The HNSW variants are copies of the store's vectors in the store's insertion order. Then
the cost of exact search alone: loading the live vectors (cold, first query after a change)
and one scan, for 2k/20k/100k chunks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from langchain_core.documents import Document  # noqa: E402

from bot.settings import Settings  # noqa: E402
from bot.wiring import build  # noqa: E402
from ingest.loaders import LoadedSource  # noqa: E402
from vectorstore.client import make_client  # noqa: E402
from vectorstore.embeddings import load_embeddings  # noqa: E402
from vectorstore.keyword_tokens import BM25_TOKENS, words_to_store  # noqa: E402
from vectorstore.store import ArticleStore  # noqa: E402

TEMPLATE = "第{n}号实验室位于科技园区的{n}号楼,主要负责研究{field}领域的基础问题,现有研究人员{people}名。"
FIELDS = ("材料科学", "人工智能", "量子计算", "生物医学", "能源储存", "机器人", "天体物理", "气候模拟")
K = 10
NOISE = 0.02  # per coordinate: cosine ~0.93 to its sentence, as in tests/test_store_integrity.py


def template_vectors(embeddings, count: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    sentences = [TEMPLATE.format(n=i * 37, field=FIELDS[i % 8], people=10 + i % 37) for i in range(48)]
    base = np.asarray(embeddings.embed_documents(sentences), dtype=np.float32)
    rng = np.random.default_rng(seed)
    vectors = base[rng.integers(0, len(base), count)] + rng.normal(0, NOISE, (count, base.shape[1]))
    return sentences, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def add_template_article(bot, embeddings, count: int) -> None:
    """The template article: made live with one real chunk, then `count` more of its version."""
    text = "国家实验室名录\n\n" + TEMPLATE.format(n=1, field=FIELDS[1], people=11)
    labs = LoadedSource(text=text, title="国家实验室名录", source="labs", source_key="labs", kind="text")
    record = bot.library.ingest_loaded(labs).record
    sentences, vectors = template_vectors(embeddings, count)
    for start in range(0, count, 1000):
        part = range(start + 1, min(count, start + 1000) + 1)
        bot.library.store.chunk_collection.add(
            ids=[f"{record.article_id}:{record.version}:{i}" for i in part],
            embeddings=vectors[start : start + len(part)],
            documents=[sentences[i % len(sentences)] for i in part],
            metadatas=[
                {
                    "article_id": record.article_id,
                    "version": record.version,
                    "position": i,
                    BM25_TOKENS: words_to_store(Document(page_content=sentences[i % len(sentences)])),
                    "run": "",
                    "written_at": 0.0,
                }
                for i in part
            ],
        )


def all_vectors(store: ArticleStore) -> tuple[list[str], np.ndarray, list[dict]]:
    ids: list[str] = []
    rows: list[np.ndarray] = []
    metas: list[dict] = []
    while True:
        page = store.chunk_collection.get(include=["embeddings", "metadatas"], limit=10_000, offset=len(ids))
        ids += page["ids"]
        rows.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(len(page["ids"]), -1))
        metas += [dict(m) for m in page["metadatas"] or []]
        if len(page["ids"]) < 10_000:
            return ids, np.vstack(rows), metas


def hnsw_copy(store: ArticleStore, name: str, hnsw: dict, ids, vectors, metas):
    collection = store.client.create_collection(name, configuration={"hnsw": {"space": "cosine", **hnsw}})
    for start in range(0, len(ids), 1000):
        collection.add(
            ids=ids[start : start + 1000],
            embeddings=vectors[start : start + 1000],
            metadatas=[{"version": m["version"]} for m in metas[start : start + 1000]],
        )
    return collection


def recall_at_size(embeddings, size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, ARTICLEBOT_DATA_DIR=Path(tmp), ARTICLEBOT_SEED_CORPUS=False)
        bot = build(settings, embeddings=embeddings, generator=None)
        store = bot.library.store
        sora_text = resources.files("ingest").joinpath("corpus/sora-raw.txt").read_text(encoding="utf-8")
        sora = bot.library.ingest_loaded(
            LoadedSource(text=sora_text, title=None, source="sora", source_key="sora", kind="text")
        ).record
        add_template_article(bot, embeddings, size)
        own = store.chunk_collection.get(where={"article_id": sora.article_id}, include=["embeddings"])
        queries = np.asarray(own["embeddings"], dtype=np.float32)
        live = store.live_versions()

        started = time.perf_counter()
        store.search(list(queries[0]), K)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        found = [cid in [d.id for d, _ in store.search(list(q), K)] for cid, q in zip(own["ids"], queries)]
        per_query = (time.perf_counter() - started) / len(queries) * 1000
        report(size, "exact (articlebot)", sum(found), len(found), per_query, f"first query {cold * 1000:.0f} ms")

        ids, vectors, metas = all_vectors(store)
        for name, hnsw in (
            ("hnsw default", {}),
            ("hnsw ef500", {"ef_search": 500}),
            ("hnsw ef500 M32", {"ef_search": 500, "max_neighbors": 32}),
        ):
            collection = hnsw_copy(store, name.replace(" ", "-"), hnsw, ids, vectors, metas)
            collection.query(query_embeddings=queries[:1], n_results=K, where={"version": {"$in": live}})
            started = time.perf_counter()
            got = collection.query(query_embeddings=queries, n_results=K, where={"version": {"$in": live}})
            per_query = (time.perf_counter() - started) / len(queries) * 1000
            hits = sum(cid in row for cid, row in zip(own["ids"], got["ids"]))
            report(size, f"{name} + where", hits, len(queries), per_query, "")


def report(size: int, method: str, hits: int, total: int, ms: float, note: str) -> None:
    print(
        f"{size:>7} | {method:<22} | {hits:>2}/{total} = {hits / total:5.0%} | {ms:7.2f} ms/query | {note}", flush=True
    )


def exact_cost(embeddings, sizes: list[int]) -> None:
    """Exact search alone on random unit vectors: loading them from Chroma, then one scan."""
    print("\nexact search cost: chunks | load live vectors (cold) | scan (top 10) | matrix")
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = ArticleStore(make_client(Path(tmp)), embeddings, "cost")
        collection = store.chunk_collection
        done = 0
        for size in sizes:
            while done < size:
                n = min(1000, size - done)
                rows = rng.normal(size=(n, 384)).astype(np.float32)
                collection.add(
                    ids=[f"a{(done + i) // 500}:v{(done + i) // 500}:{done + i}" for i in range(n)],
                    embeddings=rows / np.linalg.norm(rows, axis=1, keepdims=True),
                    metadatas=[{"version": f"v{(done + i) // 500}"} for i in range(n)],
                )
                done += n
            versions = [f"v{i}" for i in range(size // 500)]
            store.exact.clear()  # cold: as after a restart
            started = time.perf_counter()
            vectors = store.exact.load(collection, versions)
            load = time.perf_counter() - started
            query = vectors.matrix[0].copy()
            started = time.perf_counter()
            for _ in range(20):
                scores = vectors.matrix @ query
                np.argpartition(-scores, K - 1)[:K]
            scan = (time.perf_counter() - started) / 20 * 1000
            print(f"{size:>9} | {load:6.2f} s | {scan:6.2f} ms | {vectors.matrix.nbytes / 1e6:5.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1800, 5000, 20000])
    parser.add_argument("--cost-sizes", type=int, nargs="*", default=[2000, 20000, 100000])
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir)
    print("template chunks | method | Sora chunks in their own top 10 | time")
    for size in args.sizes:
        recall_at_size(embeddings, size)
    exact_cost(embeddings, args.cost_sizes)


if __name__ == "__main__":
    main()
