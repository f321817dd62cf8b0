"""Probes: GET /healthz and /readyz on the webhook server, or on HEALTH_PORT with long polling.

Real HTTP requests (httpx) to the real servers, with the real Application behind them.
"""

from __future__ import annotations

import time

import httpx
import pytest

from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.webhook import SECRET_HEADER, Webhook, WebhookServer
from tests.telegram.conftest import WEBHOOK_SECRET, free_port, running, telegram_settings

QUESTION = "Sora最长能生成多长的视频?"


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


def update(chat: dict, user: dict, update_id: int = 1) -> dict:
    message = {"message_id": 1, "date": int(time.time()), "chat": chat, "from": user, "text": QUESTION}
    return {"update_id": update_id, "message": message}


async def test_webhook_server_answers_the_probes(webhook_bot):
    base = f"http://127.0.0.1:{webhook_bot.webhook.port}"

    alive, ready, other = await get(f"{base}/healthz"), await get(f"{base}/readyz"), await get(f"{base}/metrics")

    assert (alive.status_code, alive.text) == (200, "ok\n")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert other.status_code == 404 and "Traceback" not in other.text


async def test_before_the_engine_loads_it_is_alive_not_ready_and_updates_are_left_to_telegram(api, articlebot):
    port = free_port()
    hook = Webhook(url=f"http://127.0.0.1:{port}/telegram", secret_token=WEBHOOK_SECRET, port=port)
    application = build_application(telegram_settings(articlebot.engine, api), articlebot=articlebot)
    server = WebhookServer(application, hook)
    ann = api.user(7001, "Ann")
    chat = api.private_chat(ann)
    base = f"http://127.0.0.1:{port}"
    await server.start()  # what run_webhook does first, before initialize and post_init
    try:
        alive = await get(f"{base}/healthz")
        loading = await get(f"{base}/readyz")
        async with httpx.AsyncClient() as client:
            early = await client.post(hook.url, json=update(chat, ann), headers={SECRET_HEADER: WEBHOOK_SECRET})
            unsigned = await client.post(hook.url, json=update(chat, ann))

        await application.initialize()
        await application.post_init(application)
        await server.register(ALLOWED_UPDATES)
        await application.start()
        ready = await get(f"{base}/readyz")
        await application.stop()
        stopping = await get(f"{base}/readyz")
    finally:
        await server.stop()
        await application.shutdown()
        await application.post_shutdown(application)

    assert (alive.status_code, alive.text) == (200, "ok\n")
    assert (loading.status_code, loading.text) == (503, "starting: loading the embedding model and the articles\n")
    assert early.status_code == 503  # Telegram delivers it again later: nothing is lost
    assert unsigned.status_code == 403
    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert (stopping.status_code, stopping.text) == (503, "not running (starting or stopping)\n")
    assert api.bot_messages(chat["id"]) == []


async def test_webhook_refuses_what_is_not_json_or_not_an_update(webhook_bot):
    headers = {SECRET_HEADER: WEBHOOK_SECRET}
    async with httpx.AsyncClient() as client:
        form = await client.post(webhook_bot.webhook.url, data={"update_id": "1"}, headers=headers)
        garbage = await client.post(
            webhook_bot.webhook.url, content=b"{not json", headers=headers | {"Content-Type": "application/json"}
        )
        probe = await client.get(webhook_bot.webhook.url)

    assert form.status_code == 403  # not JSON: refused before anything is read, as PTB did
    assert garbage.status_code == 400 and "Traceback" not in garbage.text
    assert probe.status_code == 405


async def test_trailing_slash_on_the_webhook_path_is_served(webhook_bot):
    api = webhook_bot.api
    ann = api.user(7002, "Ann")
    chat = api.private_chat(ann)

    async with httpx.AsyncClient() as client:
        response = await client.post(
            webhook_bot.webhook.url + "/", json=update(chat, ann, 2), headers={SECRET_HEADER: WEBHOOK_SECRET}
        )
    [reply] = await api.wait_for(lambda: api.bot_messages(chat["id"]))

    assert response.status_code == 200 and "60秒" in reply["text"]


async def test_long_polling_serves_the_probes_on_health_port_while_it_runs(api, articlebot):
    port = free_port()
    application = build_application(
        telegram_settings(articlebot.engine, api), articlebot=articlebot, probes_at=("127.0.0.1", port)
    )

    async with running(application):
        alive, ready = await get(f"http://127.0.0.1:{port}/healthz"), await get(f"http://127.0.0.1:{port}/readyz")
        other = await get(f"http://127.0.0.1:{port}/")

    assert (alive.status_code, alive.text) == (200, "ok\n")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    assert other.status_code == 404
    with pytest.raises(httpx.ConnectError):  # stopped with the Application
        await get(f"http://127.0.0.1:{port}/healthz")
