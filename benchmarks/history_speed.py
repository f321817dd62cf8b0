"""What the chats' recent turns cost an answer: 1,000 answers' history work (read the
chat's turns, add the new turn, on 100 chats) through `bot.telegram.conversations`, and
what a connection per use costs against one kept open (10,000 reads of a chat's turns).

    .venv/bin/python benchmarks/history_speed.py

Run it with another checkout first on PYTHONPATH for the figures to compare with
(docs/performance.md).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.telegram.conversations import Conversations

ANSWERS = 1000
READS = 10_000


def per_answer(directory: Path) -> tuple[float, float]:
    """Wall and CPU ms per answer's turns read and turn added."""
    conversations = Conversations(directory / "conversations.sqlite3", max_turns=4)
    for chat in range(100):
        conversations.add(str(chat), "warm", "up")
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(ANSWERS):
        key = str(n % 100)
        conversations.turns(key)
        conversations.add(key, f"question {n} " * 5, f"answer {n} " * 20)
    return (time.perf_counter() - wall) / ANSWERS * 1e3, (time.process_time() - cpu) / ANSWERS * 1e3


def per_read(path: Path) -> dict[str, float]:
    """CPU µs per read of one chat's turns: a connection opened for it, or one kept open."""
    query = "SELECT message FROM message_store WHERE session_id = ? ORDER BY id"
    kept = sqlite3.connect(path, isolation_level=None)

    def opened() -> None:
        connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        connection.execute(query, ("42",)).fetchall()
        connection.close()

    def reused() -> None:
        kept.execute(query, ("42",)).fetchall()

    ways: dict[str, Callable[[], None]] = {"a connection per use": opened, "one kept open": reused}
    cpu: dict[str, float] = {}
    for name, read in ways.items():
        start = time.process_time()
        for _ in range(READS):
            read()
        cpu[name] = (time.process_time() - start) / READS * 1e6
    kept.close()
    return cpu


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        wall, cpu = per_answer(Path(directory))
        print(f"history of an answer: {wall:.2f} ms wall, {cpu:.2f} ms CPU")
        for name, micros in per_read(Path(directory) / "conversations.sqlite3").items():
            print(f"a chat's turns read, {name}: {micros:.0f} µs CPU")


if __name__ == "__main__":
    main()
