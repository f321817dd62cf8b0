"""The bot on a Chroma server that goes away mid-session: users are told, and it recovers."""

from __future__ import annotations

import asyncio

import pytest

from bot.telegram.app import build_application
from bot.wiring import build
from tests.conftest import make_settings
from tests.processes import MARS, MARS_Q
from tests.telegram.conftest import Bot, running, telegram_settings


@pytest.fixture
async def server_bot(api, chroma_server, embeddings, tmp_path):
    settings = make_settings(
        tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server.port, ARTICLEBOT_SEED_CORPUS=False
    )
    articlebot = build(settings, embeddings=embeddings, generator=None)
    article = tmp_path / "mars.md"
    article.write_text(MARS, encoding="utf-8")
    articlebot.library.ingest(str(article))
    application = build_application(telegram_settings(articlebot.engine, api), articlebot=articlebot)
    async with running(application):
        yield Bot(api, application)


async def test_a_store_outage_is_explained_to_the_user_and_the_bot_recovers(server_bot, chroma_server):
    ann = server_bot.api.user(9001, "Ann")
    chat = server_bot.api.private_chat(ann)
    before = await server_bot.ask(chat, ann, MARS_Q)

    await asyncio.to_thread(chroma_server.stop)
    during = await server_bot.ask(chat, ann, MARS_Q)
    await asyncio.to_thread(chroma_server.start)  # same port, same data
    after = await server_bot.ask(chat, ann, MARS_Q)

    assert "十二名宇航员" in before["text"]
    assert during["text"] == (
        f"The article store is unavailable (cannot connect to the Chroma server at 127.0.0.1:{chroma_server.port}); "
        "try again shortly."
    )
    assert "十二名宇航员" in after["text"]
