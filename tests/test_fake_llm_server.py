"""The fake chat server is faithful: the real LangChain/OpenAI/Ollama clients work against it."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from tests.conftest import llm_import
from tests.fake_llm_server import DEFAULT_REPLY, FakeChatServer

try:  # LangChain's generic constructor; langchain_classic carries the same function
    from langchain.chat_models import init_chat_model
except ImportError:
    from langchain_classic.chat_models import init_chat_model

# The clients come with the llm extra (`scripts/setup.sh`, unless --no-llm): without it this module is
# skipped, and fails under CI.
ollama = llm_import("ollama")
openai = llm_import("openai")
ChatOllama = llm_import("langchain_ollama").ChatOllama
llm_import("langchain_openai")  # init_chat_model(model_provider="openai") loads it

# langchain_classic's init_chat_model warns that it moved to `langchain` (not installed here).
pytestmark = pytest.mark.filterwarnings("ignore:The function `init_chat_model` was deprecated")

REPLY = "Sora is OpenAI's text-to-video model [1]."


@pytest.fixture
def server():
    with FakeChatServer(api_key="k", reply=REPLY) as running:
        yield running


def openai_chat(server: FakeChatServer, **options):
    options = {"api_key": "k", "max_retries": 0, "timeout": 2.0} | options
    return init_chat_model("some-model", model_provider="openai", base_url=server.openai_base_url, **options)


# -- OpenAI -------------------------------------------------------------------------------


def test_openai_invoke_returns_the_scripted_reply(server):
    server.reply_with(lambda messages: f"{len(messages)} messages, last: {messages[-1]['content']}")
    chat = openai_chat(server, temperature=0, max_tokens=256)

    answer = chat.invoke([SystemMessage("Be brief."), HumanMessage("What is Sora?")])

    assert answer.content == "2 messages, last: What is Sora?"
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata["output_tokens"] > 0
    [request] = server.chat_requests
    assert request.path == "/v1/chat/completions" and request.provider == "openai"
    assert request.headers["authorization"] == "Bearer k"
    assert request.model == "some-model" and request.stream is False
    assert request.json["temperature"] == 0 and request.json["max_completion_tokens"] == 256
    assert request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is Sora?"},
    ]
    assert request.status == 200


def test_openai_stream_arrives_in_pieces(server):
    chunks = list(openai_chat(server, stream_usage=True).stream("What is Sora?"))

    texts = [c.content for c in chunks if c.content]
    assert "".join(texts) == REPLY
    assert len(texts) >= 5
    whole = sum(chunks[1:], chunks[0])
    assert whole.usage_metadata["output_tokens"] == len(texts)  # include_usage honoured
    assert whole.response_metadata["finish_reason"] == "stop"
    [request] = server.chat_requests
    assert request.stream is True and request.json["stream_options"] == {"include_usage": True}


def test_openai_token_limit_cuts_the_reply(server):
    answer = openai_chat(server, max_tokens=2).invoke("What is Sora?")

    assert answer.content == REPLY[: 2 * server.piece_size]
    assert answer.response_metadata["finish_reason"] == "length"


def test_openai_wrong_or_missing_key_is_rejected(server):
    with pytest.raises(openai.AuthenticationError) as wrong:
        openai_chat(server, api_key="wrong-key").invoke("hi")
    assert wrong.value.status_code == 401 and wrong.value.code == "invalid_api_key"

    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-model"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.openai_base_url, api_key="other", max_retries=0).models.list()
    missing = httpx.get(f"{server.openai_base_url}/models")  # the SDK won't send no key at all
    assert missing.status_code == 401 and missing.json()["error"]["message"].startswith("You didn't provide")


def test_openai_server_error_after_retries(server):
    server.fail_with_status(500)
    with pytest.raises(openai.InternalServerError) as failed:
        openai_chat(server).invoke("hi")
    assert failed.value.status_code == 500 and failed.value.body["type"] == "server_error"

    server.fail_with_status(503, retry_after=0.01)  # one retry gets past it
    assert openai_chat(server, max_retries=1).invoke("hi").content == REPLY
    retried = server.chat_requests[-2:]
    assert [r.status for r in retried] == [503, 200]
    assert retried[1].headers["x-stainless-retry-count"] == "1"


def test_openai_timeout_on_a_hung_server_is_prompt():
    with FakeChatServer() as server:
        server.hang()
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            openai_chat(server, timeout=0.5).invoke("hi")
        assert time.monotonic() - started < 1.5

        server.hang(after_pieces=2)  # a stream that stalls after two pieces
        pieces = []
        with pytest.raises(openai.APITimeoutError):
            for chunk in openai_chat(server, timeout=0.5).stream("hi"):
                pieces.append(chunk.content)
        assert "".join(pieces) == DEFAULT_REPLY[: 2 * server.piece_size]

        server.hang()
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(_call(openai_chat(server, timeout=30))))
        caller.start()
        server.wait_for_requests(3)
        started = time.monotonic()
        server.stop_in_thread()  # drops the hung request instead of waiting for it
        caller.join(5)
        assert time.monotonic() - started < 1.5
        assert isinstance(outcome[0], openai.APIConnectionError)


def _call(chat):
    try:
        return chat.invoke("hi")
    except Exception as exc:  # noqa: BLE001
        return exc


def test_openai_delays_and_unhang(server):
    server.first_token_delay_s, server.token_delay_s = 0.2, 0.01
    started = time.monotonic()
    assert openai_chat(server).invoke("hi").content == REPLY
    assert time.monotonic() - started >= 0.2

    server.first_token_delay_s = server.token_delay_s = 0
    server.hang(times=1)
    outcome = []
    caller = threading.Thread(target=lambda: outcome.append(_call(openai_chat(server))))
    caller.start()
    server.wait_for_requests(2)
    server.unhang()
    caller.join(2)
    assert outcome[0].content == REPLY


async def test_openai_async_client_in_loop_mode():
    async with FakeChatServer(reply="async answer", piece_size=3) as server:
        chat = openai_chat(server)
        assert (await chat.ainvoke("hi")).content == "async answer"
        pieces = [c.content async for c in chat.astream("hi") if c.content]
        assert pieces == ["asy", "nc ", "ans", "wer"]

        server.hang()
        hung = asyncio.create_task(openai_chat(server, timeout=30).ainvoke("hi"))
        while len(server.chat_requests) < 3:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await server.stop()
        with pytest.raises(openai.APIConnectionError):
            await hung
        assert time.monotonic() - started < 1.5


async def test_thread_mode_serves_a_loop_blocked_by_a_sync_call():
    with FakeChatServer(api_key="k") as server:
        assert openai_chat(server).invoke("hi").content  # would deadlock an in-loop server
        await server.stop()
        await server.stop()  # idempotent


def test_wire_format(server):
    """What a non-LangChain client would see: SSE events ending in [DONE], NDJSON lines."""
    server.reply_with("abcdefgh")
    headers = {"Authorization": "Bearer k"}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{server.openai_base_url}/chat/completions", json=body, headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]] == ["abcd", "efgh"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" not in chunks[-1]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}

    lines = httpx.post(f"{server.base_url}/api/chat", json={"model": "m", "messages": body["messages"]}).text
    parsed = [json.loads(line) for line in lines.splitlines()]
    assert [p["message"]["content"] for p in parsed] == ["abcd", "efgh", ""]
    assert [p["done"] for p in parsed] == [False, False, True]
    assert parsed[-1]["done_reason"] == "stop" and parsed[-1]["eval_count"] == 2

    missing = httpx.post(f"{server.openai_base_url}/chat/completions", json=body)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "invalid_request_error"


# -- Ollama -------------------------------------------------------------------------------


def test_ollama_invoke_and_stream():
    with FakeChatServer(reply=REPLY, models=["llama3.2"]) as server:
        chat = ChatOllama(model="llama3.2", base_url=server.base_url, validate_model_on_init=True, num_predict=256)

        answer = chat.invoke([SystemMessage("Be brief."), HumanMessage("What is Sora?")])
        assert answer.content == REPLY
        assert answer.response_metadata["done_reason"] == "stop"
        assert answer.usage_metadata["output_tokens"] > 0

        pieces = [c.content for c in chat.stream("What is Sora?") if c.content]
        assert "".join(pieces) == REPLY and len(pieces) >= 5

        assert [r.path for r in server.requests] == ["/api/tags", "/api/chat", "/api/chat"]
        request = server.chat_requests[0]
        assert request.provider == "ollama" and request.stream is True
        assert request.json["options"]["num_predict"] == 256
        assert request.messages == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is Sora?"},
        ]

        with pytest.raises(ValueError, match="not found in Ollama"):
            ChatOllama(model="mistral", base_url=server.base_url, validate_model_on_init=True)


def test_ollama_errors_and_non_streaming(server):
    server.fail_with_status(500)
    chat = ChatOllama(model="llama3.2", base_url=server.base_url)
    with pytest.raises(ollama.ResponseError) as failed:
        chat.invoke("hi")
    assert failed.value.status_code == 500

    client = ollama.Client(host=server.base_url)
    reply = client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=False)
    assert reply.message.content == REPLY and reply.done and reply.eval_count > 0
    assert server.chat_requests[-1].stream is False

    server.hang()
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):  # the ollama SDK lets httpx's error through
        ChatOllama(model="llama3.2", base_url=server.base_url, client_kwargs={"timeout": 0.5}).invoke("hi")
    assert time.monotonic() - started < 1.5


async def test_ollama_async_client(server):
    chat = ChatOllama(model="llama3.2", base_url=server.base_url)
    assert (await chat.ainvoke("hi")).content == REPLY
    pieces = [c.content async for c in chat.astream("hi") if c.content]
    assert "".join(pieces) == REPLY


def test_reply_function_errors_become_500s(server):
    def broken(_messages):
        raise RuntimeError("oops")

    server.reply_with(broken)
    with pytest.raises(openai.InternalServerError):
        openai_chat(server).invoke("hi")
    assert isinstance(server.errors[0], RuntimeError)
