"""`articlebot serve` at the edges: no token, a rejected token, options that don't fit."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from bot.cli.serve import serve
from bot.telegram.webhook import Webhook
from tests.conftest import make_settings
from tests.processes import BIN, articlebot_env
from tests.telegram.fake_botapi import FakeBotAPI

WRONG_TOKEN = "987654321:AAE-not-the-token-the-server-knows"


@pytest.fixture
def api_in_thread() -> Iterator[FakeBotAPI]:
    """The fake Bot API on its own event loop, for code that runs its own loop (serve)."""
    loop = asyncio.new_event_loop()
    api = FakeBotAPI()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
    yield api
    asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_serve_without_a_token_says_how_to_get_one_in_one_line(tmp_path):
    result = CliRunner().invoke(serve, [], obj=make_settings(tmp_path))

    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "@BotFather" in result.output and "TELEGRAM_BOT_TOKEN" in result.output
    assert "`articlebot chat`" in result.output


def test_rejected_token_is_reported_without_the_token(tmp_path, api_in_thread):
    settings = make_settings(
        tmp_path,
        TELEGRAM_BOT_TOKEN=WRONG_TOKEN,
        TELEGRAM_API_URL=api_in_thread.base_url,
        TELEGRAM_FILE_URL=api_in_thread.file_url,
    )

    result = CliRunner().invoke(serve, [], obj=settings)

    assert result.exit_code == 1
    assert result.output == "Error: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather (/token).\n"
    assert WRONG_TOKEN not in result.output


@pytest.mark.model  # runs articlebot, which loads the model
def test_a_real_serve_with_a_rejected_token_prints_one_line_and_no_traceback(tmp_path, api_in_thread):
    env = articlebot_env(
        tmp_path / "data",
        TELEGRAM_BOT_TOKEN=WRONG_TOKEN,
        TELEGRAM_API_URL=api_in_thread.base_url,
        TELEGRAM_FILE_URL=api_in_thread.file_url,
    )

    result = subprocess.run(
        [str(BIN / "articlebot"), "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 1
    assert (
        result.stdout + result.stderr
        == "Error: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather (/token).\n"
    )


@pytest.mark.parametrize("option", [["--listen", "0.0.0.0"], ["--port", "8080"]])
def test_webhook_options_without_webhook_are_refused(tmp_path, option):
    settings = make_settings(tmp_path, TELEGRAM_BOT_TOKEN="1:x")

    result = CliRunner().invoke(serve, option, obj=settings)

    assert result.exit_code == 2 and "only applies with --webhook URL" in result.output


def test_webhook_secret_with_characters_telegram_refuses_is_rejected(tmp_path):
    settings = make_settings(tmp_path, TELEGRAM_BOT_TOKEN="1:x", TELEGRAM_WEBHOOK_SECRET="not allowed!")

    result = CliRunner().invoke(serve, ["--webhook", "https://bot.example.com/hook"], obj=settings)

    assert result.exit_code == 1 and "TELEGRAM_WEBHOOK_SECRET may only hold" in result.output


def test_webhook_listens_on_the_urls_path():
    updates = Webhook(url="https://bot.example.com/telegram/updates/", secret_token="s", listen="0.0.0.0", port=8443)
    bare = Webhook(url="https://bot.example.com", secret_token="s")

    assert (updates.path, bare.path) == ("/telegram/updates", "/")


@pytest.mark.parametrize("path", ["/healthz", "/readyz/"])
def test_webhook_where_the_probes_answer_is_refused(tmp_path, path):
    settings = make_settings(tmp_path, TELEGRAM_BOT_TOKEN="1:x")

    result = CliRunner().invoke(serve, ["--webhook", f"https://bot.example.com{path}"], obj=settings)

    assert result.exit_code == 2 and "is where the probes answer" in result.output


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_a_port_in_use_is_reported_in_one_line(tmp_path, api_in_thread, mode):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(
            tmp_path,
            TELEGRAM_BOT_TOKEN=api_in_thread.token,
            TELEGRAM_API_URL=api_in_thread.base_url,
            TELEGRAM_FILE_URL=api_in_thread.file_url,
            HEALTH_PORT=port,
        )
        args = ["--webhook", f"http://127.0.0.1:{port}/telegram", "--port", str(port)] if mode == "webhook" else []
        asyncio.set_event_loop(None)  # run_polling reuses the current loop, which an earlier test's run closed

        result = CliRunner().invoke(serve, args, obj=settings)

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Cannot listen on 127.0.0.1:{port}: ") and result.output.count("\n") == 1
