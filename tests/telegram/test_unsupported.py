"""Every update is answered or deliberately ignored: what the bot can't read, it explains."""

from __future__ import annotations

import pytest

from tests.telegram.conftest import Bot

FILE = {"file_id": "f1", "file_unique_id": "uf1"}
STICKER = {**FILE, "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}


@pytest.fixture
def ann(bot: Bot) -> dict:
    return bot.api.user(3001, "Ann")


@pytest.fixture
def chat(bot: Bot, ann: dict) -> dict:
    return bot.api.private_chat(ann)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ({"sticker": STICKER}, "stickers"),
        ({"photo": [{**FILE, "width": 90, "height": 90}], "caption": "what is this?"}, "photos"),
        ({"voice": {**FILE, "duration": 3, "mime_type": "audio/ogg"}}, "voice messages"),
        ({"location": {"latitude": 52.5, "longitude": 13.4}}, "locations"),
    ],
)
async def test_non_text_message_gets_a_short_explanation(bot, ann, chat, content, kind):
    reply = await bot.say(chat, ann, **content)

    assert reply["text"] == f"I can't read {kind}. Please send your question as a text message."


async def test_explanation_follows_the_users_language(bot):
    li = bot.api.user(3002, "丽", "zh-hans")

    reply = await bot.say(bot.api.private_chat(li), li, voice={**FILE, "duration": 3})

    assert reply["text"] == "我看不懂语音消息。请用文字发送你的问题。"


async def test_edited_message_asks_for_a_new_one(bot, ann, chat):
    question = bot.api.send(chat, ann, "What is Sora?")
    await bot.api.wait_for(lambda: bot.api.replies_to(question))

    bot.api.edit(question, "What is Sora, really?")
    replies = await bot.api.wait_for(lambda: len(bot.api.replies_to(question)) == 2 and bot.api.replies_to(question))

    assert replies[1]["text"] == (
        "I only answer new messages, so I didn't see your edit. Please send the corrected question as a new message."
    )


async def test_oversized_question_is_explained_not_answered(bot, ann, chat):
    reply = await bot.say(chat, ann, "Sora? " * 100)

    assert reply["text"] == (
        "That message is 599 characters long; I take questions of up to 500. Please ask something shorter."
    )
    assert bot.api.calls_to("sendChatAction") == []


async def test_oversized_question_is_explained_in_its_own_language(bot, ann, chat):
    question = "Sora" + "能生成什么样的视频" * 60 + "?"  # from a user whose Telegram is in English

    reply = await bot.say(chat, ann, question)

    assert reply["text"] == f"这条消息有 {len(question)} 个字符,问题最多 500 个字符。请问得简短一些。"


async def test_unknown_command_points_to_help(bot, ann, chat):
    reply = await bot.say(chat, ann, "/weather")

    assert reply["text"] == "I don't know that command. /help shows what I can do."


async def test_updates_the_bot_did_not_ask_for_are_never_sent(bot):
    [first, *_] = await bot.api.wait_for(lambda: bot.api.calls_to("getUpdates"))

    assert first.params["allowed_updates"] == ["message", "edited_message", "callback_query"]
