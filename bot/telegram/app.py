"""The one place that builds the Telegram `Application` and registers its handlers.

    application = build_application(Settings())      # token and URLs from settings
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
    # or, behind a reverse proxy (our webhook server, which also answers the probes):
    hook = Webhook(url="https://bot.example.com/telegram", secret_token="s3cret")
    run_webhook(application, hook, ALLOWED_UPDATES)   # bot.telegram.webhook

The callbacks share one typed `Services` as `context.bot_data` (PTB's ContextTypes):
filled with the settings and chat state here, and by `post_init` with the engine (loaded
unless one is passed in), its threads (answers) and the writer thread (ingest, remove,
reindex, refresh); `post_init` also registers the command menu and schedules the refresh of
web pages (REFRESH_INTERVAL), `post_shutdown` stops the threads.
With `probes_at`, /healthz and /readyz (bot/telegram/health.py) are served from the start
of `post_init` (before the engine loads) to `post_shutdown`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    SimpleUpdateProcessor,
    TypeHandler,
    filters,
)

from bot.settings import Settings
from bot.telegram import admin, gates, handlers, refresh, sources, votes
from bot.telegram.filters import ADDRESSED_TO_ME, PressedBy
from bot.telegram.health import ProbeServer
from bot.telegram.limits import UserLimit
from bot.telegram.services import BotApplication, Context, Services
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
# Questions (besides /ask): any text in a private chat; in a group, text addressed to the bot.
QUESTION_IN_PRIVATE = NEW & PRIVATE & filters.TEXT & ~filters.COMMAND
QUESTION_IN_GROUP = NEW & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND & ADDRESSED_TO_ME
# Commands only admins may use; anybody else gets a polite refusal.
ADMIN_COMMANDS = ["ingest", "remove", "reindex", "stats", "feedback", "refresh", "export"]
# Handler groups run in this order, before the default group 0 (`register`).
ACCESS_GROUP = -2
BEFORE_QUESTIONS_GROUP = -1


class TrackedUpdates(SimpleUpdateProcessor):
    """PTB's concurrent update processing, knowing which updates are in flight, so that
    stopping can give them a deadline (`ArticlebotApplication.stop`)."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self.in_flight: set[asyncio.Task] = set()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
        try:
            await coroutine
        finally:
            self.in_flight.discard(task)

    def cancel_in_flight(self) -> None:
        for task in self.in_flight:
            task.cancel()


class ArticlebotApplication(Application):
    """PTB's Application, stopping within a deadline.

    PTB's `stop` (on SIGTERM, SIGINT, after `run_polling` / `run_webhook`) waits for every
    update in flight. Here it first tells a running ingest or reindex to stop at its next
    batch (`Services.stopping`; the store then removes what it wrote), and cancels what is
    still running after SHUTDOWN_TIMEOUT, so a stop never waits minutes for an ingest.
    """

    async def stop(self) -> None:
        services: Services = self.bot_data
        services.stopping.set()
        updates = self.update_processor
        deadline = None
        if isinstance(updates, TrackedUpdates):
            delay = services.settings.shutdown_timeout_s
            deadline = asyncio.get_running_loop().call_later(delay, updates.cancel_in_flight)
        try:
            await super().stop()
        finally:
            if deadline is not None:
                deadline.cancel()


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


