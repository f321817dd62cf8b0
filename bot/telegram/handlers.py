"""The bot's callbacks, `(update, context) -> None`, registered by `app.register`.

Who gets to which callback (private chat, group mention or reply, message type) is
decided by the filters at registration; the callbacks only do the work. Long-lived
services live in `context.bot_data` under the keys below (see `app.build_application`).

Replies quote the message they answer in groups (PTB's default for `reply_*`), where
several people talk at once; answers quote their question everywhere, because several
may be in flight and finish out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot.answering.answer import Answer
from bot.telegram.conversations import Conversations
from bot.answering.engine import Engine
from bot.settings import Settings
from bot.telegram import sources
from bot.telegram.streaming import Draft
from bot.telegram.filters import command_argument, without_mention
from bot.telegram.formatting import article_list, escape, last_message, layout, title_list
from bot.telegram.limits import UserLimiter, Verdict
from bot.telegram.texts import language_for, say
from vectorstore.errors import ArticlebotError

logger = logging.getLogger(__name__)

# Keys of context.bot_data.
ENGINE = "engine"
LIBRARY = "library"
EXECUTOR = "engine_executor"
# One thread for writes (ingest, remove, reindex): they run one at a time, and a long
# ingest never takes the engine threads that answer questions.
WRITER = "writer_executor"
SETTINGS = "settings"
REPLIES = "recent_replies"
LIMITER = "user_limiter"
CONVERSATIONS = "conversations"
PACER = "edit_pacer"

# Telegram shows "typing…" for 5 s or until the bot's next message; renew it before then.
TYPING_RENEW_S = 4.5

Context = ContextTypes.DEFAULT_TYPE
Callback = Callable[[Update, Context], Awaitable[None]]
T = TypeVar("T")


# -- plumbing ---------------------------------------------------------------------------


def user_language(update: Update) -> str:
    user = update.effective_user
    return language_for(None, user.language_code if user else None)


async def in_engine_thread(context: Context, fn: Callable[..., T], *args: Any, pool: str = EXECUTOR) -> T:
    """Run a blocking engine call on the engine's threads (or the `pool` named by its
    bot_data key, e.g. WRITER), keeping the event loop free."""
    executor: Executor = context.bot_data[pool]
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)


def limited(callback: Callback) -> Callback:
    """Let a user's message through only while they are within their UserLimit.

    Button presses are not limited: they cost no engine time, and AIORateLimiter keeps
    the edits they cause within Telegram's flood limits.
    """

    @functools.wraps(callback)
    async def guarded(update: Update, context: Context) -> None:
        limiter: UserLimiter = context.bot_data[LIMITER]
        who = update.effective_user.id if update.effective_user else update.effective_chat.id
        verdict = limiter.check(who)
        if verdict is Verdict.ALLOW:
            await callback(update, context)
            return
        if verdict is Verdict.WARN:
            note = say(user_language(update), "too_fast", seconds=limiter.wait_s(who))
            await update.effective_message.reply_html(note)
        logger.info("User %s is over the limit (%s); update %s", who, verdict.value, update.update_id)

    return guarded


@contextlib.asynccontextmanager
async def _typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the chat until the block ends (best effort: failures are skipped)."""

    async def show() -> None:
        try:
            await message.reply_chat_action(ChatAction.TYPING)
        except TelegramError as exc:
            logger.debug("No typing indicator in chat %s: %s", message.chat_id, exc)

    async def renew() -> None:
        while True:
            await asyncio.sleep(TYPING_RENEW_S)
            await show()

    await show()
    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()


def conversation_key(update: Update) -> str:
    """Whose conversation a message continues: the private chat's, or in a group the
    sender's own (several people ask there at once)."""
    chat = update.effective_chat
    if chat.type == chat.PRIVATE or update.effective_user is None:
        return str(chat.id)
    return f"{chat.id}:{update.effective_user.id}"


def _converse(
    engine: Engine, conversations: Conversations, key: str, question: str, on_draft: Callable[[str], None]
) -> Answer:
    """Answer `question` as the next turn of the conversation `key`, and remember it."""
    answer = engine.answer(question, earlier=conversations.turns(key), on_draft=on_draft)
    conversations.add(key, answer.understood_as, answer.text)
    return answer


async def _answer(update: Update, context: Context, question: str) -> None:
    """Answer `question` under the message that asked it, with sources and the button.

    A generated answer appears while it is written (bot/telegram/streaming.py)."""
    message = update.effective_message
    lang = language_for(question)
    settings: Settings = context.bot_data[SETTINGS]
    size = len(" ".join(question.split()))
    if size > settings.max_question_chars:
        too_long = say(lang, "too_long", length=size, limit=settings.max_question_chars)
        await message.reply_html(too_long)
        return
    engine: Engine = context.bot_data[ENGINE]
    conversations: Conversations = context.bot_data[CONVERSATIONS]
    try:
        async with _typing(message), Draft(message, context.bot_data[PACER]) as draft:
            answer: Answer = await in_engine_thread(
                context, _converse, engine, conversations, conversation_key(update), question, draft.update
            )
    except ArticlebotError as exc:
        # QuestionError and store trouble: their message is written for users.
        logger.warning("Update %s: %s", update.update_id, exc)
        await message.reply_html(escape(str(exc)), do_quote=True)
        return
    reply = layout(answer, lang)
    markup = None
    if reply.has_sources:
        key = context.bot_data[REPLIES].add(reply)
        markup = sources.keyboard(key, lang, expanded=False)
    bodies = [*reply.parts, last_message(reply, expanded=False)]
    for i, body in enumerate(bodies):
        last = i == len(bodies) - 1
        if i == 0 and await draft.finish(body, markup if last else None):
            continue
        await message.reply_html(body, reply_markup=markup if last else None, do_quote=True)


