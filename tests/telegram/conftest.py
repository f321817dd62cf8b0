"""Telegram fixtures: a local Bot API server, and the real Application running against it.

`bot` runs the Application by long polling, `webhook_bot` behind a webhook; both share the
session's `engine` (tests/conftest.py), so the model loads once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.answering.engine import Engine
from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.limits import UserLimit
from bot.telegram.webhook import Webhook, WebhookServer
from bot.wiring import Articlebot, build
from tests.conftest import MODELS_DIR, make_settings
from tests.telegram.fake_botapi import TOKEN, FakeBotAPI
from vectorstore.embeddings import SentenceEmbeddings

WEBHOOK_SECRET = "test-secret_0123456789"


@dataclass
class Bot:
    """A running bot and the fake Telegram it talks to."""

    api: FakeBotAPI
    application: Application
    webhook: Webhook | None = None

    async def ask(self, chat: dict[str, Any], user: dict[str, Any], text: str, **kwargs: Any) -> dict[str, Any]:
        """Send `text` and return the bot's last message quoting it (the one with sources)."""
        question = self.api.send(chat, user, text, **kwargs)
        replies = await self.api.wait_for(lambda: self.api.replies_to(question))
        return replies[-1]

    async def say(
        self, chat: dict[str, Any], user: dict[str, Any], text: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Send a message and return the bot's next new message in that chat."""
        before = len(self.api.bot_messages(chat["id"]))
        self.api.send(chat, user, text, **kwargs)
        messages = await self.api.wait_for(lambda: self.api.bot_messages(chat["id"])[before:])
        return messages[0]


def telegram_settings(engine: Engine, api: FakeBotAPI, **overrides: Any) -> Settings:
    """The engine's settings, pointed at the fake Bot API."""
    values = {
        "telegram_bot_token": SecretStr(api.token),
        "telegram_api_url": api.base_url,
        "telegram_file_url": api.file_url,
    }
    return engine.settings.model_copy(update=values | overrides)


@contextlib.asynccontextmanager
async def running(application: Application, webhook: Webhook | None = None) -> AsyncIterator[Application]:
    """What run_polling / run_webhook (bot.telegram.webhook) do, minus the signal handling
    and the blocking."""
    server = WebhookServer(application, webhook) if webhook is not None else None
    if server is not None:
        await server.start()
    try:
        await application.initialize()
        await application.post_init(application)
        if server is None:
            await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        else:
            await server.register(ALLOWED_UPDATES)
        await application.start()
        try:
            yield application
        finally:
            if server is None:
                await application.updater.stop()
            else:
                await server.stop()
            await application.stop()
    finally:
        if server is not None:
            await server.stop()
        await application.shutdown()
        await application.post_shutdown(application)


REPO = Path(__file__).resolve().parents[2]


async def serve_process(api: FakeBotAPI, data_dir: Path, *args: str, **env: str) -> asyncio.subprocess.Process:
    """`articlebot serve ARGS` as a process of its own against `api`, output on stdout."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli.commands import main; main()",
        "serve",
        *args,
        env=os.environ
        | {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "TELEGRAM_FILE_URL": api.file_url,
            "ARTICLEBOT_DATA_DIR": str(data_dir),
            "ARTICLEBOT_MODELS_DIR": str(MODELS_DIR),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        | env,
        cwd=data_dir.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    server = FakeBotAPI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def user_limit() -> UserLimit:
    """The per-user limit the bot runs with; tests about flooding override this."""
    return UserLimit()


@pytest.fixture
async def bot(api: FakeBotAPI, articlebot: Articlebot, user_limit: UserLimit) -> AsyncIterator[Bot]:
    application = build_application(
        telegram_settings(articlebot.engine, api), articlebot=articlebot, user_limit=user_limit
    )
    async with running(application):
        yield Bot(api, application)


@pytest.fixture
async def webhook_bot(api: FakeBotAPI, articlebot: Articlebot) -> AsyncIterator[Bot]:
    port = free_port()
    hook = Webhook(url=f"http://127.0.0.1:{port}/telegram", secret_token=WEBHOOK_SECRET, port=port)
    application = build_application(telegram_settings(articlebot.engine, api), articlebot=articlebot)
    async with running(application, webhook=hook):
        yield Bot(api, application, hook)


# The admin of the bots `make_bot` starts.
ADMIN_ID = 4001
MakeBot = Callable[..., Awaitable[Bot]]


@contextlib.asynccontextmanager
async def bots(api: FakeBotAPI, data_dir: Path, embeddings: SentenceEmbeddings) -> AsyncIterator[MakeBot]:
    """`make_bot`'s bots, with these embeddings; stopped on leaving."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Bot:
            settings = make_settings(data_dir, ARTICLEBOT_SEED_CORPUS=False, **overrides)
            articlebot = build(settings, embeddings=embeddings, generator=None)
            bot_settings = telegram_settings(articlebot.engine, api, admin_user_ids=frozenset({ADMIN_ID}))
            application = build_application(bot_settings, articlebot=articlebot)
            await stack.enter_async_context(running(application))
            return Bot(api, application)

        yield make


@pytest.fixture
async def make_bot(api, tmp_path, embeddings) -> AsyncIterator[MakeBot]:
    """Start the bot over a new empty store, with ADMIN_ID as its admin and these settings."""
    async with bots(api, tmp_path / "data", embeddings) as make:
        yield make


@pytest.fixture
async def make_hashed_bot(api, tmp_path, hashed_embeddings) -> AsyncIterator[MakeBot]:
    """`make_bot` over `hashed_embeddings`: for tests of the admins' commands and messages,
    not of what is answered (tests/hashed_embeddings.py)."""
    async with bots(api, tmp_path / "data", hashed_embeddings) as make:
        yield make


@pytest.fixture
def admin(api) -> dict:
    """The admin of `make_bot`'s bots."""
    return api.user(ADMIN_ID, "Ada")


@pytest.fixture
def bob(api) -> dict:
    """A user who is not an admin."""
    return api.user(4002, "Bob")
