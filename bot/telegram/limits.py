"""A per-user flood guard, so one user's burst cannot starve everybody else.

Each user may send `max_messages` messages that make the bot work (questions, and things
it has to explain) per sliding `period_s`. The first message over the limit gets one
friendly note; the rest of that burst is ignored on purpose, so the bot never floods back.
Outgoing flood limits (Telegram's own) are PTB's `AIORateLimiter`'s job, not this one's.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class UserLimit:
    """How much one user may ask; the defaults allow a brisk human, not a script."""

    max_messages: int = 10
    period_s: float = 60.0


class Verdict(enum.Enum):
    ALLOW = "allow"
    WARN = "warn"  # over the limit: tell the user once
    DROP = "drop"  # still over the limit and already told


class UserLimiter:
    """Sliding-window counts per user id."""

    def __init__(self, limit: UserLimit = UserLimit(), clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def check(self, user_id: int) -> Verdict:
        now = self.clock()
        window = self._seen.setdefault(user_id, deque())
        while window and window[0] <= now - self.limit.period_s:
            window.popleft()
        if len(window) < self.limit.max_messages:
            window.append(now)
            self._warned.pop(user_id, None)
            self._forget_idle(now)
            return Verdict.ALLOW
        if user_id in self._warned:
            return Verdict.DROP
        self._warned[user_id] = now
        return Verdict.WARN

    def wait_s(self, user_id: int) -> int:
        """Whole seconds until `user_id` may ask again."""
        window = self._seen.get(user_id)
        if not window:
            return 0
        return max(1, math.ceil(window[0] + self.limit.period_s - self.clock()))

    def _forget_idle(self, now: float) -> None:
        # Keep memory bounded by active users: drop windows that have fully expired.
        if len(self._seen) > 10_000:
            for user_id in [u for u, w in self._seen.items() if not w or w[-1] <= now - self.limit.period_s]:
                del self._seen[user_id]
