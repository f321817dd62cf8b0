"""Follow-up questions in Telegram, end to end: the chat's earlier questions make a
question with "它" or "…呢?" understandable, the answer shows how it was understood,
/reset forgets, a restart remembers, and in groups each person has their own thread.

Every test uses users of its own: the conversations live in the session engine's data
dir, shared by all the Telegram tests.
"""

from __future__ import annotations

import itertools
import re

from pydantic import SecretStr

from bot.telegram.app import build_application
from bot.telegram.streaming import CURSOR, PRIVATE_INTERVAL_S
from bot.wiring import build
from tests.conftest import require_llm
from tests.fake_llm_server import FakeChatServer
from tests.telegram.conftest import Bot, running, telegram_settings

FIRST = "Sora是什么?"
FOLLOW_UP = "它最长能生成多长的视频?"
_user_ids = itertools.count(3101)
_group_ids = itertools.count(-4101, -1)


def new_user(bot_or_api, name: str = "丽") -> dict:
    api = getattr(bot_or_api, "api", bot_or_api)
    return api.user(next(_user_ids), name, "zh-hans")


def buttons(message: dict) -> list[str]:
    return [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


def understood(message: dict) -> str | None:
    """The "理解为:…" line under the Sources heading, or None."""
    lines = message["text"].splitlines()
    if "来源" not in lines:
        return None
    after = lines[lines.index("来源") + 1]
    return after.removeprefix("理解为:") if after.startswith("理解为:") else None


async def test_follow_up_is_understood_from_the_earlier_question(bot, engine):
    li = new_user(bot)
    chat = bot.api.private_chat(li)
    expected = engine.answer(FOLLOW_UP, earlier=[engine.answer(FIRST).turn])

    await bot.ask(chat, li, FIRST)
    reply = await bot.ask(chat, li, FOLLOW_UP)

    assert "60秒" in reply["text"] and "[1]" in reply["text"]
    assert reply["text"].splitlines()[0] == expected.text
    assert understood(reply) == expected.standalone and "Sora" in expected.standalone
    assert f"<i>理解为:{expected.standalone}</i>" not in reply["text"]  # rendered, not literal tags
    assert {
        "type": "italic",
        "offset": reply["text"].index("理解为"),
        "length": len(f"理解为:{expected.standalone}"),
    } in reply["entities"]
    assert buttons(reply) == ["📖 来源", "👍", "👎"]


async def test_standalone_question_shows_no_understood_line(bot):
    li = new_user(bot)
    chat = bot.api.private_chat(li)

    await bot.ask(chat, li, FIRST)
    reply = await bot.ask(chat, li, "Runway的估值超过多少?")

    assert "15亿美元" in reply["text"]
    assert "理解为" not in reply["text"]


async def test_reset_forgets_the_conversation(bot):
    li = new_user(bot)
    chat = bot.api.private_chat(li)
    await bot.ask(chat, li, FIRST)

    done = await bot.say(chat, li, "/reset")
    reply = await bot.ask(chat, li, FOLLOW_UP)

    assert done["text"] == "好的,我已经忘掉之前的对话。下一个问题重新开始。"
    assert "理解为" not in reply["text"]


async def test_a_restarted_bot_still_follows_the_conversation(api, articlebot):
    li = new_user(api)
    chat = api.private_chat(li)
    settings = telegram_settings(articlebot.engine, api)

    async with running(build_application(settings, articlebot=articlebot)) as first:
        await Bot(api, first).ask(chat, li, FIRST)
    async with running(build_application(settings, articlebot=articlebot)) as second:
        reply = await Bot(api, second).ask(chat, li, FOLLOW_UP)

    assert "60秒" in reply["text"]
    assert "Sora" in understood(reply)


async def test_in_a_group_each_person_follows_their_own_questions(bot):
    group = bot.api.group_chat(next(_group_ids), "Sora readers")
    ann, ben = new_user(bot, "Ann"), new_user(bot, "Ben")

    await bot.ask(group, ann, "/ask Sora这个名字取自哪种语言?")
    await bot.ask(group, ben, "@articlebot_test_bot Runway开发了哪个视频生成模型?")
    ann_reply = await bot.ask(group, ann, "/ask 它在韩语中表示什么?")
    ben_reply = await bot.ask(group, ben, "@articlebot_test_bot 它的估值超过多少?")

    assert understood(ann_reply) == "Sora在韩语中表示什么?" and "海螺壳" in ann_reply["text"]
    assert understood(ben_reply) == "Runway的估值超过多少?" and "15亿美元" in ben_reply["text"]


# -- generation mode: the chat model rewrites the follow-up and streams its answer ------------------

MODEL_REWRITE = "OpenAI的Sora最长能生成多长的视频?"  # not what the heuristic would write
MODEL_ANSWER = "Sora最长能生成60秒视频。[1]"
MODEL_FIRST_ANSWER = "Sora背后拥有两大技术革新:时空补丁技术和扩散型Transformer架构。"


def scripted_model(messages: list[dict]) -> str:
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    if "改写" in system or "Rewrite" in system:
        return MODEL_REWRITE
    if "最长" in messages[-1]["content"]:
        return MODEL_ANSWER
    return f"{MODEL_FIRST_ANSWER}[1]"


async def test_generated_follow_up_is_rewritten_by_the_model_and_streamed(api, engine):
    require_llm()  # LLM_PROVIDER=openai: langchain_openai, from the llm extra
    with FakeChatServer(api_key="k", reply=scripted_model, piece_size=2) as server:
        settings = engine.settings.model_copy(
            update={
                "llm_provider": "openai",
                "llm_base_url": server.openai_base_url,
                "llm_model": "m",
                "llm_api_key": SecretStr("k"),
            }
        )
        generating = build(settings, embeddings=engine.store.embeddings)
        li = new_user(api)
        chat = api.private_chat(li)
        async with running(build_application(telegram_settings(generating.engine, api), articlebot=generating)):
            first = api.send(chat, li, FIRST)
            await api.wait_for(lambda: any(not m["text"].endswith(CURSOR.strip()) for m in api.replies_to(first)))
            server.token_delay_s = 0.25  # the answer takes ~2 s to write: several drafts
            asked_at = len(api.calls)
            question = api.send(chat, li, FOLLOW_UP)
            await api.wait_for(lambda: any("60秒" in m["text"] and buttons(m) for m in api.replies_to(question)))
            await api.settle()

    [reply] = api.replies_to(question)
    in_chat = [c for c in api.calls if c.params.get("chat_id") == chat["id"]]
    sends = [c for c in api.calls[asked_at:] if c in in_chat and c.method == "sendmessage"]
    edits = [c for c in api.calls[asked_at:] if c in in_chat and c.method == "editmessagetext"]
    # One message: sent with the first words, edited as the model wrote, finished in place.
    assert len(sends) == 1 and sends[0].params["text"].endswith(CURSOR.strip())
    draft = sends[0].params["text"].removesuffix(CURSOR).removesuffix(CURSOR.strip()).strip()
    assert draft and MODEL_ANSWER.startswith(draft) and draft != MODEL_ANSWER
    assert len(edits) >= 2 and all(int(c.params["message_id"]) == reply["message_id"] for c in edits)
    # Edits in the chat (of both answers) keep Telegram's pace, and so do the follow-up's.
    all_edits = [c.at for c in in_chat if c.method == "editmessagetext"]
    paced = [sends[0].at, *(c.at for c in edits)]
    for times in (all_edits, paced):
        assert all(b - a >= PRIVATE_INTERVAL_S - 0.1 for a, b in zip(times, times[1:])), times
    # The finished message: the checked answer, the model's rewrite, the Sources button.
    assert reply["text"].splitlines()[0] == MODEL_ANSWER
    assert not re.search(r"…$", reply["text"].splitlines()[0])
    assert understood(reply) == MODEL_REWRITE
    assert buttons(reply) == ["📖 来源", "👍", "👎"]
    rewrite_request = next(r for r in server.chat_requests if "改写" in r.messages[0]["content"])
    # The model reads the earlier question and its answer (where "他" may point), no markers.
    history = rewrite_request.messages[-1]["content"]
    assert history.startswith(f"之前的对话：\n问：{FIRST}\n答：{MODEL_FIRST_ANSWER}") and "[1]" not in history
    assert history.endswith(f"\n\n追问：{FOLLOW_UP}")
