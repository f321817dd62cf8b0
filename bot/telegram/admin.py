"""Admins' callbacks: add, replace and remove articles, reindex, export, stats, feedback,
from Telegram.

Who is an admin is decided at registration (`app.register`: `filters.User` on
ADMIN_USER_IDS, the sender's user id, never the chat); these callbacks only do the work,
and `refuse` / `refuse_button` answer everybody else. Writes run one at a time on their
own thread (`threads.in_writer_thread`), so a long ingest never takes the engine threads
that answer questions meanwhile. A write shows its progress by editing one status message.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.feedback import Feedback, Vote
from bot.telegram.filters import command_argument, without_mention
from bot.telegram.flood_guard import limited
from bot.telegram.formatting import admin_article_list, escape, failure_reason, feedback_list, truncate_text
from bot.telegram.live_message import LiveMessage, edit
from bot.telegram.redaction import MASK, without_credentials
from bot.telegram.services import Context
from bot.telegram.texts import say
from bot.telegram.threads import in_engine_thread, in_writer_thread
from bot.telegram.updates import data_of, document_of, message_of, query_of, user_language
from ingest.loaders import supported
from ingest.pipeline import IngestResult
from vectorstore.errors import ArticlebotError, ArticleNotFoundError
from vectorstore.progress import Progress

logger = logging.getLogger(__name__)

# The buttons under /remove: rm:<article id>:1 removes, rm:<article id>:0 keeps it.
REMOVE_PATTERN = r"^rm:[\w-]+:[01]$"
# /feedback shows this many of the latest 👎 votes.
FEEDBACK_SHOWN = 10
# Progress stages shown while ingesting ("download" is ours, the rest the pipeline's).
STAGES = ("download", "fetching", "cleaning", "chunking", "embedding")
# A URL or file name is shown shortened to this many characters.
SOURCE_CHARS = 120
# The largest file a bot may send (sendDocument): a bigger archive is made on the command line.
MAX_SEND_MB = 50
# Sending a big archive takes a while on a slow uplink (PTB's default is 20 s for media).
SEND_TIMEOUT_S = 300


class StoppedForShutdown(Exception):
    """Raised at a write's next progress report once the bot is stopping: the store removes
    what the write had stored, and the admin is told to send it again."""


def _check_running(context: Context) -> None:
    if context.bot_data.stopping.is_set():
        raise StoppedForShutdown


class Status(LiveMessage):
    """One message that shows an operation's progress (ingest, reindex) by being edited.

    `report` may be called from any thread (the writer reports from its own); reports of
    one stage (embedding 32/400, 64/400…) collapse into the latest, so edits never pile
    up behind a fast ingest. Progress is best effort; `conclude` always delivers the end.
    """

    def report(self, stage: str, text: str) -> None:
        """Show `text` as the progress of `stage` (thread-safe)."""
        self.post(text, key=stage)

    async def conclude(self, text: str) -> None:
        """Show what is still reported, then `text`; as a new reply if the status message
        can't be edited (deleted meanwhile)."""
        if not await self.finish(text):
            await self.reply_to.reply_html(text, do_quote=True)


# -- adding and replacing ------------------------------------------------------------------

Load = Callable[[Progress], Awaitable[IngestResult]]


async def _ingest(update: Update, context: Context, source: str, load: Load) -> None:
    """Run `load` with a status message, ending in a summary or in what went wrong."""
    lang = user_language(update)
    # No reply shows a URL's user:password@ (masked before shortening, which could cut it).
    label = escape(truncate_text(without_credentials(source), SOURCE_CHARS))

    def status_text(stage: str, done: int = 0, total: int = 0) -> str:
        return say(lang, "status", source=label, stage=say(lang, f"stage_{stage}", done=done, total=total))

    status = await Status.send(message_of(update), status_text("start"))

    def progress(stage: str, done: int, total: int) -> None:
        if stage in STAGES:  # not "done": the article is live by then
            _check_running(context)
            status.report(stage, status_text(stage, done, total))

    try:
        result = await load(progress)
    except asyncio.CancelledError:  # stopping, past SHUTDOWN_TIMEOUT: the writer stops at its next batch
        await status.conclude(say(lang, "ingest_stopped", source=label))
        raise
    except StoppedForShutdown:
        logger.info("Update %s: ingest stopped, the bot is stopping", update.update_id)
        final = say(lang, "ingest_stopped", source=label)
    except ArticlebotError as exc:  # bad input: its message is written for users
        logger.info("Update %s: not ingested: %s", update.update_id, exc)
        final = say(lang, "ingest_failed", source=label, reason=failure_reason(lang, exc))
    except TelegramError as exc:  # the upload could not be downloaded
        logger.info("Update %s: download failed: %s", update.update_id, exc)
        why = exc.message.replace(context.bot.token, MASK)  # download errors may quote the file URL
        reason = say(lang, "download_failed", reason=escape(without_credentials(why)))
        final = say(lang, "ingest_failed", source=label, reason=reason)
    except Exception:  # a bug or an outage midway: the status must not stay at "embedding…"
        logger.exception("Update %s: the ingest crashed", update.update_id)
        final = say(lang, "ingest_crashed", source=label)
    else:
        summary = escape(without_credentials(result.describe()))
        final = say(lang, f"ingest_{result.status}", source=label, summary=summary)
    await status.conclude(final)


