"""Back up, restore, move: `articlebot export` and `import`, with real Chroma and the real model.

A library exported and imported into a fresh data dir answers the same questions with the
same answers and citations; an import into a store that has articles skips the unchanged
ones and replaces the changed ones; a file that is not a whole articlebot archive is one
error and changes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.archive import read_archive
from bot.cli.commands import main
from bot.cli.wording import answer_json
from bot.errors import ArchiveError
from bot.wiring import Articlebot, build
from tests.conftest import make_settings
from tests.processes import MARS, MARS_Q, MARS_V2, MOON, MOON_Q
from vectorstore.schema import ArticleRecord

QUESTIONS = [
    "Sora最长能生成多长的视频?",
    MARS_Q,
    "火星基地的主要能源是什么?",
    MOON_Q,
    "Who is the CEO of Runway?",  # refused
]


def answers(bot: Articlebot) -> list[dict]:
    """What `ask --json` prints for each question, but the time it took."""
    return [{k: v for k, v in answer_json(bot.engine.answer(q)).items() if k != "latency_ms"} for q in QUESTIONS]


def library_state(bot: Articlebot) -> tuple:
    """The articles, every chunk (live or not) and the answers: what an import may change."""
    stored = bot.library.store.chunk_collection.get(include=["documents"])
    return bot.library.articles(), sorted(zip(stored["ids"], stored["documents"])), answers(bot)


def unversioned(records: list[ArticleRecord]) -> list[ArticleRecord]:
    """The records but their versions: every store gives what it stores a version of its own."""
    return [dataclasses.replace(r, version="") for r in records]


def cli(data_dir: Path, *args: str):
    """`articlebot ARGS` on `data_dir`, in-process."""
    env = {"ARTICLEBOT_DATA_DIR": str(data_dir)}
    return CliRunner().invoke(main, list(args), env=env)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def origin(tmp_path, embeddings) -> Articlebot:
    """A library as it is used: the default article (seeded), two ingested files."""
    bot = build(make_settings(tmp_path / "origin"), embeddings=embeddings, generator=None)
    bot.library.ingest(str(write(tmp_path / "mars.md", MARS)))
    bot.library.ingest(str(write(tmp_path / "moon.md", MOON)))
    return bot


def test_a_library_exported_and_imported_into_a_fresh_data_dir_gives_the_same_answers(origin, tmp_path, embeddings):
    expected = answers(origin)
    archive = tmp_path / "library.zip"
    exported = origin.library.export_archive(archive)

    imported = cli(tmp_path / "moved", "import", str(archive))
    moved = build(make_settings(tmp_path / "moved"), embeddings=embeddings, generator=None)

    assert imported.exit_code == 0, imported.output
    lines = imported.stdout.splitlines()
    assert [line.rsplit("(", 1)[1] for line in lines[:3]] == [
        "26 chunks, added)",
        "2 chunks, added)",
        "2 chunks, added)",
    ]
    assert lines[3] == (
        f"Imported 3 articles from {archive}: 3 added, 0 replaced, 0 unchanged; vectors as archived (same model)."
    )
    assert exported.articles == 3 and exported.chunks == 30
    assert unversioned(moved.library.articles()) == unversioned(origin.library.articles())  # ids, titles, sources…
    assert answers(moved) == expected
    assert [a["refused"] for a in expected] == [False, False, False, False, True]
    assert "十二名宇航员" in expected[1]["answer"] and expected[1]["citations"][0]["section"] == "一、选址"


def test_a_removed_default_article_stays_removed_after_moving(origin, tmp_path, embeddings):
    sora = next(r for r in origin.library.articles() if r.source == "sora-raw.txt")
    origin.library.remove(sora.article_id)
    archive = tmp_path / "library.zip"
    origin.library.export_archive(archive)

    imported = cli(tmp_path / "moved", "import", str(archive))
    listed = cli(tmp_path / "moved", "list")  # a later command must not seed it either

    assert imported.exit_code == 0, imported.output
    assert listed.exit_code == 0, listed.output
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [r.article_id for r in origin.library.articles()]
    assert "Sora" not in listed.stdout


def test_import_into_a_store_with_articles_skips_unchanged_replaces_changed_keeps_the_rest(tmp_path, embeddings, fresh):
    origin = build(make_settings(tmp_path / "origin", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings)
    mars_file = write(tmp_path / "mars.md", MARS)
    origin.library.ingest(str(mars_file))
    origin.library.ingest(str(write(tmp_path / "moon.md", MOON)))
    first = tmp_path / "first.zip"
    origin.library.export_archive(first)
    origin.library.ingest(str(write(mars_file, MARS_V2)))  # the Mars article changes at the origin
    second = tmp_path / "second.zip"
    origin.library.export_archive(second)
    own = fresh.library.ingest(str(write(tmp_path / "farm.md", "深海养殖场\n\n深海养殖场共有二十四个网箱。\n")))

    fresh.library.import_archive(first)
    twelve = fresh.engine.answer(MARS_Q)
    again = fresh.library.import_archive(second)
    forty = fresh.engine.answer(MARS_Q)

    by_title = {r.record.title: r for r in again.results}
    mars, moon = by_title["火星基地建设计划"], by_title["月球射电望远镜计划"]
    assert (mars.status, moon.status) == ("replaced", "unchanged")
    assert again.describe() == (
        f"Imported 2 articles from {second}: 0 added, 1 replaced, 1 unchanged; vectors as archived (same model)."
    )
    assert "十二名宇航员" in twelve.text
    assert "四十名宇航员" in forty.text and "十二名" not in forty.text
    stored = {r.article_id: r for r in fresh.library.articles()}
    assert set(stored) == {own.record.article_id, *(r.article_id for r in origin.library.articles())}
    assert unversioned([stored[mars.record.article_id]]) == unversioned(
        [origin.library.article(mars.record.article_id)]
    )
    assert mars.record == stored[mars.record.article_id]
    assert fresh.library.store.chunk_count() == sum(r.chunk_count for r in stored.values())  # no duplicates
    assert "二十四个网箱" in fresh.engine.answer("深海养殖场有多少个网箱?").text  # not in the archive: kept


def test_an_archive_made_with_another_model_is_embedded_again(origin, tmp_path, embeddings, fresh):
    archive = tmp_path / "library.zip"
    origin.library.export_archive(archive)
    other = tmp_path / "other-model.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(other, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["embedding_model"], manifest["embedding_fingerprint"] = "another-model", "0" * 64
                data = json.dumps(manifest).encode()
            target.writestr(item, data)

    summary = fresh.library.import_archive(other)

    assert summary.describe().endswith(f"3 added, 0 replaced, 0 unchanged; embedded with {embeddings.name}.")
    assert not summary.reused_vectors
    assert answers(fresh) == answers(origin)


def test_an_import_that_dies_midway_leaves_the_previous_versions_answerable(tmp_path, embeddings, fresh):
    mars_file = write(tmp_path / "mars.md", MARS)
    fresh.library.ingest(str(mars_file))
    before = fresh.library.articles()
    origin = build(make_settings(tmp_path / "origin", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings)
    origin.library.ingest(str(write(mars_file, MARS_V2)))
    origin.library.ingest(str(write(tmp_path / "moon.md", MOON)))
    archive = tmp_path / "library.zip"
    origin.library.export_archive(archive)

    def crash(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and done == total:
            raise KeyboardInterrupt  # the process dies after writing chunks, before the switch

    with pytest.raises(KeyboardInterrupt):
        fresh.library.import_archive(archive, progress=crash)

    assert fresh.library.articles() == before
    assert "十二名宇航员" in fresh.engine.answer(MARS_Q).text
    assert fresh.engine.answer(MOON_Q).refused
    fresh.library.import_archive(archive)  # run again: it completes, leftovers swept
    assert "四十名宇航员" in fresh.engine.answer(MARS_Q).text
    assert fresh.library.store.chunk_count() == sum(r.chunk_count for r in fresh.library.articles())


# -- files that are not whole archives ---------------------------------------------------------


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory, embeddings) -> bytes:
    """An archive of two articles (Mars, changed, and Moon), to damage."""
    folder = tmp_path_factory.mktemp("good-archive")
    origin = build(make_settings(folder / "origin", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings)
    origin.library.ingest(str(write(folder / "mars.md", MARS_V2)))
    origin.library.ingest(str(write(folder / "moon.md", MOON)))
    origin.library.export_archive(folder / "library.zip")
    return (folder / "library.zip").read_bytes()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def cut_at_the_end(data: bytes) -> bytes:
    return data[:-10]


def random_bytes(_data: bytes) -> bytes:
    return os.urandom(5000)


def foreign_zip(_data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as other:
        other.writestr("word/document.xml", "<w:document/>")
        other.writestr("manifest.json", json.dumps({"format": "something-else", "version": 1}))
    return out.getvalue()


def rewritten(data: bytes, name: str, change) -> bytes:
    """The archive `data` with the file `name` passed through `change`, in a well-formed zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            target.writestr(item, change(content) if item.filename == name else content)
    return out.getvalue()


