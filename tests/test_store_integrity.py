"""Nothing lost, nothing stuck: an article stays findable whatever else is stored, and an
ingest killed midway leaves no chunks behind."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from importlib import resources

import numpy as np
from langchain_core.documents import Document

from bot.library import Library
from bot.wiring import build
from ingest.loaders import LoadedSource
from tests.conftest import make_settings
from tests.processes import BIN, MARS, MARS_Q, articlebot, articlebot_env, killed_at
from vectorstore.client import make_client
from vectorstore.keyword_tokens import BM25_TOKENS, words_to_store
from vectorstore.leftovers import LEFTOVER_AGE_S
from vectorstore.schema import ArticleRecord
from vectorstore.store import ADD_BATCH

SORA_Q = "Sora最长能生成多长的视频?"
TEMPLATE = "第{n}号实验室位于科技园区的{n}号楼,主要负责研究{field}领域的基础问题,现有研究人员{people}名。"
FIELDS = ("材料科学", "人工智能", "量子计算", "生物医学", "能源储存", "机器人", "天体物理", "气候模拟")
ADVERSARIAL_CHUNKS = 5000  # chunks of the template article
NOISE = 0.02  # per coordinate (cosine ~0.93 to its sentence); the code before exact search lost 2–22 of 26


def sora() -> LoadedSource:
    text = resources.files("ingest").joinpath("corpus/sora-raw.txt").read_text(encoding="utf-8")
    return LoadedSource(text=text, title=None, source="sora-raw.txt", source_key="sora-raw.txt", kind="text")


def template_article(n: int) -> str:
    lines = [TEMPLATE.format(n=i, field=FIELDS[i % 8], people=10 + i % 37) for i in range(1, n + 1)]
    return "国家实验室名录\n\n" + "\n\n".join(lines)


def add_template_chunks(library: Library, embeddings, count: int) -> None:
    """A live article of `count` near-identical template chunks, written cheaply.

    Embedding thousands of chunks takes minutes, so the article is ingested with one chunk
    (which makes it live), then more chunks of its version are added to Chroma directly:
    the vectors of 48 real template sentences (one batch of the real model, a few seconds)
    with a little noise, as tight a cluster as a real template article makes.
    """
    labs = LoadedSource(text=template_article(1), title="国家实验室名录", source="labs", source_key="labs", kind="text")
    record = library.ingest_loaded(labs).record
    store = library.store
    sentences = [TEMPLATE.format(n=i * 37, field=FIELDS[i % 8], people=10 + i % 37) for i in range(48)]
    base = np.asarray(embeddings.embed_documents(sentences), dtype=np.float32)
    rng = np.random.default_rng(0)
    vectors = base[rng.integers(0, len(base), count)] + rng.normal(0, NOISE, (count, base.shape[1]))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    for start in range(0, count, 1000):
        part = range(start + 1, min(count, start + 1000) + 1)
        store.chunk_collection.add(
            ids=[f"{record.article_id}:{record.version}:{i}" for i in part],
            embeddings=vectors[start : start + len(part)],
            documents=[sentences[i % len(sentences)] for i in part],
            metadatas=[template_chunk(record, i, sentences[i % len(sentences)]) for i in part],
        )


def template_chunk(record: ArticleRecord, position: int, text: str) -> dict:
    """A template chunk's metadata, in the store's current schema (with its BM25 words)."""
    meta = {"article_id": record.article_id, "version": record.version, "title": record.title, "position": position}
    return {
        **meta,
        BM25_TOKENS: words_to_store(Document(page_content=text, metadata=meta)),
        "run": "",
        "written_at": 0.0,
    }


def test_a_big_article_of_near_identical_chunks_hides_no_other_article(fresh, embeddings):
    store = fresh.library.store
    record = fresh.library.ingest_loaded(sora()).record
    started = time.monotonic()
    add_template_chunks(fresh.library, embeddings, ADVERSARIAL_CHUNKS)
    print(f"adversarial article: {ADVERSARIAL_CHUNKS} chunks in {time.monotonic() - started:.1f} s")

    own = store.chunk_collection.get(where={"article_id": record.article_id}, include=["embeddings"])
    lost = [
        chunk_id
        for chunk_id, vector in zip(own["ids"], own["embeddings"])
        if chunk_id not in [doc.id for doc, _ in store.search(list(vector), 10)]
    ]

    assert len(own["ids"]) == record.chunk_count == 26
    assert lost == []
    answer = fresh.engine.answer(SORA_Q)
    assert not answer.refused and "60秒" in answer.text


KILLED_INGEST = """
import sys
from pathlib import Path
from bot.settings import Settings
from bot.wiring import build
from ingest.loaders import LoadedSource

bot = build(Settings(), generator=None)
bot.library.ingest(sys.argv[1])
print("mars", flush=True)

