"""Admins' callbacks: add, replace and remove articles, reindex, stats, from Telegram.

Who is an admin is decided at registration (`app.register`: `filters.User` on
ADMIN_USER_IDS, the sender's user id, never the chat); these callbacks only do the work,
and `refuse` / `refuse_button` answer everybody else. Writes run one at a time on their
own thread (`handlers.WRITER`), so a long ingest never takes the engine threads that
answer questions meanwhile. A write shows its progress by editing one status message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError

from bot.library import Library
from bot.telegram.filters import command_argument, without_mention
from bot.telegram.formatting import admin_article_list, escape, shorten
from bot.telegram.handlers import ENGINE, LIBRARY, WRITER, Context, in_engine_thread, limited, user_language
from bot.telegram.redaction import MASK
from bot.telegram.texts import say
from ingest.loaders import supported
from ingest.pipeline import IngestResult, Progress
from vectorstore.errors import ArticleNotFoundError, ArticlebotError

logger = logging.getLogger(__name__)

# The buttons under /remove: rm:<article id>:1 removes, rm:<article id>:0 keeps it.
REMOVE_PATTERN = r"^rm:[\w-]+:[01]$"
# Progress stages shown while ingesting ("download" is ours, the rest the pipeline's).
STAGES = ("download", "fetching", "cleaning", "chunking", "embedding")
# A URL or file name is shown shortened to this many characters.
SOURCE_CHARS = 120


class Status:
    """One message that shows an operation's progress by being edited.

    `report` may be called from any thread (the writer reports from its own). Reports are
    shown in order; consecutive ones of one stage (embedding 32/400, 64/400…) collapse
    into the latest, so edits never pile up behind a fast ingest. Progress edits are best
    effort; `finish` always delivers the final text.
    """

    def __init__(self, message: Message, text: str) -> None:
        self.message = message
        self._shown = text
        self._loop = asyncio.get_running_loop()
        self._queue: list[tuple[str, str]] = []  # (stage, text) not shown yet
        self._final: str | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._show())

    @classmethod
    async def send(cls, reply_to: Message, text: str) -> Status:
        return cls(await reply_to.reply_html(text, do_quote=True), text)

    def report(self, stage: str, text: str) -> None:
        """Show `text` as the progress of `stage` (thread-safe)."""
        self._loop.call_soon_threadsafe(self._add, stage, text)

    async def finish(self, text: str) -> None:
        """Show what is still queued, then `text`."""
        self._final = text
        self._changed.set()
        await self._task

    def _add(self, stage: str, text: str) -> None:
        if self._queue and self._queue[-1][0] == stage:
            self._queue[-1] = (stage, text)
        else:
            self._queue.append((stage, text))
        self._changed.set()

    async def _show(self) -> None:
        while True:
            while self._queue:
                await self._edit(self._queue.pop(0)[1])
            if self._final is not None:
                break
            await self._changed.wait()
            self._changed.clear()
        if not await self._edit(self._final):
            await self.message.reply_html(self._final, do_quote=True)  # the status message is gone

    async def _edit(self, text: str) -> bool:
        if text == self._shown:
            return True
        try:
            await self.message.edit_text(text)
        except TelegramError as exc:
            logger.info("Could not update status message %s: %s", self.message.message_id, exc)
            return False
        self._shown = text
        return True


# -- adding and replacing ------------------------------------------------------------------

Load = Callable[[Progress], Awaitable[IngestResult]]


async def _ingest(update: Update, context: Context, source: str, load: Load) -> None:
    """Run `load` with a status message, ending in a summary or in what went wrong."""
    lang = user_language(update)
    label = escape(shorten(source, SOURCE_CHARS))

    def status_text(stage: str, done: int = 0, total: int = 0) -> str:
        return say(lang, "status", source=label, stage=say(lang, f"stage_{stage}", done=done, total=total))

    status = await Status.send(update.effective_message, status_text("start"))

    def progress(stage: str, done: int, total: int) -> None:
        if stage in STAGES:
            status.report(stage, status_text(stage, done, total))

    try:
        result = await load(progress)
    except ArticlebotError as exc:  # bad input: its message is written for users
        logger.info("Update %s: not ingested: %s", update.update_id, exc)
        final = say(lang, "ingest_failed", source=label, reason=escape(str(exc)))
    except TelegramError as exc:  # the upload could not be downloaded
        logger.info("Update %s: download failed: %s", update.update_id, exc)
        why = exc.message.replace(context.bot.token, MASK)  # download errors may quote the file URL
        reason = say(lang, "download_failed", reason=escape(why))
        final = say(lang, "ingest_failed", source=label, reason=reason)
    except Exception:  # a bug or an outage midway: the status must not stay at "embedding…"
        logger.exception("Update %s: the ingest crashed", update.update_id)
        final = say(lang, "ingest_crashed", source=label)
    else:
        final = say(lang, f"ingest_{result.status}", source=label, summary=escape(result.describe()))
    await status.finish(final)


async def ingest_url(update: Update, context: Context) -> None:
    """/ingest URL [title]: add the article at a web page, or replace its older version."""
    words = command_argument(update.effective_message.text).split(maxsplit=1)
    if not words:
        lang = user_language(update)
        await update.effective_message.reply_html(say(lang, "ingest_usage", types=escape(supported())))
        return
    url, title = words[0], (words[1].strip() if len(words) > 1 else None)
    library: Library = context.bot_data[LIBRARY]

    async def load(progress: Progress) -> IngestResult:
        return await in_engine_thread(context, library.ingest_url, url, title, progress, pool=WRITER)

    await _ingest(update, context, url, load)


async def ingest_upload(update: Update, context: Context) -> None:
    """An admin's file: add the article it holds (the caption is its title), or replace it."""
    message = update.effective_message
    document = message.document
    name = document.file_name or "upload"
    title = without_mention(message.caption or "", context.bot.username) or None
    library: Library = context.bot_data[LIBRARY]

    async def load(progress: Progress) -> IngestResult:
        library.check_upload(name, document.file_size or 0)  # before downloading a wrong file
        progress("download", 0, 0)
        data = bytes(await (await document.get_file()).download_as_bytearray())
        return await in_engine_thread(context, library.ingest_bytes, data, name, title, progress, pool=WRITER)

    await _ingest(update, context, name, load)


