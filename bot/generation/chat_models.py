"""The LangChain chat model behind generation mode, made from LLM_* settings.

    LLM_PROVIDER=openai  any OpenAI-compatible endpoint (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL)
    LLM_PROVIDER=ollama  an Ollama server (LLM_BASE_URL, default http://localhost:11434)
    LLM_PROVIDER=local   a GGUF file run in this process by llama-cpp-python, or, with
                         LLM_BASE_URL, llama-cpp-python's own OpenAI-compatible server
    LLM_PROVIDER=auto    (the default) the local model when set-up installed it (the llm
                         extra and the verified model in the models dir), else none; it
                         only translates across languages (`Settings.model_writes_answers`)

Every model answers deterministically (temperature 0) and briefly (MAX_TOKENS).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from bot.errors import GenerationError
from bot.generation.local_model import DEFAULT_LOCAL_MODEL, LOCAL_MODELS, is_verified, local_model_path
from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_TOKENS = 256
# Requests a server gets from this process at once (it queues or batches them itself).
REMOTE_CONCURRENCY = 8
# The in-process model's context: prompt (examples, three passages, question) and answer.
LOCAL_CONTEXT = 4096


@dataclass
class ChatModel:
    """A chat model, made on first use, and the semaphore its calls hold: an in-process
    model runs one call at a time. Made on first use because loading a local model takes
    seconds and a gigabyte, which `articlebot list` or a same-language question never need."""

    make: Callable[[], BaseChatModel]
    name: str
    lock: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(REMOTE_CONCURRENCY))
    _model: BaseChatModel | None = field(default=None, init=False, repr=False)
    _making: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def model(self) -> BaseChatModel:
        with self._making:
            if self._model is None:
                self._model = self.make()
            return self._model

    def load(self) -> None:
        """Make the model now rather than at the first question (the bot, at start-up)."""
        self.model  # noqa: B018  (the property makes it)


def make_chat_model(settings: Settings, progress=lambda _m: None) -> ChatModel | None:
    """The configured chat model, made on first use; None without one (LLM_PROVIDER=none,
    or auto where set-up did not install the local model)."""
    provider = settings.llm_provider
    if provider == "auto":
        if local_model_installed(settings):
            return _in_process(settings, progress)
        logger.info(
            "No local chat model installed (scripts/setup.sh without --no-llm installs it): "
            "answers to questions in the other language than the article quote it untranslated."
        )
        return None
    if provider == "none":
        return None
    if provider == "local" and settings.llm_base_url is None:
        return _in_process(settings, progress)
    try:
        return _remote(settings, "ollama" if provider == "ollama" else "openai")
    except ImportError as exc:
        raise GenerationError(
            f"LLM_PROVIDER={provider} needs the llm extra: pip install -e '.[llm]' ({exc.name} is missing)."
        ) from None


def local_model_installed(settings: Settings) -> bool:
    """Whether set-up installed the local model: the llm extra, and the model (LLM_MODEL's
    or the default) verified in the models dir."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    model = LOCAL_MODELS.get(settings.llm_model or DEFAULT_LOCAL_MODEL)
    return model is not None and is_verified(model, settings.models_dir / "llm" / model.filename)


def _remote(settings: Settings, provider: str) -> ChatModel:
    model = settings.llm_model or ("local" if settings.llm_provider == "local" else None)
    if model is None:
        raise GenerationError(f"LLM_PROVIDER={settings.llm_provider} needs LLM_MODEL, the model's name there.")
    chat: BaseChatModel
    if provider == "ollama":
        from langchain_ollama import ChatOllama

        chat = ChatOllama(
            model=model,
            base_url=settings.llm_base_url,  # None: Ollama's default, localhost:11434
            temperature=0,
            num_predict=MAX_TOKENS,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    else:
        from langchain_openai import ChatOpenAI

        if settings.llm_base_url is None and settings.llm_api_key is None:
            raise GenerationError("LLM_PROVIDER=openai needs LLM_BASE_URL or LLM_API_KEY (or both).")
        chat = ChatOpenAI(
            model=model,
            base_url=settings.llm_base_url,
            # A local server may want no key, but the client insists on one.
            api_key=settings.llm_api_key or SecretStr("none"),
            temperature=0,
            max_completion_tokens=MAX_TOKENS,  # max_tokens, by the alias its __init__ is typed with
            timeout=settings.llm_timeout_s,
            # No retries: LLM_TIMEOUT covers the whole answer, and the extractive one is the fallback.
            max_retries=0,
        )
    return ChatModel(lambda: chat, f"{settings.llm_provider}:{model}")


def _in_process(settings: Settings, progress) -> ChatModel:
    if importlib.util.find_spec("llama_cpp") is None:  # imported on first use: seconds
        raise GenerationError("LLM_PROVIDER=local needs the llm extra: pip install -e '.[llm]'.")
    spec = settings.llm_model or DEFAULT_LOCAL_MODEL
    path = local_model_path(spec, settings.models_dir, progress)

    def load() -> BaseChatModel:
        from langchain_community.chat_models import ChatLlamaCpp

        progress(f"Loading {path.name}…")
        return ChatLlamaCpp(
            model_path=str(path),
            n_ctx=LOCAL_CONTEXT,
            n_threads=settings.llm_threads,
            n_batch=512,  # the default, 8, reads the prompt several times slower
            temperature=0,
            max_tokens=MAX_TOKENS,
            verbose=False,
        )

    return ChatModel(load, f"local:{path.stem}", threading.Semaphore(1))
