"""50 questions from 10 chats at once: all answered, each in its own chat, with latency."""

from __future__ import annotations

import statistics

from tests.telegram.fake_botapi import FakeBotAPI

QUESTIONS = [
    "Sora最长能生成多长的视频?",
    "Sora可以根据哪些输入来生成视频?",
    "Sora官网页面上有什么画面?",
    "Sora这个词容易让人联想到哪些作品?",
    "哪些公司参与了Runway的C轮融资?",
    "许多人认为Sora首先会冲击哪个行业?",
    "是什么在支撑OpenAI如此快速地迭代?",
    "造芯计划的募资规模可以买下哪些公司?",
    "Which industry do many people expect Sora to disrupt first?",
    "How long can Sora videos be?",
]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ask_fifty(api: FakeBotAPI, first_user_id: int) -> dict[tuple[int, int], str]:
    """Ten users each send five different questions, all at once; (chat, message) -> question."""
    users = [api.user(first_user_id + i, f"User {i}") for i in range(10)]
    asked = {}
    for round_ in range(5):
        for i, user in enumerate(users):
            question = QUESTIONS[(i + 2 * round_) % len(QUESTIONS)]
            message = api.send(api.private_chat(user), user, question)
            asked[user["id"], message["message_id"]] = question
    return asked


async def answered(api: FakeBotAPI, asked: dict[tuple[int, int], str]) -> list[float]:
    """Wait for an answer to each question; seconds from question to answer."""

    def answers():
        return [
            c
            for c in api.calls_to("sendMessage", ok=True)
            if (c.params["chat_id"], c.params.get("reply_parameters", {}).get("message_id")) in asked
        ]

    calls = await api.wait_for(lambda: len(answers()) >= len(asked) and answers(), timeout=90)
    # One answer per question, in the question's chat.
    assert sorted((c.params["chat_id"], c.params["reply_parameters"]["message_id"]) for c in calls) == sorted(asked)
    return [c.at - api.sent_at[c.params["chat_id"], c.params["reply_parameters"]["message_id"]] for c in calls]


def summary(label: str, latencies: list[float]) -> str:
    ms = [x * 1000 for x in latencies]
    return (
        f"{label}: p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
        f"max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms"
    )


async def test_fifty_questions_from_ten_chats_are_all_answered_in_their_own_chat(bot, engine):
    api = bot.api

    first = ask_fifty(api, 7000)
    cold = await answered(api, first)
    second = ask_fifty(api, 7100)  # the same questions again, now that the engine is warm
    warm = await answered(api, second)

    expected = {q: engine.answer(q).text for q in QUESTIONS}
    for (chat_id, message_id), question in (first | second).items():
        # Each chat asked five different questions, so a mix-up would show in the text.
        [reply] = api.replies_to(api.messages[chat_id, message_id])
        assert reply["chat"]["id"] == chat_id and reply["text"].startswith(expected[question])
    print(
        "\nAnswer latency through the bot, 50 questions from 10 chats at once "
        "(question reaching Telegram -> answer reaching Telegram):\n  "
        + summary("first wave", cold)
        + "\n  "
        + summary("second wave, engine warm", warm)
    )
