"""Liveness and readiness probes for Docker, Kubernetes or a systemd timer: two GET routes.

    GET /healthz   200 "ok": the process is alive and serves HTTP (also while the engine loads)
    GET /readyz    200 "ready": the engine is loaded (post_init has run), the Application is
                   running, and the article store answered a count within READY_TIMEOUT_S;
                   otherwise 503 and one line saying why (never a secret, never a traceback)
    anything else  404

In webhook mode they are routes of the webhook server (`bot.telegram.webhook`), which
starts before the engine loads. With long polling, `articlebot serve` runs a `ProbeServer`
on HEALTH_LISTEN:HEALTH_PORT when HEALTH_PORT is set, started by `post_init` before the
engine loads and stopped by `post_shutdown`. Both run on the bot's event loop, on tornado
(what python-telegram-bot's own webhook server runs on): its public API, nothing private.

The store check runs in a thread (a Chroma server that hangs must not stall the event
loop), at most one at a time, and its result is reused for CHECK_TTL_S: probes from a
load balancer, or anybody who reaches the port, never turn into a flood of store reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer

from bot.errors import ListenError
from bot.telegram.services import BotApplication
from vectorstore.errors import ArticlebotError

# tornado routes: (path pattern, handler class[, its initialize() arguments]).
Routes = list[tuple[Any, ...]]
# How long /readyz waits for the store before it answers 503.
READY_TIMEOUT_S = 2.0
# A store check's result is reused this long.
CHECK_TTL_S = 1.0


class Readiness:
    """Whether the bot can answer now, and if not, why: the text /readyz sends."""

    def __init__(self, application: BotApplication) -> None:
        self.application = application
        self._check: asyncio.Future[str | None] | None = None  # the store check in flight
        self._last: tuple[float, str | None] | None = None  # (when, result) of the last one

    async def reason(self) -> str | None:
        """None when ready; otherwise one line saying why not."""
        library = getattr(self.application.bot_data, "library", None)  # set when post_init loaded the engine
        if library is None:
            return "starting: loading the embedding model and the articles"
        if not self.application.running:
            return "not running (starting or stopping)"
        if self._last is not None and time.monotonic() - self._last[0] < CHECK_TTL_S:
            return self._last[1]
        if self._check is None or self._check.done():
            self._check = asyncio.ensure_future(asyncio.to_thread(_check_store, library.store.chunk_count))
        try:
            result = await asyncio.wait_for(asyncio.shield(self._check), READY_TIMEOUT_S)
        except TimeoutError:
            return f"the article store did not answer within {READY_TIMEOUT_S:g} s"
        self._last = (time.monotonic(), result)
        return result


def _check_store(count: Callable[[], object]) -> str | None:
    """Run a cheap store read; the user-facing sentence of what went wrong, or None."""
    try:
        count()
    except ArticlebotError as exc:  # e.g. StoreUnavailableError: written to be shown, no secrets
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except Exception as exc:  # anything else: its type only, the message might hold anything
        return f"the article store check failed ({type(exc).__name__})"
    return None


class TextHandler(tornado.web.RequestHandler):
    """Plain-text answers, and plain-text errors without tracebacks."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(f"{self._reason}\n")


class Alive(TextHandler):
    SUPPORTED_METHODS = ("GET",)

    def get(self) -> None:
        self.finish("ok\n")


class Ready(TextHandler):
    SUPPORTED_METHODS = ("GET",)

    def initialize(self, readiness: Readiness) -> None:
        self.readiness = readiness

    async def get(self) -> None:
        reason = await self.readiness.reason()
        if reason is not None:
            self.set_status(HTTPStatus.SERVICE_UNAVAILABLE)
        self.finish(f"{reason or 'ready'}\n")


class NotFound(TextHandler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(HTTPStatus.NOT_FOUND)


def probe_routes(application: BotApplication) -> Routes:
    """/healthz and /readyz of this Application, as tornado routes."""
    return [("/healthz", Alive), ("/readyz", Ready, {"readiness": Readiness(application)})]


class HttpServer:
    """A tornado HTTP server on the running event loop: these routes, 404 for the rest."""

    def __init__(self, routes: Routes, listen: str, port: int) -> None:
        app = tornado.web.Application(routes, default_handler_class=NotFound, log_function=_quiet)
        self.server = HTTPServer(app)
        self.listen = listen
        self.port = port
        self.running = False

    async def start(self) -> None:
        """Listen; ListenError when the address or port can't be used."""
        try:
            self.server.listen(self.port, address=self.listen)
        except OSError as exc:
            raise ListenError(f"Cannot listen on {self.listen}:{self.port}: {exc.strerror or exc}.") from None
        self.running = True

    async def stop(self) -> None:
        """Stop listening and close open connections (safe to call twice)."""
        if self.running:
            self.running = False
            self.server.stop()
            await self.server.close_all_connections()


def _quiet(handler: tornado.web.RequestHandler) -> None:
    """No access log: probes come every few seconds and would drown the bot's log."""


class ProbeServer(HttpServer):
    """/healthz and /readyz alone, for long polling (HEALTH_LISTEN:HEALTH_PORT)."""

    def __init__(self, application: BotApplication, listen: str, port: int) -> None:
        super().__init__(probe_routes(application), listen, port)
