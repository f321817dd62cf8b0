"""A generated answer shown while the model writes it, in one message edited in place.

Telegram limits how often a bot may edit: about once a second per chat, and twenty
messages a minute in a group. So a draft is sent with the first words and then edited
with the text so far no more often than the chat's EditPacer allows — one edit per
second in private chats, one per three seconds in groups, shared by every answer in
that chat. When the answer is ready, the draft becomes its first message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError

from bot.telegram.formatting import escape

logger = logging.getLogger(__name__)

PRIVATE_INTERVAL_S = 1.0
GROUP_INTERVAL_S = 3.0
# Shown after the text while it still grows.
CURSOR = " …"


class EditPacer:
    """Hands out each chat's edit times, at least an interval apart."""

    def __init__(self) -> None:
        self._next: dict[int, float] = {}

    def reserve(self, chat_id: int, interval_s: float) -> float:
        """Seconds to wait before this chat's next edit (that slot is then taken)."""
        now = time.monotonic()
        if len(self._next) > 10_000:  # forget chats that have been quiet for a while
            self._next = {c: t for c, t in self._next.items() if t > now}
        at = max(now, self._next.get(chat_id, 0.0))
        self._next[chat_id] = at + interval_s
        return at - now


class Draft:
    """The message that shows an answer while it is written (async context manager).

    `update` may be called from any thread (the engine's) with the text so far."""

    def __init__(self, question: Message, pacer: EditPacer) -> None:
        self.question = question
        self.pacer = pacer
        self.interval_s = PRIVATE_INTERVAL_S if question.chat.type == ChatType.PRIVATE else GROUP_INTERVAL_S
        self.message: Message | None = None  # sent once the first words arrive
        self._latest = ""
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task | None = None
        self._sending = asyncio.Lock()  # an edit in flight is never cut off

    def update(self, text: str) -> None:
        self._loop.call_soon_threadsafe(self._set, text)

    def _set(self, text: str) -> None:
        self._latest = text
        self._changed.set()

    async def __aenter__(self) -> Draft:
        self._task = asyncio.create_task(self._show_updates())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        async with self._sending:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _show_updates(self) -> None:
        """Show the latest text whenever it changed and the pace allows; stop showing at
        the first failure (the finished answer is still sent)."""
        while True:
            await self._changed.wait()
            wait_s = self.pacer.reserve(self.question.chat_id, self.interval_s)
            if self.message is not None:  # the first words go out at once
                await asyncio.sleep(wait_s)
            self._changed.clear()
            async with self._sending:
                try:
                    await self._show(escape(self._latest) + CURSOR)
                except TelegramError as exc:
                    logger.warning("Stopped showing a draft in chat %s: %s", self.question.chat_id, exc)
                    return

    async def _show(self, html: str, markup: InlineKeyboardMarkup | None = None) -> None:
        try:
            if self.message is None:
                self.message = await self.question.reply_html(html, reply_markup=markup, do_quote=True)
            else:
                await self.message.edit_text(html, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise

    async def finish(self, html: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """Turn the draft into the answer's first message; False when there is no draft
        (nothing was streamed, or showing it failed), so the caller sends one."""
        if self.message is None:
            return False
        await asyncio.sleep(self.pacer.reserve(self.question.chat_id, self.interval_s))
        try:
            await self._show(html, markup)
        except TelegramError as exc:
            logger.warning("Could not edit the draft in chat %s: %s", self.question.chat_id, exc)
            return False
        return True
