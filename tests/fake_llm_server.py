"""A scripted chat model for tests, speaking the real HTTP protocols of OpenAI and Ollama.

Hosted LLMs (OpenAI, any OpenAI-compatible endpoint, an Ollama server) are unreachable
from the tests and would be slow and nondeterministic anyway. So tests point the real
clients (`langchain_openai.ChatOpenAI` / `init_chat_model(..., model_provider="openai")`
over the `openai` SDK, and `langchain_ollama.ChatOllama` over the `ollama` SDK) at this
local server, which answers as those services do on the wire, with a reply the test
scripts. One server serves both protocols at once:

    OpenAI   base_url = server.openai_base_url  (== server.base_url + "/v1")
             POST /v1/chat/completions    stream false: one `chat.completion` object;
                                          stream true: SSE `data: {chat.completion.chunk}`
                                          events (role, content deltas, finish_reason,
                                          usage if stream_options.include_usage), then
                                          `data: [DONE]`
             GET  /v1/models, /v1/models/{model}
             Authorization: Bearer <api_key> is checked when the server has an api_key;
             errors are `{"error": {"message", "type", "param", "code"}}`.
    Ollama   base_url = server.base_url  (the host; the client adds /api/...)
             POST /api/chat                stream true (Ollama's default): NDJSON lines,
                                          `done: false` per piece, then a `done: true` line
                                          with done_reason and the counters/durations;
                                          stream false: one JSON object
             GET  /api/tags (what ChatOllama(validate_model_on_init=True) calls)
             errors are `{"error": "..."}`; no auth, as Ollama has none.

Usage. The primary mode runs the server in a background thread with its own event loop,
so it answers whoever calls it: sync code, worker threads with their own loops, or an
async test whose code under test blocks its loop while calling the model::

    with FakeChatServer(api_key="k") as server:            # or server.start_in_thread()
        server.reply_with(lambda messages: "Sora is " + messages[-1]["content"])
        chat = ChatOpenAI(model="m", base_url=server.openai_base_url, api_key="k")
        assert chat.invoke("a model").content == "Sora is a model"
        assert server.chat_requests[-1].messages == [{"role": "user", "content": "a model"}]

In an async test `with FakeChatServer() as server:` works the same (prefer it). There is
also an in-loop mode, `await server.start()` / `await server.stop()` (or `async with`),
like tests/telegram/fake_botapi.py; it only answers while that loop runs, so code that
calls the model synchronously from the loop's thread would deadlock it. `await stop()`
also stops a threaded server.

Scripting (callable from any thread, at any time):
  reply_with(fn_or_text)         the reply per request: `fn(messages) -> str`, messages
                                 normalised to [{"role", "content": str}]; streamed in
                                 pieces of `piece_size` characters (one "token" each).
                                 A max_completion_tokens/max_tokens (OpenAI) or
                                 options.num_predict (Ollama) cuts it to that many pieces
                                 (finish_reason "length"); stop sequences cut it too.
  first_token_delay_s            wait before the answer starts (before response headers)
  token_delay_s                  wait between streamed pieces (a non-streamed answer
                                 waits first_token_delay_s + token_delay_s per extra piece)
  fail_with_status(code, times)  the next `times` chat requests get that HTTP error in the
                                 provider's format (5xx/429/408/409 are retried by openai)
  hang(times=None, after_pieces=0)  chat requests are accepted and never answered (after
                                 `after_pieces` streamed pieces, if any) until unhang()
                                 or stop(); stop() drops them without waiting.
  requests / chat_requests       every request, as RecordedRequest (method, path,
                                 lowercase headers, json body, messages, status, ...)
  wait_for_requests(n)           block until n chat requests arrived (thread mode)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

DEFAULT_REPLY = "This is the fake model's answer."
DEFAULT_MODEL = "fake-model"

Reply = Callable[[list[dict[str, Any]]], str]

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {  # status: type, code, message
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("invalid_request_error", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_OLLAMA_ERRORS: dict[int, str] = {
    400: "invalid request",
    401: "unauthorized",
    403: "forbidden",
    404: "model not found, try pulling it first",
    429: "too many requests",
    500: "llama runner process has terminated: exit status 2",
    503: "server busy, please try again.  maximum pending requests exceeded",
}


@dataclass
class RecordedRequest:
    """One request the server received, and how it answered."""

    method: str
    path: str
    headers: dict[str, str]  # lowercase names
    json: Any  # the parsed body, None if empty or not JSON
    provider: str  # "openai" or "ollama"
    messages: list[dict[str, Any]] = field(default_factory=list)  # [{"role", "content": str}]
    model: str | None = None
    stream: bool | None = None  # chat requests: whether the answer was streamed
    status: int | None = None  # None while unanswered (or hung, or dropped)
    at: float = field(default_factory=time.monotonic)

    @property
    def is_chat(self) -> bool:
        return self.path in ("/v1/chat/completions", "/api/chat")


class _Closing(Exception):
    """The server is stopping: drop the connection instead of answering."""


@dataclass
class _Failure:
    status: int
    message: str | None
    retry_after: float | None


def _text_of(content: Any) -> str:
    """A message's content as text: OpenAI allows a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _normalise(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        return []
    return [{"role": m.get("role"), "content": _text_of(m.get("content"))} for m in messages if isinstance(m, dict)]


