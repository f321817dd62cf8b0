"""Small SQLite databases under the data dir (the chats' recent turns, the votes, the
daily quotas), through the standard library's sqlite3.

Several threads (the engine's) and processes (the bot, `articlebot feedback`) use a file
at once, so it is in WAL mode (readers and a writer do not block each other) and a writer
waits up to BUSY_TIMEOUT_S for another to finish. Anything that goes wrong with the file
(a data dir that is a file, a full or read-only disk, a damaged or locked database) is a
DataFileError naming the file, a line the command line and the log can show as it is.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from bot.errors import DataFileError

# How long a write waits for another connection's (sqlite3's default, as before).
BUSY_TIMEOUT_S = 5.0


class SmallDatabase:
    """One SQLite file, created with `schema` (statements separated by ";") on first use."""

    def __init__(self, path: Path, schema: str, what: str) -> None:
        self.path = path
        self.what = what
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from exc
        with self._connection() as connection:
            # WAL is a property of the file: set once, every later connection has it.
            connection.execute("PRAGMA journal_mode = WAL")
            # Each statement on its own (autocommit): one that finds its table in place
            # takes no write lock, so opening never waits for another process's writer.
            for statement in schema.split(";"):
                if statement.strip():
                    connection.execute(statement)

    def _error(self, exc: Exception) -> DataFileError:
        return DataFileError(f"The {self.what} database {self.path} cannot be used: {exc}")

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # A connection per use, closed after it: nothing held open between questions (one
        # per thread would keep descriptors open for the life of every Application).
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                connection.row_factory = sqlite3.Row
                yield connection
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc) from exc

    @contextlib.contextmanager
    def begin(self) -> Iterator[sqlite3.Connection]:
        """A connection in a write transaction, committed at the end of the block (rolled
        back if it raises). IMMEDIATE: it waits for other writers here, at its start."""
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for reading (each statement sees the latest commit)."""
        with self._connection() as connection:
            yield connection
