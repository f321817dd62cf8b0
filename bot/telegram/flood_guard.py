"""The per-user limit (`limits.UserLimiter`) applied to callbacks: `limited` lets a user's
message through while they are within it, and the first one over it gets a note."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.telegram.limits import Verdict
from bot.telegram.services import Context
from bot.telegram.texts import say
from bot.telegram.updates import chat_of, message_of, user_language

logger = logging.getLogger(__name__)

Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


async def within_limit(update: Update, context: Context) -> bool:
    """Whether the sender of this message is within their UserLimit; the first message
    over it gets a note to slow down, the rest nothing."""
    limiter = context.bot_data.limiter
    who = update.effective_user.id if update.effective_user else chat_of(update).id
    verdict = limiter.check(who)
    if verdict is Verdict.ALLOW:
        return True
    if verdict is Verdict.WARN:
        note = say(user_language(update), "too_fast", seconds=limiter.wait_s(who))
        await message_of(update).reply_html(note)
    logger.info("User %s is over the limit (%s); update %s", who, verdict.value, update.update_id)
    return False


def limited(callback: Callback) -> Callback:
    """Let a user's message through only while they are within their UserLimit.

    Button presses are not limited: they cost no engine time, and AIORateLimiter keeps
    the edits they cause within Telegram's flood limits.
    """

    @functools.wraps(callback)
    async def guarded(update: Update, context: Context) -> None:
        if await within_limit(update, context):
            await callback(update, context)

    return guarded
