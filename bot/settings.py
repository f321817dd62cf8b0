"""The one settings object: read from env vars and `.env` at an entry point, passed down."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ingest.chunking import CHUNK_OVERLAP, CHUNK_SIZE, MAX_CHUNKS_PER_ARTICLE
from vectorstore.embeddings import DEFAULT_MODEL as DEFAULT_EMBEDDING_MODEL

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


def parse_duration(text: str) -> float | None:
    """Seconds in a duration written "30m", "6h", "1d", "1h30m" or "90s"; None for "off",
    "0" or nothing (no schedule). Anything else is a ValueError saying how to write it."""
    value = text.strip().lower()
    if value in ("", "0", "off", "none", "false", "no"):
        return None
    parts = _DURATION.findall(value)
    if not parts or _DURATION.sub("", value).strip():
        raise ValueError(f"write a duration such as 30m, 6h or 1d (s, m, h, d), or off; not {text!r}")
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    return seconds or None


class Settings(BaseSettings):
    """Everything articlebot can be configured with; frozen so nobody edits it midway."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path.home() / ".articlebot", alias="ARTICLEBOT_DATA_DIR")
    embedding_model: str = Field(default=DEFAULT_EMBEDDING_MODEL, alias="EMBEDDING_MODEL")
    # onnx: ONNX Runtime without torch, the same vectors as torch, faster on CPU; onnx-int8: its
    # weights quantized to 8 bits, faster again, vectors close but not equal (docs/performance.md).
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = Field(default="onnx", alias="EMBEDDING_BACKEND")
    models_override: Path | None = Field(default=None, alias="ARTICLEBOT_MODELS_DIR")
    collection: str = Field(default="articles", alias="ARTICLEBOT_COLLECTION")
    seed_default_corpus: bool = Field(default=True, alias="ARTICLEBOT_SEED_CORPUS")

    # A Chroma server instead of the embedded store (docs/deployment.md, "Several processes").
    chroma_host: str | None = Field(default=None, alias="CHROMA_HOST")
    chroma_port: int = Field(default=8000, alias="CHROMA_PORT")
    chroma_ssl: bool = Field(default=False, alias="CHROMA_SSL")
    chroma_auth_token: SecretStr | None = Field(default=None, alias="CHROMA_AUTH_TOKEN")
    chroma_headers: dict[str, SecretStr] | None = Field(default=None, alias="CHROMA_HEADERS")  # JSON object

    # The chat model (docs/generation.md). auto: the local model where set-up installed it,
    # translating across languages only; none: no model (answers across languages quote the
    # article and say so); openai/ollama/local: generation mode (see LLM_ANSWERS).
    llm_provider: Literal["auto", "none", "openai", "ollama", "local"] = Field(default="auto", alias="LLM_PROVIDER")
    # openai/ollama: the model's name there; local: a name from bot.generation.local_model or a .gguf path.
    llm_model: str | None = Field(default=None, alias="LLM_MODEL")
    llm_base_url: str | None = Field(default=None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(default=None, alias="LLM_API_KEY")
    # The whole generation may take this long; then the extractive answer is given instead.
    llm_timeout_s: float = Field(default=30.0, alias="LLM_TIMEOUT")
    # Its first words must come this soon after the question (waiting for the model counts):
    # a model that late would finish far later, so the answer goes on without it.
    llm_first_token_s: float = Field(default=4.0, gt=0, alias="LLM_FIRST_TOKEN_TIMEOUT")
    llm_threads: int = Field(default=max(1, os.cpu_count() or 1), alias="LLM_THREADS")  # local only
    # With a chat model chosen by LLM_PROVIDER: true, it writes every answer (generation
    # mode); false, answers stay extractive and the model only translates questions and
    # answers across languages (what LLM_PROVIDER=auto does).
    llm_answers: bool = Field(default=True, alias="LLM_ANSWERS")
    # A translation may take this long; then the question is answered untranslated.
    translate_timeout_s: float = Field(default=8.0, gt=0, alias="TRANSLATE_TIMEOUT")
    # Turns per chat kept for follow-up questions (a turn is a question and its answer).
    history_turns: int = Field(default=4, alias="HISTORY_TURNS")

    chunk_size: int = Field(default=CHUNK_SIZE, alias="CHUNK_SIZE")
    chunk_overlap: int = Field(default=CHUNK_OVERLAP, alias="CHUNK_OVERLAP")
    # An article that would make more chunks is refused before any embedding starts.
    max_chunks_per_article: int = Field(default=MAX_CHUNKS_PER_ARTICLE, ge=1, alias="MAX_CHUNKS_PER_ARTICLE")

    # Limits that protect the bot from bad input.
    max_question_chars: int = Field(default=500, alias="MAX_QUESTION_CHARS")
    max_source_bytes: int = Field(default=10_000_000, alias="MAX_SOURCE_BYTES")
    fetch_timeout_s: float = Field(default=15.0, alias="FETCH_TIMEOUT")
    allow_private_urls: bool = Field(default=False, alias="ALLOW_PRIVATE_URLS")
    # How often the bot fetches every web-page article again (seconds); None: never on its own.
    refresh_interval_s: Annotated[float | None, NoDecode] = Field(default=None, alias="REFRESH_INTERVAL")

    # Telegram.
    telegram_bot_token: SecretStr | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org/bot", alias="TELEGRAM_API_URL")
    telegram_file_url: str = Field(default="https://api.telegram.org/file/bot", alias="TELEGRAM_FILE_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
    # On SIGTERM, answers in flight get this long to finish before they are dropped (under
    # Docker's 10 s between SIGTERM and SIGKILL); a running ingest stops at its next batch.
    shutdown_timeout_s: float = Field(default=8.0, ge=0, alias="SHUTDOWN_TIMEOUT")
    # With long polling, /healthz and /readyz on this port (unset: no probe server); webhook
    # mode serves them on the webhook server (bot/telegram/health.py).
    health_port: int | None = Field(default=None, ge=1, le=65535, alias="HEALTH_PORT")
    health_listen: str = Field(default="127.0.0.1", alias="HEALTH_LISTEN")
    # Telegram user ids (not chat ids) allowed to add, replace and remove articles.
    admin_user_ids: Annotated[frozenset[int], NoDecode] = Field(default=frozenset(), alias="ADMIN_USER_IDS")
    # Who may use the bot (both empty: everybody). A message or press is let in when its
    # sender is an allowed user OR its chat an allowed chat; admins always are.
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = Field(default=frozenset(), alias="ALLOWED_USER_IDS")
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = Field(default=frozenset(), alias="ALLOWED_CHAT_IDS")
    # Questions each user may ask per UTC day (0: unlimited), e.g. for a paid language model.
    daily_questions_per_user: int = Field(default=0, ge=0, alias="DAILY_QUESTIONS_PER_USER")

    @field_validator("admin_user_ids", "allowed_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Id lists are written "123, 456" (NoDecode: not JSON like other set fields)."""
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("daily_questions_per_user", mode="before")
    @classmethod
    def _empty_is_unlimited(cls, value: Any) -> Any:
        """DAILY_QUESTIONS_PER_USER= (empty) means no limit, like 0."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0
        return value

    @field_validator("refresh_interval_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """REFRESH_INTERVAL is written 30m, 6h or 1d (a bare number would hide its unit)."""
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("chroma_headers")
    @classmethod
    def _one_authorization(cls, headers: dict[str, SecretStr] | None, info: ValidationInfo):
        if info.data.get("chroma_auth_token") and any(k.lower() == "authorization" for k in headers or {}):
            raise ValueError("give CHROMA_AUTH_TOKEN or an Authorization header here, not both")
        return headers

    def chroma_request_headers(self) -> dict[str, str]:
        """Headers sent with every request to the Chroma server (secrets included)."""
        headers = {k: v.get_secret_value() for k, v in (self.chroma_headers or {}).items()}
        if self.chroma_auth_token is not None:
            headers["Authorization"] = f"Bearer {self.chroma_auth_token.get_secret_value()}"
        return headers

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def models_dir(self) -> Path:
        """Built embedding checkpoints; shareable between data dirs (tests, benchmarks)."""
        return self.models_override or self.data_dir / "models"

    @property
    def model_writes_answers(self) -> bool:
        """Generation mode: a chat model chosen by name, and LLM_ANSWERS. The default model
        (`auto`) only translates, so same-language answers keep their milliseconds."""
        return self.llm_answers and self.llm_provider != "auto"
