"""Generation mode: a chat model writes the answer, checked sentence by sentence.

Real clients and real wire protocols throughout: the in-process llama.cpp model, a real
`llama_cpp.server` spoken to over the OpenAI API, and the scripted fake OpenAI/Ollama
server (tests/fake_llm_server.py) for deterministic replies, errors and hangs. Engines
share the session engine's store (the seeded Sora article) and differ only in their
generator.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot.answering import followups
from bot.answering.answer import Answer, Turn
from bot.answering.engine import Engine
from bot.cli.commands import main
from bot.cli.wording import answer_json
from bot.generation import verification
from bot.generation.chat_models import MAX_TOKENS
from bot.generation.generator import PASSAGES
from bot.generation.verification import Claim
from bot.wiring import build
from tests.conftest import CHAT_MODEL, CHAT_MODELS_DIR, require_llm
from tests.fake_llm_server import FakeChatServer
from tests.processes import free_port, start_server, stop_process

SORA_Q = "Sora最长能生成多长的视频?"
ANSWER_60 = "Sora最长能生成60秒视频。"
INVENTED = "Sora由谷歌在2020年发布。"
FAKE_MODEL = "fake-model"
LOCAL_MODEL = CHAT_MODEL  # where `scripts/setup.sh` put it (the Settings' models dir)
# Generous: two cores shared with other test runs; a model timing out would fall back
# to the extractive answer and fail the "generated" assertions for the wrong reason.
SLOW_MODEL_TIMEOUT_S = 180.0


def generating(engine: Engine, **update) -> Engine:
    """An engine in generation mode over the session engine's store."""
    require_llm()
    settings = engine.settings.model_copy(update=update)
    return build(settings, embeddings=engine.store.embeddings).engine


def openai_engine(engine: Engine, server: FakeChatServer, **update) -> Engine:
    return generating(
        engine, llm_provider="openai", llm_base_url=server.openai_base_url, llm_model=FAKE_MODEL, **update
    )


def assert_cited(answer: Answer, engine: Engine) -> None:
    """Every [n] in the text has its citation and every citation is used; quotes are
    the article's own words."""
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers, answer.text
    assert markers == {c.n for c in answer.citations} == set(range(1, len(markers) + 1)), answer
    chunks = [doc.page_content for doc in engine.store.live_chunks()]
    for citation in answer.citations:
        assert any(citation.quote in chunk for chunk in chunks), citation.quote


def given_passages(messages: list[dict]) -> dict[int, str]:
    """The numbered passages the engine put in a chat request's last user message."""
    last = [m for m in messages if m["role"] == "user"][-1]["content"]
    return {int(n): text for n, text in re.findall(r"^\[(\d+)\] (.*)$", last, re.M)}


def in_process(engine: Engine, **update) -> Engine:
    """The default in-process model (loaded once per call), over the session's store, with
    all the time a shared CPU needs."""
    require_llm(model=True)
    slow = {"llm_timeout_s": SLOW_MODEL_TIMEOUT_S, "llm_first_token_s": SLOW_MODEL_TIMEOUT_S}
    local = {"llm_provider": "local", "models_override": CHAT_MODELS_DIR, "llm_threads": 2, **slow}
    return generating(engine, **(local | update))


def release(engine: Engine) -> None:
    """Free the in-process model's weights and context now (llama.cpp's `Llama.close`), not
    whenever the engine happens to be collected: the next module that needs the model loads
    its own, and two at once would double the test process's memory."""
    assert engine.translator is not None
    chat = engine.translator.generator.chat
    if chat._model is not None:  # never loaded: nothing to free
        chat._model.client.close()


@pytest.fixture(scope="module")
def local_engine(engine) -> Iterator[Engine]:
    local = in_process(engine)
    yield local
    release(local)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """A real llama-cpp-python OpenAI-compatible server on a free loopback port: its /v1 URL."""
    require_llm(model=True)
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(LOCAL_MODEL),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    url = f"http://127.0.0.1:{port}/v1"
    process = start_server(command, log_path, f"{url}/models", timeout_s=120)
    try:
        yield url
    finally:
        stop_process(process)


# -- real models ------------------------------------------------------------------------


