"""Keyword-search candidates for the BM25 index (issue 27): build, add, query, memory, rankings.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/keyword_search.py
    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/keyword_search.py --sizes 1000 10000

Builds corpora of 1k / 10k / 100k chunks from the real paragraphs of the CMRC 2018 trial set
and XQuAD (../shared/benchmarks, or --data), tokenized with
`vectorstore.keyword_tokens.tokenize` as ingest tokenizes a chunk. A paragraph repeats under
distinct ids to reach the size; copy k of it is followed by the first k % 20 words of another
paragraph, so that copies differ in content and length and the rankings compared are not
ties among identical copies. Chunk i belongs to article i // 5.

For each candidate it prints: build time; the time to add one more article of 5 chunks
(incrementally, or by a full rebuild where the candidate cannot add); query p50 / p95 over
200 real questions of those files; the index's memory (what it keeps on Python's heap,
numpy arrays included, by tracemalloc in a second build; and the growth of the process's
resident set while building it, the only measure of a Rust library's own memory); and its agreement with today's ranking (rank_bm25's
BM25Okapi, taking its top 10 as `BM25Retriever` does). Agreement allows for ties: a
candidate's hit counts as in today's top 10 when its BM25Okapi score is at least today's
10th score, and its top 1 agrees when its BM25Okapi score is today's best; the last column
asks only whether its top 1 is a copy of the same paragraph as today's.

Candidates: rank_bm25 (today), bm25s (robertson and lucene idf; it has no incremental add),
tantivy (in RAM, pre-tokenized words joined by spaces, whitespace tokenizer; its writer adds
and deletes documents), and `SparseBM25` below (scipy.sparse postings in segments, with
BM25Okapi's idf and epsilon floor computed from document frequencies kept up to date).
An optional candidate that is not installed prints "not installed".
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rank_bm25 import BM25Okapi
from scipy import sparse

from vectorstore.keyword_tokens import tokenize

SHARED = Path(__file__).resolve().parents[2] / "shared"
K1, B, EPSILON = 1.5, 0.75, 0.25  # BM25Okapi's defaults, which retrieval.py uses
TOP = 10
ARTICLE = 5  # chunks per added article
ADDED = 9  # articles added one after another (the ninth makes SparseBM25 merge)
ADD_BUDGET_S = 20  # stop adding once a candidate that rebuilds has spent this long
QUESTIONS = 200
Words = list[str]


def read_sources(data: Path) -> tuple[list[Words], list[Words]]:
    """Unique paragraphs (title + text, tokenized) and ~200 questions, spread over the files."""
    files = [data / "cmrc2018_trial.json", *sorted((data / "xquad").glob("*.json"))]
    seen: set[str] = set()
    paragraphs: list[Words] = []
    questions_per_file: list[list[str]] = []
    for file in files:
        asked = []
        for article in json.loads(file.read_text(encoding="utf-8"))["data"]:
            for para in article["paragraphs"]:
                if para["context"] not in seen:
                    seen.add(para["context"])
                    paragraphs.append(list(tokenize(f"{article['title']} {para['context']}")))
                asked += [qa["question"] for qa in para["qas"]]
        questions_per_file.append(asked)
    # half from CMRC, the rest evenly from the four XQuAD files (zh and en questions)
    shares = [QUESTIONS // 2] + [QUESTIONS // 2 // (len(files) - 1)] * (len(files) - 1)
    questions = [
        list(tokenize(asked[i * len(asked) // share]))
        for asked, share in zip(questions_per_file, shares, strict=True)
        for i in range(share)
    ]
    return paragraphs, questions


def corpus(paragraphs: list[Words], size: int) -> list[Words]:
    n = len(paragraphs)
    return [paragraphs[i % n] + paragraphs[(i * 7919 + 13) % n][: (i // n) % 20] for i in range(size)]


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def python_heap_mb(make: Callable[[list[Words]], Any], chunks: list[Words]) -> float:
    """What an index keeps on Python's heap (numpy included; a Rust library's own is not)."""
    gc.collect()
    tracemalloc.start()
    index = make(chunks)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del index
    return kept / 2**20


class RankBM25:
    """Today: BM25Okapi over every chunk, rebuilt when anything changes."""

    def __init__(self, chunks: Sequence[Words]) -> None:
        self.chunks = list(chunks)
        self.index = BM25Okapi(self.chunks)

    def add(self, chunks: Sequence[Words]) -> None:
        self.__init__([*self.chunks, *chunks])  # type: ignore[misc]

    def scores(self, query: Words) -> np.ndarray:
        return np.asarray(self.index.get_scores(query))


class Bm25s:
    """bm25s: a sparse matrix of precomputed per-(chunk, word) scores; no incremental add."""

    def __init__(self, chunks: Sequence[Words], method: str) -> None:
        import bm25s

        self.chunks, self.method = list(chunks), method
        self.index = bm25s.BM25(method=method, k1=K1, b=B)
        self.index.index(self.chunks, show_progress=False)

    def add(self, chunks: Sequence[Words]) -> None:
        self.__init__([*self.chunks, *chunks], self.method)  # type: ignore[misc]

    def top(self, query: Words) -> list[int]:
        known = [w for w in query if w in self.index.vocab_dict]
        if not known:
            return []
        found, _ = self.index.retrieve([known], k=TOP, show_progress=False)
        return [int(i) for i in found[0]]


class Tantivy:
    """tantivy in RAM: words joined by spaces, whitespace tokenizer, term frequencies kept."""

    def __init__(self, chunks: Sequence[Words]) -> None:
        import tantivy

        self.tantivy = tantivy
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("row", stored=True, indexed=True)
        builder.add_text_field("words", tokenizer_name="whitespace", index_option="freq")
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)
        self.writer = self.index.writer(heap_size=50_000_000, num_threads=1)
        self.rows = 0
        self.add(chunks)

    def add(self, chunks: Sequence[Words]) -> None:
        for words in chunks:
            self.writer.add_document(self.tantivy.Document(row=self.rows, words=" ".join(words)))
            self.rows += 1
        self.writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()

    def top(self, query: Words) -> list[int]:
        tantivy = self.tantivy
        terms = [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "words", w, "freq")) for w in query]
        hits = self.searcher.search(tantivy.Query.boolean_query(terms), TOP).hits
        return [self.searcher.doc(address)["row"][0] for _, address in hits]


class SparseBM25:
    """BM25Okapi on scipy.sparse postings, in segments, updated per article.

    Each added batch of chunks becomes a segment: a word-by-chunk matrix of term frequencies.
    Document frequencies, chunk lengths and BM25Okapi's idf (with its epsilon floor, which
    needs the mean idf of the whole vocabulary) are kept up to date as segments arrive, so a
    query reads only its words' postings. Small segments are merged, as a search engine
    merges its segments. A removed article would be a mask over its chunks plus a
    decrement of its words' document frequencies.
    """

    MAX_SEGMENTS = 8

    def __init__(self, chunks: Sequence[Words]) -> None:
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.lengths = np.zeros(0, dtype=np.float64)
        self.segments: list[sparse.csr_matrix] = []
        self.add(chunks)

    def add(self, chunks: Sequence[Words]) -> None:
        first = len(self.lengths)
        words, rows, tfs = [], [], []
        for row, chunk in enumerate(chunks, start=first):
            for word, tf in Counter(chunk).items():
                words.append(self.vocab.setdefault(word, len(self.vocab)))
                rows.append(row)
                tfs.append(tf)
        self.lengths = np.concatenate([self.lengths, [len(c) for c in chunks]])
        ids = np.asarray(words, dtype=np.int64)
        self.df = np.concatenate([self.df, np.zeros(len(self.vocab) - len(self.df), np.int64)])
        np.add.at(self.df, ids, 1)
        shape = (len(self.vocab), len(self.lengths))
        self.segments.append(sparse.csr_matrix((np.asarray(tfs, np.float64), (ids, rows)), shape))
        if len(self.segments) > self.MAX_SEGMENTS:
            # tiered: the small segments merge often, into the large one only once they
            # hold a tenth of its postings, so an add seldom rewrites the whole index
            base, *small = self.segments
            merged = self._merged(small)
            self.segments = [self._merged([base, merged])] if merged.nnz > base.nnz / 10 else [base, merged]
        n = len(self.lengths)
        idf = np.log(n - self.df + 0.5) - np.log(self.df + 0.5)
        self.idf = np.where(idf < 0, EPSILON * idf.mean(), idf)
        self.avgdl = self.lengths.mean()

    def _merged(self, segments: list[sparse.csr_matrix]) -> sparse.csr_matrix:
        merged = sparse.csr_matrix((len(self.vocab), len(self.lengths)))
        for segment in segments:  # disjoint chunks: a sum is a merge
            grown = segment.copy()
            grown.resize(merged.shape)
            merged = merged + grown
        return merged

    def scores(self, query: Words) -> np.ndarray:
        ids = [self.vocab[w] for w in query if w in self.vocab]
        scores = np.zeros(len(self.lengths))
        for segment in self.segments:
            own = [i for i in ids if i < segment.shape[0]]
            postings = segment[own].tocoo()
            tf, chunk = postings.data, postings.col
            norm = K1 * (1 - B + B * self.lengths[chunk] / self.avgdl)
            np.add.at(scores, chunk, self.idf[np.asarray(own)[postings.row]] * tf * (K1 + 1) / (tf + norm))
        return scores

    def top(self, query: Words) -> list[int]:
        scores = self.scores(query)
        best = np.argpartition(-scores, TOP)[:TOP] if len(scores) > TOP else np.arange(len(scores))
        return [int(i) for i in best[np.argsort(-scores[best], kind="stable")]]


def agreement(reference: list[np.ndarray], found: list[list[int]]) -> tuple[float, float]:
    """Tie-aware share of found top-10 hits within today's top 10, and of top-1 agreements."""
    overlap = top1 = 0.0
    for scores, hits in zip(reference, found, strict=True):
        tenth = np.sort(scores)[::-1][TOP - 1]
        overlap += sum(scores[h] >= tenth - 1e-9 for h in hits) / TOP
        top1 += bool(hits) and scores[hits[0]] >= scores.max() - 1e-9
    return overlap / len(found), top1 / len(found)


