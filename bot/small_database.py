"""Small SQLite databases under the data dir (the votes, the daily quotas).

Opened and used the same way as the chats' recent turns (SQLAlchemy on a file), with one
difference: anything that goes wrong with the file (a data dir that is a file, a full or
read-only disk, a damaged database) is a DataFileError naming the file, a line the
command line and the log can show as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, NullPool, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import DataFileError


class SmallDatabase:
    """One SQLite file, created with `schema` (statements separated by ";") on first use."""

    def __init__(self, path: Path, schema: str, what: str) -> None:
        self.path = path
        self.what = what
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from exc
        # A connection per use, closed after it: nothing held open between questions (a
        # pool per file would keep descriptors open for the life of every Application).
        self.engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
        with self.begin() as connection:
            for statement in schema.split(";"):
                if statement.strip():
                    connection.execute(text(statement))

    def _error(self, exc: Exception) -> DataFileError:
        why = getattr(exc, "orig", None) or exc
        return DataFileError(f"The {self.what} database {self.path} cannot be used: {why}")

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed at the end of the block."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except (OSError, SQLAlchemyError) as exc:
            raise self._error(exc) from exc

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading."""
        try:
            with self.engine.connect() as connection:
                yield connection
        except (OSError, SQLAlchemyError) as exc:
            raise self._error(exc) from exc
