"""The parts of an update a callback is known to get, typed as present.

PTB types `Update.effective_message`, `Update.callback_query`, `CallbackQuery.data`,
`Message.document` and the like as Optional, because an update in general may lack any
of them. A callback never gets such an update: `app.register` hands each callback only
the updates its filters or pattern let through (message handlers get messages in a chat,
button handlers presses whose data matched their pattern, the upload handlers documents).
These accessors state that once, instead of a check in every callback, and fail loudly
with `UnexpectedUpdateError` if a registration ever changes so the promise no longer holds.
"""

from __future__ import annotations

from telegram import CallbackQuery, Chat, Document, Message, Update

from bot.telegram.texts import language_for


class UnexpectedUpdateError(RuntimeError):
    """A callback got an update its registration should have kept from it (a bug)."""


def message_of(update: Update) -> Message:
    """The message (new or edited) a message or command callback was registered for."""
    if update.effective_message is None:
        raise UnexpectedUpdateError(f"Update {update.update_id} has no message")
    return update.effective_message


def chat_of(update: Update) -> Chat:
    """The chat of a message or button press."""
    if update.effective_chat is None:
        raise UnexpectedUpdateError(f"Update {update.update_id} has no chat")
    return update.effective_chat


def query_of(update: Update) -> CallbackQuery:
    """The button press a CallbackQueryHandler callback was registered for."""
    if update.callback_query is None:
        raise UnexpectedUpdateError(f"Update {update.update_id} is not a button press")
    return update.callback_query


def data_of(query: CallbackQuery) -> str:
    """A button press's callback data, which its handler's pattern has matched."""
    if query.data is None:
        raise UnexpectedUpdateError(f"Button press {query.id} carries no data")
    return query.data


def document_of(message: Message) -> Document:
    """The file of a message let through by `filters.Document`."""
    if message.document is None:
        raise UnexpectedUpdateError(f"Message {message.message_id} carries no document")
    return message.document


def user_language(update: Update) -> str:
    """The language of the update's sender's Telegram client ("zh" or "en"), for replies
    that answer no text of theirs (a command, a button press)."""
    user = update.effective_user
    return language_for(None, user.language_code if user else None)
