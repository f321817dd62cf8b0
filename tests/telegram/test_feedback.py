"""Feedback that improves the bot, end to end: 👍 / 👎 under answers, the reason for a 👎,
/feedback for admins, and `articlebot feedback --export` turning 👎 votes into a
question set that `articlebot eval` reads.

Each test runs the bot on a data dir of its own (the votes live there), with the
session's engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from click.testing import CliRunner

from bot.cli.commands import main
from bot.evaluation.question_sets import grade, read_questions
from bot.telegram.app import build_application
from tests.telegram.conftest import Bot, running, telegram_settings

QUESTION = "Sora最长能生成多长的视频?"
OFF_TOPIC = "Who is the CEO of Runway?"
ADMIN_ID = 7001
ANN, BOB = 7002, 7003
UP, DOWN = -2, -1  # the last two buttons under an answer (a refusal has no Sources)
WHY = (
    "Ann, what was wrong with this answer? Your next message here (within 3 minutes) "
    "is taken as the reason, in one line; or press Skip."
)


def buttons(message: dict) -> list[str]:
    return [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


@pytest.fixture
async def bot(api, articlebot, tmp_path) -> AsyncIterator[Bot]:
    settings = telegram_settings(
        articlebot.engine, api, data_dir=tmp_path / "bot-data", admin_user_ids=frozenset({ADMIN_ID})
    )
    async with running(build_application(settings, articlebot=articlebot)) as application:
        yield Bot(api, application)


@pytest.fixture
def ann(api) -> dict:
    return api.user(ANN, "Ann", "en")


@pytest.fixture
def chat(api, ann) -> dict:
    return api.private_chat(ann)


async def press(bot: Bot, message: dict, user: dict, button: int = 0, data: str | None = None) -> dict:
    """Press a button; the notice the bot answered the press with."""
    query = bot.api.press(message, user, button=button, data=data)
    return await bot.api.wait_for(lambda: bot.api.callback_answers.get(query))


async def vote_down(bot: Bot, answer: dict, user: dict) -> dict:
    """Press 👎; the bot's "what was wrong?" message."""
    before = len(bot.api.bot_messages(answer["chat"]["id"]))
    await press(bot, answer, user, DOWN)
    messages = await bot.api.wait_for(lambda: bot.api.bot_messages(answer["chat"]["id"])[before:])
    return messages[0]


async def test_a_down_vote_with_its_reason_is_stored_with_the_answer_and_shown_to_admins(bot, ann, chat, engine):
    answer = await bot.ask(chat, ann, QUESTION)
    why = await vote_down(bot, answer, ann)
    reason = bot.api.send(chat, ann, "It should   say the videos are 60 seconds,\nnot just cite")
    [thanks] = await bot.api.wait_for(lambda: bot.api.replies_to(reason))
    await bot.api.settle()
    admin = bot.api.user(ADMIN_ID, "Ada")
    listed = await bot.say(bot.api.private_chat(admin), admin, "/feedback")
    refused = await bot.say(chat, ann, "/feedback")

    assert buttons(answer) == ["📖 来源", "👍", "👎"]
    assert why["text"] == WHY and why["reply_to_message"]["message_id"] == answer["message_id"]
    assert thanks["text"] == (
        "Thanks, noted: “It should say the videos are 60 seconds, not just cite”. "
        "If that was meant as a question, just send it again."
    )
    assert buttons(bot.api.messages[chat["id"], why["message_id"]]) == []  # Skip is gone
    assert [m["text"] for m in bot.api.bot_messages(chat["id"])][:3] == [answer["text"], WHY, thanks["text"]]
    reason_sent = bot.api.sent_at[chat["id"], reason["message_id"]]
    assert all(c.at < reason_sent for c in bot.api.calls_to("sendChatAction"))  # not taken for a question

    [vote] = bot.application.bot_data.feedback.negatives()
    expected = engine.answer(QUESTION)
    [record] = bot.application.bot_data.library.articles()
    assert (vote.question, vote.answer, vote.refused) == (QUESTION, expected.text, False)
    assert vote.reason == "It should say the videos are 60 seconds, not just cite"
    assert [c["quote"] for c in vote.citations] == [c.quote for c in expected.citations]
    assert vote.versions == {record.article_id: record.version}

    lines = [line for line in listed["text"].splitlines() if line]
    assert lines[0] == "Latest 👎 votes (1 of 1; 👍 0)"
    assert lines[1].startswith("1. " + vote.voted_at[:10]) and lines[1].endswith(" UTC")
    assert lines[2] == f"Q: {QUESTION}"
    assert lines[3].startswith("A: ") and "60秒" in lines[3]
    assert lines[4] == "Why: It should say the videos are 60 seconds, not just cite"
    assert refused["text"].startswith("Sorry, only the bot's admins can do that")


