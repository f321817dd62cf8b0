"""Sentence vectors are computed at ingest and stored with their article: answering embeds
only the question, even on an engine started after the ingest (no warm-up)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.wiring import Articlebot, build
from ingest.chunking import embedded_sentences
from ingest.loaders import LoadedSource
from ingest.pipeline import ingest_sources
from tests.conftest import make_settings, schema
from tests.processes import MARS, MARS_V2
from vectorstore.client import make_client
from vectorstore.migrations import SCHEMA_VERSION
from vectorstore.store import ADD_BATCH, ArticleStore, sentence_id

QUESTION = "火星基地第一期可以容纳多少名宇航员?"
NEVER_ASKED = "火星基地的能源来自哪里?"


class CountingEmbeddings:
    """The real model, recording every text it is asked to embed (it wraps the model;
    nothing of ours is replaced)."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls: list[tuple[list[str], bool]] = []

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        self.calls.append((list(texts), query))
        return self.real.encode(texts, query=query)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], query=True)[0].tolist()

    def passages_embedded(self) -> list[str]:
        return [t for texts, query in self.calls if not query for t in texts]


def mars(text: str = MARS) -> LoadedSource:
    return LoadedSource(text=text, title=None, source="mars.md", source_key="mars.md", kind="text")


def stored_sentences(store: ArticleStore) -> dict[str, str]:
    """Every stored sentence vector's id → the text it embeds."""
    got = store.sentence_collection.get(include=["documents"])
    return dict(zip(got["ids"], got["documents"] or []))


def expected_sentences(store: ArticleStore) -> dict[str, str]:
    """What answering asks for: the `embedded_sentences` of every live chunk."""
    return {
        sentence_id(str(c.metadata["article_id"]), str(c.metadata["version"]), text): text
        for c in store.live_chunks()
        for text in embedded_sentences(c)
    }


def reopened(bot: Articlebot, embeddings) -> Articlebot:
    """A newly started engine and library on the same store (nothing cached)."""
    return build(bot.settings, embeddings=embeddings, generator=None)


def test_ingest_stores_every_sentence_vector_answering_needs_and_remove_deletes_them(fresh):
    record = fresh.library.ingest_loaded(mars()).record
    store = fresh.library.store
    stored = stored_sentences(store)
    assert stored and stored == expected_sentences(store)
    assert record.sentence_vectors and all(r.sentence_vectors for r in store.articles())

    fresh.library.remove(record.article_id)
    assert stored_sentences(store) == {}


def test_an_article_of_more_sentences_than_a_batch_stores_them_all(fresh):
    paragraphs = [f"第{n}号实验室位于科技园区第{n}号楼,研究第{n}种材料。它有{n + 3}名研究员。" for n in range(1, 90)]
    loaded = LoadedSource(
        text="国家实验室名录\n\n" + "\n\n".join(paragraphs), title=None, source="labs", source_key="labs", kind="text"
    )
    seen: list[tuple[int, int]] = []
    fresh.library.ingest_loaded(
        loaded, progress=lambda stage, done, total: stage == "embedding" and seen.append((done, total))
    )
    store = fresh.library.store
    stored = stored_sentences(store)
    assert len(stored) > ADD_BATCH
    assert stored == expected_sentences(store)
    assert seen[-1][0] == seen[-1][1] == store.chunk_count() + len(stored)  # chunks, then sentences


def test_a_fresh_engine_answers_a_never_asked_question_embedding_only_the_question(fresh, embeddings):
    fresh.library.ingest_loaded(mars())
    counting = CountingEmbeddings(embeddings)
    engine = reopened(fresh, counting).engine

    answer = engine.answer(QUESTION)
    other = engine.answer(NEVER_ASKED)

    assert "十二名宇航员" in answer.text
    assert not other.refused
    assert counting.calls == [([QUESTION], True), ([NEVER_ASKED], True)]


def test_a_replacement_switches_sentence_vectors_with_its_chunks(fresh, embeddings):
    first = fresh.library.ingest_loaded(mars()).record
    second = fresh.library.ingest_loaded(mars(MARS_V2)).record
    store = fresh.library.store
    stored = stored_sentences(store)
    assert stored == expected_sentences(store)
    assert {i.rsplit(":", 2)[-2] for i in stored} == {second.version} != {first.version}

    counting = CountingEmbeddings(embeddings)
    answer = reopened(fresh, counting).engine.answer(QUESTION)
    assert "四十名宇航员" in answer.text
    assert counting.passages_embedded() == []


def test_an_interrupted_replacement_leaves_the_old_sentence_vectors_answering_and_removes_its_own(fresh, embeddings):
    fresh.library.ingest_loaded(mars())
    store = fresh.library.store
    before = stored_sentences(store)

    def crash(stage, done, total):
        if stage == "embedding" and done == total:  # chunks and sentences written, not yet live
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fresh.library.ingest_loaded(mars(MARS_V2), progress=crash)
    assert stored_sentences(store) == before  # removed at once by the interrupted run itself

    counting = CountingEmbeddings(embeddings)
    again = reopened(fresh, counting)
    assert stored_sentences(again.library.store) == before
    assert "十二名宇航员" in again.engine.answer(QUESTION).text
    assert counting.passages_embedded() == []


def test_an_article_stored_without_sentence_vectors_gets_them_when_the_store_is_opened(tmp_path, embeddings):
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    # As a store written before sentence vectors were: chunks and registry only.
    older = ArticleStore(make_client(settings.chroma_dir), embeddings, settings.collection)
    ingest_sources(older, [(mars(), None)])
    assert stored_sentences(older) == {} and not older.articles()[0].sentence_vectors
    assert schema(older) == SCHEMA_VERSION - 1  # (a store without a sentence splitter stops before migration 5)

    counting = CountingEmbeddings(embeddings)
    bot = build(settings, embeddings=counting, generator=None)  # opening it migrates
    store = bot.library.store
    assert store.migrated == [SCHEMA_VERSION] and schema(store) == SCHEMA_VERSION
    assert stored_sentences(store) == expected_sentences(store)
    assert all(r.sentence_vectors for r in store.articles())
    counting.calls.clear()
    assert "十二名宇航员" in bot.engine.answer(QUESTION).text
    assert counting.passages_embedded() == []  # its sentences' vectors were stored at the migration

    assert bot.library.reindex() == bot.library.articles()[0].chunk_count
    assert stored_sentences(store) == expected_sentences(store)
    counting.calls.clear()
    again = reopened(bot, counting)
    assert again.library.store.migrated == []
    assert "十二名宇航员" in again.engine.answer(QUESTION).text
    assert counting.passages_embedded() == []


def test_reindex_replaces_sentence_vectors_no_chunk_asks_for(fresh):
    fresh.library.ingest_loaded(mars())
    store = fresh.library.store
    record = store.articles()[0]
    stale = sentence_id(record.article_id, record.version, "一、选址: 一句早已不在文章里的话。")
    store.sentence_collection.add(ids=[stale], embeddings=[[0.0] * store.embeddings.dimension], documents=["x"])

    fresh.library.reindex()
    assert stored_sentences(store) == expected_sentences(store)
