"""Errors a chat user can cause; their message is shown to the user as is.

    ArticlebotError (vectorstore.errors)
    └── QuestionError    empty or oversized question
"""

from vectorstore.errors import ArticlebotError


class QuestionError(ArticlebotError):
    pass
