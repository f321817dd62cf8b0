"""One user's flood cannot starve others: a per-user limit with one friendly note."""

from __future__ import annotations

import pytest

from bot.telegram.limits import UserLimit

QUESTION = "Sora最长能生成多长的视频?"


@pytest.fixture
def user_limit() -> UserLimit:
    return UserLimit(max_messages=3, period_s=60)


async def test_flooding_user_is_told_once_to_slow_down_while_others_are_served(bot):
    ann, bob = bot.api.user(5001, "Ann"), bot.api.user(5002, "Bob")
    ann_chat, bob_chat = bot.api.private_chat(ann), bot.api.private_chat(bob)

    for _ in range(8):
        bot.api.send(ann_chat, ann, QUESTION)
    bobs = bot.api.send(bob_chat, bob, QUESTION)
    await bot.api.wait_for(lambda: bot.api.replies_to(bobs))
    await bot.api.settle()

    texts = [m["text"] for m in bot.api.bot_messages(ann_chat["id"])]
    answers = [t for t in texts if "60秒" in t]
    notes = [t for t in texts if t not in answers]
    assert len(answers) == 3
    assert notes == ["You are asking faster than I can answer. Please wait 60 s and ask again."]
    assert "60秒" in bot.api.replies_to(bobs)[0]["text"]
