"""The one place that builds the Telegram `Application` and registers its handlers.

    application = build_application(Settings())      # token and URLs from settings
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
    # or, behind a reverse proxy:
    hook = Webhook(url="https://bot.example.com/telegram", secret_token="s3cret")
    application.run_webhook(**hook.options(), allowed_updates=ALLOWED_UPDATES)

The callbacks share one typed `Services` as `context.bot_data` (PTB's ContextTypes):
filled with the settings and chat state here, and by `post_init` with the engine (loaded
unless one is passed in), its threads (answers) and the writer thread (ingest, remove,
reindex); `post_init` also registers the command menu, `post_shutdown` stops the threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.settings import Settings
from bot.telegram import admin, handlers, sources
from bot.telegram.filters import ADDRESSED_TO_ME, PressedBy
from bot.telegram.limits import UserLimit
from bot.telegram.services import BotApplication, Services
from bot.telegram.texts import COMMANDS
from bot.wiring import Articlebot, build

logger = logging.getLogger(__name__)

# Only what the handlers use; Telegram then doesn't send the rest at all.
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
# Retries of a request Telegram answered with 429 "retry after N seconds".
FLOOD_RETRIES = 3
# Threads that run engine calls (CPU-bound); more than the cores only adds contention.
ENGINE_THREADS = min(4, os.cpu_count() or 1)
# Updates processed at once; one slow answer never holds up the others.
CONCURRENT_UPDATES = 64

PRIVATE = filters.ChatType.PRIVATE
NEW = filters.UpdateType.MESSAGE  # not edits: PTB's handlers take edited messages by default
# Commands only admins may use; anybody else gets a polite refusal.
ADMIN_COMMANDS = ["ingest", "remove", "reindex", "stats"]


class FloodLimiter(AIORateLimiter):
    """PTB's rate limiter (Telegram's flood limits, retry on 429), minus "typing…".

    Chat actions are not messages; queueing them behind answers in the 30-per-second
    budget only delays the answers they announce. They are best-effort: a 429 on one is
    dropped by the caller, not retried.
    """

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint == "sendChatAction":
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


@dataclass(frozen=True)
class Webhook:
    """How `run_webhook` listens: Telegram POSTs to `url`, a proxy forwards to listen:port."""

    url: str
    secret_token: str
    listen: str = "127.0.0.1"
    port: int = 8443

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `run_webhook` / `Updater.start_webhook`."""
        return {
            "listen": self.listen,
            "port": self.port,
            "url_path": urlsplit(self.url).path.lstrip("/"),
            "webhook_url": self.url,
            "secret_token": self.secret_token,
        }


def build_application(
    settings: Settings,
    *,
    articlebot: Articlebot | None = None,
    user_limit: UserLimit = UserLimit(),
) -> BotApplication:
    """The bot, ready for `run_polling` / `run_webhook`; `articlebot` skips loading one."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")

    async def post_init(application: BotApplication) -> None:
        parts = articlebot
        if parts is None:
            logger.info("Loading the embedding model and the articles…")
            parts = await asyncio.to_thread(build, settings)
            await asyncio.to_thread(parts.engine.prepare)  # the first answer then waits for nothing
        application.bot_data.start(parts, ENGINE_THREADS)
        for language, commands in COMMANDS.items():
            await application.bot.set_my_commands(
                [BotCommand(name, description) for name, description in commands], language_code=language or None
            )
        logger.info("Serving as @%s", application.bot.username)

    async def post_shutdown(application: BotApplication) -> None:
        application.bot_data.stop()

    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .context_types(ContextTypes(bot_data=Services))
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                # Still answer when the question was deleted meanwhile.
                allow_sending_without_reply=True,
            )
        )
        .rate_limiter(FloodLimiter(max_retries=FLOOD_RETRIES))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data.configure(settings, user_limit)
    register(application)
    return application


def register(application: BotApplication) -> None:
    """Add the handlers; within a group the first matching handler wins, so order matters.

    1. Admins (ADMIN_USER_IDS, checked on the sender's user id, never the chat):
       /ingest /remove /reindex /stats, /articles with ids, /help with the admin
       commands, and uploaded files (where the bot would answer: private, or addressed).
    2. The admin commands and uploaded files from anybody else: a polite refusal.
    3. Commands (/start /help /articles /ask /reset), new messages only.
    4. Buttons: Sources; /remove's confirmation pressed by an admin, then by anybody
       else (refused); then any other press, answered so the client stops its spinner.
    5. Questions: any text in a private chat; in groups, text that mentions the bot or
       replies to it.
    6. A command the bot doesn't have, in a private chat.
    7. Explanations: edited messages, then non-text messages (stickers, photos, voice…),
       both only where the bot would have answered.
    Everything else (group chatter, service messages, channel posts) is ignored on purpose.
    """
    settings = application.bot_data.settings
    admins = filters.User(user_id=settings.admin_user_ids)
    upload = NEW & filters.Document.ALL & ~filters.ANIMATION & (PRIVATE | ADDRESSED_TO_ME)
    application.add_handlers(
        [
            CommandHandler("ingest", admin.ingest_url, filters=NEW & admins),
            CommandHandler("remove", admin.ask_to_remove, filters=NEW & admins),
            CommandHandler("reindex", admin.reindex, filters=NEW & admins),
            CommandHandler("stats", admin.show_stats, filters=NEW & admins),
            CommandHandler("articles", admin.list_articles_with_ids, filters=NEW & admins),
            CommandHandler("help", admin.show_admin_help, filters=NEW & admins),
            MessageHandler(upload & admins, admin.ingest_upload),
            CommandHandler(ADMIN_COMMANDS, admin.refuse, filters=NEW),
            MessageHandler(upload, admin.refuse),
            CommandHandler("start", handlers.start, filters=NEW),
            CommandHandler("help", handlers.show_help, filters=NEW),
            CommandHandler("articles", handlers.list_articles, filters=NEW),
            CommandHandler("ask", handlers.ask, filters=NEW),
            CommandHandler("reset", handlers.reset, filters=NEW),
            CallbackQueryHandler(handlers.toggle_sources, pattern=sources.PATTERN),
            PressedBy(admins, admin.confirm_removal, pattern=admin.REMOVE_PATTERN),
            CallbackQueryHandler(admin.refuse_button, pattern=admin.REMOVE_PATTERN),
            CallbackQueryHandler(handlers.answer_unknown_button),  # any other press, or it spins on
            MessageHandler(NEW & PRIVATE & filters.TEXT & ~filters.COMMAND, handlers.answer_private),
            MessageHandler(
                NEW & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND & ADDRESSED_TO_ME,
                handlers.answer_in_group,
            ),
            MessageHandler(NEW & PRIVATE & filters.COMMAND, handlers.unknown_command),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & (PRIVATE | ADDRESSED_TO_ME), handlers.explain_edit),
            MessageHandler(
                NEW & ~filters.TEXT & ~filters.StatusUpdate.ALL & (PRIVATE | ADDRESSED_TO_ME),
                handlers.explain_unsupported,
            ),
        ]
    )
    application.add_error_handler(handlers.report_error)
