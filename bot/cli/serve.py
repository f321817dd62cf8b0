"""`articlebot serve`: run the Telegram bot by long polling or behind a webhook."""

from __future__ import annotations

import ctypes
import logging
import os
import re
import secrets
from urllib.parse import urlsplit

import click
from telegram.error import InvalidToken, NetworkError

from bot.errors import ListenError
from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.redaction import redact_logs
from bot.telegram.webhook import PROBE_PATHS, Webhook, run_webhook

# What Telegram accepts as a webhook secret token.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")

NO_TOKEN = (
    "No TELEGRAM_BOT_TOKEN: talk to @BotFather in Telegram (https://t.me/BotFather), send "
    "/newbot, and set TELEGRAM_BOT_TOKEN to the token it gives you; meanwhile, "
    "`articlebot chat` asks the same bot in this terminal."
)


M_ARENA_MAX = -8  # glibc's malloc.h


def _few_malloc_arenas() -> None:
    """One glibc malloc arena per core, not eight: each of the bot's threads (the engine's,
    ONNX Runtime's, PTB's) otherwise gets an arena of its own that keeps what it freed
    (figures: docs/performance.md, "Memory arenas"). Called before any thread starts.
    Not glibc (musl, macOS): nothing to do."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_ARENA_MAX, os.cpu_count() or 2)


@click.command()
@click.option(
    "--webhook",
    "webhook_url",
    metavar="URL",
    help="Public URL Telegram POSTs updates to; without it the bot long-polls.",
)
@click.option(
    "--listen",
    default="127.0.0.1",
    show_default=True,
    help="Address the webhook server binds (with --webhook).",
)
@click.option(
    "--port",
    default=8443,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port the webhook server binds (with --webhook).",
)
@click.pass_obj
def serve(settings: Settings, webhook_url: str | None, listen: str, port: int) -> None:
    """Run the Telegram bot until Ctrl-C.

    Without --webhook it long-polls Telegram, which needs no public address. With
    --webhook, Telegram POSTs updates to URL; put a TLS-terminating proxy in front that
    forwards to --listen:--port. Every request must carry the secret token
    (TELEGRAM_WEBHOOK_SECRET, or a fresh random one per start).

    Probes for Docker, Kubernetes or systemd: GET /healthz (alive) and GET /readyz (the
    articles can be answered) on the webhook server, or with long polling on
    HEALTH_LISTEN:HEALTH_PORT when HEALTH_PORT is set.

    Example usage:

    \b
        TELEGRAM_BOT_TOKEN=123456:ABC-DEF articlebot serve
        articlebot serve --webhook https://bot.example.com/telegram --listen 0.0.0.0 --port 8443
    """
    ctx = click.get_current_context()
    if webhook_url is None:
        for option in ("listen", "port"):
            if ctx.get_parameter_source(option) is click.core.ParameterSource.COMMANDLINE:
                raise click.UsageError(f"--{option} only applies with --webhook URL.")
    if settings.telegram_bot_token is None:
        click.echo(NO_TOKEN, err=True)
        ctx.exit(1)
    hook = None
    if webhook_url is not None:
        hook = Webhook(url=_check_url(webhook_url), secret_token=_secret(settings), listen=listen, port=port)

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    # httpx logs every request URL at INFO, and each URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redact_logs(
        settings.telegram_bot_token.get_secret_value(),
        hook.secret_token if hook else "",
        settings.llm_api_key.get_secret_value() if settings.llm_api_key else "",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_told_in_one_line)

    _few_malloc_arenas()
    probes_at = None  # a webhook server answers the probes itself
    if hook is None and settings.health_port is not None:
        probes_at = (settings.health_listen, settings.health_port)
    application = build_application(settings, probes_at=probes_at)
    try:
        if hook is None:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
        else:
            run_webhook(application, hook, ALLOWED_UPDATES)
    except ListenError as exc:
        raise click.ClickException(str(exc)) from None
    except InvalidToken:
        # PTB's own message for this quotes the token; never print it.
        raise click.ClickException("Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather (/token).") from None
    except NetworkError as exc:
        where = _host(settings.telegram_api_url)
        raise click.ClickException(f"Cannot reach the Telegram Bot API ({where}): {exc}") from None


def _told_in_one_line(record: logging.LogRecord) -> bool:
    """Drops PTB's log (with two tracebacks) of a rejected token: `serve` ends with one
    Error line saying what to do instead."""
    return not (record.exc_info and isinstance(record.exc_info[1], InvalidToken))


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise click.BadParameter("give a full URL, e.g. https://bot.example.com/telegram", param_hint="--webhook")
    if "/" + parts.path.strip("/") in PROBE_PATHS:
        raise click.BadParameter(f"{parts.path} is where the probes answer; use another path", param_hint="--webhook")
    return url


def _secret(settings: Settings) -> str:
    if settings.webhook_secret is None:
        return secrets.token_urlsafe(32)
    secret = settings.webhook_secret.get_secret_value()
    if not _SECRET.fullmatch(secret):
        raise click.ClickException("TELEGRAM_WEBHOOK_SECRET may only hold 1-256 of A-Z a-z 0-9 _ -.")
    return secret


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
