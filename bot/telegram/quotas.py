"""DAILY_QUESTIONS_PER_USER: how many questions each user may ask per UTC day.

For a paid language model, where every answer costs. What counts is a question the
engine took (answered, or said the articles don't cover it); a message it won't take
(too long, no question in it) costs nothing and does not count. The counts live in
SQLite under the data dir (`quotas.sqlite3`), one row per user and day, so a restart
does not hand out a fresh quota; a new UTC day starts from zero.

The check is a gate in front of the question handlers (`gates.stop_when_used_up`, in
group -1 for the same updates, admins excluded; see `app.register`): a user who has used
up the day's questions is told when they reset, and the question goes no further. The count is taken after the answer
(`handlers._answer`), so a burst of questions sent at once just before the limit may
pass it by the few still in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.small_database import SmallDatabase
from bot.telegram.texts import say

FILE_NAME = "quotas.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions_per_day (
    user_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
)
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DailyQuota:
    """Questions asked per user per UTC day, against a limit (0: no limit, nothing stored)."""

    def __init__(self, path: Path, limit: int, clock: Callable[[], datetime] = _utc_now) -> None:
        self.limit = limit
        self.clock = clock
        if not self.enabled:
            return
        self.db = SmallDatabase(path, _SCHEMA, "daily quotas")
        with self.db.begin() as connection:  # earlier days never count again
            connection.execute("DELETE FROM questions_per_day WHERE day < :today", {"today": self._today()})

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def _today(self) -> str:
        return self.clock().date().isoformat()

    def used(self, user_id: int) -> int:
        """Questions `user_id` has asked today."""
        if not self.enabled:
            return 0
        with self.db.connect() as connection:
            row = connection.execute(
                "SELECT used FROM questions_per_day WHERE user_id = :user AND day = :day",
                {"user": user_id, "day": self._today()},
            ).fetchone()
        return int(row[0]) if row else 0

    def used_up(self, user_id: int) -> bool:
        return self.enabled and self.used(user_id) >= self.limit

    def count(self, user_id: int) -> None:
        """One more question by `user_id` today."""
        if not self.enabled:
            return
        with self.db.begin() as connection:
            connection.execute(
                "INSERT INTO questions_per_day (user_id, day, used) VALUES (:user, :day, 1) "
                "ON CONFLICT (user_id, day) DO UPDATE SET used = used + 1",
                {"user": user_id, "day": self._today()},
            )

    def resets_in(self) -> timedelta:
        """Time left until the next UTC midnight, when every count starts again."""
        now = self.clock()
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return midnight - now


def duration(left: timedelta, lang: str) -> str:
    """ "5 h 12 min" / "5 小时 12 分钟", rounded up to the minute."""
    minutes = max(1, -(-int(left.total_seconds()) // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return say(lang, "hours_minutes", hours=hours, minutes=minutes)
    return say(lang, "minutes", minutes=minutes)
