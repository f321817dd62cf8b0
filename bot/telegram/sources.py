"""The Sources button: its callback data, its keyboard, and the replies it can reopen.

Telegram gives a button at most 64 bytes of callback data, far too little for quotes, so
the button carries a short key (`src:<key>:1` to expand, `src:<key>:0` to collapse) and
the reply itself waits in a bounded in-memory cache, with the chat it was sent to. After a
restart, once evicted, or pressed in another chat (callback data can be forged, a key
copied), a press gets a polite "ask again" instead of the quotes. The 👍 / 👎 buttons
beside it (bot/telegram/votes.py) carry the same key.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import votes
from bot.telegram.formatting import Reply
from bot.telegram.texts import say

PATTERN = r"^src:[\w-]+:[01]$"
# How many answers keep a working Sources button (a reply is a few kilobytes).
REMEMBERED_REPLIES = 2000


def callback_data(key: str, expand: bool) -> str:
    return f"src:{key}:{int(expand)}"


def parse(data: str) -> tuple[str, bool]:
    """(key, expand) from callback data matching PATTERN."""
    _, key, expand = data.split(":")
    return key, expand == "1"


def keyboard(key: str, lang: str, expanded: bool) -> InlineKeyboardMarkup:
    """ "Sources" while collapsed, "Hide sources" while expanded; then 👍 and 👎."""
    label = say(lang, "hide_sources" if expanded else "show_sources")
    sources = InlineKeyboardButton(label, callback_data=callback_data(key, not expanded))
    return InlineKeyboardMarkup([[sources, *votes.buttons(key)]])


class RecentReplies:
    """The last `size` replies (with sources, or refusals, which have vote buttons only),
    by key, each with the chat it was sent to; least recently used go first."""

    def __init__(self, size: int = REMEMBERED_REPLIES) -> None:
        self.size = size
        self._replies: OrderedDict[str, tuple[int, Reply]] = OrderedDict()

    def add(self, reply: Reply, chat_id: int) -> str:
        """Remember `reply`, sent to `chat_id`; the key for its button."""
        key = secrets.token_urlsafe(6)
        self._replies[key] = (chat_id, reply)
        while len(self._replies) > self.size:
            self._replies.popitem(last=False)
        return key

    def get(self, key: str, chat_id: int | None) -> Reply | None:
        """The reply of `key` if it was sent to `chat_id`; else (forgotten, or another
        chat's, or no chat known) None, the same answer, so a press reveals nothing."""
        entry = self._replies.get(key)
        if entry is None or entry[0] != chat_id:
            return None
        self._replies.move_to_end(key)
        return entry[1]