def _count_tokens(messages: list[dict[str, Any]]) -> int:
    """A deterministic stand-in for a tokenizer: ~4 characters a token, 3 per message."""
    return sum(3 + (len(m["content"]) + 3) // 4 for m in messages) or 1


def _stops(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str) and s]
    return []


def _random_id(prefix: str, length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _ollama_name(model: str) -> str:
    return model if ":" in model else f"{model}:latest"


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeChatServer:
    """OpenAI's and Ollama's chat APIs with a scripted model behind them."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        reply: str | Reply = DEFAULT_REPLY,
        models: Sequence[str] | None = None,
        piece_size: int = 4,
        first_token_delay_s: float = 0.0,
        token_delay_s: float = 0.0,
    ) -> None:
        """`models`: the models served; None serves any model name (and lists DEFAULT_MODEL)."""
        self.api_key = api_key
        self.models = list(models) if models is not None else None
        self.piece_size = piece_size
        self.first_token_delay_s = first_token_delay_s
        self.token_delay_s = token_delay_s
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # raised by reply functions (answered as 500)
        self.port = 0
        self._reply: Reply = lambda _messages: DEFAULT_REPLY
        self.reply_with(reply)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._failures: list[_Failure] = []
        self._hang: dict[str, Any] | None = None  # {"remaining": int | None, "after_pieces": int}
        self._hung: set[asyncio.Future] = set()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._closed: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve from the running event loop (in-loop mode; see start_in_thread)."""
        if self._runner is not None:
            raise RuntimeError("FakeChatServer already started")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._closed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_get("/v1/models", self._openai_models)
        app.router.add_get("/v1/models/{model:.+}", self._openai_model)
        app.router.add_post("/api/chat", self._ollama_chat)
        app.router.add_get("/api/tags", self._ollama_tags)
        app.router.add_route("*", "/{path:.*}", self._not_found)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving, dropping hung or still-streaming requests; works in both modes."""
        if self._thread is not None:
            await asyncio.to_thread(self.stop_in_thread)
        else:
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._closing = True
        if self._closed is not None:
            self._closed.set()
        for future in list(self._hung):
            if not future.done():
                future.set_result(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, timeout: float = 10.0) -> FakeChatServer:
        """Serve from a background thread with its own event loop (the primary mode)."""
        if self._thread is not None or self._runner is not None:
            raise RuntimeError("FakeChatServer already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=serve, name="FakeChatServer", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("FakeChatServer did not start")
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        """Stop a server started with start_in_thread (a no-op if it is not running)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FakeChatServer:
        return self.start_in_thread()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop_in_thread()

    async def __aenter__(self) -> FakeChatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The server's root: Ollama's base_url (its client adds /api/...)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """OpenAI's base_url (its client adds /chat/completions)."""
        return f"{self.base_url}/v1"

    # -- scripting ------------------------------------------------------------------------

    def reply_with(self, reply: str | Reply) -> None:
        """What the model answers: a fixed text, or fn(messages) -> text per request."""
        self._reply = (lambda _messages: reply) if isinstance(reply, str) else reply

    def fail_with_status(
        self, status: int, times: int = 1, message: str | None = None, retry_after: float | None = None
    ) -> None:
        """The next `times` chat requests answer with this HTTP error, in the provider's format."""
        with self._lock:
            self._failures.extend(_Failure(status, message, retry_after) for _ in range(times))

    def hang(self, times: int | None = None, after_pieces: int = 0) -> None:
        """Chat requests (the next `times`, or all until unhang()) are accepted and never
        answered; a streamed one first sends `after_pieces` pieces, if any."""
        with self._lock:
            self._hang = {"remaining": times, "after_pieces": after_pieces}

    def unhang(self) -> None:
        """No more hanging; requests hung so far resume and answer (if still connected)."""
        with self._lock:
            self._hang = None
        self._in_loop(self._release_hung)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.is_chat]

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until `count` chat requests arrived (don't call it from an in-loop server's loop)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while sum(r.is_chat for r in self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} chat request(s) expected, got {sum(r.is_chat for r in self.requests)}")
                self._arrived.wait(left)
            return [r for r in self.requests if r.is_chat]

    def _in_loop(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn()
        else:
            try:
                loop.call_soon_threadsafe(fn)
            except RuntimeError:  # closed meanwhile
                pass

    def _release_hung(self) -> None:
        for future in list(self._hung):
            if not future.done():
                future.set_result(None)

    # -- shared machinery -----------------------------------------------------------------

    async def _chat(self, request: web.Request, provider: str, answer) -> web.StreamResponse:
        """Record a chat request, answer it in the provider's way, record the status."""
        record = await self._record(request, provider)
        response = await answer(request, record)
        if record.status is None and response.status != 499:
            record.status = response.status
        return response

    async def _record(self, request: web.Request, provider: str) -> RecordedRequest:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
            provider=provider,
        )
        if isinstance(body, dict):
            record.model = body.get("model") if isinstance(body.get("model"), str) else None
            record.messages = _normalise(body.get("messages"))
        with self._arrived:
            self.requests.append(record)
            self._arrived.notify_all()
        return record

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _take_hang(self) -> dict[str, Any] | None:
        with self._lock:
            hang = self._hang
            if hang is None:
                return None
            if hang["remaining"] is not None:
                hang["remaining"] -= 1
                if hang["remaining"] <= 0:
                    self._hang = None
            return dict(hang)

    async def _hang_here(self) -> None:
        """Wait until unhang() (then go on) or stop() (then raise _Closing)."""
        if self._closing:
            raise _Closing
        future = asyncio.get_running_loop().create_future()
        self._hung.add(future)
        try:
            await future
        finally:
            self._hung.discard(future)
        if self._closing:
            raise _Closing

    async def _pause(self, seconds: float) -> None:
        if self._closing:
            raise _Closing
        if seconds <= 0:
            return
        assert self._closed is not None
        try:
            await asyncio.wait_for(self._closed.wait(), seconds)
        except TimeoutError:
            return
        raise _Closing

    def _compose(self, record: RecordedRequest, max_pieces: int | None, stop: list[str]) -> tuple[list[str], str]:
        """The reply's pieces and finish reason, or raise what the reply function raised."""
        text = self._reply([dict(m) for m in record.messages])
        if not isinstance(text, str):
            raise TypeError(f"reply function returned {type(text).__name__}, not str")
        finish = "stop"
        for stop_sequence in stop:
            cut = text.find(stop_sequence)
            if cut >= 0:
                text = text[:cut]
        size = max(1, self.piece_size)
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        if max_pieces is not None and max_pieces > 0 and len(pieces) > max_pieces:
            pieces, finish = pieces[:max_pieces], "length"
        return pieces, finish

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)

    @staticmethod
    def _bearer_ok(request: web.Request, key: str | None) -> bool:
        return key is None or request.headers.get("Authorization", "") == f"Bearer {key}"

    def _serves(self, model: str, provider: str) -> bool:
        if self.models is None:
            return True
        if provider == "ollama":
            return _ollama_name(model) in {_ollama_name(m) for m in self.models}
        return model in self.models

    def _listed(self) -> list[str]:
        return list(self.models) if self.models is not None else [DEFAULT_MODEL]

    # -- OpenAI -----------------------------------------------------------------------------

    @staticmethod
    def _openai_error(
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> web.Response:
        default_type, default_code, default_message = _OPENAI_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}")
        )
        body = {
            "error": {
                "message": message or default_message,
                "type": error_type or default_type,
                "param": param,
                "code": code if code is not None else default_code,
            }
        }
        headers = {"x-request-id": _random_id("req_", 32)}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        return web.json_response(body, status=status, headers=headers)

    def _openai_auth(self, request: web.Request) -> web.Response | None:
        if self._bearer_ok(request, self.api_key):
            return None
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not given[7:].strip():
            return self._openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
                "field (with blank username) if you're accessing the API from your browser and are "
                "prompted for a username and password. You can obtain an API key from "
                "https://platform.openai.com/account/api-keys.",
                code=None,
            )
        key = given[7:]
        shown = key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else key
        return self._openai_error(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, "openai", self._openai_chat_answer)

    async def _openai_chat_answer(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        if (denied := self._openai_auth(request)) is not None:
            return denied
        body = record.json
        if not isinstance(body, dict):
            return self._openai_error(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
                "contact us through our help center at help.openai.com.)",
            )
        if not record.model:
            return self._openai_error(400, "you must provide a model parameter")
        if not isinstance(body.get("messages"), list):
            return self._openai_error(
                400, "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
            )
        stream = bool(body.get("stream"))
        record.stream = stream
        if body.get("stream_options") is not None and not stream:
            return self._openai_error(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
                code="invalid_value",
            )
        if not self._serves(record.model, "openai"):
            return self._openai_error(
                404, f"The model `{record.model}` does not exist or you do not have access to it."
            )
        if (failure := self._next_failure()) is not None:
            return self._openai_error(failure.status, failure.message, retry_after=failure.retry_after)
        hang = self._take_hang()
        max_pieces = body.get("max_completion_tokens") or body.get("max_tokens")
        try:
            pieces, finish = self._compose(
                record, max_pieces if isinstance(max_pieces, int) else None, _stops(body.get("stop"))
            )
        except Exception as exc:  # noqa: BLE001 - the test's reply function failed
            self.errors.append(exc)
            return self._openai_error(500, f"fake_llm_server: the reply function raised {exc!r}")
        try:
            if hang is not None and not (stream and hang["after_pieces"] > 0):
                await self._hang_here()
            if stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return await self._openai_stream(request, record, pieces, finish, include_usage, hang)
            await self._pause(self.first_token_delay_s + self.token_delay_s * max(0, len(pieces) - 1))
        except _Closing:
            return self._drop(request)
        content = "".join(pieces)
        completion = {
            "id": _random_id("chatcmpl-", 29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": record.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": self._openai_usage(record, len(pieces)),
            "service_tier": "default",
            "system_fingerprint": "fp_fake0000",
        }
        return web.json_response(completion, headers=self._openai_headers())

    @staticmethod
    def _openai_headers() -> dict[str, str]:
        return {"x-request-id": _random_id("req_", 32), "openai-processing-ms": "1", "openai-version": "2020-10-01"}

    @staticmethod
    def _openai_usage(record: RecordedRequest, completion_tokens: int) -> dict[str, Any]:
        prompt_tokens = _count_tokens(record.messages)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    async def _openai_stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        pieces: list[str],
        finish: str,
        include_usage: bool,
        hang: dict[str, Any] | None,
    ) -> web.StreamResponse:
        completion_id, created = _random_id("chatcmpl-", 29), int(time.time())

        def chunk(choices: list[dict[str, Any]], usage: Any = None) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": record.model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake0000",
                "choices": choices,
            }
            if include_usage:
                data["usage"] = usage
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        def delta(content: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish_reason}]

        await self._pause(self.first_token_delay_s)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **self._openai_headers(),
            }
        )
        await response.prepare(request)
        record.status = 200
        try:
            await response.write(chunk(delta({"role": "assistant", "content": "", "refusal": None})))
            for index, piece in enumerate(pieces):
                if hang is not None and index == hang["after_pieces"]:
                    await self._hang_here()
                if index:
                    await self._pause(self.token_delay_s)
                await response.write(chunk(delta({"content": piece})))
            if hang is not None and hang["after_pieces"] >= len(pieces):
                await self._hang_here()
            await response.write(chunk(delta({}, finish)))
            if include_usage:
                await response.write(chunk([], self._openai_usage(record, len(pieces))))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (_Closing, ConnectionError):
            self._drop(request)
        return response

    async def _openai_models(self, request: web.Request) -> web.Response:
        record = await self._record(request, "openai")
        answer = self._openai_auth(request) or web.json_response(
            {"object": "list", "data": [self._openai_model_object(m) for m in self._listed()]},
            headers=self._openai_headers(),
        )
        record.status = answer.status
        return answer

    async def _openai_model(self, request: web.Request) -> web.Response:
        record = await self._record(request, "openai")
        model = request.match_info["model"]
        answer = self._openai_auth(request)
        if answer is None:
            if model in self._listed() or self.models is None:
                answer = web.json_response(self._openai_model_object(model), headers=self._openai_headers())
            else:
                answer = self._openai_error(
                    404, f"The model '{model}' does not exist", param="model", code="model_not_found"
                )
        record.status = answer.status
        return answer

    @staticmethod
    def _openai_model_object(model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": "system"}

    # -- Ollama -----------------------------------------------------------------------------

    @staticmethod
    def _ollama_error(status: int, message: str | None = None, retry_after: float | None = None) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response(
            {"error": message or _OLLAMA_ERRORS.get(status, f"HTTP {status}")}, status=status, headers=headers
        )

    async def _ollama_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, "ollama", self._ollama_chat_answer)

    async def _ollama_chat_answer(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        started = time.monotonic_ns()
        body = record.json
        if not isinstance(body, dict):
            return self._ollama_error(400, "invalid character in request body")
        if not record.model:
            return self._ollama_error(400, "model is required")
        if not self._serves(record.model, "ollama"):
            return self._ollama_error(404, f'model "{record.model}" not found, try pulling it first')
        stream = body.get("stream", True) is not False  # Ollama streams unless told not to
        record.stream = stream
        if (failure := self._next_failure()) is not None:
            return self._ollama_error(failure.status, failure.message, failure.retry_after)
        hang = self._take_hang()
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        num_predict = options.get("num_predict")
        try:
            pieces, finish = self._compose(
                record, num_predict if isinstance(num_predict, int) else None, _stops(options.get("stop"))
            )
        except Exception as exc:  # noqa: BLE001 - the test's reply function failed
            self.errors.append(exc)
            return self._ollama_error(500, f"fake_llm_server: the reply function raised {exc!r}")

        def final(content: str) -> dict[str, Any]:
            total = time.monotonic_ns() - started
            return {
                "model": record.model,
                "created_at": _now_rfc3339(),
                "message": {"role": "assistant", "content": content},
                "done": True,
                "done_reason": finish,
                "total_duration": total,
                "load_duration": min(total, 1_000_000),
                "prompt_eval_count": _count_tokens(record.messages),
                "prompt_eval_duration": total // 10,
                "eval_count": len(pieces),
                "eval_duration": total - total // 10,
            }

        try:
            if hang is not None and not (stream and hang["after_pieces"] > 0):
                await self._hang_here()
            if not stream:
                await self._pause(self.first_token_delay_s + self.token_delay_s * max(0, len(pieces) - 1))
                return web.json_response(final("".join(pieces)))
            await self._pause(self.first_token_delay_s)
        except _Closing:
            return self._drop(request)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        record.status = 200
        try:
            for index, piece in enumerate(pieces):
                if hang is not None and index == hang["after_pieces"]:
                    await self._hang_here()
                if index:
                    await self._pause(self.token_delay_s)
                line = {
                    "model": record.model,
                    "created_at": _now_rfc3339(),
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
                await response.write(json.dumps(line).encode() + b"\n")
            if hang is not None and hang["after_pieces"] >= len(pieces):
                await self._hang_here()
            await response.write(json.dumps(final("")).encode() + b"\n")
            await response.write_eof()
        except (_Closing, ConnectionError):
            self._drop(request)
        return response

    async def _ollama_tags(self, request: web.Request) -> web.Response:
        record = await self._record(request, "ollama")
        answer = web.json_response({"models": [self._ollama_model_object(m) for m in self._listed()]})
        record.status = answer.status
        return answer

    @staticmethod
    def _ollama_model_object(model: str) -> dict[str, Any]:
        return {
            "name": _ollama_name(model),
            "model": _ollama_name(model),
            "modified_at": "2025-01-01T00:00:00.000000Z",
            "size": 1_000_000,
            "digest": "0" * 64,
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": ["llama"],
                "parameter_size": "1B",
                "quantization_level": "Q4_K_M",
            },
        }

    # -- anything else ----------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        openai = request.path.startswith("/v1/")
        record = await self._record(request, "openai" if openai else "ollama")
        if openai:
            answer = self._openai_error(404, f"Invalid URL ({request.method} {request.path})", code=None)
        else:
            answer = web.Response(status=404, text="404 page not found")
        record.status = answer.status
        return answer
