"""BM25's words are computed at ingest and stored with each chunk: a restarted bot ranks
exactly as if it had tokenized every chunk itself, and a store from before (chunks without
stored words) gets them when it is opened (migration 3) and ranks the same.
"""

from __future__ import annotations

from bot.wiring import Articlebot, build
from tests.conftest import make_settings, set_schema
from tests.processes import MARS, MOON
from vectorstore.keyword_tokens import BM25_TOKENS

# Rare exact terms, which BM25 (not only the dense side) brings.
QUESTIONS = ["火星基地第一期可以容纳多少名宇航员?", "月球射电望远镜建在哪里?", "Who funds the base?"]


def rankings(bot: Articlebot) -> list[list[tuple[str, float, int | None]]]:
    """Each question's hits: chunk id, fused score, BM25 rank."""
    out = []
    for question in QUESTIONS:
        vector, hits = bot.engine.retrieve(question)
        out.append([(h.chunk_id, round(h.fused, 9), h.bm25_rank) for h in hits])
    return out


def stored_words(bot: Articlebot) -> list[object]:
    got = bot.library.store.chunk_collection.get(include=["metadatas"])
    return [m.get(BM25_TOKENS) for m in got["metadatas"] or []]


def test_stored_words_rank_as_tokenizing_every_chunk_did(tmp_path, embeddings):
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    first = build(settings, embeddings=embeddings, generator=None)
    for name, text in (("mars.md", MARS), ("moon.md", MOON)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        first.library.ingest(str(tmp_path / name))
    assert all(isinstance(words, str) and words for words in stored_words(first))
    with_words = rankings(build(settings, embeddings=embeddings, generator=None))  # as a restarted bot

    # A store from before: the same chunks, without their words.
    ids = first.library.store.chunk_collection.get()["ids"]
    first.library.store.chunk_collection.update(ids=ids, metadatas=[{BM25_TOKENS: None}] * len(ids))
    set_schema(first.library.store, 2)  # before migration 3 stored BM25 words
    assert set(stored_words(first)) == {None}
    old = build(settings, embeddings=embeddings, generator=None)  # opening it migrates
    assert old.library.store.migrated == [3, 4, 5]
    assert all(isinstance(words, str) and words for words in stored_words(old))
    without_words = rankings(old)
    old.library.reindex()

    assert with_words == without_words
    assert any(rank is not None for hits in with_words for _, _, rank in hits)  # BM25 took part
    assert all(isinstance(words, str) and words for words in stored_words(old))
    assert rankings(build(settings, embeddings=embeddings, generator=None)) == with_words