async def ingest_url(update: Update, context: Context) -> None:
    """/ingest URL [title]: add the article at a web page, or replace its older version."""
    words = command_argument(message_of(update).text or "").split(maxsplit=1)
    if not words:
        lang = user_language(update)
        await message_of(update).reply_html(say(lang, "ingest_usage", types=escape(supported())))
        return
    url, title = words[0], (words[1].strip() if len(words) > 1 else None)
    library = context.bot_data.library

    async def load(progress: Progress) -> IngestResult:
        return await in_writer_thread(context, library.ingest_url, url, title, progress)

    await _ingest(update, context, url, load)


async def ingest_upload(update: Update, context: Context) -> None:
    """An admin's file: add the article it holds (the caption is its title), or replace it."""
    message = message_of(update)
    document = document_of(message)
    name = document.file_name or "upload"
    title = without_mention(message.caption or "", context.bot.username) or None
    library = context.bot_data.library

    async def load(progress: Progress) -> IngestResult:
        library.check_upload(name, document.file_size or 0)  # before downloading a wrong file
        progress("download", 0, 0)
        data = bytes(await (await document.get_file()).download_as_bytearray())
        return await in_writer_thread(context, library.ingest_bytes, data, name, title, progress)

    await _ingest(update, context, name, load)


# -- looking after the articles ------------------------------------------------------------


async def list_articles_with_ids(update: Update, context: Context) -> None:
    """/articles for admins: titles with the ids that /remove takes."""
    records = await in_engine_thread(context, context.bot_data.library.articles)
    await message_of(update).reply_html(admin_article_list(records, user_language(update)))


async def ask_to_remove(update: Update, context: Context) -> None:
    """/remove ID: show the article and ask for confirmation with two buttons."""
    lang = user_language(update)
    library = context.bot_data.library
    article_id = command_argument(message_of(update).text or "")
    if not article_id:
        records = await in_engine_thread(context, library.articles)
        example = records[0].article_id if records else "sora-1a2b3c"
        await message_of(update).reply_html(say(lang, "remove_usage", example=escape(example)))
        return
    try:
        record = await in_engine_thread(context, library.article, article_id)
    except ArticleNotFoundError:
        await message_of(update).reply_html(say(lang, "unknown_article", id=escape(article_id)))
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
    await message_of(update).reply_html(text, reply_markup=buttons)


async def confirm_removal(update: Update, context: Context) -> None:
    """The buttons under /remove: remove the article or keep it, and say which in place."""
    query = query_of(update)
    _, article_id, remove = data_of(query).split(":")
    lang = user_language(update)
    library = context.bot_data.library
    await query.answer()
    try:
        if remove == "1":
            record = await in_writer_thread(context, library.remove, article_id)
        else:
            record = await in_engine_thread(context, library.article, article_id)
        done = "removed" if remove == "1" else "remove_kept"
        text = say(lang, done, title=escape(record.title), id=escape(article_id))
    except ArticleNotFoundError:  # removed meanwhile (another admin, or a second press)
        text = say(lang, "unknown_article", id=escape(article_id))
    # No reply_markup: the buttons go away. Two quick presses of "Keep it" edit it twice.
    await edit(query.edit_message_text(text))


