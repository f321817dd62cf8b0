"""Nothing lost when runs collide: a stopped or killed ingest, two ingests of one article at
once on a Chroma server, and forged archives never take the live article with them.

Each test ends with the store checked whole (`assert_whole`): every registered article has
all of its chunks, sentence vectors and source stored, and nothing else is stored."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from bot.archive import read_archive
from bot.errors import ArchiveError
from bot.wiring import build
from tests.conftest import make_settings
from tests.processes import BIN, MARS, MARS_Q, MARS_V2, MOON, MOON_Q, articlebot, articlebot_env
from tests.test_backup import rewritten
from vectorstore.errors import ArticleChangedError
from vectorstore.store import ADD_BATCH, ArticleStore

LAB = "第{n}号实验室位于科技园区的{n}号楼,主要负责研究第{n}类材料的基础问题,现有研究人员{people}名。"


def long_mars(labs: int, text: str = MARS) -> str:
    """The Mars article with `labs` more paragraphs: several batches of chunks to embed."""
    return text + "\n三、实验室\n\n" + "\n\n".join(LAB.format(n=n, people=10 + n % 37) for n in range(1, labs + 1))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_whole(store: ArticleStore) -> None:
    """Every registered article answerable in full, and no record of anything else."""
    records = store.articles()
    live = {r.version for r in records}
    assert set(store.live_state_now().versions) == live
    for record in records:
        chunks, vectors = store.article_chunks(record)
        assert len(chunks) == record.chunk_count == len(vectors), record
        if record.source_sha256:
            assert store.source(record) is not None, record
    for name, collection in store.generation.collections().items():
        versions = {m["version"] for m in collection.get(include=["metadatas"])["metadatas"]}
        assert versions <= live, f"{name}: records of versions {versions - live} that no article has"
    assert store.chunk_count() == sum(r.chunk_count for r in records)


def ingested_id(output: str) -> str:
    """The article id in `articlebot ingest`'s summary line."""
    return re.search(r"^(\S+)  .*added\)", output, re.M)[1]  # type: ignore[index]


def ingest_process(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, Path]:
    log = cwd / f"ingest-{len(list(cwd.glob('ingest-*.log')))}.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(BIN / "articlebot"), "ingest", *args], env=env, cwd=cwd, stdout=out, stderr=out)
    return process, log


def wait_for_a_stored_batch(process: subprocess.Popen, log: Path) -> None:
    """Until the ingest's progress bar shows a batch stored (and the process still runs)."""
    while not re.search(r"\b[1-9]\d*/\d+ \[", log.read_text()):
        assert process.poll() is None, log.read_text()
        try:
            process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass


def test_a_stopped_replace_with_the_same_text_keeps_the_live_article(tmp_path, embeddings):
    env = articlebot_env(tmp_path / "data")
    first = write(tmp_path / "a" / "mars.md", long_mars(150))
    moved = tmp_path / "b" / "mars.md"
    moved.parent.mkdir()
    shutil.copyfile(first, moved)  # the same bytes at another path: the same text, another source
    article_id = ingested_id(articlebot("ingest", str(first), env=env, cwd=tmp_path).stdout)

    process, log = ingest_process(["--replace", article_id, str(moved)], env, tmp_path)
    try:
        wait_for_a_stored_batch(process, log)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()

    assert process.returncode == 128 + signal.SIGTERM, log.read_text()
    bot = build(make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None)
    assert [(r.article_id, r.source) for r in bot.library.articles()] == [(article_id, str(first))]
    assert_whole(bot.library.store)
    assert "十二名宇航员" in bot.engine.answer(MARS_Q).text
    assert bot.library.ingest(str(moved), replace=article_id).status == "replaced"


