"""A generated answer shown while the model writes it, in one message edited in place.

Telegram limits how often a bot may edit: about once a second per chat, and twenty
messages a minute in a group. So a draft is sent with the first words and then edited
with the text so far no more often than the chat's EditPacer allows — one edit per
second in private chats, one per three seconds in groups, shared by every answer in
that chat. When the answer is ready, the draft becomes its first message. The editing
itself is bot/telegram/live_message.py's, shared with the admins' status messages.
"""

from __future__ import annotations

from typing import Self

from telegram import Message
from telegram.constants import ChatType

from bot.telegram.formatting import escape
from bot.telegram.live_message import EditPacer, LiveMessage

PRIVATE_INTERVAL_S = 1.0
GROUP_INTERVAL_S = 3.0
# Shown after the text while it still grows.
CURSOR = " …"


class Draft(LiveMessage):
    """The message that shows an answer while it is written (async context manager).

    `update` may be called from any thread (the engine's) with the text so far; leaving
    the block stops showing it, and `finish` turns it into the answer's first message
    (False when nothing was streamed or showing it failed, so the caller sends one)."""

    def __init__(self, question: Message, pacer: EditPacer) -> None:
        private = question.chat.type == ChatType.PRIVATE
        super().__init__(question, pacer=pacer, interval_s=PRIVATE_INTERVAL_S if private else GROUP_INTERVAL_S)

    def update(self, text: str) -> None:
        """Show `text` (plain, the model's so far) with the cursor after it (thread-safe)."""
        self.post(escape(text) + CURSOR)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()  # the answer, checked, replaces whatever was still to show
