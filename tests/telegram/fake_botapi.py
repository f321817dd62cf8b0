"""A local Telegram Bot API server for tests: Telegram's HTTP protocol, state in memory.

The real `Application` talks to it exactly as it talks to api.telegram.org: requests go
to `/bot<token>/<method>` (form, multipart or JSON bodies), answers are
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`.
Like Telegram it parses HTML (rejecting what Telegram rejects), keeps messages so edits
and replies work, serves updates by long polling or POSTs them to a webhook with the
secret-token header. Tests play the users and look at what they would see::

    api = FakeBotAPI()
    await api.start()                         # base_url / file_url for the Application
    ann = api.user(1001, "Ann")
    question = api.send(api.private_chat(ann), ann, "What is Sora?")
    [answer] = await api.wait_for(lambda: api.replies_to(question))
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await api.stop()
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

TOKEN = "123456789:AAF-fake_token-for-the-local-bot-api"
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD = 50 * 1024 * 1024  # sendDocument refuses bigger files
MAX_CAPTION = 1024
# All update types but these three are delivered when allowed_updates is empty.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
# Fields that stay strings; everything else arrives JSON-encoded (numbers, objects).
_STRING_FIELDS = {
    "text",
    "parse_mode",
    "url",
    "secret_token",
    "callback_query_id",
    "action",
    "file_id",
    "caption",
    "ip_address",
    "language_code",
    "description",
    "short_description",
    "name",
    "title",
    "inline_message_id",
    "business_connection_id",
}

T = TypeVar("T")


class BotAPIError(Exception):
    """Becomes `{"ok": false, ...}` with `code` as HTTP status and error_code."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad_request(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Upload:
    """A file the bot sent in a multipart request (sendDocument's `document`)."""

    filename: str | None
    content_type: str
    content: bytes


@dataclass
class Call:
    """One request the bot made, and how the fake answered it."""

    method: str
    params: dict[str, Any]
    ok: bool = True
    at: float = field(default_factory=time.monotonic)


