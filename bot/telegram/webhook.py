"""Webhook mode: our own webhook server, so that it can also answer /healthz and /readyz.

python-telegram-bot's `run_webhook` runs a tornado server of its own to which no route can
be added through a public API. So this is PTB's documented custom-webhook pattern
(examples/customwebhookbot): a server of ours puts each update Telegram POSTs on
`application.update_queue`, and `run_webhook` runs the Application around it. Everything
`Application.run_webhook` guaranteed is kept:

- the route is the webhook URL's path (a trailing slash allowed), on --listen:--port;
- a request needs Content-Type application/json and the header
  X-Telegram-Bot-Api-Secret-Token with the secret, else 403 (and nothing is processed);
- `setWebhook` at start with the URL, the secret, the same allowed_updates and
  max_connections 40; the webhook is left registered at stop (as PTB leaves it), and
  `articlebot serve` without --webhook deletes it;
- the same order: initialize, post_init, setWebhook, start; then stop, post_stop,
  shutdown, post_shutdown; SIGINT, SIGTERM and SIGABRT stop it.

What differs: the server listens before post_init, so /healthz answers while the engine
loads and /readyz says it is loading. An update that arrives while the Application is not
running (still loading, or stopping) gets 503, which makes Telegram deliver it again
later, instead of being accepted and never processed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import NoReturn
from urllib.parse import urlsplit

import tornado.web
from telegram import Update

from bot.telegram.health import HttpServer, TextHandler, probe_routes
from bot.telegram.services import BotApplication

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_CONNECTIONS = 40  # what PTB's run_webhook registers: Telegram's default
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)  # as run_polling / run_webhook
# Paths the probes use; a webhook there would hide them.
PROBE_PATHS = ("/healthz", "/readyz")


@dataclass(frozen=True)
class Webhook:
    """Where the webhook server listens: Telegram POSTs to `url`, a proxy forwards to listen:port."""

    url: str
    secret_token: str
    listen: str = "127.0.0.1"
    port: int = 8443

    @property
    def path(self) -> str:
        """The route updates arrive on: the URL's path, "/" when it has none."""
        return "/" + urlsplit(self.url).path.strip("/")


class Updates(TextHandler):
    """Telegram's POSTs: checked like PTB checks them, then put on the update queue."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot_application: BotApplication, secret_token: str) -> None:
        self.bot_application = bot_application
        self.secret_token = secret_token

    def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        token = self.request.headers.get(SECRET_HEADER, "")
        if content_type != "application/json" or not hmac.compare_digest(token.encode(), self.secret_token.encode()):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        application = self.bot_application
        # No await from this check to the put: Application.stop() clears `running` before
        # it queues its stop marker, so an update put here is always processed.
        if not application.running:
            raise tornado.web.HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, reason="Not running; deliver it again")
        try:
            update = Update.de_json(json.loads(self.request.body), application.bot)
        except Exception:  # not JSON, or not an update: nothing to process, nothing to retry
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST, reason="Not a Telegram update") from None
        application.bot.insert_callback_data(update)
        application.update_queue.put_nowait(update)
        self.finish()


class WebhookServer(HttpServer):
    """The webhook route and the probes, on the webhook's listen:port."""

    def __init__(self, application: BotApplication, hook: Webhook) -> None:
        route = (
            re.escape(hook.path.rstrip("/")) + "/?",
            Updates,
            {"bot_application": application, "secret_token": hook.secret_token},
        )
        super().__init__([route, *probe_routes(application)], hook.listen, hook.port)
        self.application = application
        self.hook = hook

    async def register(self, allowed_updates: Sequence[str]) -> None:
        """setWebhook, with what PTB's run_webhook sends."""
        await self.application.bot.set_webhook(
            url=self.hook.url,
            allowed_updates=allowed_updates,
            max_connections=MAX_CONNECTIONS,
            secret_token=self.hook.secret_token,
        )


def run_webhook(application: BotApplication, hook: Webhook, allowed_updates: Sequence[str]) -> None:
    """Serve `hook` until a stop signal: `Application.run_webhook`, step for step, with our server."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, _raise_system_exit)
    server = WebhookServer(application, hook)
    try:
        loop.run_until_complete(server.start())  # /healthz from now on
        loop.run_until_complete(application.initialize())
        if application.post_init:
            loop.run_until_complete(application.post_init(application))
        loop.run_until_complete(server.register(allowed_updates))
        loop.run_until_complete(application.start())
        loop.run_forever()  # until a signal, or application.stop_running()
    except (KeyboardInterrupt, SystemExit):
        logger.debug("Stop signal received; stopping.")
    finally:
        try:
            loop.run_until_complete(server.stop())  # no new updates: Telegram keeps them
            if application.running:
                loop.run_until_complete(application.stop())
                if application.post_stop:
                    loop.run_until_complete(application.post_stop(application))
            loop.run_until_complete(application.shutdown())
            if application.post_shutdown:
                loop.run_until_complete(application.post_shutdown(application))
        finally:
            loop.close()
            asyncio.set_event_loop(None)


def _raise_system_exit() -> NoReturn:
    raise SystemExit
