"""Gates: handlers in groups before the others that let an update on, or stop it there.

`app.register` puts them in front of everything else (PTB runs the handler groups in
order; a callback raising ApplicationHandlerStop ends the update's processing):

    group -2  turn_away             ALLOWED_USER_IDS / ALLOWED_CHAT_IDS (bot/telegram/access.py)
    group -1  handlers.take_reason  the reason for a 👎 (not a question)
              stop_when_used_up     DAILY_QUESTIONS_PER_USER (bot/telegram/quotas.py), questions only

So the handlers behind them never see an update from somebody not allowed, nor a
question over the day's quota, and need no checks of their own.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, filters

from bot.telegram.filters import ADDRESSED_TO_ME, COMMAND_FOR_ME
from bot.telegram.flood_guard import within_limit
from bot.telegram.quotas import duration
from bot.telegram.services import Context
from bot.telegram.texts import say
from bot.telegram.threads import in_engine_thread
from bot.telegram.updates import message_of, user_language

logger = logging.getLogger(__name__)

# Where the bot would have answered, so a refusal is due: a private chat, or a group
# message that mentions it, replies to it or is a command for it.
ADDRESSED = filters.ChatType.PRIVATE | ADDRESSED_TO_ME | COMMAND_FOR_ME


async def turn_away(update: Update, context: Context) -> None:
    """Every update: on if its sender or chat is allowed; otherwise stopped here, with one
    polite refusal per chat per hour (a button press gets it as a notice each time, or
    the user's client would show its spinner until it gives up)."""
    access = context.bot_data.access
    user, chat = update.effective_user, update.effective_chat
    if access.allows(user, chat):
        return
    logger.info(
        "Update %s from user %s in chat %s: not allowed",
        update.update_id,
        user.id if user else None,
        chat.id if chat else None,
    )
    refusal = say(user_language(update), "not_allowed")
    if update.callback_query is not None:
        await update.callback_query.answer(refusal, show_alert=True)
    elif chat is not None and update.effective_message is not None and ADDRESSED.check_update(update):
        if access.first_refusal(chat.id):
            await update.effective_message.reply_html(refusal)
    raise ApplicationHandlerStop


async def stop_when_used_up(update: Update, context: Context) -> None:
    """A question: on if the asker has questions left today; otherwise they are told when
    the count starts again (within their flood limit), and the question stops here."""
    quota = context.bot_data.quota
    user = update.effective_user
    if user is None or not await in_engine_thread(context, quota.used_up, user.id):
        return
    logger.info("User %s has asked today's %s questions; update %s", user.id, quota.limit, update.update_id)
    if await within_limit(update, context):
        lang = user_language(update)
        note = say(lang, "quota_used_up", limit=quota.limit, left=duration(quota.resets_in(), lang))
        await message_of(update).reply_html(note, do_quote=True)
    raise ApplicationHandlerStop