def test_a_replace_that_fills_the_disk_keeps_the_live_article_and_a_retry_completes(small_disk, tmp_path, embeddings):
    env = articlebot_env(small_disk / "data")
    path = write(tmp_path / "mars.md", MARS)
    article_id = ingested_id(articlebot("ingest", str(path), env=env, cwd=tmp_path).stdout)
    write(path, long_mars(150))
    filler = small_disk / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - 200_000))  # 200 KB left

    failed = articlebot("ingest", str(path), env=env, cwd=tmp_path)
    filler.unlink()
    asked = articlebot("ask", "--json", MARS_Q, env=env, cwd=tmp_path)  # a fresh process, space freed
    retried = articlebot("ingest", str(path), env=env, cwd=tmp_path)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "十二名宇航员" in json.loads(asked.stdout)["answer"], asked.stdout + asked.stderr
    assert f"{article_id}  火星基地建设计划  (" in retried.stdout and "replaced version" in retried.stdout
    bot = build(make_settings(small_disk / "data", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings)
    assert [r.article_id for r in bot.library.articles()] == [article_id]
    assert_whole(bot.library.store)
    assert "第7号实验室" in bot.engine.answer("第7号实验室有多少名研究人员?").text


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command ended with (after its progress, if any): no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("Error:")] == lines[-1:], result.stderr
    return lines[-1]


def test_an_import_that_fills_the_disk_and_every_command_meanwhile_say_so_in_one_line(small_disk, tmp_path, embeddings):
    """import fills the disk; list, ask and ingest while it stays full: one `Error:` line each,
    naming the store. With space freed the import is run again and completes; nothing lost."""
    other = build(
        make_settings(tmp_path / "other", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None
    )
    mars = write(tmp_path / "mars.md", long_mars(60))
    other.library.ingest(str(mars))
    backup = tmp_path / "backup.zip"
    other.library.export_archive(backup)
    env = articlebot_env(small_disk / "data")
    moon_id = ingested_id(articlebot("ingest", str(write(tmp_path / "moon.md", MOON)), env=env, cwd=tmp_path).stdout)
    filler = small_disk / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - 200_000))  # 200 KB left

    commands = [("import", str(backup)), ("list",), ("ask", MOON_Q), ("ingest", str(mars))]
    while_full = [articlebot(*command, env=env, cwd=tmp_path) for command in commands]
    filler.unlink()
    retried = articlebot("import", str(backup), env=env, cwd=tmp_path)

    store = (small_disk / "data" / "chroma").resolve()
    full = (
        f"Error: The disk holding the article store {store} is full. Free some space there and run the "
        "command again (an ingest that failed left the stored articles as they were)."
    )
    assert [error_line(result) for result in while_full] == [full] * len(commands)
    assert retried.returncode == 0, retried.stderr
    assert f"Imported 1 article from {backup}: 1 added" in retried.stdout, retried.stdout
    bot = build(make_settings(small_disk / "data", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings)
    assert len(bot.library.articles()) == 2 and moon_id in {r.article_id for r in bot.library.articles()}
    assert_whole(bot.library.store)
    assert "五公里" in bot.engine.answer(MOON_Q).text
    assert "研究人员17名" in bot.engine.answer("第7号实验室有多少名研究人员?").text


class Stop(Exception):
    """What the bot raises at an ingest's next batch when it stops."""


def stop_after_a_batch(stage: str, done: int, _total: int) -> None:
    if stage == "embedding" and done >= ADD_BATCH:
        raise Stop


def test_a_stopped_import_of_the_live_text_keeps_the_live_article(fresh, tmp_path):
    library = fresh.library
    old_place = write(tmp_path / "old" / "mars.md", long_mars(150))
    record = library.ingest(str(old_place)).record
    backup = tmp_path / "backup.zip"
    library.export_archive(backup)  # the article at its old path
    new_place = write(tmp_path / "new" / "mars.md", long_mars(150))
    moved = library.ingest(str(new_place), replace=record.article_id).record
    assert moved.source == str(new_place)

    with pytest.raises(Stop):
        library.import_archive(backup, progress=stop_after_a_batch)  # the same text, from the old path

    assert library.articles() == [moved]
    assert_whole(library.store)
    assert "十二名宇航员" in fresh.engine.answer(MARS_Q).text


def test_an_ingest_killed_midway_leaves_nothing_even_with_the_live_text(tmp_path, embeddings):
    env = articlebot_env(tmp_path / "data")
    notes = write(tmp_path / "a" / "notes.md", long_mars(150))
    copy = tmp_path / "b" / "notes.md"
    copy.parent.mkdir()
    shutil.copyfile(notes, copy)  # byte-identical, another path: another article
    article_id = ingested_id(articlebot("ingest", str(notes), env=env, cwd=tmp_path).stdout)

    process, log = ingest_process([str(copy)], env, tmp_path)
    try:
        wait_for_a_stored_batch(process, log)
    finally:
        process.kill()  # SIGKILL: nothing of it runs on
        process.wait()

    bot = build(make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None)
    assert [r.article_id for r in bot.library.articles()] == [article_id]
    assert_whole(bot.library.store)
    answer = bot.engine.answer(MARS_Q)
    assert "十二名宇航员" in answer.text
    assert {c.article_id for c in answer.citations} == {article_id}


class PausedIngest:
    """`library.ingest(path)` in a thread of its own, paused after its first stored batch
    (a batch boundary, through its progress callback: no sleeps) until `go_on`."""

    def __init__(self, library, path: Path) -> None:
        self.paused, self._resume = threading.Event(), threading.Event()
        self._outcome: list[object] = []
        self._thread = threading.Thread(target=self._run, args=(library, path))
        self._thread.start()
        assert self.paused.wait(300), "the ingest never stored a batch"

    def _progress(self, stage: str, done: int, _total: int) -> None:
        if stage == "embedding" and done >= ADD_BATCH and not self.paused.is_set():
            self.paused.set()
            assert self._resume.wait(300)

    def _run(self, library, path: Path) -> None:
        try:
            self._outcome.append(library.ingest(str(path), progress=self._progress))
        except BaseException as exc:
            self._outcome.append(exc)

    def go_on(self) -> object:
        """Let it finish; what it returned or raised."""
        self._resume.set()
        self._thread.join(300)
        return self._outcome[0]

    def __enter__(self) -> PausedIngest:
        return self

    def __exit__(self, *_exc) -> None:
        self.go_on()


@pytest.fixture
def server(chroma_server) -> dict[str, str]:
    return {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server.port)}


