"""Each chat's recent turns, kept so that follow-up questions can be understood.

Turns are LangChain chat messages in SQLite under the data dir (LangChain's
`SQLChatMessageHistory`), so a restarted bot still knows what a chat was talking about;
each chat keeps its last HISTORY_TURNS turns. A turn stores the question in its
standalone form (what was really asked) and the answer's text.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from sqlalchemy import NullPool, create_engine, text

from bot.answering.answer import Turn

with warnings.catch_warnings():  # langchain-community announces its sunset on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.chat_message_histories import SQLChatMessageHistory
    from langchain_community.chat_message_histories.sql import DefaultMessageConverter

TABLE = "message_store"  # SQLChatMessageHistory's default


class Conversations:
    """Recent turns per chat key (a private chat, or one person in a group)."""

    def __init__(self, path: Path, max_turns: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = create_engine(f"sqlite:///{path}", poolclass=NullPool)  # see bot/small_database.py
        self.max_turns = max_turns
        # One converter for all: each history would otherwise declare its own ORM class for
        # the table, which cost more CPU than the queries (an answer's turns read and
        # written: ~14 → ~6 ms).
        self._converter = DefaultMessageConverter(TABLE)
        # Every history object creates the table if it is missing; creating it here, once,
        # keeps concurrent first questions from racing to create it.
        self._history("")

    def _history(self, key: str) -> SQLChatMessageHistory:
        return SQLChatMessageHistory(
            session_id=key, connection=self.db, table_name=TABLE, custom_message_converter=self._converter
        )

    def turns(self, key: str) -> list[Turn]:
        """The chat's recent turns, oldest first."""
        messages = self._history(key).messages
        return [
            Turn(str(q.content), str(a.content))
            for q, a in zip(messages[::2], messages[1::2])
            if isinstance(q, HumanMessage) and isinstance(a, AIMessage)
        ]

    def add(self, key: str, question: str, answer: str) -> None:
        """Remember a turn, forgetting the chat's turns beyond the newest `max_turns`."""
        self._history(key).add_messages([HumanMessage(question), AIMessage(answer)])
        with self.db.begin() as connection:
            connection.execute(
                text(
                    f"DELETE FROM {TABLE} WHERE session_id = :key AND id NOT IN "
                    f"(SELECT id FROM {TABLE} WHERE session_id = :key ORDER BY id DESC LIMIT :keep)"
                ),
                {"key": key, "keep": 2 * self.max_turns},
            )

    def reset(self, key: str) -> None:
        """Forget the chat's turns (/reset)."""
        self._history(key).clear()
