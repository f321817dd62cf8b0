"""Errors a user can cause, with messages fit to show them as they are.

    ArticlebotError                 (base of every user-facing error, in every package)
    ├── EmbeddingModelError         the embedding model cannot be prepared or loaded
    ├── ModelMismatchError          the index was built with a different embedding model
    ├── ArticleNotFoundError        no article with that id
    └── StoreUnavailableError       the Chroma store cannot be reached or used (busy, damaged, disk full, unwritable)

The edges (CLI, Telegram) turn these into one sentence; nothing else catches them.
"""


class ArticlebotError(Exception):
    """Base of all errors whose message is meant for the user."""


class EmbeddingModelError(ArticlebotError):
    pass


class ModelMismatchError(ArticlebotError):
    pass


class ArticleNotFoundError(ArticlebotError):
    pass


class StoreUnavailableError(ArticlebotError):
    pass
