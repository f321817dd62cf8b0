"""The bot's callbacks, `(update, context) -> None`, registered by `app.register`.

Who gets to which callback (private chat, group mention or reply, message type) is
decided by the filters at registration; the callbacks only do the work. Long-lived
services are `context.bot_data`, one typed `Services` (bot/telegram/services.py).

Replies quote the message they answer in groups (PTB's default for `reply_*`), where
several people talk at once; answers quote their question everywhere, because several
may be in flight and finish out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.answering.answer import Answer, Turn
from bot.answering.engine import Engine
from bot.errors import DataFileError, EmptyQuestionError, QuestionError, QuestionTooLongError
from bot.telegram import sources, votes
from bot.telegram.conversations import Conversations
from bot.telegram.filters import command_argument, without_mention
from bot.telegram.flood_guard import limited
from bot.telegram.formatting import (
    article_list,
    escape,
    failure_reason,
    last_message,
    layout,
    title_list,
    truncate_text,
)
from bot.telegram.live_message import edit
from bot.telegram.services import Context
from bot.telegram.streaming import Draft
from bot.telegram.texts import language_for, say
from bot.telegram.threads import in_engine_thread
from bot.telegram.updates import chat_of, data_of, message_of, query_of, user_language
from vectorstore.errors import ArticlebotError

logger = logging.getLogger(__name__)

# Telegram shows "typing…" for 5 s or until the bot's next message; renew it before then.
TYPING_RENEW_S = 4.5
# The thanks for a 👎's reason repeats it, shortened to this many characters.
REASON_ECHO_CHARS = 200


# -- plumbing ---------------------------------------------------------------------------


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
    chat = chat_of(update)
    if chat.type == chat.PRIVATE or update.effective_user is None:
        return str(chat.id)
    return f"{chat.id}:{update.effective_user.id}"


def replied_turn(update: Update, context: Context) -> Turn | None:
    """The answer a message replies to, as the turn it follows up: in a group anyone may
    reply to the bot's answer to someone else ("它是哪家公司发布的?"), whose conversation
    is not theirs. None when the message replies to no answer the bot still remembers
    (only an answer's last message carries its buttons, and with them its key)."""
    replied = message_of(update).reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    buttons = [b for row in (replied.reply_markup.inline_keyboard if replied.reply_markup else ()) for b in row]
    for button in buttons:
        data = str(button.callback_data or "")
        for pattern, parse in ((sources.PATTERN, sources.parse), (votes.PATTERN, votes.parse)):
            if re.match(pattern, data):
                reply = context.bot_data.replies.get(parse(data)[0], replied.chat_id)
                return reply.answer.turn if reply is not None else None
    return None


def _converse(
    engine: Engine,
    conversations: Conversations,
    key: str,
    question: str,
    on_draft: Callable[[str], None],
    replied: Turn | None = None,
) -> Answer:
    """Answer `question` as the next turn of the conversation `key` (or, when it replies
    to an answer, of that answer), and remember it in `key`'s.

    Conversations that cannot be read or written (a full disk: SQLite cannot even open
    the file to read) cost follow-ups, not the answer: it is given without earlier turns."""
    try:
        earlier = [replied] if replied is not None else conversations.turns(key)
    except DataFileError as exc:
        logger.warning("Answering without the chat's earlier turns: %s", exc)
        earlier = []
    answer = engine.answer(question, earlier=earlier, on_draft=on_draft)
    try:
        conversations.add(key, answer.understood_as, answer.text)
    except DataFileError as exc:
        logger.warning("This turn is not remembered: %s", exc)
    return answer


async def _answer(update: Update, context: Context, question: str) -> None:
    """Answer `question` under the message that asked it, with sources and the buttons
    (Sources, 👍, 👎; a refusal gets the votes only), and count it against the asker's
    daily quota.

    A generated answer appears while it is written (bot/telegram/streaming.py)."""
    message = message_of(update)
    lang = language_for(question) if question.strip() else user_language(update)
    services = context.bot_data
    try:
        services.engine.check_question(question)  # asked first: a question it won't take shows no "typing…"
        async with _typing(message), Draft(message, services.pacer) as draft:
            answer: Answer = await in_engine_thread(
                context,
                _converse,
                services.engine,
                services.conversations,
                conversation_key(update),
                question,
                draft.update,
                replied_turn(update, context),
            )
    except QuestionError as exc:  # the engine won't take the question: say why, in their language
        logger.info("Update %s: %s", update.update_id, exc)
        await message.reply_html(_question_problem(exc, lang), do_quote=True)
        return
    except ArticlebotError as exc:  # trouble on the server's side (store, data files, models)
        logger.warning("Update %s: %s", update.update_id, exc)
        await message.reply_html(_server_problem(exc, lang, update, context), do_quote=True)
        return
    if services.quota.enabled and update.effective_user:
        await in_engine_thread(context, services.quota.count, update.effective_user.id)
    reply = layout(answer, lang)
    key = services.replies.add(reply, message.chat_id)
    markup = sources.keyboard(key, lang, expanded=False) if reply.has_sources else votes.keyboard(key)
    bodies = [*reply.parts, last_message(reply, expanded=False)]
    for i, body in enumerate(bodies):
        last = i == len(bodies) - 1
        if i == 0 and await draft.finish(body, markup if last else None):
            continue
        await message.reply_html(body, reply_markup=markup if last else None, do_quote=True)


def _server_problem(exc: ArticlebotError, lang: str, update: Update, context: Context) -> str:
    """Why a question could not be answered: the details (server paths, addresses) for an
    admin, who can act on them; for anyone else, that it is the bot's problem, not theirs."""
    user = update.effective_user
    if user is not None and user.id in context.bot_data.access.admins:
        return failure_reason(lang, exc)
    return say(lang, "cannot_answer_now")


def _question_problem(exc: QuestionError, lang: str) -> str:
    """Why the engine didn't take a question, in `lang`: the engine decides, we word it."""
    if isinstance(exc, QuestionTooLongError):
        return say(lang, "too_long", length=exc.length, limit=exc.limit)
    if isinstance(exc, EmptyQuestionError):
        return say(lang, "empty_question", example=escape(say(lang, "example")))
    return escape(str(exc))


# -- commands ---------------------------------------------------------------------------


@limited
async def start(update: Update, context: Context) -> None:
    """/start: what the bot knows and how to ask it."""
    lang = user_language(update)
    records = await in_engine_thread(context, context.bot_data.library.articles)
    if not records:
        await message_of(update).reply_html(say(lang, "start_empty"))
        return
    text = say(
        lang,
        "start",
        titles=title_list(records),
        example=escape(say(lang, "example")),
        mention=escape(f"@{context.bot.username}"),
    )
    await message_of(update).reply_html(text)


@limited
async def show_help(update: Update, context: Context) -> None:
    """/help: how to ask and how to read an answer."""
    lang = user_language(update)
    await message_of(update).reply_html(say(lang, "help", mention=escape(f"@{context.bot.username}")))


@limited
async def list_articles(update: Update, context: Context) -> None:
    """/articles: the articles' titles and when they were added."""
    records = await in_engine_thread(context, context.bot_data.library.articles)
    await message_of(update).reply_html(article_list(records, user_language(update)))


@limited
async def ask(update: Update, context: Context) -> None:
    """/ask QUESTION: answer the question after the command (the way to ask in groups)."""
    message = message_of(update)
    question = command_argument(message.text or "")
    if not question:
        lang = user_language(update)
        await message.reply_html(say(lang, "ask_usage", example=escape(say(lang, "example"))))
        return
    await _answer(update, context, question)


@limited
async def reset(update: Update, context: Context) -> None:
    """/reset: forget the conversation, so the next question starts afresh."""
    await in_engine_thread(context, context.bot_data.conversations.reset, conversation_key(update))
    await message_of(update).reply_html(say(user_language(update), "reset_done"))


@limited
async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot doesn't have, in a private chat."""
    await message_of(update).reply_html(say(user_language(update), "unknown_command"))


# -- questions --------------------------------------------------------------------------


@limited
async def answer_private(update: Update, context: Context) -> None:
    """A text message in a private chat: it is a question."""
    await _answer(update, context, message_of(update).text or "")


@limited
async def answer_in_group(update: Update, context: Context) -> None:
    """A group message that mentions the bot or replies to it: answer it."""
    message = message_of(update)
    question = without_mention(message.text or "", context.bot.username)
    if not question:
        lang = user_language(update)
        await message.reply_html(say(lang, "empty_mention", example=escape(say(lang, "example"))))
        return
    await _answer(update, context, question)


async def toggle_sources(update: Update, context: Context) -> None:
    """The Sources button: expand the quoted passages in place, or collapse them; only in
    the chat the answer was sent to."""
    query = query_of(update)
    key, expand = sources.parse(data_of(query))
    chat = update.effective_chat  # None for a button under an inline message: no chat to match
    reply = context.bot_data.replies.get(key, chat.id if chat else None)
    if reply is None or not reply.has_sources:  # a refusal's key has no sources to show
        await query.answer(say(user_language(update), "sources_gone"), show_alert=True)
        return
    await query.answer()
    # Two quick presses race: the second edit finds the message already in that state.
    await edit(
        query.edit_message_text(
            last_message(reply, expanded=expand), reply_markup=sources.keyboard(key, reply.lang, expand)
        )
    )


async def vote(update: Update, context: Context) -> None:
    """👍 / 👎 under an answer: store the vote, replacing the user's earlier one on it;
    after a new 👎, ask why. Only in the chat the answer was sent to."""
    query = query_of(update)
    key, verdict = votes.parse(data_of(query))
    chat, user = update.effective_chat, update.effective_user
    services = context.bot_data
    reply = services.replies.get(key, chat.id if chat else None)
    if reply is None or chat is None or user is None:
        await query.answer(say(user_language(update), "vote_gone"), show_alert=True)
        return
    helpful = verdict == "up"
    recorded = await in_engine_thread(context, services.feedback.vote, reply.answer, chat.id, key, user.id, helpful)
    logger.info("Vote %s: user %s finds answer %s %s", recorded.id, user.id, key, verdict)
    if helpful:
        services.reasons.take(chat.id, user.id, key)  # changed their mind: no reason wanted
        await query.answer(say(user_language(update), "vote_thanks"))
        return
    await query.answer(say(user_language(update), "vote_down_noted"))
    waiting = services.reasons.get(chat.id, user.id)
    if recorded.has_reason or (waiting is not None and waiting.key == key):
        return  # already said why, or about to: no second "why?"
    lang = user_language(update)
    text = say(lang, "vote_why", name=escape(user.first_name), minutes=round(votes.REASON_WINDOW_S / 60))
    markup = votes.skip_keyboard(key, user.id, lang)
    pending = services.reasons.expect(chat.id, user.id, recorded.id, key)
    if isinstance(query.message, Message):
        prompt = await query.message.reply_html(text, reply_markup=markup, do_quote=True)
    else:  # the answer is too old to quote
        prompt = await context.bot.send_message(chat.id, text, reply_markup=markup)
    pending.prompt_id = prompt.message_id


async def take_reason(update: Update, context: Context) -> None:
    """The next text message after a 👎, from the voter in that chat: the vote's reason,
    which nothing else handles (ApplicationHandlerStop). Unless it is plainly a question
    (it ends with a question mark): then the wait ends, the vote stays without a reason,
    and the question is answered as any other."""
    message = message_of(update)
    user = update.effective_user
    services = context.bot_data
    pending = services.reasons.take(message.chat_id, user.id) if user else None
    if pending is None:  # the wait ended just now: an ordinary message after all
        return
    text = without_mention(message.text or "", context.bot.username)
    if text.rstrip().endswith(("?", "？")):
        if pending.prompt_id is not None:
            await _drop_skip_button(context, message.chat_id, pending.prompt_id)
        return
    if text:
        reason = await in_engine_thread(context, services.feedback.give_reason, pending.vote_id, text)
        logger.info("Vote %s: reason given", pending.vote_id)
        thanks = say(
            language_for(reason), "vote_reason_thanks", reason=escape(truncate_text(reason, REASON_ECHO_CHARS))
        )
    else:  # a bare mention: as good as Skip
        thanks = say(user_language(update), "vote_skipped")
    await message.reply_html(thanks, do_quote=True)
    if pending.prompt_id is not None:
        await _drop_skip_button(context, message.chat_id, pending.prompt_id)
    raise ApplicationHandlerStop


async def skip_reason(update: Update, context: Context) -> None:
    """Skip under "what was wrong?": the 👎 stays without a reason. Only for the voter."""
    query = query_of(update)
    key, voter = votes.parse_skip(data_of(query))
    chat, user = update.effective_chat, update.effective_user
    lang = user_language(update)
    if chat is None or user is None or user.id != voter:
        await query.answer(say(lang, "vote_not_yours"), show_alert=True)
        return
    context.bot_data.reasons.take(chat.id, user.id, key)
    await query.answer()
    await edit(query.edit_message_text(say(lang, "vote_skipped")))  # the button goes away


async def _drop_skip_button(context: Context, chat_id: int, message_id: int) -> None:
    """Take the Skip button off the "what was wrong?" message (best effort)."""
    try:
        await edit(context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None))
    except TelegramError as exc:  # deleted meanwhile, or too old to edit
        logger.debug("Skip button of message %s stays: %s", message_id, exc)


async def answer_unknown_button(update: Update, context: Context) -> None:
    """A press no other handler takes (an old bot version's button, forged data): answer
    it, or the user's client shows its spinner until it gives up."""
    await query_of(update).answer(say(user_language(update), "button_unknown"))


# -- everything else --------------------------------------------------------------------

# Message attributes checked in this order. Files (documents) never get here: they are
# admins' uploads or refused (bot/telegram/admin.py); an animation also carries a document.
_KINDS = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video_note",
    "video",
    "animation",
    "location",
    "contact",
    "poll",
)


@limited
async def explain_unsupported(update: Update, context: Context) -> None:
    """Stickers, photos, voice and other non-text messages: say that only text works."""
    message = message_of(update)
    kind = next((k for k in _KINDS if getattr(message, k, None)), "other")
    lang = user_language(update)
    await message.reply_html(say(lang, "unsupported", kind=say(lang, f"kind_{kind}")))


@limited
async def explain_edit(update: Update, context: Context) -> None:
    """An edited message: the bot answered (or ignored) the original; ask for a new one."""
    message = message_of(update)
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