def test_local_model_writes_a_checked_cited_answer_and_streams_its_draft(local_engine):
    drafts: list[str] = []
    answer = local_engine.answer(SORA_Q, on_draft=drafts.append)
    assert not answer.refused
    assert answer.generated_by == "local:qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert "60" in answer.text
    assert_cited(answer, local_engine)
    assert any("60秒" in c.quote for c in answer.citations)
    # The draft grew piece by piece, each report extending the one before.
    assert len(drafts) >= 3, drafts
    assert all(later.startswith(earlier) for earlier, later in zip(drafts, drafts[1:])), drafts
    assert len(drafts[-1]) > len(drafts[0]) and "60" in drafts[-1]


def test_local_model_resolves_a_pronoun_that_points_into_the_earlier_answer(local_engine):
    # "its" is the company the answer named (Runway); the earlier question only names Gen-2.
    earlier = Turn("Which company developed Gen-2?", "视频生成大模型Gen-2的开发商Runway,估值超过15亿美元。[1]")

    standalone = local_engine.standalone("What is its valuation?", [earlier])

    assert "Runway" in standalone and followups.is_rewrite(standalone, "What is its valuation?", earlier.question), (
        standalone
    )


def test_model_rewrite_that_keeps_the_pronoun_gives_way_to_the_heuristic(engine, fake):
    follow_up = "它最长能生成多长的视频?"
    # The 1.5B model sometimes echoes the follow-up instead of rewriting it.
    fake.reply_with(lambda messages: follow_up if "改写" in messages[0]["content"] else f"{ANSWER_60}[1]")

    answer = openai_engine(engine, fake).answer(follow_up, earlier=[Turn("Sora是什么?", "Sora是文生视频大模型。[1]")])

    assert answer.standalone == followups.rewrite(follow_up, "Sora是什么?") == "Sora最长能生成多长的视频?"
    assert not answer.refused and "60秒" in answer.text


def test_llama_cpp_server_over_the_openai_api_writes_a_checked_cited_answer(engine, llama_server):
    """LLM_PROVIDER=local with LLM_BASE_URL: llama-cpp-python's own server, via the OpenAI client.
    (The 0.5B model declines this question, which the engine turns into the extractive
    answer; the 1.5B one answers it, deterministically at temperature 0.)"""
    slow = {"llm_timeout_s": SLOW_MODEL_TIMEOUT_S, "llm_first_token_s": SLOW_MODEL_TIMEOUT_S}
    served = generating(engine, llm_provider="local", llm_base_url=llama_server, **slow)
    drafts: list[str] = []
    answer = served.answer(SORA_Q, on_draft=drafts.append)
    assert answer.generated_by == "local:local"  # no LLM_MODEL: the server's one model
    assert not answer.refused and "60" in answer.text
    assert_cited(answer, served)
    assert any("60秒" in c.quote for c in answer.citations)
    assert len(drafts) >= 2


# -- no model call for a refusal -----------------------------------------------------------


@pytest.mark.parametrize("question", ["Sora支持生成4K分辨率的视频吗?", "Who is the CEO of Runway?"])
def test_unanswerable_question_is_refused_without_asking_the_model(engine, fake, question):
    translates = lambda system: "翻译" in system  # noqa: E731  (into Chinese, the article's language)
    fake.reply_with(
        lambda messages: "Runway的CEO是谁?" if translates(messages[0]["content"]) else "Sora支持4K分辨率。[1]"
    )
    answer = openai_engine(engine, fake).answer(question)
    assert answer.refused and not answer.citations
    assert answer.text == "" and answer.language == ("zh" if re.search(r"[\u4e00-\u9fff]", question) else "en")
    assert answer.generated_by is None
    # No answer asked for: at most the English question's translation into the article's Chinese.
    asked = [r.messages[-1]["content"] for r in fake.chat_requests]
    assert asked == ([] if answer.language == "zh" else [question])


# -- checking the model's sentences (fake OpenAI server) -----------------------------------


def test_prompt_gives_numbered_passages_and_question_streamed_at_temperature_zero(engine, fake):
    fake.reply_with(ANSWER_60 + "[1]")
    openai_engine(engine, fake).answer(SORA_Q)
    [request] = fake.chat_requests
    body = request.json
    assert request.path == "/v1/chat/completions" and body["model"] == FAKE_MODEL
    assert body["stream"] is True
    assert body["temperature"] == 0
    assert (body.get("max_completion_tokens") or body.get("max_tokens")) == MAX_TOKENS
    assert request.messages[0]["role"] == "system" and "只根据给出的资料回答" in request.messages[0]["content"]
    passages = given_passages(request.messages)
    assert sorted(passages) == list(range(1, PASSAGES + 1))
    assert "最长能生成60秒视频" in passages[1]  # the best-scoring sentence's chunk comes first
    last = request.messages[-1]
    assert last["role"] == "user" and last["content"].rstrip().endswith(f"问题：{SORA_Q}")