async def test_a_plain_question_after_a_down_vote_is_answered_not_taken_as_its_reason(bot, ann, chat):
    answer = await bot.ask(chat, ann, QUESTION)
    why = await vote_down(bot, answer, ann)

    reply = await bot.ask(chat, ann, "Sora的名字是怎么来的?")

    assert "天空" in reply["text"] and "[1]" in reply["text"], reply["text"]
    assert buttons(bot.api.messages[chat["id"], why["message_id"]]) == []  # Skip is gone
    [vote] = bot.application.bot_data.feedback.negatives()
    assert vote.reason is None


async def test_a_second_vote_replaces_the_first(bot, ann, chat):
    answer = await bot.ask(chat, ann, QUESTION)
    await vote_down(bot, answer, ann)
    up = await press(bot, answer, ann, UP)
    after_up = bot.application.bot_data.feedback.counts()
    question = await bot.ask(chat, ann, "What is Sora?")  # no reason awaited any more: a question
    await press(bot, answer, ann, UP)
    again = await vote_down(bot, answer, ann)

    assert up["text"] == "Thanks for the feedback!"
    assert after_up == (1, 0)
    assert "[1]" in question["text"]
    assert again["text"] == WHY  # 👍 then 👎: asks why again
    assert bot.application.bot_data.feedback.counts() == (0, 1)


async def test_pressing_down_again_does_not_ask_twice(bot, ann, chat):
    answer = await bot.ask(chat, ann, QUESTION)
    await vote_down(bot, answer, ann)
    notice = await press(bot, answer, ann, DOWN)
    await bot.api.settle()

    assert notice["text"] == "Noted. Thanks for telling me."
    assert [m["text"] for m in bot.api.bot_messages(chat["id"])] == [answer["text"], WHY]
    assert bot.application.bot_data.feedback.counts() == (0, 1)


async def test_skip_leaves_the_vote_without_a_reason_and_only_the_voter_may_press_it(bot, api, ann):
    group = api.group_chat(-7100, "Readers")
    bob = api.user(BOB, "Bob")
    answer = await bot.ask(group, ann, f"/ask {QUESTION}")
    why = await vote_down(bot, answer, ann)
    not_bobs = await press(bot, why, bob)
    skipped = await press(bot, why, ann)
    edited = await api.wait_for(lambda: api.messages[group["id"], why["message_id"]].get("edit_date") and why)
    question = await bot.ask(group, ann, f"@articlebot_test_bot {QUESTION}")

    assert not_bobs["text"] == "Only the person who voted can skip this."
    assert skipped.get("text") is None
    assert api.messages[group["id"], edited["message_id"]]["text"] == "Noted without a reason. Thanks!"
    assert buttons(api.messages[group["id"], edited["message_id"]]) == []
    assert "60秒" in question["text"]  # answered: not taken as the reason
    [vote] = bot.application.bot_data.feedback.negatives()
    assert vote.reason is None