def progress(stage, done, total):
    if stage == "embedding" and done > 0:
        print("written", done, flush=True)

big = LoadedSource(text=Path(sys.argv[2]).read_text(), title="国家实验室名录", source="labs", source_key="labs", kind="text")
bot.library.ingest_loaded(big, progress=progress)
print("finished", flush=True)
"""


def test_an_ingest_killed_midway_leaves_no_chunks_behind(tmp_path, embeddings):
    data = tmp_path / "data"
    (tmp_path / "mars.md").write_text(MARS, encoding="utf-8")
    (tmp_path / "labs.txt").write_text(template_article(3000), encoding="utf-8")
    # Killed while it embeds the next batch.
    lines = killed_at(
        KILLED_INGEST,
        str(tmp_path / "mars.md"),
        str(tmp_path / "labs.txt"),
        env=articlebot_env(data),
        cwd=tmp_path,
        line="written",
    )
    assert lines[-1] == f"written {ADD_BATCH}", lines

    settings = make_settings(data, ARTICLEBOT_SEED_CORPUS=False)
    left_behind = make_client(settings.chroma_dir).get_collection(settings.collection).count()  # not swept yet
    bot = build(settings, embeddings=embeddings, generator=None)  # opening the store sweeps
    store = bot.library.store
    stored = store.chunk_collection.get(include=["metadatas"])

    assert left_behind >= ADD_BATCH + sum(r.chunk_count for r in store.articles())  # the killed ingest's
    assert len(stored["ids"]) == sum(r.chunk_count for r in store.articles())
    assert {m["version"] for m in stored["metadatas"]} == set(store.live_versions())
    assert [r.title for r in store.articles()] == ["火星基地建设计划"]
    assert "十二名宇航员" in bot.engine.answer(MARS_Q).text


def test_on_a_server_another_process_s_ingest_in_progress_is_not_swept(tmp_path, chroma_server, embeddings):
    settings = make_settings(
        tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server.port, ARTICLEBOT_SEED_CORPUS=False
    )
    bot = build(settings, embeddings=embeddings, generator=None)
    bot.library.ingest_loaded(LoadedSource(text=MARS, title=None, source="mars", source_key="mars", kind="text"))
    store = bot.library.store
    vector = embeddings.embed_documents(["第1号实验室位于科技园区的1号楼。"])[0]

    def orphan(version: str, written_at: float) -> None:  # as another process's ingest writes them
        store.chunk_collection.add(
            ids=[f"labs:{version}:0"],
            embeddings=[vector],
            documents=["第1号实验室位于科技园区的1号楼。"],
            metadatas=[{"article_id": "labs", "version": version, "run": version, "written_at": written_at}],
        )

    orphan("inprogress", time.time() - 5)  # wrote its last batch seconds ago
    orphan("killed", time.time() - LEFTOVER_AGE_S - 60)  # wrote nothing for over LEFTOVER_AGE_S
    reopened = build(settings, embeddings=embeddings, generator=None).library.store

    versions = {m["version"] for m in reopened.chunk_collection.get(include=["metadatas"])["metadatas"]}
    assert versions == {*store.live_versions(), "inprogress"}


def test_sigterm_stops_a_cli_ingest_within_seconds_and_removes_what_it_wrote(tmp_path, embeddings):
    env = articlebot_env(tmp_path / "data")
    (tmp_path / "mars.md").write_text(MARS, encoding="utf-8")
    (tmp_path / "labs.txt").write_text(template_article(3000), encoding="utf-8")
    added = articlebot("ingest", "mars.md", env=env, cwd=tmp_path)
    mars_chunks = int(re.search(r"\((\d+) chunks?, added", added.stdout)[1])  # type: ignore[index]
    log = tmp_path / "ingest.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [str(BIN / "articlebot"), "ingest", "labs.txt"], env=env, cwd=tmp_path, stdout=stderr, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 180
        while not re.search(r"\b[1-9]\d*/\d+ \[", log.read_text()):  # a batch is stored
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        process.wait(timeout=60)
        took = time.monotonic() - sent
        print(f"stopped {took:.1f} s after SIGTERM")
    finally:
        process.kill()
        process.wait()

    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    stored = make_client(settings.chroma_dir).get_collection(settings.collection).count()  # no sweep ran
    assert process.returncode == 128 + signal.SIGTERM, log.read_text()
    assert took < 60, f"stopped {took:.1f} s after SIGTERM"  # a hang guard: before, it waited for the whole ingest
    assert stored == mars_chunks  # none of the stopped ingest's chunks, before any sweep
    bot = build(settings, embeddings=embeddings, generator=None)
    assert [r.title for r in bot.library.articles()] == ["火星基地建设计划"]
    assert "十二名宇航员" in bot.engine.answer(MARS_Q).text
