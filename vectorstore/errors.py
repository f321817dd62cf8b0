"""Errors a user can cause, with messages fit to show them as they are.

    ArticlebotError                 (base of every user-facing error, in every package)
    ├── EmbeddingModelError         the embedding model cannot be prepared or loaded
    ├── ModelMismatchError          the index was built with a different embedding model
    ├── ArticleNotFoundError        no article with that id
    ├── ArticleChangedError         another run changed an article while this one wrote it
    └── StoreUnavailableError       the Chroma store cannot be reached or used (busy, damaged, disk full, unwritable)

The edges (CLI, Telegram) turn these into one sentence; nothing else catches them.
"""


class ArticlebotError(Exception):
    """Base of all errors whose message is meant for the user.

    The message is the English sentence (what the CLI prints). An error that a face may
    word in the user's own language also carries a stable `code` naming what went wrong
    and the `values` its sentence is made of (file name, limit, URL…): bot/telegram/texts.py
    has a template per code; an error without one, or without a template in that language,
    is shown by its message. (Both are attributes, so copies and pickles keep them.)
    """

    def __init__(self, message: str = "", *, code: str | None = None, **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values: dict[str, object] = values


class EmbeddingModelError(ArticlebotError):
    pass


class ModelMismatchError(ArticlebotError):
    pass


class ArticleNotFoundError(ArticlebotError):
    pass


class ArticleChangedError(ArticlebotError):
    """Raised with nothing stored: the other run's change stays, this one can be run again."""


class StoreUnavailableError(ArticlebotError):
    pass
