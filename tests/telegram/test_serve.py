"""`articlebot serve` as a user runs it: a process of its own, polling or behind a webhook."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from tests.telegram.conftest import free_port, serve_process
from tests.telegram.fake_botapi import TOKEN, FakeBotAPI


@pytest.mark.model
@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_serve_answers_until_interrupted_and_never_prints_the_token(api: FakeBotAPI, tmp_path, mode):
    port, health_port = free_port(), free_port()
    args = ["--webhook", f"http://127.0.0.1:{port}/telegram", "--port", str(port)] if mode == "webhook" else []
    probes = f"http://127.0.0.1:{port if mode == 'webhook' else health_port}"
    # Long polling serves the probes on HEALTH_PORT; a webhook on its own port.
    process = await serve_process(api, tmp_path / "data", *args, HEALTH_PORT=str(health_port))
    try:
        await api.wait_for(lambda: "zh" in api.commands, timeout=90)  # post_init has run
        ann = api.user(8001, "Ann")
        question = api.send(api.private_chat(ann), ann, "Sora最长能生成多长的视频?")
        [reply] = await api.wait_for(lambda: api.replies_to(question), timeout=30)
        async with httpx.AsyncClient(timeout=10) as client:
            alive, ready = await client.get(f"{probes}/healthz"), await client.get(f"{probes}/readyz")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), 30)

    log = output.decode()
    assert "60秒" in reply["text"]
    assert (alive.status_code, alive.text, ready.status_code, ready.text) == (200, "ok\n", 200, "ready\n")
    assert process.returncode == 0, log
    assert "Serving as @articlebot_test_bot" in log
    assert TOKEN not in log
    if mode == "webhook":
        assert api.webhook["url"] == f"http://127.0.0.1:{port}/telegram"
        assert len(api.webhook["secret_token"]) >= 32 and api.webhook["secret_token"] not in log
    else:
        assert api.calls_to("getUpdates")