async def reindex(update: Update, context: Context) -> None:
    """/reindex: re-embed every article with the current model, showing progress."""
    lang = user_language(update)
    library = context.bot_data.library
    model = escape(library.model_name)
    status = await Status.send(message_of(update), say(lang, "reindex_status", model=model, done=0, total="…"))

    def progress(stage: str, done: int, total: int) -> None:
        _check_running(context)
        status.report(stage, say(lang, "reindex_status", model=model, done=done, total=total))

    try:
        count = await in_writer_thread(context, library.reindex, progress)
    except StoppedForShutdown:
        await status.conclude(say(lang, "reindex_stopped"))
        return
    except Exception:  # the status must not stay at "re-embedding…"; running it again is safe
        logger.exception("Update %s: reindex failed", update.update_id)
        await status.conclude(say(lang, "reindex_failed"))
        return
    await status.conclude(say(lang, "reindex_done", count=count, model=model))


async def export_articles(update: Update, context: Context) -> None:
    """/export: every article in one archive (`bot.archive`), sent as a document;
    `articlebot import` restores it. Made on the writer thread, so no write changes the
    articles while they are read."""
    lang = user_language(update)
    message = message_of(update)
    library = context.bot_data.library
    status = await Status.send(message, say(lang, "export_status"))
    name = f"articlebot-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
    with tempfile.TemporaryDirectory(prefix="articlebot-export-") as folder:
        path = Path(folder) / name
        try:
            summary = await in_writer_thread(context, library.export_archive, path)
        except ArticlebotError as exc:  # the store is unavailable, or the temporary file unwritable
            logger.info("Update %s: not exported: %s", update.update_id, exc)
            await status.conclude(say(lang, "export_failed", reason=escape(str(exc))))
            return
        except Exception:
            logger.exception("Update %s: the export crashed", update.update_id)
            await status.conclude(say(lang, "export_crashed"))
            return
        if summary.size > MAX_SEND_MB * 1024 * 1024:
            await status.conclude(say(lang, "export_too_big", size=summary.size_text, limit=MAX_SEND_MB))
            return
        caption = say(lang, "export_caption", articles=summary.articles, chunks=summary.chunks)
        try:
            with path.open("rb") as archive:
                await message.reply_document(
                    archive, filename=name, caption=caption, do_quote=True, write_timeout=SEND_TIMEOUT_S
                )
        except TelegramError as exc:
            logger.info("Update %s: the archive was not sent: %s", update.update_id, exc)
            await status.conclude(say(lang, "export_failed", reason=escape(exc.message)))
            return
    done = say(lang, "export_done", articles=summary.articles, chunks=summary.chunks, size=summary.size_text, name=name)
    await status.conclude(done)


async def show_stats(update: Update, context: Context) -> None:
    """/stats: articles and chunks stored; questions answered and refused since start."""
    lang = user_language(update)
    records = await in_engine_thread(context, context.bot_data.library.articles)
    counts = context.bot_data.engine.stats.counts()
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
    await message_of(update).reply_html(text)


def _latest_feedback(feedback: Feedback) -> tuple[list[Vote], int, int]:
    up, down = feedback.counts()
    return feedback.negatives(FEEDBACK_SHOWN), up, down


async def show_feedback(update: Update, context: Context) -> None:
    """/feedback: the latest 👎 votes (question, answer, reason, date), and the counts;
    `articlebot feedback --export FILE` turns them all into a question set."""
    votes, up, down = await in_engine_thread(context, _latest_feedback, context.bot_data.feedback)
    await message_of(update).reply_html(feedback_list(votes, up, down, user_language(update)))


async def show_admin_help(update: Update, context: Context) -> None:
    """/help for admins: the usual help, then the admin commands."""
    lang = user_language(update)
    text = say(lang, "help", mention=escape(f"@{context.bot.username}"))
    await message_of(update).reply_html(text + say(lang, "admin_help", types=escape(supported())))


# -- everybody else ------------------------------------------------------------------------


@limited
async def refuse(update: Update, context: Context) -> None:
    """Admin commands and file uploads from anyone else: a polite no; nothing changes."""
    await message_of(update).reply_html(say(user_language(update), "admin_only"))


async def refuse_button(update: Update, context: Context) -> None:
    """Somebody else pressed the buttons under an admin's /remove: a polite no."""
    await query_of(update).answer(say(user_language(update), "admin_only"), show_alert=True)