@pytest.fixture
def on_server(tmp_path, server, embeddings):
    return build(make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False, **server), embeddings=embeddings)


def test_a_replace_race_on_a_chroma_server_never_leaves_half_an_article(tmp_path, server, on_server):
    """Run 1 reads the file and pauses after its first batch; meanwhile the file changes and
    run 2 (another process) replaces the article; then run 1 goes on. Run 1 is refused with
    one clear error, and the article is run 2's, whole."""
    bot = on_server
    path = write(tmp_path / "mars.md", MARS)
    article_id = bot.library.ingest(str(path)).record.article_id
    write(path, long_mars(150))  # run 1's text

    with PausedIngest(bot.library, path) as run_1:
        write(path, long_mars(100, MARS_V2))  # run 2's text: newer
        run_2 = articlebot("ingest", str(path), env=articlebot_env(tmp_path / "other", **server), cwd=tmp_path)
        assert run_2.returncode == 0 and "replaced" in run_2.stdout, run_2.stdout + run_2.stderr
        outcome = run_1.go_on()

    assert isinstance(outcome, ArticleChangedError), outcome
    assert f"Article {article_id} was changed by another ingest" in str(outcome)
    [record] = bot.library.articles()
    assert (record.article_id, record.chunk_count) == (article_id, len(bot.library.store.article_chunks(record)[0]))
    assert_whole(bot.library.store)
    assert "四十名宇航员" in bot.engine.answer(MARS_Q).text
    again = bot.library.ingest(str(path))  # the text run 2 stored: nothing to do
    assert again.status == "unchanged"


def test_an_article_removed_while_it_is_replaced_stays_removed(tmp_path, server, on_server):
    bot = on_server
    path = write(tmp_path / "mars.md", MARS)
    article_id = bot.library.ingest(str(path)).record.article_id
    write(path, long_mars(150))

    with PausedIngest(bot.library, path) as replace:
        removed = articlebot("remove", article_id, env=articlebot_env(tmp_path / "other", **server), cwd=tmp_path)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        outcome = replace.go_on()

    assert isinstance(outcome, ArticleChangedError), outcome
    assert bot.library.articles() == []
    assert_whole(bot.library.store)  # and nothing of either version is left
    assert bot.engine.answer(MARS_Q).refused