def edited_chunk(data: bytes) -> bytes:
    """A chunk's text changed inside a well-formed zip (its CRC right, its checksum wrong)."""
    return rewritten(data, "articles/0001/chunks.jsonl", lambda c: c.replace(b'"text": "', '"text": "据说'.encode(), 1))


def edited_source(data: bytes) -> bytes:
    """The source as ingested changed (its checksum in the manifest left as it was)."""
    return rewritten(data, "articles/0002/source.md", lambda c: c.replace("月球".encode(), "火星".encode(), 1))


def source_of_another_article(data: bytes) -> bytes:
    """Article 1's manifest entry pointing at article 2's source, with that source's checksum."""

    def swap(content: bytes) -> bytes:
        manifest = json.loads(content)
        first, second = manifest["articles"]
        first |= {key: value for key, value in second.items() if key.startswith("source")}
        return json.dumps(manifest).encode()

    return rewritten(data, "manifest.json", swap)


def newer_format(data: bytes) -> bytes:
    return rewritten(data, "manifest.json", lambda c: json.dumps({**json.loads(c), "version": 3}).encode())


@pytest.mark.parametrize(
    "damage, message",
    [
        (truncated, "it is not an articlebot archive (not a zip file), or it is cut short or damaged."),
        (cut_at_the_end, "it is not an articlebot archive (not a zip file), or it is cut short or damaged."),
        (random_bytes, "it is not an articlebot archive (not a zip file), or it is cut short or damaged."),
        (foreign_zip, "it is a zip file, but not an articlebot archive."),
        (edited_chunk, "the archive is damaged (articles/0001/chunks.jsonl does not match its checksum)."),
        (edited_source, "the archive is damaged (articles/0002/source.md does not match its checksum)."),
        (source_of_another_article, "the archive is damaged (the source of mars-"),
        (
            newer_format,
            "it is an archive of format version 3, made by a newer articlebot; this one reads version 2. "
            "Upgrade articlebot to import it.",
        ),
    ],
)
def test_a_file_that_is_not_a_whole_archive_is_one_error_and_changes_nothing(
    tmp_path, embeddings, good_archive, damage, message
):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(damage(good_archive))
    settings = make_settings(tmp_path / "target", ARTICLEBOT_SEED_CORPUS=False)
    target = build(settings, embeddings=embeddings, generator=None)
    target.library.ingest(str(write(tmp_path / "mars.md", MARS)))
    before = library_state(target)

    result = cli(tmp_path / "target", "import", str(bad))

    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: Cannot import {bad}: {message}"), result.output
    assert "Traceback" not in result.output
    with pytest.raises(ArchiveError):
        read_archive(bad)
    after = build(settings, embeddings=embeddings, generator=None)
    assert library_state(after) == before