# -- looking after the articles ------------------------------------------------------------


async def list_articles_with_ids(update: Update, context: Context) -> None:
    """/articles for admins: titles with the ids that /remove takes."""
    records = await in_engine_thread(context, context.bot_data[LIBRARY].articles)
    await update.effective_message.reply_html(admin_article_list(records, user_language(update)))


async def ask_to_remove(update: Update, context: Context) -> None:
    """/remove ID: show the article and ask for confirmation with two buttons."""
    lang = user_language(update)
    library: Library = context.bot_data[LIBRARY]
    article_id = command_argument(update.effective_message.text)
    if not article_id:
        records = await in_engine_thread(context, library.articles)
        example = records[0].article_id if records else "sora-1a2b3c"
        await update.effective_message.reply_html(say(lang, "remove_usage", example=escape(example)))
        return
    try:
        record = await in_engine_thread(context, library.article, article_id)
    except ArticleNotFoundError:
        await update.effective_message.reply_html(say(lang, "unknown_article", id=escape(article_id)))
        return
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(say(lang, "remove_yes"), callback_data=f"rm:{record.article_id}:1"),
                InlineKeyboardButton(say(lang, "remove_no"), callback_data=f"rm:{record.article_id}:0"),
            ]
        ]
    )
    text = say(
        lang, "remove_confirm", title=escape(record.title), id=escape(record.article_id), chunks=record.chunk_count
    )
    await update.effective_message.reply_html(text, reply_markup=buttons)


async def confirm_removal(update: Update, context: Context) -> None:
    """The buttons under /remove: remove the article or keep it, and say which in place."""
    query = update.callback_query
    _, article_id, remove = query.data.split(":")
    lang = user_language(update)
    library: Library = context.bot_data[LIBRARY]
    await query.answer()
    try:
        if remove == "1":
            record = await in_engine_thread(context, library.remove, article_id, pool=WRITER)
        else:
            record = await in_engine_thread(context, library.article, article_id)
        done = "removed" if remove == "1" else "remove_kept"
        text = say(lang, done, title=escape(record.title), id=escape(article_id))
    except ArticleNotFoundError:  # removed meanwhile (another admin, or a second press)
        text = say(lang, "unknown_article", id=escape(article_id))
    try:
        await query.edit_message_text(text)  # no reply_markup: the buttons go away
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():  # two quick presses of "Keep it"
            raise


async def reindex(update: Update, context: Context) -> None:
    """/reindex: re-embed every article with the current model, showing progress."""
    lang = user_language(update)
    library: Library = context.bot_data[LIBRARY]
    model = escape(library.model_name)
    status = await Status.send(update.effective_message, say(lang, "reindex_status", model=model, done=0, total="…"))

    def progress(done: int, total: int) -> None:
        status.report("embedding", say(lang, "reindex_status", model=model, done=done, total=total))

    try:
        count = await in_engine_thread(context, library.reindex, progress, pool=WRITER)
    except Exception:  # the status must not stay at "re-embedding…"; running it again is safe
        logger.exception("Update %s: reindex failed", update.update_id)
        await status.finish(say(lang, "reindex_failed"))
        return
    await status.finish(say(lang, "reindex_done", count=count, model=model))


async def show_stats(update: Update, context: Context) -> None:
    """/stats: articles and chunks stored; questions answered and refused since start."""
    lang = user_language(update)
    library: Library = context.bot_data[LIBRARY]
    records = await in_engine_thread(context, library.articles)
    counts = context.bot_data[ENGINE].stats.counts()
    median = say(lang, "no_latency") if counts.median_ms is None else say(lang, "milliseconds", ms=counts.median_ms)
    text = say(
        lang,
        "stats",
        articles=len(records),
        chunks=sum(r.chunk_count for r in records),
        answered=counts.answered,
        refused=counts.refused,
        median=median,
    )
    await update.effective_message.reply_html(text)


async def show_admin_help(update: Update, context: Context) -> None:
    """/help for admins: the usual help, then the admin commands."""
    lang = user_language(update)
    text = say(lang, "help", mention=escape(f"@{context.bot.username}"))
    await update.effective_message.reply_html(text + say(lang, "admin_help", types=escape(supported())))


# -- everybody else ------------------------------------------------------------------------


@limited
async def refuse(update: Update, context: Context) -> None:
    """Admin commands and file uploads from anyone else: a polite no; nothing changes."""
    await update.effective_message.reply_html(say(user_language(update), "admin_only"))


async def refuse_button(update: Update, context: Context) -> None:
    """Somebody else pressed the buttons under an admin's /remove: a polite no."""
    await update.callback_query.answer(say(user_language(update), "admin_only"), show_alert=True)
