"""Who may use the bot (ALLOWED_USER_IDS, ALLOWED_CHAT_IDS) and how much
(DAILY_QUESTIONS_PER_USER), end to end: the real Application against the local Bot API.

Each test runs the bot on a data dir of its own (the quota counts live there), with the
session's engine.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.telegram.app import build_application
from bot.telegram.quotas import DailyQuota, duration
from tests.telegram.conftest import Bot, running, telegram_settings

QUESTION = "Sora最长能生成多长的视频?"
ADMIN_ID = 6001
ANN, BOB, CY = 6002, 6003, 6004
GROUP_ID = -6100
NOT_ALLOWED = (
    "Sorry, this bot only answers the people and groups it was set up for. "
    "If you think you should be one of them, ask whoever runs it."
)
NOT_ALLOWED_ZH = "抱歉,这个机器人只为指定的用户和群组服务。如果你觉得自己应该可以使用,请联系它的管理者。"
USED_UP = re.compile(
    r"You have asked your 2 questions for today\. You can ask again after 00:00 UTC, in (\d+ h )?\d+ min\."
)

StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start_bot(api, articlebot, tmp_path) -> AsyncIterator[StartBot]:
    """Start the bot with these settings on this test's data dir, ADMIN_ID its admin; a
    second call stops the running bot first: a restart."""
    started: list[contextlib.AbstractAsyncContextManager] = []

    async def stop() -> None:
        while started:
            await started.pop().__aexit__(None, None, None)

    async def start(**overrides: Any) -> Bot:
        await stop()
        settings = telegram_settings(
            articlebot.engine,
            api,
            data_dir=tmp_path / "bot-data",
            admin_user_ids=frozenset({ADMIN_ID}),
            **overrides,
        )
        manager = running(build_application(settings, articlebot=articlebot))
        application = await manager.__aenter__()
        started.append(manager)
        return Bot(api, application)

    yield start
    await stop()


def answered(message: dict) -> bool:
    return "60秒" in message["text"] and "[1]" in message["text"]


def texts(bot: Bot, chat: dict) -> list[str]:
    return [m["text"] for m in bot.api.bot_messages(chat["id"])]


# -- who may use the bot ----------------------------------------------------------------------


async def test_a_stranger_in_a_private_chat_gets_one_refusal_an_hour_and_nothing_else(start_bot, api):
    bot = await start_bot(allowed_user_ids=frozenset({ANN}))
    bob = api.user(BOB, "Bob", "en")
    chat = api.private_chat(bob)

    first = await bot.say(chat, bob, QUESTION)
    for text in ("/start", "/help", QUESTION, "/ask " + QUESTION, "/feedback"):
        api.send(chat, bob, text)
    api.send(
        chat,
        bob,
        sticker={
            "file_id": "s",
            "file_unique_id": "us",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    )
    await api.settle()
    quiet = texts(bot, chat)
    access = bot.application.bot_data.access
    access.clock = lambda: time.monotonic() + 3601  # an hour later
    again = await bot.say(chat, bob, QUESTION)
    await api.settle()

    assert first["text"] == NOT_ALLOWED
    assert quiet == [NOT_ALLOWED]  # the rest of the hour: nothing, not even "typing…"
    assert again["text"] == NOT_ALLOWED and texts(bot, chat) == [NOT_ALLOWED, NOT_ALLOWED]
    assert api.calls_to("sendChatAction") == []


async def test_a_stranger_in_a_group_is_refused_once_and_cannot_press_the_buttons(start_bot, api):
    bot = await start_bot(allowed_user_ids=frozenset({ANN}))
    group = api.group_chat(GROUP_ID, "Readers")
    ann, cy = api.user(ANN, "Ann"), api.user(CY, "丽", "zh-hans")

    anns = await bot.ask(group, ann, f"/ask {QUESTION}")
    chatter = api.send(group, cy, "Sora looks great")  # not addressed to the bot: no refusal
    refusal = await bot.say(group, cy, f"@articlebot_test_bot {QUESTION}")
    api.send(group, cy, f"/ask {QUESTION}")
    api.send(group, cy, "What else?", reply_to=anns)
    presses = [api.press(anns, cy, button=i) for i in range(3)]  # Sources, 👍, 👎
    await api.wait_for(lambda: all(p in api.callback_answers for p in presses))
    await api.settle()

    assert answered(anns)
    assert api.replies_to(chatter) == []
    assert refusal["text"] == NOT_ALLOWED_ZH  # in the stranger's language
    assert texts(bot, group) == [anns["text"], NOT_ALLOWED_ZH]
    assert [api.callback_answers[p]["text"] for p in presses] == [NOT_ALLOWED_ZH] * 3
    assert api.calls_to("editMessageText") == []  # the Sources button did nothing
    assert bot.application.bot_data.feedback.counts() == (0, 0)  # nor did the votes


async def test_an_allowed_chat_lets_everybody_in_it_ask_but_only_there(start_bot, api):
    bot = await start_bot(allowed_chat_ids=frozenset({GROUP_ID}))
    group = api.group_chat(GROUP_ID, "Readers")
    bob = api.user(BOB, "Bob")

    in_group = await bot.ask(group, bob, f"@articlebot_test_bot {QUESTION}")
    in_private = await bot.say(api.private_chat(bob), bob, QUESTION)

    assert answered(in_group)
    assert in_private["text"] == NOT_ALLOWED


async def test_users_and_chats_combine_and_admins_are_always_allowed(start_bot, api):
    bot = await start_bot(allowed_user_ids=frozenset({ANN}), allowed_chat_ids=frozenset({GROUP_ID}))
    ann, bob, admin = api.user(ANN, "Ann"), api.user(BOB, "Bob"), api.user(ADMIN_ID, "Ada")
    other_group = api.group_chat(GROUP_ID - 1, "Elsewhere")

    anns = await bot.ask(other_group, ann, f"/ask {QUESTION}")  # an allowed user, in any chat
    bobs = await bot.ask(api.group_chat(GROUP_ID), bob, f"/ask {QUESTION}")  # anybody, in an allowed chat
    admins = await bot.ask(api.private_chat(admin), admin, QUESTION)
    stats = await bot.say(api.private_chat(admin), admin, "/stats")

    assert answered(anns) and answered(bobs) and answered(admins)
    assert stats["text"].startswith("Since start")


# -- how much ---------------------------------------------------------------------------------


async def test_a_used_up_quota_says_when_it_resets_and_survives_a_restart(start_bot, api):
    bot = await start_bot(daily_questions_per_user=2)
    ann, bob, admin = api.user(ANN, "Ann"), api.user(BOB, "Bob"), api.user(ADMIN_ID, "Ada")
    chat = api.private_chat(ann)

    not_a_question = await bot.say(chat, ann, "x" * 600)  # too long: not taken, not counted
    asked = [await bot.ask(chat, ann, QUESTION), await bot.ask(chat, ann, f"/ask {QUESTION}")]
    over = await bot.ask(chat, ann, QUESTION)
    bot = await start_bot(daily_questions_per_user=2)  # a restart on the same data dir
    after_restart = await bot.ask(chat, ann, "What is Sora?")
    bobs = await bot.ask(api.private_chat(bob), bob, QUESTION)
    admins = [await bot.ask(api.private_chat(admin), admin, QUESTION) for _ in range(3)]

    assert "600 characters long" in not_a_question["text"]
    assert all(answered(m) for m in asked)
    assert USED_UP.fullmatch(over["text"]), over["text"]
    assert USED_UP.fullmatch(after_restart["text"]), after_restart["text"]
    assert answered(bobs)
    assert all(answered(m) for m in admins)  # admins have no quota


async def test_the_quota_note_is_in_chinese_for_chinese_users(start_bot, api):
    bot = await start_bot(daily_questions_per_user=1)
    li = api.user(CY, "丽", "zh-hans")
    group = api.group_chat(GROUP_ID, "读者")

    await bot.ask(group, li, f"/ask {QUESTION}")
    over = await bot.ask(group, li, f"@articlebot_test_bot {QUESTION}")

    assert re.fullmatch(
        r"你今天的 1 个问题已经问完了。UTC 时间 00:00\(北京时间 08:00\)之后可以再问,还有 (\d+ 小时 )?\d+ 分钟。",
        over["text"],
    ), over["text"]


def test_counts_are_per_user_and_utc_day_and_say_how_long_until_midnight(tmp_path):
    now = datetime(2026, 11, 27, 18, 47, 30, tzinfo=UTC)
    quota = DailyQuota(tmp_path / "quotas.sqlite3", limit=2, clock=lambda: now)

    quota.count(ANN)
    quota.count(ANN)
    quota.count(BOB)
    used_up = (quota.used_up(ANN), quota.used_up(BOB))
    left = quota.resets_in()
    now = datetime(2026, 11, 28, 0, 0, 1, tzinfo=UTC)
    next_day = DailyQuota(tmp_path / "quotas.sqlite3", limit=2, clock=lambda: now)

    assert used_up == (True, False)
    assert (duration(left, "en"), duration(left, "zh")) == ("5 h 13 min", "5 小时 13 分钟")
    assert next_day.used(ANN) == 0 and not next_day.used_up(ANN)
    assert duration(next_day.resets_in(), "en") == "24 h 0 min"


def test_without_a_quota_nothing_is_stored(tmp_path):
    quota = DailyQuota(tmp_path / "quotas.sqlite3", limit=0)
    quota.count(ANN)

    assert not quota.used_up(ANN)
    assert not (tmp_path / "quotas.sqlite3").exists()