# -- Telegram's HTML ----------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_CHAR_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def u16(text: str) -> int:
    """Telegram measures text (offsets, lengths, limits) in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities, as Telegram derives them from parse_mode=HTML, or BotAPIError."""

    def fail(what: str, at: int) -> BotAPIError:
        return bad_request(f"can't parse entities: {what} at byte offset {len(source[:at].encode())}")

    out: list[str] = []
    size = 0
    stack: list[tuple[str, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            match = _TAG.match(source, i)
            if not match:
                raise fail('Unexpected character in start tag or unescaped "<"', i)
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in _TAG_TYPES:
                raise fail(f'Unsupported {"end" if closing else "start"} tag "{name}"', i)
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f', expected "</{stack[-1][0]}>"' if stack else ""
                    raise fail(f'Unmatched end tag{expected}, found "</{name}>"', i)
                _, entity = stack.pop()
                entity["length"] = size - entity["offset"]
                if entity["length"] > 0:
                    entities.append(entity)
            else:
                stack.append((name, _entity(name, attrs, size, lambda what, at=i: fail(what, at))))
            i = match.end()
        elif char == "&":
            match = _CHAR_ENTITY.match(source, i)
            if not match:
                raise fail('Character entity expected ("&" must be escaped as "&amp;")', i)
            ref = match.group(1)
            decoded = _NAMED.get(ref) or chr(int(ref[2:], 16) if ref.startswith("#x") else int(ref[1:]))
            out.append(decoded)
            size += u16(decoded)
            i = match.end()
        else:
            out.append(char)
            size += u16(char)
            i += 1
    if stack:
        raise bad_request(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _entity(name: str, attrs: str, offset: int, fail: Callable[[str], BotAPIError]) -> dict[str, Any]:
    values = {m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "") for m in _ATTR.finditer(attrs)}
    entity: dict[str, Any] = {"type": _TAG_TYPES[name], "offset": offset}
    if name == "span" and values.get("class") != "tg-spoiler":
        raise fail('Tag "span" must have class "tg-spoiler"')
    if name == "a":
        if "href" not in values:
            raise fail('Tag "a" must have attribute "href"')
        entity["url"] = values["href"]
    if name == "blockquote" and "expandable" in values:
        entity["type"] = "expandable_blockquote"
    return entity


def _entities_of(text: str) -> list[dict[str, Any]]:
    """The entities Telegram itself finds in a user's text: commands and mentions."""
    found = []
    command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text)
    if command:
        found.append({"type": "bot_command", "offset": 0, "length": u16(command.group())})
    for match in re.finditer(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}", text):
        found.append({"type": "mention", "offset": u16(text[: match.start()]), "length": u16(match.group())})
    return found


# -- the server ---------------------------------------------------------------------------


class FakeBotAPI:
    """Telegram, as far as one bot and a few users can tell."""

    def __init__(self, token: str = TOKEN, username: str = "articlebot_test_bot") -> None:
        self.token = token
        self.me = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Articlebot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.webhook_deliveries: list[tuple[int, int]] = []  # (update_id, HTTP status)
        # Per user message, by (chat id, message id): its update id, and when it was sent
        # (time.monotonic(), the clock of Call.at).
        self.update_ids: dict[tuple[int, int], int] = {}
        self.sent_at: dict[tuple[int, int], float] = {}
        # Per update id, when it was first handed to the bot (a getUpdates answer, or the
        # start of its webhook POST): its arrival, as the bot's own latency counts from.
        self.handed_out_at: dict[int, float] = {}
        self._allowed: list[str] | None = None
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10_000)
        self._message_ids: dict[int, itertools.count] = {}
        self._callback_ids = itertools.count(1)
        self._queries: set[str] = set()
        self._files: dict[str, dict[str, Any]] = {}
        self._failures: list[tuple[str, BotAPIError]] = []
        self._waiters: list[asyncio.Future] = []
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._delivery: asyncio.Task | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # Cancel a long poll when the bot hangs up, as Telegram's server does.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._closing = True
        self._changed()
        if self._delivery:
            self._delivery.cancel()
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests do as users -------------------------------------------------------------

    @staticmethod
    def user(user_id: int, first_name: str = "Ann", language_code: str = "en") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        return self._chat({"id": user["id"], "type": "private", "first_name": user["first_name"]})

    def group_chat(self, chat_id: int, title: str = "Readers") -> dict[str, Any]:
        return self._chat({"id": chat_id, "type": "supergroup" if chat_id < -(10**12) else "group", "title": title})

    def send(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        text: str | None = None,
        *,
        reply_to: dict[str, Any] | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """A user's new message (text, or content such as sticker=..., photo=[...])."""
        message_id = self._next_message_id(chat["id"])
        message = {"message_id": message_id, "from": user, "chat": chat, "date": int(time.time())}
        if text is not None:
            message["text"] = text
            if entities := _entities_of(text):
                message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = self._quoted(reply_to)
        message.update(content)
        if "caption" in content and (entities := _entities_of(content["caption"])):
            message["caption_entities"] = entities
        self.messages[(chat["id"], message["message_id"])] = message
        self.update_ids[chat["id"], message["message_id"]] = self._push("message", message)
        self.sent_at[chat["id"], message["message_id"]] = time.monotonic()
        return message

    def upload(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        file_name: str,
        content: bytes,
        caption: str | None = None,
        mime_type: str = "application/octet-stream",
    ) -> dict[str, Any]:
        """A user sends a file, as Telegram delivers it: a message with a `document`."""
        file_id = f"doc{len(self._files) + 1}"
        suffix = re.sub(r"[^A-Za-z0-9.]", "", file_name[file_name.rfind(".") :]) if "." in file_name else ""
        stored = self.add_file(file_id, content, f"documents/file_{file_id}{suffix}")  # Telegram's naming
        document = {
            "file_id": file_id,
            "file_unique_id": stored["file_unique_id"],
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        extra = {"caption": caption} if caption is not None else {}
        return self.send(chat, user, document=document, **extra)

    def edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits their message."""
        edited = {**message, "text": text, "edit_date": int(time.time())}
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        self._push("edited_message", edited)
        return edited

    def press(self, message: dict[str, Any], user: dict[str, Any], button: int = 0, data: str | None = None) -> str:
        """The user presses an inline button under a bot message; returns the query id.
        With `data`, the press carries that callback data instead of the button's (as a
        modified client can send)."""
        current = self.messages[(message["chat"]["id"], message["message_id"])]
        if data is None:
            data = [b for row in current["reply_markup"]["inline_keyboard"] for b in row][button]["callback_data"]
        query_id = str(next(self._callback_ids))
        self._queries.add(query_id)
        self._push(
            "callback_query",
            {"id": query_id, "from": user, "message": copy.deepcopy(current), "chat_instance": "42", "data": data},
        )
        return query_id

    def push_raw(self, kind: str, payload: dict[str, Any]) -> int:
        """Any other update, e.g. push_raw("channel_post", {...}); returns its update_id."""
        return self._push(kind, payload)

    def fail_next(self, method: str, code: int, description: str, *, retry_after: int | None = None) -> None:
        """Answer the next call of `method` with this error (429 with retry_after: a flood wait)."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._failures.append((method.lower(), BotAPIError(code, description, parameters)))

    # -- what tests look at -------------------------------------------------------------------

    def calls_to(self, method: str, ok: bool | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method.lower() and (ok is None or c.ok == ok)]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat as the user sees them now, oldest first."""
        found = [m for (c, _), m in self.messages.items() if c == chat_id and m["from"]["id"] == self.me["id"]]
        return sorted(found, key=lambda m: m["message_id"])

    def replies_to(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages that quote `message`."""
        return [
            m
            for m in self.bot_messages(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]
        ]

    @property
    def pending_update_count(self) -> int:
        return len(self._pending)

    async def wait_for(self, probe: Callable[[], T], timeout: float = 15.0) -> T:
        """`probe()` once it is truthy; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not (result := probe()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {probe}")
            await self._next_change(min(remaining, 0.2))
        return result

    async def settle(self, quiet_s: float = 0.3) -> None:
        """Wait until all updates were taken and the bot made no call for `quiet_s`."""
        await self.wait_for(lambda: not self._pending)
        while True:
            count = len(self.calls)
            await asyncio.sleep(quiet_s)
            if len(self.calls) == count:
                return

    # -- internals -----------------------------------------------------------------------------

    def _changed(self) -> None:
        """Wake everybody waiting for a change (a call, an update, a delivery)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _next_change(self, timeout: float) -> None:
        # The future is registered before the first await, so no change can slip by
        # between a caller's check and its wait.
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass

    def _chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        self.chats.setdefault(chat["id"], chat)
        return self.chats[chat["id"]]

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _quoted(self, message: dict[str, Any]) -> dict[str, Any]:
        # Telegram nests one level: a replied-to message carries no reply_to_message.
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        return {k: v for k, v in copy.deepcopy(current).items() if k != "reply_to_message"}

    def _push(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._pending.append({"update_id": update_id, kind: payload})
        self._changed()
        return update_id

    def _take(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        if offset is not None:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        allowed = set(self._allowed) if self._allowed else None
        kept = []
        for update in self._pending:
            kind = next(k for k in update if k != "update_id")
            if (kind in allowed) if allowed is not None else (kind not in _OPT_IN_UPDATES):
                kept.append(update)
        self._pending = kept  # Telegram drops what the bot didn't ask for
        now = time.monotonic()
        for update in kept[:limit]:
            self.handed_out_at.setdefault(update["update_id"], now)
        return copy.deepcopy(kept[:limit])

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(BotAPIError(401, "Unauthorized"))
        method = request.match_info["method"].lower()
        params = await _params(request)
        call = Call(method, params)
        self.calls.append(call)
        self._changed()
        try:
            for i, (failing, error) in enumerate(self._failures):
                if failing == method:
                    del self._failures[i]
                    raise error
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise BotAPIError(404, "Not Found")
            result = await handler(params) if asyncio.iscoroutinefunction(handler) else handler(params)
        except BotAPIError as exc:
            call.ok = False
            return _error(exc)
        finally:
            self._changed()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for file in self._files.values():
            if file["file_path"] == request.match_info["path"]:
                return web.Response(body=file["content"])
        return web.Response(status=404)

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a file a user or the bot sent (a document's `file_id`)."""
        return self._files[file_id]["content"]

    def add_file(self, file_id: str, content: bytes, file_path: str) -> dict[str, Any]:
        """A file users can send; the bot fetches it with getFile and a download."""
        self._files[file_id] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": file_path,
            "content": content,
        }
        return {k: v for k, v in self._files[file_id].items() if k != "content"}

    # -- Bot API methods -------------------------------------------------------------------------

    def _api_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.me

    def _api_logout(self, params: dict[str, Any]) -> bool:
        return True

    def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed = params["allowed_updates"]
        offset, limit = params.get("offset"), int(params.get("limit", 100))
        deadline = time.monotonic() + float(params.get("timeout", 0))
        while not (updates := self._take(offset, limit)) and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await self._next_change(remaining)
        return updates

    def _api_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url", "")
        if not url:
            return self._api_deletewebhook(params)
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._allowed = params.get("allowed_updates", self._allowed)
        self.webhook = {"url": url, "secret_token": secret, "max_connections": int(params.get("max_connections", 40))}
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.create_task(self._deliver())
        return True

    def _api_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _api_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        info = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._pending)}
        if self.webhook:
            info.update(url=self.webhook["url"], max_connections=self.webhook["max_connections"])
            if self._allowed:
                info["allowed_updates"] = self._allowed
        return info

    def _api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._known_chat(params.get("chat_id"))
        text, entities = self._text(params)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self._me_short(),
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        return self._sent(chat, message, params)

    def _api_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        """A file upload (multipart), as Telegram takes it: up to 50 MB, caption up to 1024."""
        chat = self._known_chat(params.get("chat_id"))
        upload = params.get("document")
        if not isinstance(upload, Upload):
            raise bad_request("this fake takes documents as uploads only")
        if len(upload.content) > MAX_UPLOAD:
            raise BotAPIError(413, "Request Entity Too Large")
        if not upload.content:
            raise bad_request("file must be non-empty")
        file_id = f"sent{len(self._files) + 1}"
        name = upload.filename or "document"
        stored = self.add_file(file_id, upload.content, f"documents/{name}")
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]),
            "from": self._me_short(),
            "chat": chat,
            "date": int(time.time()),
            "document": {
                "file_id": file_id,
                "file_unique_id": stored["file_unique_id"],
                "file_name": name,
                "mime_type": upload.content_type,
                "file_size": len(upload.content),
            },
        }
        if params.get("caption"):
            caption, entities = self._text({"text": params["caption"], "parse_mode": params.get("parse_mode")})
            if u16(caption) > MAX_CAPTION:
                raise bad_request("message caption is too long")
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        return self._sent(chat, message, params)

    def _sent(self, chat: dict[str, Any], message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """A message the bot sends, with what every send method shares: the message it
        replies to, its buttons and thread; kept so it can be edited and replied to."""
        reply = params.get("reply_parameters") or (
            {"message_id": params["reply_to_message_id"]} if "reply_to_message_id" in params else None
        )
        if reply:
            replied = self.messages.get((chat["id"], int(reply["message_id"])))
            if replied is not None:
                message["reply_to_message"] = self._quoted(replied)
            elif not reply.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
        if markup := self._markup(params):
            message["reply_markup"] = markup
        if "message_thread_id" in params:
            message["message_thread_id"] = params["message_thread_id"]
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _editable(self, params: dict[str, Any]) -> tuple[tuple[int, int], dict[str, Any]]:
        """The bot's own message an edit names, as Telegram checks it, with its key."""
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by this fake")
        chat = self._known_chat(params.get("chat_id"))
        key = (chat["id"], int(params.get("message_id", 0)))
        current = self.messages.get(key)
        if current is None:
            raise bad_request("message to edit not found")
        if current["from"]["id"] != self.me["id"]:
            raise bad_request("message can't be edited")
        return key, current

    def _api_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        key, current = self._editable(params)
        text, entities = self._text(params)
        markup = self._markup(params)  # an edit without reply_markup removes the keyboard
        unchanged = (current["text"], current.get("entities", []), current.get("reply_markup"))
        if (text, entities, markup) == unchanged:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited = {k: v for k, v in current.items() if k not in ("entities", "reply_markup")}
        edited.update(text=text, edit_date=int(time.time()))
        if entities:
            edited["entities"] = entities
        if markup:
            edited["reply_markup"] = markup
        self.messages[key] = edited
        return edited

    def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        key, current = self._editable(params)
        markup = self._markup(params)  # none: the keyboard goes
        if markup == current.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        edited = {k: v for k, v in current.items() if k != "reply_markup"}
        edited["edit_date"] = int(time.time())
        if markup:
            edited["reply_markup"] = markup
        self.messages[key] = edited
        return edited

    def _api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self._queries or query_id in self.callback_answers:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(params.get("text", "")) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = params
        return True

    def _api_sendchataction(self, params: dict[str, Any]) -> bool:
        self._known_chat(params.get("chat_id"))
        if params.get("action") not in {
            "typing",
            "upload_photo",
            "record_video",
            "upload_video",
            "record_voice",
            "upload_voice",
            "upload_document",
            "choose_sticker",
            "find_location",
            "record_video_note",
            "upload_video_note",
        }:
            raise bad_request("wrong parameter action in request")
        return True

    def _api_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_INVALID")
        self.commands[params.get("language_code", "")] = commands
        return True

    def _api_getmycommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands.get(params.get("language_code", ""), [])

    def _api_deletemycommands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(params.get("language_code", ""), None)
        return True

    def _api_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self._known_chat(params.get("chat_id")), "accent_color_id": 0, "max_reaction_count": 11}

    def _api_deletemessage(self, params: dict[str, Any]) -> bool:
        chat = self._known_chat(params.get("chat_id"))
        if self.messages.pop((chat["id"], int(params.get("message_id", 0))), None) is None:
            raise bad_request("message to delete not found")
        return True

    def _api_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self._files.get(params.get("file_id"))
        if file is None:
            raise bad_request("invalid file_id")
        if file["file_size"] > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {k: v for k, v in file.items() if k != "content"}

    # -- checks Telegram makes -----------------------------------------------------------------

    def _known_chat(self, chat_id: Any) -> dict[str, Any]:
        try:
            return self.chats[int(chat_id)]
        except (KeyError, TypeError, ValueError):
            raise bad_request("chat not found") from None

    def _text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        source = params.get("text", "")
        mode = (params.get("parse_mode") or "").lower()
        if mode == "html":
            text, entities = parse_html(source)
        elif mode:
            raise bad_request(f"unsupported parse_mode {params['parse_mode']!r} in this fake")
        else:
            text, entities = source, params.get("entities") or []
        if not text.strip():
            raise bad_request("message text is empty")
        if u16(text) > MAX_TEXT:
            raise bad_request("message is too long")
        return text, entities

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise bad_request("BUTTON_TEXT_EMPTY")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
        return markup

    def _me_short(self) -> dict[str, Any]:
        return {k: self.me[k] for k in ("id", "is_bot", "first_name", "username")}

    async def _deliver(self) -> None:
        """Webhook mode: POST each update to the bot, with the secret header, until it's 200."""
        async with aiohttp.ClientSession() as session:
            in_flight: dict[int, asyncio.Task] = {}
            while not self._closing and self.webhook:
                for update in self._take(None, 100):
                    if update["update_id"] not in in_flight:
                        in_flight[update["update_id"]] = asyncio.create_task(self._post(session, update))
                for update_id, task in list(in_flight.items()):
                    if task.done():
                        del in_flight[update_id]
                        if task.exception() is None and task.result() == 200:
                            self._pending = [u for u in self._pending if u["update_id"] != update_id]
                await self._next_change(0.05)

    async def _post(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> int:
        hook = self.webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook.get("secret_token") else {}
        try:
            async with session.post(hook["url"], json=update, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError:
            status = 0
        self.webhook_deliveries.append((update["update_id"], status))
        if status != 200:
            await asyncio.sleep(0.2)  # Telegram backs off before retrying
        self._changed()
        return status


def _error(exc: BotAPIError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)


async def _params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and a form, multipart or JSON body."""
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            return {**raw, **(await request.json())}
        form = await request.post()
        for key, value in form.items():
            raw[key] = (
                Upload(value.filename, value.content_type, value.file.read())
                if isinstance(value, web.FileField)
                else value
            )
    return {key: _decode(key, value) for key, value in raw.items()}


def _decode(key: str, value: Any) -> Any:
    if key in _STRING_FIELDS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
