"""The 👍 / 👎 buttons under an answer, and the reason a 👎 may come with.

The buttons carry the answer's key in RecentReplies, the same key as its Sources button
(`vote:<key>:up`, `vote:<key>:down`), so a vote is bound to the chat the answer was sent
to and works as long as the Sources button does. The votes themselves are stored by
`bot.feedback.Feedback`.

After a 👎 the bot asks why: the voter's next text message in that chat within
REASON_WINDOW_S is taken as the reason (`AwaitingReason`, a filter for the handler that
takes it, registered before the question handlers), unless they press Skip
(`why:<key>:<voter>`) first. Pending reasons are kept in memory: after a restart the bot
no longer waits for one, and the vote stays without a reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.ext import filters

from bot.telegram.texts import say

PATTERN = r"^vote:[\w-]+:(up|down)$"
# Skip under "what was wrong?": why:<answer key>:<the voter's user id>.
SKIP_PATTERN = r"^why:[\w-]+:\d+$"
# How long the bot waits for the reason of a 👎.
REASON_WINDOW_S = 180.0


def parse(data: str) -> tuple[str, str]:
    """(key, "up" | "down") from callback data matching PATTERN."""
    _, key, verdict = data.split(":")
    return key, verdict


def parse_skip(data: str) -> tuple[str, int]:
    """(key, voter's user id) from callback data matching SKIP_PATTERN."""
    _, key, voter = data.split(":")
    return key, int(voter)


def buttons(key: str) -> list[InlineKeyboardButton]:
    """👍 and 👎, to sit beside the Sources button."""
    return [
        InlineKeyboardButton("👍", callback_data=f"vote:{key}:up"),
        InlineKeyboardButton("👎", callback_data=f"vote:{key}:down"),
    ]


def keyboard(key: str) -> InlineKeyboardMarkup:
    """👍 and 👎 alone: under a refusal, which has no sources."""
    return InlineKeyboardMarkup([buttons(key)])


def skip_keyboard(key: str, voter: int, lang: str) -> InlineKeyboardMarkup:
    """The one button under the "what was wrong?" question; only `voter` may press it."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(say(lang, "vote_skip"), callback_data=f"why:{key}:{voter}")]])


@dataclass
class Pending:
    """A 👎 waiting for its reason."""

    vote_id: int
    key: str  # the answer's
    until: float  # clock time
    prompt_id: int | None = None  # the message that asked why, once sent


class PendingReasons:
    """Per (chat, user): the 👎 whose reason the bot waits for; a newer one replaces it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._pending: dict[tuple[int, int], Pending] = {}

    def expect(self, chat_id: int, user_id: int, vote_id: int, key: str) -> Pending:
        """Wait REASON_WINDOW_S for the reason of the 👎 `vote_id`; from now, before the
        bot has even asked, so no quick reply slips past as a question."""
        now = self.clock()
        for who in [w for w, p in self._pending.items() if p.until <= now]:  # forget expired ones
            del self._pending[who]
        pending = self._pending[chat_id, user_id] = Pending(vote_id, key, now + REASON_WINDOW_S)
        return pending

    def get(self, chat_id: int, user_id: int) -> Pending | None:
        """The pending 👎 of this user in this chat, if the bot still waits for its reason."""
        pending = self._pending.get((chat_id, user_id))
        return pending if pending is not None and pending.until > self.clock() else None

    def take(self, chat_id: int, user_id: int, key: str | None = None) -> Pending | None:
        """The pending 👎 (of the answer `key`, if given), no longer waited for."""
        pending = self.get(chat_id, user_id)
        if pending is None or (key is not None and pending.key != key):
            return None
        del self._pending[chat_id, user_id]
        return pending


class AwaitingReason(filters.MessageFilter):
    """A message from a user, in a chat, where the bot waits for the reason of a 👎."""

    def __init__(self, pending: PendingReasons) -> None:
        super().__init__(name="AWAITING_REASON")
        self.pending = pending

    def filter(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and self.pending.get(message.chat_id, user.id) is not None
