"""A store made by an older articlebot is brought to the current schema when it is opened,
once, and answers as it did.

The store in tests/fixtures/store-ea8a103.tar.xz was made by articlebot ea8a103, the last
one without a schema version (tests/fixtures/make_store_ea8a103.sh), with the default
article; answer-ea8a103.json is that code's answer to QUESTION.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from bot.cli.wording import answer_json
from bot.settings import Settings
from bot.wiring import build
from tests.conftest import make_settings, schema
from vectorstore.client import make_client
from vectorstore.errors import StoreUnavailableError
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
