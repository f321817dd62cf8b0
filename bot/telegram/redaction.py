"""Keeping secrets out of logs, and URL credentials out of replies.

PTB and httpx put the bot token in request URLs (httpx logs them at INFO) and in some
error messages (`InvalidToken: The token `…` was rejected`). `serve` installs this filter
on the root handlers, so no record leaves the process with the token, the webhook secret
or the chat model's API key.
"""

from __future__ import annotations

import logging
import re

MASK = "<redacted>"
# The user:password@ of a URL: from "scheme://" to the last "@" before the path.
_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/?#]*@", re.IGNORECASE)


def without_credentials(text: str) -> str:
    """`text` with the user:password@ of every URL in it replaced by MASK@ (plain text:
    escape it afterwards for HTML, MASK has angle brackets)."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}@", text)


class Redact(logging.Filter):
    """Replaces each of `secrets` in a record's message and traceback."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, MASK)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, MASK)
            if record.stack_info:
                record.stack_info = record.stack_info.replace(secret, MASK)
        record.msg, record.args = message, None
        return True


def redact_logs(*secrets: str) -> None:
    """Install `Redact` on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(Redact(*secrets))
