"""What the callbacks share, typed: `context.bot_data` is one `Services`.

PTB creates `bot_data` itself, from the class given to `ContextTypes(bot_data=...)`, and
with no arguments; so the services arrive in two steps, each filling its attributes:

    configure(settings, user_limit)   when the Application is built (`app.build_application`)
    start(articlebot)                  in post_init: the engine loads slowly, threads start
    stopping.set()                     when the Application stops (`app.ArticlebotApplication`)
    stop()                             in post_shutdown: the threads stop

Reading an attribute before its step raises AttributeError, never a silent None.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.answering.engine import Engine
from bot.feedback import FILE_NAME as FEEDBACK_FILE
from bot.feedback import Feedback
from bot.library import Library
from bot.settings import Settings
from bot.telegram.access import Access
from bot.telegram.conversations import Conversations
from bot.telegram.limits import UserLimit, UserLimiter
from bot.telegram.live_message import EditPacer
from bot.telegram.quotas import FILE_NAME as QUOTAS_FILE
from bot.telegram.quotas import DailyQuota
from bot.telegram.sources import RecentReplies
from bot.telegram.votes import PendingReasons
from bot.wiring import Articlebot


class Services:
    """The bot's long-lived parts, one per Application."""

    # configure()
    settings: Settings
    limiter: UserLimiter
    conversations: Conversations
    access: Access  # ALLOWED_USER_IDS / ALLOWED_CHAT_IDS
    quota: DailyQuota  # DAILY_QUESTIONS_PER_USER
    feedback: Feedback  # 👍 / 👎 votes
    # start()
    engine: Engine
    library: Library
    # Threads that run engine calls (answers, reads of the library).
    engine_threads: Executor
    # One thread for writes (ingest, remove, reindex): they run one at a time, and a long
    # ingest never takes the engine threads that answer questions.
    writer: Executor

    def __init__(self) -> None:
        self.replies = RecentReplies()  # answers whose Sources button can still be pressed
        self.pacer = EditPacer()  # each chat's edit times, shared by all its live messages
        # Set when the bot starts stopping: a running ingest or reindex (on the writer
        # thread) stops at its next batch instead of holding up the shutdown.
        self.stopping = threading.Event()
        self.reasons = PendingReasons()  # 👎 votes whose reason the bot waits for

    def configure(self, settings: Settings, user_limit: UserLimit) -> None:
        self.settings = settings
        self.limiter = UserLimiter(user_limit)
        self.conversations = Conversations(settings.data_dir / "conversations.sqlite3", settings.history_turns)
        self.access = Access(settings.allowed_user_ids, settings.allowed_chat_ids, settings.admin_user_ids)
        self.quota = DailyQuota(settings.data_dir / QUOTAS_FILE, settings.daily_questions_per_user)
        self.feedback = Feedback(settings.data_dir / FEEDBACK_FILE)

    def start(self, articlebot: Articlebot, engine_threads: int) -> None:
        self.engine = articlebot.engine
        self.library = articlebot.library
        self.engine_threads = ThreadPoolExecutor(engine_threads, thread_name_prefix="engine")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="writer")

    def stop(self) -> None:
        """Stop the threads, dropping calls not yet started (safe before `start`)."""
        for name in ("engine_threads", "writer"):
            executor: Executor | None = self.__dict__.pop(name, None)
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)


# The `context` every callback receives, and the Application that passes it.
Context = CallbackContext[ExtBot, dict, dict, Services]
BotApplication = Application[ExtBot, Context, dict, dict, Services, Any]