def test_a_write_that_lost_records_meanwhile_never_goes_live(tmp_path, on_server):
    """On a server another process may take a run for dead (suspended past LEFTOVER_AGE_S) and
    sweep what it wrote; deleted here as that sweep deletes them, through Chroma."""
    bot = on_server
    path = write(tmp_path / "mars.md", MARS)
    live = bot.library.ingest(str(path)).record
    write(path, long_mars(150))
    store = bot.library.store

    with PausedIngest(bot.library, path) as run:
        written = store.chunk_collection.get(where={"version": {"$ne": live.version}}, include=[])["ids"]
        assert len(written) == ADD_BATCH
        store.chunk_collection.delete(ids=written)
        outcome = run.go_on()

    assert isinstance(outcome, ArticleChangedError), outcome
    assert "deleted part of what this ingest wrote" in str(outcome)
    assert bot.library.articles() == [live]
    assert_whole(store)
    assert "十二名宇航员" in bot.engine.answer(MARS_Q).text


def forged(archive: Path, change) -> Path:
    """The archive with its manifest's first article's record passed through `change`
    (the manifest is not checksummed: only its members are)."""

    def edit(content: bytes) -> bytes:
        manifest = json.loads(content)
        manifest["articles"][0]["record"] = change(manifest["articles"][0]["record"])
        return json.dumps(manifest).encode()

    path = archive.with_name(f"forged-{len(list(archive.parent.glob('forged-*')))}.zip")
    path.write_bytes(rewritten(archive.read_bytes(), "manifest.json", edit))
    return path


@pytest.fixture
def mars_v2_archive(tmp_path, embeddings) -> Path:
    """An archive of another library's Mars article of the second text: far fewer chunks
    than `long_mars(150)` has."""
    other = build(
        make_settings(tmp_path / "other", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None
    )
    other.library.ingest(str(write(tmp_path / "v2" / "mars.md", MARS_V2)))
    path = tmp_path / "v2.zip"
    other.library.export_archive(path)
    return path


def test_an_archive_reusing_the_live_version_cannot_leave_old_chunks_live(fresh, tmp_path, mars_v2_archive):
    live = fresh.library.ingest(str(write(tmp_path / "mars.md", long_mars(150)))).record
    archive = forged(mars_v2_archive, lambda r: {**r, "article_id": live.article_id, "version": live.version})

    summary = fresh.library.import_archive(archive)

    assert [r.status for r in summary.results] == ["replaced"]
    [record] = fresh.library.articles()
    assert record.version != live.version
    assert_whole(fresh.library.store)
    assert "四十名宇航员" in fresh.engine.answer(MARS_Q).text
    fresh.library.export_archive(tmp_path / "again.zip")
    assert len(read_archive(tmp_path / "again.zip").articles) == 1


def test_an_archive_version_holding_a_colon_is_stored_under_a_version_of_its_own(fresh, tmp_path, mars_v2_archive):
    fresh.library.ingest(str(write(tmp_path / "moon.md", MOON)))
    archive = forged(mars_v2_archive, lambda r: {**r, "version": "a:b:c"})

    fresh.library.import_archive(archive)

    assert ":" not in "".join(r.version for r in fresh.library.articles())
    assert_whole(fresh.library.store)
    assert "四十名宇航员" in fresh.engine.answer(MARS_Q).text
    assert "五公里" in fresh.engine.answer(MOON_Q).text


@pytest.mark.parametrize("article_id", ["a:b", "", "../x", "Mars Base", "x" * 65, "火星"])
def test_an_archive_with_an_id_ingest_never_makes_is_refused_with_nothing_written(
    fresh, tmp_path, mars_v2_archive, article_id
):
    live = fresh.library.ingest(str(write(tmp_path / "mars.md", MARS))).record
    archive = forged(mars_v2_archive, lambda r: {**r, "article_id": article_id})

    with pytest.raises(ArchiveError, match="has no valid id, version or chunk count"):
        fresh.library.import_archive(archive)

    assert fresh.library.articles() == [live]
    assert_whole(fresh.library.store)
