"""In groups the bot answers only when addressed: mention, reply to it, or /ask."""

from __future__ import annotations

import itertools

import pytest

from tests.telegram.conftest import Bot

QUESTION = "Sora最长能生成多长的视频?"
# Each test gets its own group: PTB's rate limiter allows 20 messages a minute per group.
_group_ids = itertools.count(-4001, -1)


@pytest.fixture
def group(bot: Bot) -> dict:
    return bot.api.group_chat(next(_group_ids), "Sora readers")


@pytest.fixture
def ann(bot: Bot) -> dict:
    return bot.api.user(2001, "Ann")


@pytest.mark.parametrize(
    "text",
    [
        f"@articlebot_test_bot {QUESTION}",
        f"{QUESTION} @ArticleBot_Test_Bot",
        f"/ask {QUESTION}",
        f"/ask@articlebot_test_bot {QUESTION}",
    ],
)
async def test_addressed_question_is_answered_in_reply_to_the_asking_message(bot, group, ann, text):
    reply = await bot.ask(group, ann, text)

    assert "60秒" in reply["text"] and "[1]" in reply["text"]
    assert reply["chat"]["id"] == group["id"]


async def test_reply_to_the_bots_message_is_a_question(bot, group, ann):
    first = await bot.ask(group, ann, f"/ask {QUESTION}")

    reply = await bot.ask(group, ann, "What is Sora?", reply_to=first)

    assert "[1]" in reply["text"] and reply["reply_to_message"]["text"] == "What is Sora?"


async def test_reply_to_the_bots_answer_to_someone_else_follows_that_answer_up(bot, group, ann):
    bob = bot.api.user(2003, "Bob")
    answer = await bot.ask(group, ann, "/ask Sora这个名字是怎么来的?")

    reply = await bot.ask(group, bob, "它最长能生成多长的视频?", reply_to=answer)

    assert "60秒" in reply["text"] and "[1]" in reply["text"], reply["text"]
    assert "理解为:Sora" in reply["text"]  # "它" is Sora, the subject of the answer Bob replied to


@pytest.mark.parametrize(
    "text",
    [QUESTION, f"@someone_else {QUESTION}", f"/ask@other_bot {QUESTION}", "/start@other_bot"],
)
async def test_group_chatter_not_addressed_to_the_bot_is_ignored(bot, group, ann, text):
    ignored = bot.api.send(group, ann, text)
    asked = await bot.ask(group, ann, f"@articlebot_test_bot {QUESTION}")
    await bot.api.settle()

    assert bot.api.replies_to(ignored) == []
    assert bot.api.bot_messages(group["id"]) == [asked]


async def test_reply_to_another_users_message_is_ignored(bot, group, ann):
    bob = bot.api.user(2002, "Bob")
    said = bot.api.send(group, bob, "Sora looks great")
    ignored = bot.api.send(group, ann, QUESTION, reply_to=said)
    await bot.ask(group, ann, f"/ask {QUESTION}")
    await bot.api.settle()

    assert bot.api.replies_to(ignored) == []


async def test_bare_mention_gets_a_hint_on_how_to_ask(bot, group, ann):
    reply = await bot.ask(group, ann, "@articlebot_test_bot")

    assert reply["text"] == "Yes? Ask me something about the articles, e.g. How long can Sora's videos be?"


async def test_ask_without_a_question_explains_the_usage(bot, group, ann):
    reply = await bot.say(group, ann, "/ask")

    assert reply["text"] == "Put the question after the command, e.g. /ask How long can Sora's videos be?"


async def test_sticker_in_a_group_is_ignored_unless_it_replies_to_the_bot(bot, group, ann):
    sticker = {
        "file_id": "st1",
        "file_unique_id": "ust1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    answer = await bot.ask(group, ann, f"/ask {QUESTION}")
    ignored = bot.api.send(group, ann, sticker=sticker)

    explained = await bot.ask(group, ann, reply_to=answer, text=None, sticker=sticker)
    await bot.api.settle()

    assert bot.api.replies_to(ignored) == []
    assert explained["text"] == "I can't read stickers. Please send your question as a text message."
