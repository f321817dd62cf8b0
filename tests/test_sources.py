"""Each article keeps the source it was read from, byte for byte, with its version: through
a replace, a crash midway, a remove, an export and an import into a fresh data dir, on an
embedded store and on a real `chroma run` server.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import ingest
from bot.archive import read_archive
from bot.wiring import Articlebot, build
from ingest.loaders import LoadedSource
from tests.conftest import make_settings
from tests.pages import ChangingSite, html_page
from tests.processes import MARS, MARS_Q, MARS_V2
from vectorstore.sources import SOURCE_PART_CHARS

GBK_TEXT = "# 火星基地\n\n火星基地第一期可以容纳十二名宇航员,主要能源是太阳能和小型核反应堆。\n"


def stored_sources(bot: Articlebot) -> list[tuple[str, str]]:
    """(article id, version) of every stored source part, live or not, read with chromadb."""
    got = bot.library.store.source_collection.get(include=["metadatas"])
    return sorted((str(m["article_id"]), str(m["version"])) for m in got["metadatas"] or [])


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    page = ChangingSite(html_page("海底隧道工程", ["海底隧道连接东岛和西岛,全长十二公里。"])).start()
    yield page
    page.stop()


def test_a_replaced_article_keeps_only_its_new_source_and_a_removed_one_none(fresh, tmp_path):
    path = tmp_path / "mars.md"
    path.write_text(MARS, encoding="utf-8")
    first = fresh.library.ingest(str(path)).record
    assert fresh.library.store.source(first).data == MARS.encode()

    path.write_text(MARS_V2, encoding="utf-8")
    second = fresh.library.ingest(str(path)).record
    kept = fresh.library.store.source(second)

    assert kept is not None and kept.data == MARS_V2.encode()
    assert (kept.name, kept.kind) == ("mars.md", "markdown")
    assert fresh.library.store.source(first) is None
    assert stored_sources(fresh) == [(second.article_id, second.version)]
    fresh.library.remove(second.article_id)
    assert stored_sources(fresh) == []


def test_a_crash_midway_keeps_the_previous_source_and_removes_the_half_written_one(fresh, tmp_path):
    path = tmp_path / "mars.md"
    path.write_text(MARS, encoding="utf-8")
    first = fresh.library.ingest(str(path)).record
    path.write_text(MARS_V2, encoding="utf-8")

    def crash(stage, done, total):
        if stage == "embedding" and done == total:  # all of the new version written, not yet live
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fresh.library.ingest(str(path), progress=crash)

    assert fresh.library.articles() == [first]
    assert fresh.library.store.source(first).data == MARS.encode()
    assert stored_sources(fresh) == [(first.article_id, first.version)]


def test_a_gbk_file_and_a_fetched_page_are_kept_as_they_were_read(tmp_path, embeddings, site):
    bot = build(
        make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False, ALLOW_PRIVATE_URLS=True),
        embeddings=embeddings,
        generator=None,
    )
    gbk = tmp_path / "mars-gbk.txt"
    gbk.write_bytes(GBK_TEXT.encode("gbk"))

    from_file = bot.library.ingest(str(gbk)).record
    from_page = bot.library.ingest(site.url).record

    assert bot.library.store.source(from_file).data == GBK_TEXT.encode("gbk")
    page = bot.library.store.source(from_page)
    assert page is not None and page.data == site.html.encode()
    assert (page.name, page.kind, page.charset) == (site.url, "html", "utf-8")
    assert "十二名宇航员" in bot.engine.answer(MARS_Q).text


def test_sources_go_into_the_archive_byte_for_byte_and_survive_a_move(tmp_path, embeddings, site):
    settings = make_settings(tmp_path / "origin", ALLOW_PRIVATE_URLS=True)  # with the default article
    origin = build(settings, embeddings=embeddings, generator=None)
    gbk = tmp_path / "mars-gbk.txt"
    gbk.write_bytes(GBK_TEXT.encode("gbk"))
    origin.library.ingest(str(gbk))
    origin.library.ingest(site.url)
    sora = (Path(ingest.__file__).parent / "corpus" / "sora-raw.txt").read_bytes()  # the default article

    archive = tmp_path / "library.zip"
    exported = origin.library.export_archive(archive)
    moved = build(make_settings(tmp_path / "moved"), embeddings=embeddings, generator=None)
    moved.library.import_archive(archive)
    again = tmp_path / "again.zip"
    moved.library.export_archive(again)

    assert exported.sources == exported.articles == 3
    assert "no source" not in exported.describe()
    with zipfile.ZipFile(archive) as zipped:
        names = [n for n in zipped.namelist() if "/source." in n]
        members = sorted(zipped.read(n) for n in names)
    assert sorted(n.rsplit(".", 1)[1] for n in names) == ["html", "txt", "txt"]
    assert members == sorted([sora, GBK_TEXT.encode("gbk"), site.html.encode()])
    sources = lambda path: sorted((a.source.name, a.source.data) for a in read_archive(path).articles)  # noqa: E731
    assert sources(again) == sources(archive)


def test_a_source_of_several_parts_on_a_chroma_server(tmp_path, embeddings, chroma_server):
    settings = make_settings(
        tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server.port, ARTICLEBOT_SEED_CORPUS=False
    )
    bot = build(settings, embeddings=embeddings, generator=None)
    original = os.urandom(2 * SOURCE_PART_CHARS)  # does not compress: 3 parts of base64

    def loaded(data: bytes) -> LoadedSource:
        return LoadedSource(MARS, None, "mars.pdf", "mars.pdf", "pdf", original=data)

    first = bot.library.ingest_loaded(loaded(original)).record
    assert bot.library.store.source(first).data == original
    assert len(stored_sources(bot)) == 3

    # The same text read from other bytes: a new version, whose source is those bytes.
    smaller = os.urandom(1000)
    second = bot.library.ingest_loaded(
        LoadedSource(MARS, None, "/elsewhere/mars.pdf", "mars.pdf", "pdf", original=smaller), replace=first.article_id
    ).record
    assert second.version != first.version
    assert bot.library.store.source(second).data == smaller
    assert stored_sources(bot) == [(second.article_id, second.version)]