async def test_in_a_group_the_reason_is_the_voters_next_message_to_the_bot(bot, api, ann):
    group = api.group_chat(-7101, "Readers")
    bob = api.user(BOB, "Bob")
    answer = await bot.ask(group, ann, f"/ask {QUESTION}")
    why = await vote_down(bot, answer, ann)
    bobs = await bot.ask(group, bob, f"@articlebot_test_bot {QUESTION}")  # somebody else: a question
    reason = api.send(group, ann, "@articlebot_test_bot too vague", reply_to=why)
    [thanks] = await api.wait_for(lambda: api.replies_to(reason))

    assert "60秒" in bobs["text"]
    assert thanks["text"].startswith("Thanks, noted: “too vague”.")
    assert [v.reason for v in bot.application.bot_data.feedback.negatives()] == ["too vague"]


async def test_after_a_few_minutes_the_next_message_is_a_question_again(bot, ann, chat):
    answer = await bot.ask(chat, ann, QUESTION)
    await vote_down(bot, answer, ann)
    bot.application.bot_data.reasons.clock = lambda: time.monotonic() + 181

    question = await bot.ask(chat, ann, "What is Sora?")

    assert "[1]" in question["text"]
    assert bot.application.bot_data.feedback.negatives()[0].reason is None


async def test_votes_work_only_in_the_chat_of_the_answer(bot, api, ann, chat):
    answer = await bot.ask(chat, ann, QUESTION)
    anns_down = answer["reply_markup"]["inline_keyboard"][0][DOWN]["callback_data"]
    bob = api.user(BOB, "Bob")
    bobs_answer = await bot.ask(api.private_chat(bob), bob, "How long can Sora videos be?")

    notice = await press(bot, bobs_answer, bob, data=anns_down)
    await api.settle()

    assert notice["text"] == "This answer can no longer be rated. Please ask the question again."
    assert bot.application.bot_data.feedback.counts() == (0, 0)


async def test_down_votes_export_as_a_question_set_that_eval_reads(bot, ann, chat, engine, tmp_path, monkeypatch):
    refused = await bot.ask(chat, ann, OFF_TOPIC)
    await vote_down(bot, refused, ann)
    reason = bot.api.send(chat, ann, "Runway is in the article")
    await bot.api.wait_for(lambda: bot.api.replies_to(reason))
    answer = await bot.ask(chat, ann, QUESTION)
    await press(bot, await vote_down(bot, answer, ann), ann)  # Skip: no reason
    await press(bot, await bot.ask(chat, ann, "What is Sora?"), ann, UP)  # 👍 votes are not exported
    [record] = bot.application.bot_data.library.articles()
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "bot-data"))
    exported = tmp_path / "feedback.jsonl"

    result = CliRunner().invoke(main, ["feedback", "--export", str(exported)])
    listing = CliRunner().invoke(main, ["feedback"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Wrote 2 question(s) to {exported}; 1 were answered wrongly")
    questions = read_questions(exported)
    assert [(q.q, q.answerable, q.expect, q.gold, q.lang) for q in questions] == [
        (OFF_TOPIC, True, [], None, "en"),
        (QUESTION, True, [], None, "zh"),
    ]
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert (lines[0]["was_refused"], lines[0]["reason"], lines[0]["citations"]) == (
        True,
        "Runway is in the article",
        [],
    )
    assert lines[1]["bad_answer"] == engine.answer(QUESTION).text and lines[1]["reason"] is None
    assert {(c["article_id"], c["version"]) for c in lines[1]["citations"]} == {(record.article_id, record.version)}
    # As exported, a case passes once the question is answered: the refused one fails today.
    assert [grade(q, engine.answer(q.q)).right for q in questions] == [False, True]

    assert listing.exit_code == 0, listing.output
    assert listing.output.startswith("👎 2, 👍 1\n")
    assert (
        "Why: Runway is in the article" in listing.output and "(refused: the articles don't cover it)" in listing.output
    )


def test_export_with_no_votes_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))
    exported = tmp_path / "feedback.jsonl"

    result = CliRunner().invoke(main, ["feedback", "--export", str(exported)])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("No 👎 votes yet in ")
    assert not exported.exists() and not (tmp_path / "data").exists()
