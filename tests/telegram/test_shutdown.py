"""Stopping `articlebot serve` (SIGTERM, as systemd and Docker do) while an admin's ingest runs."""

from __future__ import annotations

import asyncio
import re
import signal
import time

import chromadb
from chromadb.config import Settings as ChromaSettings

from bot.wiring import build
from tests.conftest import make_settings
from tests.telegram.conftest import serve_process
from tests.telegram.fake_botapi import TOKEN, FakeBotAPI
from tests.test_store_integrity import template_article
from vectorstore.store import ADD_BATCH

ADMIN_ID = 9001
EMBEDDED = re.compile(r"Embedding (\d+)/")


async def test_sigterm_stops_a_running_replace_within_a_batch_and_keeps_the_previous_version(
    api: FakeBotAPI, tmp_path, embeddings
):
    """The ingest stops between the small pieces a batch is embedded in: the admin is told
    in well under the time the ingest took to store one batch (it used to finish the batch
    first, and the process exited 18-32 s after SIGTERM on a busy machine, past Docker's
    10 s; benchmarks/shutdown.py measures the exit). The article stays at its previous
    version, whole, with nothing of the stopped run."""
    data = tmp_path / "data"
    process = await serve_process(
        api,
        data,
        ADMIN_USER_IDS=str(ADMIN_ID),
        CHUNK_SIZE="600",  # three times the default: a batch of these takes seconds on any machine
        SHUTDOWN_TIMEOUT="60",  # no deadline cuts in: the ingest stops by itself
    )
    admin = api.user(ADMIN_ID, "Ada")
    chat = api.private_chat(admin)

    def status() -> str:
        """The bot's latest message to the admin."""
        return next((m.get("text", "") for m in reversed(api.bot_messages(chat["id"]))), "")

    async def stored(chunks: int) -> float:
        """When the status first shows at least `chunks` chunks stored."""
        await api.wait_for(lambda: int((EMBEDDED.search(status()) or [0, 0])[1]) >= chunks, timeout=300)
        return time.monotonic()

    try:
        await api.wait_for(lambda: "zh" in api.commands, timeout=120)  # post_init has run
        api.upload(chat, admin, "labs.txt", template_article(5).encode())
        await api.wait_for(lambda: "Added a new article" in status(), timeout=120)
        api.upload(chat, admin, "labs.txt", template_article(3000).encode())  # replaces it
        batch = -(await stored(ADD_BATCH)) + await stored(2 * ADD_BATCH)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        await api.wait_for(lambda: "Stopped: the bot is shutting down" in status(), timeout=60)
        told = time.monotonic() - sent
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        took = time.monotonic() - sent
        print(f"a batch took {batch:.1f} s; after SIGTERM the admin was told at {told:.1f} s, exit at {took:.1f} s")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    log = output.decode()
    assert process.returncode == 0, log
    assert told < batch / 2, f"told {told:.1f} s after SIGTERM, a batch took {batch:.1f} s:\n{log}"
    # Raw, first: opening an ArticleStore would sweep. (Chroma's settings as articlebot's: one client per path.)
    client = chromadb.PersistentClient(path=str(data / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    live = client.get_collection("articles__registry").get(include=["metadatas"])["metadatas"]
    labs = next(m for m in live if m["title"] == "国家实验室名录")
    assert len(live) == 2 and labs["chunk_count"] == 1  # the default article, and the first labs.txt
    for name in ("articles", "articles__sentences", "articles__sources"):
        stored_versions = {m["version"] for m in client.get_collection(name).get(include=["metadatas"])["metadatas"]}
        assert stored_versions <= {m["version"] for m in live}, name  # nothing of the stopped run
    assert client.get_collection("articles").count() == sum(int(m["chunk_count"]) for m in live)
    assert TOKEN not in log
    bot = build(make_settings(data, ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None)
    assert "研究人员13名" in bot.engine.answer("第3号实验室有多少名研究人员?").text
