"""Who the bot listens to, as PTB filters (and one handler) used at handler registration.

In a group the bot answers only messages addressed to it: a mention (`@botname`, in text
or in a caption) or a reply to one of its own messages. With privacy mode on (BotFather's
default) Telegram only delivers those and commands anyway, but with privacy mode off it
delivers all group chatter, which these filters keep out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram.ext import CallbackQueryHandler, filters


class _MentionsMe(filters.MessageFilter):
    """The message's text or caption mentions this bot."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        mention = f"@{bot.username}".lower()
        for entity, text in {
            **message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]),
            **message.parse_caption_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]),
        }.items():
            if text.lower() == mention or (entity.user is not None and entity.user.id == bot.id):
                return True
        return False


class _RepliesToMe(filters.MessageFilter):
    """The message replies to one of this bot's messages."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == message.get_bot().id)


class _CommandForMe(filters.MessageFilter):
    """The message is a command for this bot: `/command`, or `/command@thisbot`."""

    def filter(self, message: Message) -> bool:
        first = message.entities[0] if message.entities else None
        if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
            return False
        _, _, addressee = message.parse_entity(first).partition("@")
        return not addressee or addressee.lower() == (message.get_bot().username or "").lower()


class PressedBy(CallbackQueryHandler):
    """A CallbackQueryHandler for button presses by `users` only.

    PTB's CallbackQueryHandler takes no filters, and `filters.User` looks at a message's
    sender, which for a button is the bot; a press is checked on the user who pressed it.
    """

    def __init__(
        self, users: filters.User, callback: Callable[[Update, Any], Coroutine[Any, Any, None]], pattern: str
    ) -> None:
        super().__init__(callback, pattern=pattern)
        self.users = users

    def check_update(self, update: object) -> bool | object | None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None or user.id not in self.users.user_ids:
            return None
        return super().check_update(update)


MENTIONS_ME = _MentionsMe(name="MENTIONS_ME")
REPLIES_TO_ME = _RepliesToMe(name="REPLIES_TO_ME")
ADDRESSED_TO_ME = MENTIONS_ME | REPLIES_TO_ME
COMMAND_FOR_ME = _CommandForMe(name="COMMAND_FOR_ME")


def without_mention(text: str, username: str) -> str:
    """The question in `text` with `@username` taken out."""
    return " ".join(re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.I).split())


def command_argument(text: str) -> str:
    """What follows `/command` (or `/command@bot`), newlines kept."""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""
