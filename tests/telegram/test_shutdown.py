"""Stopping `articlebot serve` (SIGTERM, as systemd and Docker do) while an admin's ingest runs."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import chromadb
import pytest

from tests.telegram.conftest import serve_process
from tests.telegram.fake_botapi import TOKEN, FakeBotAPI
from tests.test_store_integrity import template_article

ADMIN_ID = 9001


@pytest.mark.slow
async def test_sigterm_stops_a_running_ingest_removes_its_chunks_and_exits_0(api: FakeBotAPI, tmp_path):
    data = tmp_path / "data"
    process = await serve_process(api, data, ADMIN_USER_IDS=str(ADMIN_ID))
    admin = api.user(ADMIN_ID, "Ada")
    chat = api.private_chat(admin)
    try:
        await api.wait_for(lambda: "zh" in api.commands, timeout=120)  # post_init has run
        api.upload(chat, admin, "labs.txt", template_article(3000).encode())

        def embedding_started() -> bool:
            return any(re.search(r"Embedding [1-9]\d*/", m.get("text", "")) for m in api.bot_messages(chat["id"]))

        await api.wait_for(embedding_started, timeout=180)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        took = time.monotonic() - sent
        print(f"stopped {took:.1f} s after SIGTERM")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    log = output.decode()
    [status] = api.bot_messages(chat["id"])
    client = chromadb.PersistentClient(path=str(data / "chroma"))  # raw: opening an ArticleStore would sweep
    live = client.get_collection("articles__registry").get(include=["metadatas"])["metadatas"]
    assert process.returncode == 0, log
    assert took < 60, (
        f"stopped {took:.1f} s after SIGTERM:\n{log}"
    )  # a hang guard: before, it waited for the whole ingest
    assert "Stopped: the bot is shutting down" in status["text"]
    assert [m["title"] for m in live] == ["Sora很强大,但现在也不必过度神话"]  # the default article only
    assert client.get_collection("articles").count() == sum(int(m["chunk_count"]) for m in live)
    assert TOKEN not in log
