"""A store made by an older articlebot is brought to the current schema when it is opened,
once, and answers as it did.

The store in tests/fixtures/store-ea8a103.tar.xz was made by articlebot ea8a103, the last
one without a schema version (tests/fixtures/make_store_ea8a103.sh), with the default
article; answer-ea8a103.json is that code's answer to QUESTION.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bot.cli.wording import answer_json
from bot.settings import Settings
from bot.wiring import build
from tests.conftest import make_settings, schema
from tests.processes import AskProcess, ChromaServer, articlebot_env, free_port, killed_at
from vectorstore.client import make_client
from vectorstore.errors import StoreUnavailableError
from vectorstore.generation import SENTENCES_SUFFIX
from vectorstore.migrations import MIGRATIONS, SCHEMA_VERSION
from vectorstore.registry import LIVE_SUFFIX, REGISTRY_SUFFIX

FIXTURES = Path(__file__).parent / "fixtures"
QUESTION = "Sora最长能生成多长的视频?"


def old_store(tmp_path: Path) -> Settings:
    """A copy of the store ea8a103 made, in a data dir of its own."""
    data = tmp_path / "data"
    with tarfile.open(FIXTURES / "store-ea8a103.tar.xz") as archive:
        archive.extractall(data, filter="data")
    return make_settings(data)


def as_answered(answer) -> dict:
    """What a user sees of an answer (`articlebot ask --json`), but its latency."""
    return {k: v for k, v in answer_json(answer).items() if k != "latency_ms"}


def test_a_store_made_by_ea8a103_is_migrated_once_when_opened_and_answers_as_before(tmp_path, embeddings):
    settings = old_store(tmp_path)
    raw = make_client(settings.chroma_dir)
    assert "schema" not in (raw.get_collection(f"{settings.collection}{LIVE_SUFFIX}").metadata or {})
    registered = raw.get_collection(f"{settings.collection}{REGISTRY_SUFFIX}").get(include=["metadatas"])

    bot = build(settings, embeddings=embeddings, generator=None)
    store = bot.library.store
    assert store.migrated == list(range(1, len(MIGRATIONS) + 1))
    assert schema(store) == SCHEMA_VERSION
    assert [r.to_metadata() for r in store.articles()] == registered["metadatas"]  # nothing to change in them
    answer = bot.engine.answer(QUESTION)
    assert not answer.refused and "60秒" in answer.text and answer.citations
    expected = json.loads((FIXTURES / "answer-ea8a103.json").read_text(encoding="utf-8"))
    assert as_answered(answer) == {k: v for k, v in expected.items() if k != "latency_ms"}

    again = build(settings, embeddings=embeddings, generator=None)
    assert again.library.store.migrated == []
    assert as_answered(again.engine.answer(QUESTION)) == as_answered(answer)


def test_a_store_of_a_newer_schema_is_refused_untouched(tmp_path, embeddings):
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    store = build(settings, embeddings=embeddings, generator=None).library.store
    store.registry.record(store.registry.bookkeeping(), schema=SCHEMA_VERSION + 1)
    with pytest.raises(StoreUnavailableError, match=f"schema version {SCHEMA_VERSION + 1}, made by a newer articlebot"):
        build(settings, embeddings=embeddings, generator=None)
    assert schema(store) == SCHEMA_VERSION + 1


def sentence_ids(settings: Settings) -> set[str]:
    """The ids of the stored sentence vectors, read without opening (migrating) the store."""
    return set(make_client(settings.chroma_dir).get_collection(f"{settings.collection}{SENTENCES_SUFFIX}").get()["ids"])


def raw_schema(settings: Settings) -> int:
    """The schema version recorded in the store, read without opening (migrating) it."""
    live = make_client(settings.chroma_dir).get_collection(f"{settings.collection}{LIVE_SUFFIX}")
    return int((live.metadata or {}).get("schema", 0))


def migrated_copy(tmp_path: Path, embeddings) -> Settings:
    """The fixture store, migrated without interruption (what every other run must match)."""
    settings = old_store(tmp_path / "clean")
    build(settings, embeddings=embeddings, generator=None)
    return settings


WITHOUT_SENTENCE_VECTORS = """
import sys
from pathlib import Path
from vectorstore.client import make_client

client = make_client(Path(sys.argv[1]))
sentences = client.get_collection(sys.argv[2] + "__sentences")
sentences.delete(ids=sentences.get()["ids"])
registry = client.get_collection(sys.argv[2] + "__registry")
ids = registry.get()["ids"]
registry.update(ids=ids, metadatas=[{"sentence_vectors": False}] * len(ids))
"""


def without_sentence_vectors(settings: Settings) -> Settings:
    """The store as articlebot kept it before sentence vectors (153639d): none stored, and
    no article marked as having them; migration 5 embeds them, the longest migration.
    Written by a process of its own: an embedded store is locked to the process that opens it."""
    subprocess.run(
        [sys.executable, "-c", WITHOUT_SENTENCE_VECTORS, str(settings.chroma_dir), settings.collection], check=True
    )
    return settings


OPEN_STORE = """
import logging, sys
from bot.settings import Settings
from bot.wiring import build

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
build(Settings(), generator=None)
print("finished", flush=True)
"""


def test_a_migration_killed_midway_is_finished_at_the_next_open(tmp_path, embeddings):
    settings = without_sentence_vectors(old_store(tmp_path))
    # Killed while migration 5 embeds and stores them.
    lines = killed_at(
        OPEN_STORE, env=articlebot_env(settings.data_dir), cwd=tmp_path, line="Storing the sentence vectors"
    )
    assert lines[-1].startswith("Storing the sentence vectors"), lines
    assert raw_schema(settings) == 4  # 1–4 recorded, 5 cut short

    bot = build(settings, embeddings=embeddings, generator=None)
    assert bot.library.store.migrated == [5]
    assert schema(bot.library.store) == SCHEMA_VERSION
    expected = json.loads((FIXTURES / "answer-ea8a103.json").read_text(encoding="utf-8"))
    assert as_answered(bot.engine.answer(QUESTION)) == {k: v for k, v in expected.items() if k != "latency_ms"}
    assert sentence_ids(settings) == sentence_ids(migrated_copy(tmp_path, embeddings))  # none missing, none twice


def test_two_processes_opening_an_old_store_on_a_server_at_once_both_answer_as_before(tmp_path, embeddings):
    data = without_sentence_vectors(old_store(tmp_path)).data_dir
    server = ChromaServer(data / "chroma", free_port())
    server.start()
    try:
        env = articlebot_env(tmp_path / "client", CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(server.port))
        with AskProcess(env, tmp_path) as first, AskProcess(env, tmp_path) as second:  # both open, and migrate, at once
            answers = [first.ask(QUESTION), second.ask(QUESTION)]
    finally:
        server.stop()

    expected = json.loads((FIXTURES / "answer-ea8a103.json").read_text(encoding="utf-8"))
    assert [{k: v for k, v in a.items() if k != "latency_ms"} for a in answers] == [
        {k: v for k, v in expected.items() if k != "latency_ms"}
    ] * 2
    settings = make_settings(data)
    assert raw_schema(settings) == SCHEMA_VERSION
    assert sentence_ids(settings) == sentence_ids(migrated_copy(tmp_path, embeddings))