def same_paragraph(reference: list[np.ndarray], found: list[list[int]], paragraphs: int) -> float:
    """Share of questions whose top hit is a copy of the paragraph today's top hit copies.

    Near-identical copies differ only in a few trailing words; an index that stores lengths
    coarsely (tantivy) picks among them, which the chunk-level agreement counts as misses.
    """
    same = sum(
        bool(hits) and hits[0] % paragraphs == int(np.argsort(scores)[::-1][0]) % paragraphs
        for scores, hits in zip(reference, found, strict=True)
    )
    return same / len(found)


def measure(
    name: str,
    make: Callable[[list[Words]], Any],
    chunks: list[Words],
    articles: list[list[Words]],
    questions: list[Words],
    paragraphs: int,
    reference: list[np.ndarray] | None,
) -> list[np.ndarray]:
    """One table row; without a reference, `make` is today's and its scores become one."""
    before = rss_mb()
    started = time.perf_counter()
    try:
        index = make(chunks)
    except ImportError:
        print(f"| {len(chunks):>7,} | {name} | not installed |")
        return []
    build = time.perf_counter() - started
    memory = rss_mb() - before
    latencies, found, scores = [], [], []
    for query in questions:
        started = time.perf_counter()
        if reference is None:  # what BM25Retriever.invoke does
            scores.append(index.scores(query))
            found.append([int(i) for i in np.argsort(scores[-1])[::-1][:TOP]])
        else:
            found.append(index.top(query))
        latencies.append((time.perf_counter() - started) * 1000)
    overlap, top1 = agreement(reference or scores, found)
    paragraph = same_paragraph(reference or scores, found, paragraphs)
    adds = []
    for article in articles:  # one at a time, until ADD_BUDGET_S is spent
        started = time.perf_counter()
        index.add(article)
        adds.append((time.perf_counter() - started) * 1000)
        if sum(adds) > ADD_BUDGET_S * 1000:
            break
    del index
    heap = python_heap_mb(make, chunks)
    latencies.sort()
    p95 = latencies[math.ceil(0.95 * len(latencies)) - 1]
    print(
        f"| {len(chunks):,} | {name} | {build:.2f} s | {statistics.median(adds):.1f} / "
        f"{max(adds):.1f} ms ({len(adds)}) | {statistics.median(latencies):.2f} ms | "
        f"{p95:.2f} ms | {heap:.0f} / {memory:.0f} MB | {overlap:.3f} | {top1:.3f} | {paragraph:.3f} |"
    )
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "benchmarks")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    paragraphs, questions = read_sources(args.data)
    print(f"{len(paragraphs)} unique paragraphs, {len(questions)} questions")
    print(
        "| chunks | candidate | build | add an article: median / max (adds) | query p50 | "
        "query p95 | memory: Python heap / RSS growth | top-10 as today | top-1 as today | "
        "top-1 paragraph as today |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    candidates: list[tuple[str, Callable[[list[Words]], Any]]] = [
        ("bm25s robertson", lambda c: Bm25s(c, "robertson")),
        ("bm25s lucene", lambda c: Bm25s(c, "lucene")),
        ("tantivy 0.27", Tantivy),
        ("scipy.sparse segments", SparseBM25),
    ]
    for size in args.sizes:
        everything = corpus(paragraphs, size + ADDED * ARTICLE)
        chunks = everything[:size]
        articles = [everything[i : i + ARTICLE] for i in range(size, len(everything), ARTICLE)]
        reference = measure("rank_bm25 (today)", RankBM25, chunks, articles, questions, len(paragraphs), None)
        for name, make in candidates:
            measure(name, make, chunks, articles, questions, len(paragraphs), reference)
            gc.collect()


if __name__ == "__main__":
    main()
