"""Web-page articles kept current: admins' /refresh [ID], and the run every REFRESH_INTERVAL.

Both fetch each article's page again through `Library.refresh` (a 304 or the same text
leaves it; changed text replaces it; a failed fetch keeps the old version), one article at
a time on the writer thread, so questions are answered meanwhile. /refresh reports every
article to the admin who asked; a scheduled run sends each admin (ADMIN_USER_IDS, whose
private chat with the bot has their user id) one message when it replaced an article or
failed to fetch one, and nothing when every page was unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Update
from telegram.error import TelegramError

from bot.errors import NotAWebPageError
from bot.library import Refreshed
from bot.telegram.admin import Status
from bot.telegram.filters import command_argument
from bot.telegram.formatting import escape, truncate_html
from bot.telegram.redaction import without_credentials
from bot.telegram.services import BotApplication, Context
from bot.telegram.texts import say
from bot.telegram.threads import in_engine_thread, in_writer_thread
from bot.telegram.updates import message_of, user_language
from vectorstore.errors import ArticleNotFoundError

logger = logging.getLogger(__name__)

JOB_NAME = "refresh"
_ICONS = {"unchanged": "✅", "replaced": "🔄", "failed": "❌"}


def schedule(application: BotApplication, interval_s: float) -> None:
    """Refresh every web page every `interval_s` seconds, the first time one interval after start."""
    job_queue = application.job_queue
    if job_queue is None:  # PTB without its job-queue extra (APScheduler)
        raise RuntimeError('REFRESH_INTERVAL needs APScheduler: pip install "python-telegram-bot[job-queue]"')
    job_queue.run_repeating(scheduled_refresh, interval=interval_s, first=interval_s, name=JOB_NAME)


async def _refresh_all(
    context: Context, article_ids: list[str], progress: Callable[[int, int], None] = lambda _done, _total: None
) -> list[Refreshed]:
    """Refresh these articles one by one on the writer thread (each its own write, so an
    ingest or a removal can slip in between), calling `progress(done, total)` before each."""
    library = context.bot_data.library
    done: list[Refreshed] = []
    for i, article_id in enumerate(article_ids):
        progress(i, len(article_ids))
        refreshed = await in_writer_thread(context, library.refresh, article_id)
        if refreshed is not None:  # removed meanwhile
            done.append(refreshed)
    return done


def report(results: list[Refreshed], lang: str, *, only_changes: bool = False) -> str:
    """The outcome as Telegram HTML: counts, then a line per article (with `only_changes`,
    only those replaced or not fetched)."""
    counts = {status: sum(r.status == status for r in results) for status in _ICONS}
    head = say(lang, "refresh_scheduled" if only_changes else "refresh_done", total=len(results), **counts)
    lines = [
        f"{_ICONS[r.status]} <code>{escape(without_credentials(r.describe()))}</code>"
        for r in results
        if r.changed or not only_changes
    ]
    return truncate_html("\n".join([head, *lines]))


async def refresh_command(update: Update, context: Context) -> None:
    """/refresh [ID]: fetch every web-page article again (or the one with this id) now."""
    lang = user_language(update)
    message = message_of(update)
    library = context.bot_data.library
    article_id = command_argument(message.text or "") or None
    try:
        records = await in_engine_thread(context, library.web_articles, article_id)
    except ArticleNotFoundError:
        await message.reply_html(say(lang, "unknown_article", id=escape(article_id or "")))
        return
    except NotAWebPageError:
        await message.reply_html(say(lang, "refresh_not_web", id=escape(article_id or "")))
        return
    if not records:
        await message.reply_html(say(lang, "refresh_nothing"))
        return
    status = await Status.send(message, say(lang, "refresh_status", done=0, total=len(records)))

    def progress(done: int, total: int) -> None:
        status.report("refresh", say(lang, "refresh_status", done=done, total=total))

    try:
        results = await _refresh_all(context, [r.article_id for r in records], progress)
    except Exception:  # a bug or a store outage: the status must not stay at "refreshing…"
        logger.exception("Update %s: refresh crashed", update.update_id)
        await status.conclude(say(lang, "refresh_crashed"))
        return
    await status.conclude(report(results, lang))


async def scheduled_refresh(context: Context) -> None:
    """The job run every REFRESH_INTERVAL: refresh every web page; tell the admins what
    changed or failed, in one message each, or nothing when nothing did."""
    library = context.bot_data.library
    try:
        records = await in_engine_thread(context, library.web_articles)
        results = await _refresh_all(context, [r.article_id for r in records])
    except Exception:
        logger.exception("The scheduled refresh crashed")
        text = say("en", "refresh_crashed")
    else:
        logger.info("Scheduled refresh: %s", ", ".join(f"{r.record.article_id} {r.status}" for r in results) or "none")
        if not any(r.changed for r in results):
            return
        text = report(results, "en", only_changes=True)
    for admin_id in sorted(context.bot_data.settings.admin_user_ids):
        try:
            await context.bot.send_message(chat_id=admin_id, text=text)
        except TelegramError as exc:  # an admin who never started a chat with the bot
            logger.warning("Cannot tell admin %s about the refresh: %s", admin_id, exc)
