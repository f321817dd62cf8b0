"""A message that shows work in progress by being edited in place, fed from any thread.

Two things use it: a generated answer while the model writes it (`streaming.Draft`) and
an admin's ingest or reindex while it runs (`admin.Status`). Both get their texts from a
worker thread and must neither flood Telegram with edits nor leave the message stale.
`edit` is the one place that treats Telegram's "message is not modified" as success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import Self

from telegram import InlineKeyboardMarkup, Message
from telegram.error import BadRequest, TelegramError

logger = logging.getLogger(__name__)


async def edit(request: Awaitable[object]) -> None:
    """Await an edit request (`message.edit_text(...)`, `query.edit_message_text(...)`).

    Telegram refuses an edit that changes nothing ("message is not modified"): the
    message already shows what was asked, e.g. after two quick presses of one button.
    """
    try:
        await request
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


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


class LiveMessage:
    """One message, replying to `reply_to`, that shows the texts `post`ed to it.

    `post` may be called from any thread. Posts are shown in order; consecutive posts
    with one key (a growing draft; embedding 32/400, 64/400…) collapse into the latest,
    so edits never pile up behind fast work. With a `pacer`, edits keep to the chat's
    `interval_s`. The message is sent with the first post, unless it already exists.

    Progress is best effort: showing stops at the first failure. `finish` puts the final
    text in place and says whether it could; the caller then sends it some other way.
    """

    def __init__(
        self,
        reply_to: Message,
        *,
        message: Message | None = None,
        pacer: EditPacer | None = None,
        interval_s: float = 0.0,
    ) -> None:
        self.reply_to = reply_to
        self.message = message  # None until the first post is sent
        self.pacer = pacer
        self.interval_s = interval_s
        self._shown: tuple[str, InlineKeyboardMarkup | None] | None = None
        self._queue: list[tuple[str, str]] = []  # (key, html) not shown yet
        self._draining = False
        self._changed = asyncio.Event()
        self._sending = asyncio.Lock()  # an edit in flight is never cut off
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._show_posts())

    @classmethod
    async def send(cls, reply_to: Message, html: str) -> Self:
        """A live message that shows `html` at once (e.g. "starting…")."""
        live = cls(reply_to, message=await reply_to.reply_html(html, do_quote=True))
        live._shown = (html, None)
        return live

    def post(self, html: str, key: str = "") -> None:
        """Show `html` when the pace allows (thread-safe)."""
        self._loop.call_soon_threadsafe(self._add, key, html)

    async def stop(self) -> None:
        """Stop showing posts: one in flight completes, the rest are dropped."""
        async with self._sending:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def finish(self, html: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """Show what is still posted (unless stopped), then `html` with `markup`; False
        when there is no message to edit or the edit failed."""
        self._draining = True
        self._changed.set()
        if not self._task.done():  # done: stopped, or showing failed
            await self._task
        if self.message is None:
            return False
        await self._pace()
        try:
            await self._show(html, markup)
        except TelegramError as exc:
            logger.warning(
                "Could not finish message %s in chat %s: %s", self.message.message_id, self.reply_to.chat_id, exc
            )
            return False
        return True

    def _add(self, key: str, html: str) -> None:
        if self._queue and self._queue[-1][0] == key:
            self._queue[-1] = (key, html)
        else:
            self._queue.append((key, html))
        self._changed.set()

    async def _show_posts(self) -> None:
        while True:
            if not self._queue:
                if self._draining:
                    return
                await self._changed.wait()
                self._changed.clear()
                continue
            await self._pace(wait=self.message is not None)  # the first post goes out at once
            async with self._sending:
                _, html = self._queue.pop(0)  # the latest text of its key
                try:
                    await self._show(html)
                except TelegramError as exc:
                    logger.warning("Stopped showing progress in chat %s: %s", self.reply_to.chat_id, exc)
                    self._queue.clear()
                    return

    async def _pace(self, wait: bool = True) -> None:
        """Take the chat's next edit slot, and wait for it unless told not to."""
        if self.pacer is not None:
            wait_s = self.pacer.reserve(self.reply_to.chat_id, self.interval_s)
            if wait:
                await asyncio.sleep(wait_s)

    async def _show(self, html: str, markup: InlineKeyboardMarkup | None = None) -> None:
        if self._shown == (html, markup):
            return
        if self.message is None:
            self.message = await self.reply_to.reply_html(html, reply_markup=markup, do_quote=True)
        else:
            await edit(self.message.edit_text(html, reply_markup=markup))
        self._shown = (html, markup)
