"""Stopping `articlebot serve` (SIGTERM, as systemd and Docker do) while an admin's ingest runs."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import chromadb
import pytest

from tests.conftest import MODELS_DIR
from tests.telegram.fake_botapi import TOKEN, FakeBotAPI
from tests.test_store_integrity import template_article

REPO = Path(__file__).resolve().parents[2]
ADMIN_ID = 9001


@pytest.mark.slow
async def test_sigterm_stops_a_running_ingest_removes_its_chunks_and_exits_0(api: FakeBotAPI, tmp_path):
    data = tmp_path / "data"
    env = os.environ | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "TELEGRAM_FILE_URL": api.file_url,
        "ARTICLEBOT_DATA_DIR": str(data),
        "ARTICLEBOT_MODELS_DIR": str(MODELS_DIR),
        "ADMIN_USER_IDS": str(ADMIN_ID),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.cli.commands import main; main()",
        "serve",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    admin = api.user(ADMIN_ID, "Ada")
    chat = api.private_chat(admin)
    try:
        await api.wait_for(lambda: "zh" in api.commands, timeout=120)  # post_init has run
        api.upload(chat, admin, "labs.txt", template_article(3000).encode())

        def embedding_started() -> bool:
            return any(re.search(r"embedding [1-9]\d*/", m.get("text", "")) for m in api.bot_messages(chat["id"]))

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