def test_an_archive_of_format_1_without_sources_still_imports_and_its_export_says_what_is_missing(
    tmp_path, embeddings, good_archive
):
    def first_format(content: bytes) -> bytes:
        manifest = json.loads(content) | {"version": 1}
        for entry in manifest["articles"]:
            for key in [k for k in entry if k.startswith("source")]:
                del entry[key]
            del entry["record"]["source_sha256"]
        return json.dumps(manifest).encode()

    old = tmp_path / "old.zip"
    old.write_bytes(rewritten(good_archive, "manifest.json", first_format))

    imported = cli(tmp_path / "moved", "import", str(old))
    exported = cli(tmp_path / "moved", "export", str(tmp_path / "again.zip"))

    assert imported.exit_code == 0, imported.output
    assert "2 added" in imported.stdout
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.strip().endswith(
        "2 of them have no source in it: ingested before articlebot kept sources (ingest them again to keep theirs)."
    )
    assert [a.source for a in read_archive(tmp_path / "again.zip").articles] == [None, None]


@pytest.mark.model  # runs articlebot, which loads the model
def test_a_missing_file_and_an_unwritable_export_are_one_line_each(tmp_path):
    missing = cli(tmp_path / "data", "import", str(tmp_path / "nowhere.zip"))
    unwritable = cli(tmp_path / "data", "export", str(tmp_path / "no-such-dir" / "library.zip"))

    assert missing.exit_code == 1 and missing.stderr.strip().splitlines()[-1] == (
        f"Error: No such file: {tmp_path / 'nowhere.zip'}"
    )
    assert unwritable.exit_code == 1 and unwritable.stderr.strip().splitlines()[-1] == (
        f"Error: Cannot write {tmp_path / 'no-such-dir' / 'library.zip'}: No such file or directory."
    )
    assert not (tmp_path / "no-such-dir").exists()
