"""ALLOWED_USER_IDS / ALLOWED_CHAT_IDS: who may use the bot, and the one polite "no".

With both lists empty everybody may (the default). Otherwise an update is let in when
its sender is an allowed user OR its chat is an allowed chat, or its sender is an admin
(ADMIN_USER_IDS):

    ALLOWED_USER_IDS=111,222          these two people, in any chat (their private chats too)
    ALLOWED_CHAT_IDS=-1001234567890   everybody in that group; in a private chat, its id is the user's
    both                              either: a listed person anywhere, anybody in a listed chat

Anybody else gets one refusal per chat per hour (where the bot would have answered:
a private chat, or a group message addressed to it) and nothing more: no answers, no
commands, no buttons. The gate that applies this is `gates.turn_away`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telegram import Chat, User

# One refusal per chat per this many seconds; the rest is ignored.
REFUSE_EVERY_S = 3600.0
# Chats remembered as refused, at most (the oldest go first, so memory stays bounded).
REMEMBERED_CHATS = 10_000


class Access:
    """The allow lists, and when each chat was last told it is not among them."""

    def __init__(
        self,
        users: frozenset[int],
        chats: frozenset[int],
        admins: frozenset[int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.chats = chats
        self.admins = admins
        self.clock = clock
        self._refused: dict[int, float] = {}

    @property
    def restricted(self) -> bool:
        """Whether any list is set; if not, everybody may use the bot."""
        return bool(self.users or self.chats)

    def allows(self, user: User | None, chat: Chat | None) -> bool:
        if not self.restricted:
            return True
        user_id = user.id if user else None
        return user_id in self.admins or user_id in self.users or (chat is not None and chat.id in self.chats)

    def first_refusal(self, chat_id: int) -> bool:
        """Whether `chat_id` should be told now: not yet, or not within the last hour."""
        now = self.clock()
        last = self._refused.get(chat_id)
        if last is not None and now - last < REFUSE_EVERY_S:
            return False
        self._refused.pop(chat_id, None)
        self._refused[chat_id] = now  # re-inserted: the dict stays in order of refusal
        while len(self._refused) > REMEMBERED_CHATS:
            del self._refused[next(iter(self._refused))]
        return True
