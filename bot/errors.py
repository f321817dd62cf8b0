"""Errors a chat user can cause; their message is shown to the user as is.

    ArticlebotError (vectorstore.errors)
    ├── QuestionError             a question (or question set) the engine won't take
    │   ├── EmptyQuestionError    nothing to answer (blank, emoji, no content word)
    │   └── QuestionTooLongError  over MAX_QUESTION_CHARS (`length`, `limit`)
    ├── LocalModelError           the local chat model cannot be named, downloaded or verified
    ├── GenerationError           generation mode is configured wrongly (LLM_* settings)
    ├── MissingTorchError         the embedding model must be built (or run) with torch, not installed
    ├── ListenError               `serve` cannot listen on its address and port (in use, not here)
    ├── DataFileError             a database under the data dir (turns, votes, quotas) cannot be used
    ├── NotAWebPageError          refresh of an article that came from a file, not a URL
    └── ArchiveError              an export archive that cannot be written, read or imported

The engine decides and raises; each face words it. A question error's message is the
English default (what the CLI prints); its subclasses carry the facts, so a face that
speaks the user's language (Telegram) can say it its own way.
"""

from vectorstore.errors import ArticlebotError


class QuestionError(ArticlebotError):
    pass


class EmptyQuestionError(QuestionError):
    def __init__(self) -> None:
        super().__init__("There is no question in this message: ask something about the articles.")

    def __reduce__(self) -> tuple[type, tuple[()]]:  # copy and pickle call __init__ with no message
        return type(self), ()


class QuestionTooLongError(QuestionError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"The question is too long ({length} characters); please keep it under {limit}.")
        self.length = length
        self.limit = limit

    def __reduce__(self) -> tuple[type, tuple[int, int]]:  # copy and pickle re-create it from its facts
        return type(self), (self.length, self.limit)


class LocalModelError(ArticlebotError):
    pass


class GenerationError(ArticlebotError):
    pass


class ListenError(ArticlebotError):
    pass


class DataFileError(ArticlebotError):
    """A small database under the data dir (chats' turns, votes, daily quotas) cannot be
    opened, read or written; the message names the file."""


class NotAWebPageError(ArticlebotError):
    """Only articles ingested from an http(s) URL can be refreshed: a file's or upload's
    article changes when it is ingested again."""


class ArchiveError(ArticlebotError):
    """`articlebot export` / `import`: a file that is not an articlebot archive, is damaged
    or cut short, or cannot be written; or articles that clash with the store's. Raised
    before anything is written to the store."""


class MissingTorchError(ArticlebotError):
    """torch and sentence-transformers are the prepare extra: they build the embedding model
    once (`articlebot prepare`) and run EMBEDDING_BACKEND=torch; the default run needs neither."""

    def __init__(self, backend: str) -> None:
        need = "EMBEDDING_BACKEND=torch needs" if backend == "torch" else "Building the embedding model (once) needs"
        super().__init__(
            f"{need} torch and sentence-transformers, the prepare extra: "
            "pip install torch==2.13.0 -e '.[prepare]' (scripts/setup.sh installs it), then articlebot prepare."
        )
        self.backend = backend

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return type(self), (self.backend,)
