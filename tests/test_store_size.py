"""The store's size stays bounded however often an article is replaced (a web page that
changes, refreshed every REFRESH_INTERVAL), and compaction never costs the live article."""

from pathlib import Path

from bot.wiring import Articlebot, build
from tests.conftest import make_settings

QUESTION = "第7号观测站有多少名研究员?"


def stations(revision: int) -> str:
    """A 5-chunk article whose every paragraph names its revision, so every replace re-embeds."""
    paragraphs = [
        f"第{i}号观测站建于{1950 + i}年,站内有{3 + i}名研究员,每天记录气温数据。第{revision}版。" for i in range(20)
    ]
    return "观测网\n\n" + "\n\n".join(paragraphs)


def size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def replace(bot: Articlebot, path: Path, revision: int) -> None:
    path.write_text(stations(revision), encoding="utf-8")
    bot.library.ingest(str(path))


def test_thirty_replaces_keep_the_store_near_its_size_after_one_and_answers_right(fresh, tmp_path):
    path, chroma = tmp_path / "stations.txt", fresh.settings.chroma_dir
    replace(fresh, path, 0)
    replace(fresh, path, 1)
    after_one = size(chroma)

    for revision in range(2, 31):
        replace(fresh, path, revision)

    assert size(chroma) < 2 * after_one
    answer = fresh.engine.answer(QUESTION)
    assert "站内有10名研究员" in answer.text
    assert {c.version for c in answer.citations} == {fresh.library.articles()[0].version}


def test_a_compaction_stopped_midway_leaves_the_live_article_and_is_cleared_at_the_next_open(tmp_path, embeddings):
    """An interrupted compaction leaves collections of a generation never switched to,
    partly copied: the store answers from the live one, and drops them when it next opens."""
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    bot = build(settings, embeddings=embeddings, generator=None)
    path = tmp_path / "stations.txt"
    replace(bot, path, 1)
    store = bot.library.store
    partial = {
        f"articles.0123456789ab{suffix}": store.client.get_or_create_collection(f"articles.0123456789ab{suffix}")
        for suffix in ("", "__sentences")
    }
    first = store.chunk_collection.get(limit=2, include=["embeddings", "documents", "metadatas"])
    for collection in partial.values():
        collection.add(ids=first["ids"], embeddings=first["embeddings"], documents=first["documents"])
    indexes_before = {p.name for p in settings.chroma_dir.iterdir() if p.is_dir()}
    del bot, store

    reopened = build(settings, embeddings=embeddings, generator=None)

    names = {c.name for c in reopened.library.store.client.list_collections()}
    assert names.isdisjoint(partial)
    assert len({p.name for p in settings.chroma_dir.iterdir() if p.is_dir()}) < len(indexes_before)
    assert "站内有10名研究员" in reopened.engine.answer(QUESTION).text
