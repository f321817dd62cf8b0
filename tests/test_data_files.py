"""The small SQLite files under the data dir (conversations, votes, quotas): a data dir
written before (through SQLAlchemy and LangChain's SQLChatMessageHistory, in SQLite's
default journal mode) opens with its rows, and a file that cannot be used is an error
naming it."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, message_to_dict

from bot.answering.answer import Answer, Citation, Turn
from bot.errors import DataFileError
from bot.feedback import FILE_NAME as FEEDBACK_FILE
from bot.feedback import Feedback
from bot.telegram.conversations import Conversations
from bot.telegram.quotas import FILE_NAME as QUOTAS_FILE
from bot.telegram.quotas import DailyQuota

# The tables as the earlier code created them, word for word.
MESSAGE_STORE = "CREATE TABLE message_store (\n\tid INTEGER NOT NULL, \n\tsession_id TEXT, \n\tmessage TEXT, \n\tPRIMARY KEY (id)\n)"
VOTES = """CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL, answer_key TEXT NOT NULL,
    user_id INTEGER NOT NULL, helpful INTEGER NOT NULL, reason TEXT, question TEXT NOT NULL,
    understood_as TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL, citations TEXT NOT NULL,
    generated_by TEXT, voted_at TEXT NOT NULL, UNIQUE (chat_id, answer_key, user_id))"""
QUOTAS = """CREATE TABLE IF NOT EXISTS questions_per_day (
    user_id INTEGER NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (user_id, day))"""

CITATION = {"n": 1, "article_id": "sora", "version": "v1", "title": "Sora", "section": "", "quote": "60秒"}
ANSWER = Answer(
    question="它能生成多长的视频?",
    text="最长60秒。[1]",
    refused=False,
    citations=[Citation(1, "sora", "Sora", "", "60秒", 0.9, version="v2")],
    standalone="Sora能生成多长的视频?",
)


def write(path, *statements: tuple[str, tuple | dict]) -> None:
    with sqlite3.connect(path) as connection:
        for sql, values in statements:
            connection.execute(sql, values)
    connection.close()


def test_a_data_dir_written_before_keeps_its_turns_votes_and_counts(tmp_path):
    today = datetime.now(UTC).date().isoformat()
    turn = [json.dumps(message_to_dict(m)) for m in (HumanMessage("Sora是什么?"), AIMessage("文生视频大模型。[1]"))]
    write(
        tmp_path / "conversations.sqlite3",
        (MESSAGE_STORE, ()),
        *[("INSERT INTO message_store (session_id, message) VALUES (?, ?)", ("42", m)) for m in turn],
    )
    write(
        tmp_path / FEEDBACK_FILE,
        (VOTES, ()),
        (
            "INSERT INTO votes (chat_id, answer_key, user_id, helpful, reason, question, understood_as, answer,"
            " refused, citations, generated_by, voted_at) VALUES (42, 'k1', 7, 0, 'too vague', 'Q?', 'Q?', 'A.',"
            " 0, ?, NULL, '2026-11-27T18:47:30+00:00')",
            (json.dumps([CITATION]),),
        ),
    )
    write(tmp_path / QUOTAS_FILE, (QUOTAS, ()), ("INSERT INTO questions_per_day VALUES (7, ?, 3)", (today,)))

    conversations = Conversations(tmp_path / "conversations.sqlite3", max_turns=2)
    feedback = Feedback(tmp_path / FEEDBACK_FILE)
    quota = DailyQuota(tmp_path / QUOTAS_FILE, limit=3)

    assert conversations.turns("42") == [Turn("Sora是什么?", "文生视频大模型。[1]")]
    [vote] = feedback.negatives()
    assert (vote.reason, vote.versions, vote.voted_at) == ("too vague", {"sora": "v1"}, "2026-11-27T18:47:30+00:00")
    assert quota.used(7) == 3 and quota.used_up(7)
    # And they go on from there: the old turn is the oldest kept, a new vote is the second.
    for n in (1, 2):
        conversations.add("42", f"q{n}", f"a{n}")
    assert conversations.turns("42") == [Turn("q1", "a1"), Turn("q2", "a2")]
    assert feedback.vote(ANSWER, 42, "k2", 7, helpful=False).id == 2
    assert feedback.counts() == (0, 2)


def test_a_damaged_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / FEEDBACK_FILE
    path.write_bytes(b"not a database at all" * 100)

    with pytest.raises(DataFileError) as raised:
        Feedback(path)

    assert str(raised.value) == f"The feedback database {path} cannot be used: file is not a database"


def test_a_file_another_writer_holds_too_long_is_an_error_naming_it(tmp_path):
    conversations = Conversations(tmp_path / "conversations.sqlite3", max_turns=4)
    other = sqlite3.connect(tmp_path / "conversations.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DataFileError) as raised:
            conversations.add("42", "q", "a")
        read_meanwhile = conversations.turns("42")  # readers do not wait for the writer
    finally:
        other.close()

    assert "conversations database" in str(raised.value) and "database is locked" in str(raised.value)
    assert read_meanwhile == []
    conversations.add("42", "q", "a")
    assert conversations.turns("42") == [Turn("q", "a")]


LONG_ANSWER = "好" * 2000


def keep_talking(path: Path, finished: multiprocessing.SimpleQueue) -> None:
    """A bot process's writes, as fast as it can: turn after turn, each reported once committed."""
    conversations = Conversations(path, max_turns=100_000)
    for n in range(100_000):
        conversations.add("42", f"question {n}", f"answer {n} {LONG_ANSWER}")
        finished.put(n)


def test_a_writer_killed_midway_leaves_every_turn_it_finished_whole(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    context = multiprocessing.get_context("fork")
    finished = context.SimpleQueue()
    writer = context.Process(target=keep_talking, args=(path, finished))
    writer.start()
    try:
        while (last := finished.get()) < 200:
            pass
        writer.kill()  # SIGKILL, while it writes the next turns
    finally:
        writer.kill()
        writer.join()

    conversations = Conversations(path, max_turns=100_000)
    turns = conversations.turns("42")
    # Every turn whole and in order: never a question without its answer, never one lost.
    assert len(turns) >= last + 1
    assert turns == [Turn(f"question {n}", f"answer {n} {LONG_ANSWER}") for n in range(len(turns))]
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    conversations.add("42", "after", "still works")
    assert conversations.turns("42")[-1] == Turn("after", "still works")


def test_a_full_disk_is_an_error_naming_the_file_and_the_turns_before_stay(small_disk):
    path = small_disk / "conversations.sqlite3"
    conversations = Conversations(path, max_turns=100)
    conversations.add("42", "q", "a")
    filler = small_disk / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - 8_192))  # two pages left

    with pytest.raises(DataFileError) as raised:
        for n in range(100):  # more than the room left
            conversations.add("42", f"q{n}", "长" * 5000)
    filler.unlink()
    written = conversations.turns("42")

    assert str(raised.value).startswith(f"The conversations database {path} cannot be used: ")
    assert "full" in str(raised.value)
    assert written[0] == Turn("q", "a") and all(t.answer == "长" * 5000 for t in written[1:])
    conversations.add("42", "once there is room", "a")
    assert conversations.turns("42") == [*written, Turn("once there is room", "a")]
