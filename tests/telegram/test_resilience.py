"""Flood waits, failures inside handlers, and one user's flood: the bot keeps serving."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.telegram.limits import UserLimit, UserLimiter, Verdict
from bot.telegram.redaction import MASK, Redact
from tests.telegram.conftest import Bot
from tests.telegram.fake_botapi import TOKEN

QUESTION = "Sora最长能生成多长的视频?"


@pytest.fixture
def ann(bot: Bot) -> dict:
    return bot.api.user(4001, "Ann")


@pytest.fixture
def chat(bot: Bot, ann: dict) -> dict:
    return bot.api.private_chat(ann)


async def test_flood_wait_429_is_retried_after_retry_after(bot, ann, chat):
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)

    reply = await bot.ask(chat, ann, QUESTION)

    refused, accepted = bot.api.calls_to("sendMessage")
    assert (refused.ok, accepted.ok) == (False, True)
    assert accepted.at - refused.at >= 1.0
    assert "60秒" in reply["text"] and len(bot.api.bot_messages(chat["id"])) == 1


async def test_failure_in_a_handler_is_logged_with_the_update_id_and_the_user_gets_an_apology(bot, ann, chat, caplog):
    bot.api.fail_next("sendMessage", 400, "Bad Request: can't parse entities: boom")
    question = bot.api.send(chat, ann, QUESTION)

    apology = await bot.api.wait_for(lambda: bot.api.bot_messages(chat["id"]))
    [record] = [r for r in caplog.records if r.getMessage().startswith("Update ")]

    assert apology[0]["text"] == "Sorry, something went wrong on my side. Please try again in a moment."
    assert record.getMessage() == f"Update {bot.api.update_ids[chat['id'], question['message_id']]} caused an error"
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])
    assert TOKEN not in caplog.text
    assert "60秒" in (await bot.ask(chat, ann, QUESTION))["text"]  # and it keeps serving


def test_token_and_webhook_secret_never_reach_the_log():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s", (f"https://x/bot{TOKEN}/getMe",), None)
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected; secret s3cret")
    except RuntimeError:
        record.exc_info = sys.exc_info()

    Redact(TOKEN, "s3cret").filter(record)
    text = logging.Formatter().format(record)

    assert TOKEN not in text and "s3cret" not in text
    assert f"https://x/bot{MASK}/getMe" in text and f"The token `{MASK}` was rejected" in text


def test_user_limiter_allows_a_burst_then_warns_once_then_recovers():
    now = [0.0]
    limiter = UserLimiter(UserLimit(max_messages=2, period_s=10), clock=lambda: now[0])

    burst = [limiter.check(1) for _ in range(4)]
    other = limiter.check(2)
    now[0] = 10.5
    later = limiter.check(1)

    assert burst == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN, Verdict.DROP]
    assert (other, later) == (Verdict.ALLOW, Verdict.ALLOW)
