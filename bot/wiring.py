"""The one place that assembles the parts: Chroma client, embedding model, store, and on
top of them the answering engine and the article library.

Entry points (CLI, Telegram, benchmarks, tests) call `build`; nothing else constructs an
Engine or a Library by hand, so every face runs the same wiring::

    bot = build(Settings())
    answer = bot.engine.answer("Sora最长能生成多长的视频?")
    print("refused" if answer.refused else answer.text)
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import chromadb

from bot.answering.engine import Engine
from bot.errors import MissingTorchError
from bot.generation.generator import Generator, build_generator
from bot.generation.translation import Translator
from bot.library import Library
from bot.settings import Settings
from ingest.chunking import embedded_sentences
from vectorstore.client import make_client
from vectorstore.embeddings import SentenceEmbeddings, load_embeddings
from vectorstore.store import ArticleStore


class _Default(enum.Enum):
    FROM_SETTINGS = enum.auto()


# `build(generator=…)`: the chat model the settings name, if any. It translates across
# languages, and writes the answers unless LLM_ANSWERS is false.
FROM_SETTINGS = _Default.FROM_SETTINGS


@dataclass(frozen=True)
class Articlebot:
    """What both faces run: one engine answering from the store one library writes."""

    settings: Settings
    engine: Engine
    library: Library


def open_client(settings: Settings) -> chromadb.ClientAPI:
    """The Chroma server at CHROMA_HOST when it is set, else the embedded store in the data dir."""
    if settings.chroma_host is None:
        return make_client(settings.chroma_dir)
    return make_client(
        host=settings.chroma_host,
        port=settings.chroma_port,
        ssl=settings.chroma_ssl,
        headers=settings.chroma_request_headers(),
    )


# What building the embedding model (once) and EMBEDDING_BACKEND=torch import, from the
# prepare extra; the default run (ONNX Runtime on the built model) imports none of them.
TORCH_MODULES = {"torch", "sentence_transformers"}


def embeddings_of(settings: Settings, progress: Callable[[str], None] = lambda _m: None) -> SentenceEmbeddings:
    """The configured embedding model, built first if needed (which needs the prepare extra)."""
    try:
        return load_embeddings(
            settings.embedding_model, settings.models_dir, progress, backend=settings.embedding_backend
        )
    except ModuleNotFoundError as exc:
        if exc.name not in TORCH_MODULES:
            raise
        raise MissingTorchError(settings.embedding_backend) from None


def build(
    settings: Settings,
    progress: Callable[[str], None] = lambda _m: None,
    *,
    check_model: bool = True,
    embeddings: SentenceEmbeddings | None = None,
    generator: Generator | None | Literal[_Default.FROM_SETTINGS] = FROM_SETTINGS,
    seed: bool = True,
) -> Articlebot:
    """Open the store, load the model (unless `embeddings` are given, as tests and
    benchmarks share one), and seed the default article on first use (unless `seed` is
    False: `articlebot import` restores a library, the default article only if archived).

    `check_model=False` opens an index built with another model, for `reindex` only: no
    chat model, no seeding.
    """
    client = open_client(settings)  # first: a busy or unreachable store fails before the model loads
    if embeddings is None:
        embeddings = embeddings_of(settings, progress)
    store = ArticleStore(
        client, embeddings, settings.collection, check_model=check_model, sentences_of=embedded_sentences
    )
    if generator is FROM_SETTINGS:
        generator = build_generator(settings, progress) if check_model else None
    translator = Translator(generator, settings.translate_timeout_s) if generator else None
    answers_by = generator if settings.model_writes_answers else None
    bot = Articlebot(settings, Engine(settings, store, answers_by, translator), Library(settings, store))
    if check_model and seed:
        bot.library.seed_default_corpus(
            lambda stage, done, total: (
                progress(f"default article: {stage} {done}/{total}") if stage == "embedding" and done == total else None
            )
        )
    return bot
