"""Each chat's recent turns, kept so that follow-up questions can be understood.

Turns are LangChain chat messages in SQLite under the data dir (bot/small_database.py),
so a restarted bot still knows what a chat was talking about; each chat keeps its last
HISTORY_TURNS turns. A turn stores the question in its standalone form (what was really
asked) and the answer's text.

The table is the one LangChain's `SQLChatMessageHistory` kept them in before, a message
a row in `message_to_dict`'s JSON, so a data dir written by either reads the same.
"""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage, message_to_dict, messages_from_dict

from bot.answering.answer import Turn
from bot.small_database import SmallDatabase

TABLE = "message_store"  # SQLChatMessageHistory's default
# The columns as SQLChatMessageHistory (SQLAlchemy) created them: `id` orders a chat's messages.
_SCHEMA = f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER NOT NULL, session_id TEXT, message TEXT, PRIMARY KEY (id))"


class Conversations:
    """Recent turns per chat key (a private chat, or one person in a group)."""

    def __init__(self, path: Path, max_turns: int) -> None:
        self.db = SmallDatabase(path, _SCHEMA, "conversations")
        self.max_turns = max_turns

    def turns(self, key: str) -> list[Turn]:
        """The chat's recent turns, oldest first."""
        with self.db.connect() as connection:
            rows = connection.execute(f"SELECT message FROM {TABLE} WHERE session_id = ? ORDER BY id", (key,))
            messages = messages_from_dict([json.loads(message) for (message,) in rows])
        return [
            Turn(str(q.content), str(a.content))
            for q, a in zip(messages[::2], messages[1::2])
            if isinstance(q, HumanMessage) and isinstance(a, AIMessage)
        ]

    def add(self, key: str, question: str, answer: str) -> None:
        """Remember a turn, forgetting the chat's turns beyond the newest `max_turns`."""
        rows = [(key, json.dumps(message_to_dict(m))) for m in (HumanMessage(question), AIMessage(answer))]
        with self.db.begin() as connection:
            connection.executemany(f"INSERT INTO {TABLE} (session_id, message) VALUES (?, ?)", rows)
            connection.execute(
                f"DELETE FROM {TABLE} WHERE session_id = :key AND id NOT IN "
                f"(SELECT id FROM {TABLE} WHERE session_id = :key ORDER BY id DESC LIMIT :keep)",
                {"key": key, "keep": 2 * self.max_turns},
            )

    def reset(self, key: str) -> None:
        """Forget the chat's turns (/reset)."""
        with self.db.begin() as connection:
            connection.execute(f"DELETE FROM {TABLE} WHERE session_id = ?", (key,))
