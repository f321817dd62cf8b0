"""Errors a chat user can cause; their message is shown to the user as is.

    ArticlebotError (vectorstore.errors)
    ├── QuestionError      empty or oversized question
    ├── LocalModelError    the local chat model cannot be named, downloaded or verified
    └── GenerationError    generation mode is configured wrongly (LLM_* settings)
"""

from vectorstore.errors import ArticlebotError


class QuestionError(ArticlebotError):
    pass


class LocalModelError(ArticlebotError):
    pass


class GenerationError(ArticlebotError):
    pass