def test_invented_sentence_is_dropped_and_the_supported_one_kept(engine, fake):
    fake.reply_with(f"{ANSWER_60}[1] {INVENTED}[1]")
    drafts: list[str] = []
    answer = openai_engine(engine, fake).answer(SORA_Q, on_draft=drafts.append)
    assert answer.generated_by == f"openai:{FAKE_MODEL}"
    assert not answer.refused
    assert answer.text == f"{ANSWER_60}[1]"
    assert "谷歌" not in answer.text and "2020" not in answer.text
    assert [c.n for c in answer.citations] == [1] and "60秒" in answer.citations[0].quote
    assert_cited(answer, engine)
    assert "谷歌" in drafts[-1]  # the draft is the model's unchecked text


def test_sentence_on_the_passages_topic_with_invented_details_is_dropped(engine, fake):
    # About the passage's Runway/Pika sentence ("只能做3或4秒长的模糊视频"), close to it in
    # meaning, but what it adds (clear picture, smooth motion) is not in the article.
    invented = "Runway和Pika能生成画质清晰、动作流畅的长视频。"
    fake.reply_with(f"{ANSWER_60}[1] {invented}[1]")
    answer = openai_engine(engine, fake).answer(SORA_Q)
    assert answer.generated_by == f"openai:{FAKE_MODEL}"
    assert answer.text == f"{ANSWER_60}[1]"


def test_sentence_joining_a_name_and_a_number_the_passage_keeps_apart_is_dropped(engine, fake):
    # The passage gives 60 seconds to Sora and 3 or 4 to Runway; both words are in it.
    fake.reply_with("Runway最长能生成60秒视频[1]。")
    answer = openai_engine(engine, fake).answer("Runway最长能生成多长的视频?")
    assert "60秒" not in answer.text


def test_sentence_that_only_repeats_the_question_is_dropped(engine, fake):
    fake.reply_with(f"Sora最长能生成的视频有多长,资料里有说明。[1]{ANSWER_60}[1]")
    answer = openai_engine(engine, fake).answer(SORA_Q)
    assert answer.text == f"{ANSWER_60}[1]"


def test_wrongly_cited_sentence_is_recited_to_the_passage_that_holds_it(engine, fake):
    wrong: list[int] = []

    def reply(messages):
        # Cite a given passage that does not hold the fact.
        passages = given_passages(messages)
        wrong.append(next(n for n, text in sorted(passages.items()) if "60" not in text))
        return f"{ANSWER_60}[{wrong[-1]}]"

    fake.reply_with(reply)
    answer = openai_engine(engine, fake).answer(SORA_Q)
    assert wrong and wrong[0] != 1
    assert answer.generated_by == f"openai:{FAKE_MODEL}"
    assert answer.text == f"{ANSWER_60}[1]"
    assert len(answer.citations) == 1 and "60秒" in answer.citations[0].quote
    assert_cited(answer, engine)


def test_only_unsupported_sentences_give_a_refusal(engine, fake):
    fake.reply_with(f"{INVENTED}[1]")
    answer = openai_engine(engine, fake).answer(SORA_Q)
    assert answer.refused and not answer.citations
    assert answer.text == "" and answer.language == "zh"
    assert answer.generated_by is None  # a refusal, not the model's answer


def test_unsupported_answer_without_markers_gives_the_extractive_answer(engine, fake):
    # As the 1.5B model did on CMRC (an echoed heading, a mangled question): no [n], no support.
    fake.reply_with(INVENTED)
    answer = openai_engine(engine, fake).answer(SORA_Q)
    extractive = engine.answer(SORA_Q)
    assert answer.generated_by is None and not answer.refused
    assert (answer.text, answer.citations) == (extractive.text, extractive.citations)


def test_a_sentence_citing_two_passages_clause_by_clause_is_answered(engine, fake):
    fake.reply_with("Sora最长能生成60秒视频[1]，而Runway和Pika只能做3或4秒长的模糊视频[2]。")
    answer = openai_engine(engine, fake).answer(SORA_Q)
    assert not answer.refused
    assert "60秒" in answer.text