def build_application(
    settings: Settings,
    *,
    articlebot: Articlebot | None = None,
    user_limit: UserLimit = UserLimit(),
    probes_at: tuple[str, int] | None = None,
    rate_limiter: FloodLimiter | None = None,
) -> BotApplication:
    """The bot, ready for `run_polling` / `run_webhook`; `articlebot` skips loading one;
    `probes_at` (address, port) serves /healthz and /readyz there (long polling: a webhook
    server has them already). `rate_limiter` replaces the FloodLimiter every request goes
    through (default: FLOOD_RETRIES retries), so that benchmarks/speed.py can pass a
    subclass noting when each answer is handed to it, on the real Application."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    probes: ProbeServer | None = None

    async def post_init(application: BotApplication) -> None:
        nonlocal probes
        if probes_at is not None:
            probes = ProbeServer(application, *probes_at)
            await probes.start()
        parts = articlebot
        if parts is None:
            logger.info("Loading the embedding model and the articles…")
            parts = await asyncio.to_thread(build, settings)
            await asyncio.to_thread(parts.engine.prepare)  # the first answer then waits for nothing
        application.bot_data.start(parts, ENGINE_THREADS)
        if settings.refresh_interval_s:  # web pages fetched again on a schedule
            refresh.schedule(application, settings.refresh_interval_s)
        for language, commands in COMMANDS.items():
            await application.bot.set_my_commands(
                [BotCommand(name, description) for name, description in commands], language_code=language or None
            )
        logger.info("Serving as @%s", application.bot.username)

    async def post_shutdown(application: BotApplication) -> None:
        application.bot_data.stop()
        if probes is not None:
            await probes.stop()

    application = (
        ApplicationBuilder()
        .application_class(ArticlebotApplication)
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
        .rate_limiter(rate_limiter if rate_limiter is not None else FloodLimiter(max_retries=FLOOD_RETRIES))
        .concurrent_updates(TrackedUpdates(CONCURRENT_UPDATES))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data.configure(settings, user_limit)
    register(application)
    return application


def register(application: BotApplication) -> None:
    """Add the handlers; within a group the first matching handler wins, so order matters.

    Gates first, in groups of their own (`register_gates`, bot/telegram/gates.py); then
    group 0:

    1. Admins (ADMIN_USER_IDS, checked on the sender's user id, never the chat):
       /ingest /remove /reindex /export /stats /feedback /refresh, /articles with ids, /help with
       the admin
       commands, and uploaded files (where the bot would answer: private, or addressed).
    2. The admin commands and uploaded files from anybody else: a polite refusal.
    3. Commands (/start /help /articles /ask /reset), new messages only.
    4. Buttons: Sources; 👍 / 👎 and Skip under "what was wrong?"; /remove's
       confirmation pressed by an admin, then by anybody else (refused); then any other
       press, answered so the client stops its spinner.
    5. Questions: any text in a private chat; in groups, text that mentions the bot or
       replies to it.
    6. A command the bot doesn't have, in a private chat.
    7. Explanations: edited messages, then non-text messages (stickers, photos, voice…),
       both only where the bot would have answered.
    Everything else (group chatter, service messages, channel posts) is ignored on purpose.
    """
    register_gates(application)
    settings = application.bot_data.settings
    admins = filters.User(user_id=settings.admin_user_ids)
    upload = NEW & filters.Document.ALL & ~filters.ANIMATION & (PRIVATE | ADDRESSED_TO_ME)
    application.add_handlers(
        [
            CommandHandler("ingest", admin.ingest_url, filters=NEW & admins),
            CommandHandler("remove", admin.ask_to_remove, filters=NEW & admins),
            CommandHandler("reindex", admin.reindex, filters=NEW & admins),
            CommandHandler("export", admin.export_articles, filters=NEW & admins),
            CommandHandler("stats", admin.show_stats, filters=NEW & admins),
            CommandHandler("feedback", admin.show_feedback, filters=NEW & admins),
            CommandHandler("refresh", refresh.refresh_command, filters=NEW & admins),
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
            CallbackQueryHandler(handlers.vote, pattern=votes.PATTERN),
            CallbackQueryHandler(handlers.skip_reason, pattern=votes.SKIP_PATTERN),
            PressedBy(admins, admin.confirm_removal, pattern=admin.REMOVE_PATTERN),
            CallbackQueryHandler(admin.refuse_button, pattern=admin.REMOVE_PATTERN),
            CallbackQueryHandler(handlers.answer_unknown_button),  # any other press, or it spins on
            MessageHandler(QUESTION_IN_PRIVATE, handlers.answer_private),
            MessageHandler(QUESTION_IN_GROUP, handlers.answer_in_group),
            MessageHandler(NEW & PRIVATE & filters.COMMAND, handlers.unknown_command),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE & (PRIVATE | ADDRESSED_TO_ME), handlers.explain_edit),
            MessageHandler(
                NEW & ~filters.TEXT & ~filters.StatusUpdate.ALL & (PRIVATE | ADDRESSED_TO_ME),
                handlers.explain_unsupported,
            ),
        ]
    )
    application.add_error_handler(handlers.report_error)


def register_gates(application: BotApplication) -> None:
    """Add the gates, in groups before group 0 (each group's first matching handler runs;
    a gate that raises ApplicationHandlerStop ends the update there):

    ACCESS_GROUP (-2), only with ALLOWED_USER_IDS or ALLOWED_CHAT_IDS set: every update
       from a sender or chat not allowed (admins always are) is stopped, with one polite
       refusal per chat per hour.
    BEFORE_QUESTIONS_GROUP (-1):
       1. The voter's next text message after a 👎, in that chat: its reason.
       2. With DAILY_QUESTIONS_PER_USER set, questions (as group 0 takes them, and /ask)
          from anybody but admins: stopped with the reset time once the day's are used.
    """
    services = application.bot_data
    settings = services.settings
    if services.access.restricted:
        application.add_handler(TypeHandler(Update, gates.turn_away), group=ACCESS_GROUP)
    awaited = NEW & filters.TEXT & ~filters.COMMAND & votes.AwaitingReason(services.reasons)
    gate: list[BaseHandler[Update, Context, None]] = [MessageHandler(awaited, handlers.take_reason)]
    if services.quota.enabled:
        others = ~filters.User(user_id=settings.admin_user_ids)
        gate += [
            MessageHandler((QUESTION_IN_PRIVATE | QUESTION_IN_GROUP) & others, gates.stop_when_used_up),
            CommandHandler("ask", gates.stop_when_used_up, filters=NEW & others),
        ]
    application.add_handlers(gate, group=BEFORE_QUESTIONS_GROUP)