# -- commands ---------------------------------------------------------------------------


@limited
async def start(update: Update, context: Context) -> None:
    """/start: what the bot knows and how to ask it."""
    lang = user_language(update)
    records = await in_engine_thread(context, context.bot_data[LIBRARY].articles)
    if not records:
        await update.effective_message.reply_html(say(lang, "start_empty"))
        return
    text = say(
        lang,
        "start",
        titles=title_list(records),
        example=escape(say(lang, "example")),
        mention=escape(f"@{context.bot.username}"),
    )
    await update.effective_message.reply_html(text)


@limited
async def show_help(update: Update, context: Context) -> None:
    """/help: how to ask and how to read an answer."""
    lang = user_language(update)
    await update.effective_message.reply_html(say(lang, "help", mention=escape(f"@{context.bot.username}")))


@limited
async def list_articles(update: Update, context: Context) -> None:
    """/articles: the articles' titles and when they were added."""
    records = await in_engine_thread(context, context.bot_data[LIBRARY].articles)
    await update.effective_message.reply_html(article_list(records, user_language(update)))


@limited
async def ask(update: Update, context: Context) -> None:
    """/ask QUESTION: answer the question after the command (the way to ask in groups)."""
    message = update.effective_message
    question = command_argument(message.text)
    if not question:
        lang = user_language(update)
        await message.reply_html(say(lang, "ask_usage", example=escape(say(lang, "example"))))
        return
    await _answer(update, context, question)


@limited
async def reset(update: Update, context: Context) -> None:
    """/reset: forget the conversation, so the next question starts afresh."""
    conversations: Conversations = context.bot_data[CONVERSATIONS]
    await in_engine_thread(context, conversations.reset, conversation_key(update))
    await update.effective_message.reply_html(say(user_language(update), "reset_done"))


@limited
async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot doesn't have, in a private chat."""
    await update.effective_message.reply_html(say(user_language(update), "unknown_command"))


# -- questions --------------------------------------------------------------------------


@limited
async def answer_private(update: Update, context: Context) -> None:
    """A text message in a private chat: it is a question."""
    await _answer(update, context, update.effective_message.text)


@limited
async def answer_in_group(update: Update, context: Context) -> None:
    """A group message that mentions the bot or replies to it: answer it."""
    message = update.effective_message
    question = without_mention(message.text, context.bot.username)
    if not question:
        lang = user_language(update)
        await message.reply_html(say(lang, "empty_mention", example=escape(say(lang, "example"))))
        return
    await _answer(update, context, question)


async def toggle_sources(update: Update, context: Context) -> None:
    """The Sources button: expand the quoted passages in place, or collapse them."""
    query = update.callback_query
    key, expand = sources.parse(query.data)
    reply = context.bot_data[REPLIES].get(key)
    if reply is None:
        await query.answer(say(user_language(update), "sources_gone"), show_alert=True)
        return
    await query.answer()
    try:
        await query.edit_message_text(
            last_message(reply, expanded=expand), reply_markup=sources.keyboard(key, reply.lang, expand)
        )
    except BadRequest as exc:
        # Two quick presses race: the second edit finds the message already in that state.
        if "not modified" not in exc.message.lower():
            raise


# -- everything else --------------------------------------------------------------------

# Message attributes checked in this order. Files (documents) never get here: they are
# admins' uploads or refused (bot/telegram/admin.py); an animation also carries a document.
_KINDS = (
    "sticker", "photo", "voice", "audio", "video_note", "video", "animation",
    "location", "contact", "poll",
)


@limited
async def explain_unsupported(update: Update, context: Context) -> None:
    """Stickers, photos, voice and other non-text messages: say that only text works."""
    message = update.effective_message
    kind = next((k for k in _KINDS if getattr(message, k, None)), "other")
    lang = user_language(update)
    await message.reply_html(say(lang, "unsupported", kind=say(lang, f"kind_{kind}")))


@limited
async def explain_edit(update: Update, context: Context) -> None:
    """An edited message: the bot answered (or ignored) the original; ask for a new one."""
    message = update.effective_message
    lang = language_for(message.text) if message.text else user_language(update)
    await message.reply_html(say(lang, "unsupported_edit"), do_quote=True)


async def report_error(update: object, context: Context) -> None:
    """Log a failed update with its id and traceback, and apologise to the user."""
    if update is None and isinstance(context.error, NetworkError):
        # Polling hiccups: PTB retries by itself; a traceback per retry is only noise.
        logger.warning("Telegram unreachable: %s", context.error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("Update %s caused an error", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    apology = say(user_language(update), "apology")
    try:
        if update.callback_query:
            await update.callback_query.answer(apology, show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_html(apology)
    except TelegramError:
        logger.warning("Could not apologise for update %s", update_id, exc_info=True)
