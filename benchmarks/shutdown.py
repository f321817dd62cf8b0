"""How soon `articlebot serve` stops after SIGTERM while an admin's upload is being embedded:
the seconds until the admin is told and until the process has exited (Docker kills it 10 s
after its SIGTERM). Each run is a real bot process against the tests' local Bot API server,
on a data dir of its own; SIGTERM comes once the upload's first batch is stored.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/shutdown.py [--sentences 2500] [--runs 4] [--chunk-size N]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.telegram.conftest import serve_process  # noqa: E402  (after the path is set)
from tests.telegram.fake_botapi import FakeBotAPI  # noqa: E402
from tests.test_store_integrity import template_article  # noqa: E402

ADMIN_ID = 9001
STOPPED = "Stopped: the bot is shutting down"


async def one_run(sentences: int, data: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the admin's "Stopped", seconds to the exit) after SIGTERM."""
    api = FakeBotAPI()
    await api.start()
    process = await serve_process(api, data, ADMIN_USER_IDS=str(ADMIN_ID), **env)
    try:
        admin = api.user(ADMIN_ID, "Ada")
        chat = api.private_chat(admin)
        await api.wait_for(lambda: "zh" in api.commands, timeout=180)  # post_init has run
        api.upload(chat, admin, "labs.txt", template_article(sentences).encode())

        def status() -> str:
            return " ".join(m.get("text", "") for m in api.bot_messages(chat["id"]))

        await api.wait_for(lambda: re.search(r"Embedding [1-9]\d*/", status()), timeout=600)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        exited = asyncio.ensure_future(process.wait())
        told = None
        while not exited.done():
            if told is None and STOPPED in status():
                told = time.monotonic() - sent
            await asyncio.sleep(0.05)
        exit_at = time.monotonic() - sent
        if process.returncode != 0 or STOPPED not in status():
            raise SystemExit(f"the bot exited with {process.returncode}, its admin told: {status()}")
        return exit_at if told is None else told, exit_at
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await api.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2500, help="sentences in the uploaded file")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--chunk-size", type=int, help="CHUNK_SIZE (longer chunks: longer batches to stop)")
    args = parser.parse_args()
    env = {"CHUNK_SIZE": str(args.chunk_size)} if args.chunk_size else {}
    exits = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="articlebot-shutdown-") as folder:
            told, exited = await one_run(args.sentences, Path(folder) / "data", env)
        exits.append(exited)
        print(f"run {run}: admin told {told:.1f} s, process exited {exited:.1f} s after SIGTERM", flush=True)
    chunks = f", CHUNK_SIZE {args.chunk_size}" if args.chunk_size else ""
    median, worst = statistics.median(exits), max(exits)
    print(f"exit after SIGTERM: median {median:.1f} s, max {worst:.1f} s ({args.sentences} sentences{chunks})")


if __name__ == "__main__":
    asyncio.run(main())