def test_model_declining_answerable_question_gives_the_extractive_answer(engine, fake):
    fake.reply_with("资料中没有相关信息。")
    answer = openai_engine(engine, fake).answer(SORA_Q)
    extractive = engine.answer(SORA_Q)
    assert answer.generated_by is None
    assert (answer.text, answer.citations) == (extractive.text, extractive.citations)
    assert "60秒" in answer.text


def test_server_error_gives_the_extractive_answer(engine, fake):
    fake.fail_with_status(500, times=5)
    answer = openai_engine(engine, fake).answer(SORA_Q)
    extractive = engine.answer(SORA_Q)
    assert fake.chat_requests and all(r.status == 500 for r in fake.chat_requests)
    assert answer.generated_by is None and not answer.refused
    assert (answer.text, answer.citations) == (extractive.text, extractive.citations)


def test_model_whose_first_words_are_late_gives_way_to_the_extractive_answer_at_once(engine, fake):
    fake.reply_with(f"{ANSWER_60}[1]")
    fake.first_token_delay_s = 20.0  # a loaded CPU: the model would answer, but far too late
    generating_engine = openai_engine(engine, fake, llm_timeout_s=60.0, llm_first_token_s=1.0)
    started = time.monotonic()
    answer = generating_engine.answer(SORA_Q)
    assert time.monotonic() - started < 10.0  # not the 20 s the model would have taken
    assert answer.generated_by is None and not answer.refused
    assert answer.text == engine.answer(SORA_Q).text


@pytest.mark.parametrize("after_pieces", [0, 2], ids=["before-first-token", "mid-stream"])
def test_hung_server_falls_back_to_the_extractive_answer_within_llm_timeout(engine, fake, after_pieces):
    timeout = 2.0
    fake.reply_with(f"{ANSWER_60}[1]")
    fake.hang(after_pieces=after_pieces)
    generating_engine = openai_engine(engine, fake, llm_timeout_s=timeout)
    started = time.monotonic()
    answer = generating_engine.answer(SORA_Q)
    elapsed = time.monotonic() - started
    # A retried request would cost twice LLM_TIMEOUT (the client's timeout is per attempt).
    assert elapsed < timeout + 1.5, elapsed
    assert answer.generated_by is None and not answer.refused
    assert answer.text == engine.answer(SORA_Q).text


def test_api_key_is_never_logged_nor_answered_when_the_server_refuses_it(engine, caplog):
    key = "sk-articlebot-TEST-9f3c2e71d4b8a6051e"
    caplog.set_level(logging.DEBUG)
    with FakeChatServer(api_key="the-right-key") as server:
        answer = openai_engine(engine, server, llm_api_key=SecretStr(key)).answer(SORA_Q)
        requests = server.chat_requests
    assert requests and requests[0].headers["authorization"] == f"Bearer {key}"  # it was sent...
    assert all(r.status == 401 for r in requests)
    assert answer.generated_by is None and "60秒" in answer.text  # ...refused: extractive answer
    logged = caplog.text + "".join(repr(r.args) + str(r.exc_info) for r in caplog.records)
    assert key not in logged and key[-12:] not in logged
    assert "Incorrect API key" not in logged  # the provider's message echoes part of the key
    assert key not in str(answer_json(answer))
    assert any("401" in r.getMessage() for r in caplog.records if r.name == "bot.answering.engine")


# -- Ollama ----------------------------------------------------------------------------------


