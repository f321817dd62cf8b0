"""Ingest errors a user can cause (bad file, bad URL, empty article).

ArticlebotError (vectorstore.errors)
└── IngestError
    ├── SourceNotFoundError      the path does not exist
    ├── UnsupportedSourceError   a file type or content type we cannot read
    ├── SourceTooLargeError      over the configured size limit
    │   └── TooManyChunksError   more chunks than MAX_CHUNKS_PER_ARTICLE
    ├── UnreadableSourceError    broken file, undecodable text, binary garbage
    ├── FetchError               URL unreachable, HTTP error, refused address
    └── EmptyArticleError        nothing left after extraction and cleaning

The common ones are raised with a `code` and their values (`ArticlebotError`), so the
Telegram bot can word them in the admin's language; the message stays the English line.
"""

from vectorstore.errors import ArticlebotError


class IngestError(ArticlebotError):
    pass


class SourceNotFoundError(IngestError):
    pass


class UnsupportedSourceError(IngestError):
    pass


class SourceTooLargeError(IngestError):
    pass


class TooManyChunksError(SourceTooLargeError):
    """An article that would make more chunks than the configured limit: refused after
    chunking, before any of it is embedded or stored."""


class UnreadableSourceError(IngestError):
    pass


class FetchError(IngestError):
    pass


class EmptyArticleError(IngestError):
    pass
