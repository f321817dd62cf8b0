"""Embedded mode and a second process: refused with a message that explains server mode.

Chroma's embedded client keeps each collection's vector index in the memory of the
process that opened it. A second process writing the same directory would leave the bot
answering from a stale index (it sees the new ids but not their vectors) and two writers
can corrupt the index files, so the store is locked to one process; these tests run real
`articlebot` processes against one data dir.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.processes import MARS, MARS_Q, MOON, MOON_Q, AskProcess, articlebot, articlebot_env
from vectorstore.client import LOCK_FILE, make_client


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def busy_message(directory, pid: int) -> str:
    return (
        f"The article store {directory} is in use by another process (pid {pid}); an embedded "
        "store serves one process at a time. Stop that process, or run a Chroma server "
        f"(`chroma run --path {directory} --host 127.0.0.1 --port 8000`) and set "
        "CHROMA_HOST=127.0.0.1 for the bot and every articlebot command (docs/deployment.md: 'Several processes')."
    )


@pytest.mark.model  # runs articlebot, which loads the model
def test_a_second_process_is_refused_while_the_bot_runs_and_nothing_goes_stale(tmp_path):
    data = tmp_path / "data"
    env = articlebot_env(data)
    store_dir = (data / "chroma").resolve()
    assert articlebot("ingest", str(write(tmp_path, "mars.md", MARS)), env=env, cwd=tmp_path).returncode == 0
    moon = write(tmp_path, "moon.md", MOON)

    bot = AskProcess(env, tmp_path)  # the running bot: it holds the store
    try:
        first = bot.ask(MARS_Q)
        refused = articlebot("ingest", str(moon), env=env, cwd=tmp_path)
        listed_meanwhile = articlebot("list", env=env, cwd=tmp_path)
        still = bot.ask(MARS_Q)
        moon_meanwhile = bot.ask(MOON_Q)
    finally:
        bot.process.kill()  # a crash: the lock goes with the process
        bot.close()
    ingested = articlebot("ingest", str(moon), env=env, cwd=tmp_path)
    with AskProcess(env, tmp_path) as restarted:
        mars_after, moon_after = restarted.ask(MARS_Q), restarted.ask(MOON_Q)

    assert "十二名宇航员" in first["answer"]
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip() == f"Error: {busy_message(store_dir, bot.pid)}"
    assert listed_meanwhile.returncode == 1 and "is in use by another process" in listed_meanwhile.stderr
    assert "十二名宇航员" in still["answer"]
    assert moon_meanwhile["refused"]  # the refused ingest wrote nothing
    assert ingested.returncode == 0, ingested.stderr
    assert "十二名宇航员" in mars_after["answer"]
    assert "五公里" in moon_after["answer"] and moon_after["citations"][0]["title"] == "月球射电望远镜计划"


def test_clients_of_one_process_share_the_store_and_another_process_is_refused(tmp_path):
    store_dir = tmp_path / "chroma"
    make_client(store_dir).get_or_create_collection("one")
    second = make_client(store_dir)  # the same process: no conflict
    probe = (
        "import sys; from pathlib import Path; from vectorstore.client import make_client; "
        "from vectorstore.errors import StoreUnavailableError\n"
        "try: make_client(Path(sys.argv[1]))\n"
        "except StoreUnavailableError as exc: print(exc); sys.exit(3)"
    )

    other = subprocess.run([sys.executable, "-c", probe, str(store_dir)], capture_output=True, text=True, timeout=120)

    assert [c.name for c in second.list_collections()] == ["one"]
    assert other.returncode == 3
    assert other.stdout.strip() == busy_message(store_dir.resolve(), os.getpid())
    assert re.fullmatch(r"\d+\n", (store_dir / LOCK_FILE).read_text())
