"""The bot on a Chroma server that goes away mid-session: users are told, /readyz says so,
and it recovers."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time

import httpx
import pytest

from bot.telegram.app import build_application
from bot.wiring import build
from tests.conftest import make_settings
from tests.processes import MARS, MARS_Q
from tests.telegram.conftest import Bot, bots, free_port, running, telegram_settings

ADMIN = 7001


@pytest.fixture
def health_port() -> int:
    return free_port()


async def readyz(port: int, expected: int, timeout_s: float = 10.0) -> httpx.Response:
    """/readyz once it answers `expected` (a store check's result is reused for a second)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=30) as client:
        while (response := await client.get(f"http://127.0.0.1:{port}/readyz")).status_code != expected:
            assert time.monotonic() < deadline, f"/readyz still answers {response.status_code}: {response.text}"
            await asyncio.sleep(0.2)
    return response


@pytest.fixture
async def server_bot(api, chroma_server, embeddings, tmp_path, health_port):
    settings = make_settings(
        tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server.port, ARTICLEBOT_SEED_CORPUS=False
    )
    articlebot = build(settings, embeddings=embeddings, generator=None)
    article = tmp_path / "mars.md"
    article.write_text(MARS, encoding="utf-8")
    articlebot.library.ingest(str(article))
    application = build_application(
        telegram_settings(articlebot.engine, api, admin_user_ids=frozenset({ADMIN})),
        articlebot=articlebot,
        probes_at=("127.0.0.1", health_port),
    )
    async with running(application):
        yield Bot(api, application)


async def test_a_store_outage_is_explained_to_the_user_and_the_bot_recovers(server_bot, chroma_server):
    ann = server_bot.api.user(9001, "Ann")
    chat = server_bot.api.private_chat(ann)
    admin = server_bot.api.user(ADMIN, "Ada")
    admin_chat = server_bot.api.private_chat(admin)
    before = await server_bot.ask(chat, ann, MARS_Q)

    await asyncio.to_thread(chroma_server.stop)
    during = await server_bot.ask(chat, ann, MARS_Q)
    during_en = await server_bot.ask(chat, ann, "How many astronauts can the Mars base hold?")
    admin_during = await server_bot.ask(admin_chat, admin, MARS_Q)
    await asyncio.to_thread(chroma_server.start)  # same port, same data
    after = await server_bot.ask(chat, ann, MARS_Q)

    assert "十二名宇航员" in before["text"]
    # A chat user is told it is the bot's problem, never the server's address or paths…
    assert during["text"] == "我现在查不了文章(是我这边的问题)。请稍后再试。"
    assert (
        during_en["text"] == "I can't search the articles right now (a problem on my side). Please try again shortly."
    )
    # …an admin, who can act on it, gets what went wrong.
    assert admin_during["text"] == (
        f"The article store is unavailable (cannot connect to the Chroma server at 127.0.0.1:{chroma_server.port}); "
        "try again shortly."
    )
    assert "十二名宇航员" in after["text"]


async def test_readyz_reports_a_store_outage_and_the_recovery(server_bot, chroma_server, health_port):
    before = await readyz(health_port, 200)

    await asyncio.to_thread(chroma_server.stop)
    during = await readyz(health_port, 503)
    await asyncio.to_thread(chroma_server.start)  # same port, same data
    after = await readyz(health_port, 200)

    assert before.text == after.text == "ready\n"
    assert during.text == (
        f"The article store is unavailable (cannot connect to the Chroma server at 127.0.0.1:{chroma_server.port}); "
        "try again shortly.\n"
    )


async def test_readyz_gives_up_on_a_store_that_does_not_answer(server_bot, chroma_server, health_port):
    await readyz(health_port, 200)
    os.kill(chroma_server.process.pid, signal.SIGSTOP)  # the server hangs: connects, never answers
    try:
        started = time.monotonic()
        hung = await readyz(health_port, 503)
        waited = time.monotonic() - started
        alive = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{health_port}/healthz")
    finally:
        os.kill(chroma_server.process.pid, signal.SIGCONT)
    after = await readyz(health_port, 200)

    assert hung.text == "the article store did not answer within 2 s\n" and waited < 10
    assert alive.status_code == 200  # alive all along: a hung store never blocks the event loop
    assert after.text == "ready\n"


async def test_on_a_full_disk_questions_are_still_answered_without_earlier_turns(api, small_disk, embeddings, tmp_path):
    data = small_disk / "data"
    article = tmp_path / "mars.md"
    article.write_text(MARS, encoding="utf-8")
    build(make_settings(data, ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None).library.ingest(
        str(article)
    )
    async with bots(api, data, embeddings) as make:
        bot = await make()
        ann = api.user(9001, "Ann")
        chat = api.private_chat(ann)
        before = await bot.ask(chat, ann, MARS_Q)
        filler = small_disk / "filler"
        filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - 8_192))  # the conversations file cannot open
        try:
            during = await bot.ask(chat, ann, MARS_Q)
        finally:
            filler.unlink()
        after = await bot.ask(chat, ann, MARS_Q)

    assert "十二名宇航员" in before["text"]
    assert "十二名宇航员" in during["text"]
    assert "十二名宇航员" in after["text"]
