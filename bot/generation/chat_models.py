"""The LangChain chat model behind generation mode, made from LLM_* settings.

    LLM_PROVIDER=openai  any OpenAI-compatible endpoint (LLM_BASE_URL, LLM_API_KEY, LLM_MODEL)
    LLM_PROVIDER=ollama  an Ollama server (LLM_BASE_URL, default http://localhost:11434)
    LLM_PROVIDER=local   a GGUF file run in this process by llama-cpp-python, or, with
                         LLM_BASE_URL, llama-cpp-python's own OpenAI-compatible server

Every model answers deterministically (temperature 0) and briefly (MAX_TOKENS).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from bot.errors import GenerationError
from bot.generation.local_model import DEFAULT_LOCAL_MODEL, local_model_path
from bot.settings import Settings

MAX_TOKENS = 256
# Requests a server gets from this process at once (it queues or batches them itself).
REMOTE_CONCURRENCY = 8
# The in-process model's context: prompt (examples, three passages, question) and answer.
LOCAL_CONTEXT = 4096


@dataclass
class ChatModel:
    """A chat model and the semaphore its calls hold: an in-process model runs one call
    at a time."""

    model: BaseChatModel
    name: str
    lock: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(REMOTE_CONCURRENCY))


def make_chat_model(settings: Settings, progress=lambda _m: None) -> ChatModel | None:
    """The configured chat model, or None for extractive answers (LLM_PROVIDER=none)."""
    provider = settings.llm_provider
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
    return ChatModel(chat, f"{settings.llm_provider}:{model}")


def _in_process(settings: Settings, progress) -> ChatModel:
    try:
        import llama_cpp  # noqa: F401  (ChatLlamaCpp imports it lazily; fail here, clearly)
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError:
        raise GenerationError("LLM_PROVIDER=local needs the llm extra: pip install -e '.[llm]'.") from None
    spec = settings.llm_model or DEFAULT_LOCAL_MODEL
    path = local_model_path(spec, settings.models_dir, progress)
    progress(f"Loading {path.name}…")
    chat = ChatLlamaCpp(
        model_path=str(path),
        n_ctx=LOCAL_CONTEXT,
        n_threads=settings.llm_threads,
        n_batch=512,  # the default, 8, reads the prompt several times slower
        temperature=0,
        max_tokens=MAX_TOKENS,
        verbose=False,
    )
    return ChatModel(chat, f"local:{path.stem}", threading.Semaphore(1))