def test_ollama_provider_writes_a_checked_cited_answer(engine, fake):
    fake.reply_with(f"{ANSWER_60}[1]")
    ollama = generating(engine, llm_provider="ollama", llm_base_url=fake.base_url, llm_model="qwen2.5:1.5b")
    answer = ollama.answer(SORA_Q)
    [request] = fake.chat_requests
    assert request.path == "/api/chat" and request.json["stream"] is True
    assert request.json["options"]["temperature"] == 0
    assert sorted(given_passages(request.messages)) == list(range(1, PASSAGES + 1))
    assert answer.generated_by == "ollama:qwen2.5:1.5b"
    assert answer.text == f"{ANSWER_60}[1]" and "60秒" in answer.citations[0].quote
    assert_cited(answer, engine)


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def run_against(tmp_path, monkeypatch):
    """Run `articlebot ARGS` (settings from the environment) against a fake server."""
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))

    def invoke(server: FakeChatServer, *args):
        monkeypatch.setenv("LLM_PROVIDER", "openai")
        monkeypatch.setenv("LLM_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("LLM_MODEL", FAKE_MODEL)
        return CliRunner().invoke(main, list(args))

    return invoke


@pytest.fixture
def echoed(monkeypatch) -> list[tuple[str, bool]]:
    """What the CLI printed, call by call, as (message, newline)."""
    calls: list[tuple[str, bool]] = []
    original = click.echo

    def spy(message=None, file=None, nl=True, err=False, color=None):
        if not err:
            calls.append((str(message) if message is not None else "", nl))
        return original(message, file=file, nl=nl, err=err, color=color)

    monkeypatch.setattr(click, "echo", spy)
    return calls


@pytest.mark.model  # runs articlebot, which loads the model
def test_cli_ask_streams_the_answer_then_shows_its_sources(run_against, fake, echoed):
    fake.piece_size = 3
    fake.token_delay_s = 0.02
    fake.reply_with(f"{ANSWER_60}[1]")
    result = run_against(fake, "ask", SORA_Q)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"{ANSWER_60}[1]\n"), out
    assert re.search(r"^  \[1\] Sora很强大,但现在也不必过度神话.*\n      “[^”]*60秒[^”]*”$", out, re.M), out
    assert "Checked against the sources" not in out  # the draft passed checking unchanged
    streamed = [message for message, nl in echoed if not nl]
    assert len(streamed) >= 3 and "".join(streamed) == f"{ANSWER_60}[1]", streamed


@pytest.mark.model  # runs articlebot, which loads the model
def test_cli_ask_shows_the_checked_answer_when_checking_changed_the_draft(run_against, fake):
    fake.token_delay_s = 0.01
    fake.reply_with(f"{ANSWER_60}[1] {INVENTED}[1]")
    result = run_against(fake, "ask", SORA_Q)
    assert result.exit_code == 0, result.output
    draft, checked = result.stdout.split("Checked against the sources:", 1)
    assert INVENTED in draft  # shown while it was being written ...
    assert checked.startswith(f" {ANSWER_60}[1]\n") and "谷歌" not in checked  # ... then corrected
    assert "  [1] Sora很强大" in checked and "60秒" in checked


@pytest.mark.model  # runs articlebot, which loads the model
def test_cli_ask_json_names_the_model_that_wrote_the_answer(run_against, fake):
    fake.reply_with(f"{ANSWER_60}[1]")
    result = run_against(fake, "ask", "--json", SORA_Q)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["generated_by"] == f"openai:{FAKE_MODEL}"
    assert data["answer"] == f"{ANSWER_60}[1]" and not data["refused"]
    assert "60秒" in data["citations"][0]["quote"]


# -- the checker's pure functions ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Sora最长能生成60秒视频。[1][2] Sora很强大。[3]",
            [Claim("Sora最长能生成60秒视频。", (1, 2)), Claim("Sora很强大。", (3,))],
        ),
        ("Sora能生成60秒视频[1,2]。", [Claim("Sora能生成60秒视频。", (1, 2))]),
        ("Sora能生成60秒视频【1】。它很强【2、3】", [Claim("Sora能生成60秒视频。", (1,)), Claim("它很强", (2, 3))]),
        (
            "Sora最长能生成60秒视频。 [ 1 ]\n\nSora很强大［2］",
            [Claim("Sora最长能生成60秒视频。", (1,)), Claim("Sora很强大", (2,))],
        ),
        (
            "It makes 60 s videos [1]. It is strong. [2]",
            [Claim("It makes 60 s videos.", (1,)), Claim("It is strong.", (2,))],
        ),
        ("资料中没有相关信息。", [Claim("资料中没有相关信息。", ())]),
        ("[1] 。", []),
    ],
)
def test_claims_read_sentences_and_their_markers(text, expected):
    assert verification.claims(text) == expected


@pytest.mark.parametrize(
    "sentence, declined",
    [
        ("资料中没有相关信息。", True),
        ("文章没有提到Sora的分辨率。", True),
        ("The passages don't say.", True),
        ("It is not mentioned in the passages.", True),
        ("Sora最长能生成60秒视频。", False),
        ("Sora can make videos up to 60 seconds long.", False),
    ],
)
def test_declines_recognises_the_no_answer_replies(sentence, declined):
    assert verification.declines(sentence) is declined
