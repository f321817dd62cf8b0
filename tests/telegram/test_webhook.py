"""Webhook mode: Telegram POSTs updates with the secret token; anybody else is turned away."""

from __future__ import annotations

import time

import aiohttp
import pytest

from tests.telegram.conftest import WEBHOOK_SECRET

QUESTION = "Sora最长能生成多长的视频?"


async def test_webhook_is_registered_with_the_secret_token(webhook_bot):
    assert webhook_bot.api.webhook == {
        "url": webhook_bot.webhook.url,
        "secret_token": WEBHOOK_SECRET,
        "max_connections": 40,
    }


async def test_question_delivered_by_webhook_is_answered(webhook_bot):
    api = webhook_bot.api
    ann = api.user(6001, "Ann")

    reply = await webhook_bot.ask(api.private_chat(ann), ann, QUESTION)

    assert "60秒" in reply["text"] and "[1]" in reply["text"]
    assert api.calls_to("getUpdates") == []


async def test_sources_button_works_over_the_webhook(webhook_bot):
    api = webhook_bot.api
    ann = api.user(6002, "Ann")
    reply = await webhook_bot.ask(api.private_chat(ann), ann, QUESTION)

    key = (ann["id"], reply["message_id"])

    api.press(reply, ann)
    expanded = await api.wait_for(lambda: api.messages[key].get("edit_date") and api.messages[key])

    assert expanded["reply_markup"]["inline_keyboard"][0][0]["text"] == "收起来源"
    assert any(e["type"] == "blockquote" for e in expanded["entities"])


async def post_update(url: str, chat: dict, user: dict, headers: dict) -> int:
    """POST an update to the bot's webhook directly, as somebody other than the fake."""
    update = {
        "update_id": 1,
        "message": {"message_id": 1, "date": int(time.time()), "chat": chat, "from": user, "text": QUESTION},
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=update, headers=headers) as response:
            return response.status


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}])
async def test_request_without_the_secret_token_is_rejected(webhook_bot, headers):
    api = webhook_bot.api
    mallory = api.user(6666, "Mallory")
    chat = api.private_chat(mallory)

    status = await post_update(webhook_bot.webhook.url, chat, mallory, headers)
    await api.settle()

    assert status == 403
    assert api.bot_messages(chat["id"]) == [] and api.calls_to("sendChatAction") == []


async def test_same_request_with_the_secret_token_is_served(webhook_bot):
    api = webhook_bot.api
    ann = api.user(6003, "Ann")
    chat = api.private_chat(ann)

    status = await post_update(webhook_bot.webhook.url, chat, ann, {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
    [reply] = await api.wait_for(lambda: api.bot_messages(chat["id"]))

    assert status == 200 and "60秒" in reply["text"]
