"""A user in a private chat, end to end: the real Application polling the local Bot API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.answering.answer import Answer
from bot.telegram.sources import RecentReplies
from tests.telegram.conftest import Bot


def source_lines(answer: Answer) -> list[str]:
    """How the sources of an engine answer are listed: [n] title, section."""
    return [
        f"[{c.n}] {c.title}" + (f", {c.section}" if c.section and c.section != c.title else "")
        for c in answer.citations
    ]


def buttons(message: dict) -> list[str]:
    return [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


@pytest.fixture
def ann(bot: Bot) -> dict:
    return bot.api.user(1001, "Ann", "en")


@pytest.fixture
def chat(bot: Bot, ann: dict) -> dict:
    return bot.api.private_chat(ann)


async def test_chinese_question_gets_a_cited_answer_with_sources(bot, ann, chat, engine):
    question = "Sora最长能生成多长的视频?"
    expected = engine.answer(question)

    reply = await bot.ask(chat, ann, question)

    assert "60秒" in expected.text and "[1]" in expected.text
    assert reply["text"].splitlines() == [expected.text, "", "来源", *source_lines(expected)]
    assert buttons(reply) == ["📖 来源", "👍", "👎"]


async def test_english_question_gets_a_cited_answer_with_english_labels(bot, ann, chat, engine):
    question = "How long can Sora videos be?"
    expected = engine.answer(question)

    reply = await bot.ask(chat, ann, question)

    assert "60秒" in expected.text and "[1]" in expected.text
    untranslated = "Quoted in Chinese: no translation model is installed."  # the bot has no chat model
    assert reply["text"].splitlines() == [expected.text, "", "Sources", untranslated, *source_lines(expected)]
    assert reply["text"].splitlines()[4].startswith("[1] Sora很强大,但现在也不必过度神话")
    assert buttons(reply) == ["📖 Sources", "👍", "👎"]


async def test_bot_shows_typing_before_it_answers(bot, ann, chat):
    await bot.ask(chat, ann, "What is Sora?")

    methods = [c.method for c in bot.api.calls if c.params.get("chat_id") == chat["id"]]
    assert methods == ["sendchataction", "sendmessage"]
    assert bot.api.calls_to("sendChatAction")[0].params["action"] == "typing"


async def test_sources_button_expands_the_quotes_and_collapses_them_again(bot, ann, chat, engine):
    reply = await bot.ask(chat, ann, "Sora最长能生成多长的视频?")
    key = (chat["id"], reply["message_id"])

    first = bot.api.press(reply, ann)
    expanded = await bot.api.wait_for(lambda: bot.api.messages[key].get("edit_date") and bot.api.messages[key])
    second = bot.api.press(expanded, ann)
    collapsed = await bot.api.wait_for(lambda: bot.api.messages[key]["text"] == reply["text"] and bot.api.messages[key])

    quote = next(c.quote for c in engine.answer("Sora最长能生成多长的视频?").citations if "60秒" in c.quote)
    assert "最长能生成60秒视频" in quote
    assert f"\n{quote}" in expanded["text"].split("\n\n来源\n")[1]
    blockquote = {"type": "blockquote", "offset": expanded["text"].rindex(quote), "length": len(quote)}
    assert blockquote in expanded["entities"]
    assert buttons(expanded) == ["收起来源", "👍", "👎"]
    assert buttons(collapsed) == ["📖 来源", "👍", "👎"] and collapsed["entities"] == reply["entities"]
    assert set(bot.api.callback_answers) == {first, second}


async def test_refusal_says_so_and_suggests_articles(bot, ann, chat):
    reply = await bot.ask(chat, ann, "Who is the CEO of Runway?")

    assert reply["text"] == (
        "The articles I know don't cover “Who is the CEO of Runway?”.\nSend /articles to see what they are about."
    )
    assert buttons(reply) == ["👍", "👎"]  # no sources to show; a vote says it should have answered


@pytest.mark.parametrize(
    ("question", "literal"),
    [
        ("Who is the <b>CEO</b> of Runway & Co?", "“Who is the <b>CEO</b> of Runway & Co?”"),
        ("Sora<b>最长</b>能生成多长的视频 & <i>?", "60秒"),
    ],
)
async def test_markup_in_questions_comes_back_harmless(bot, ann, chat, question, literal):
    reply = await bot.ask(chat, ann, question)

    assert literal in reply["text"]
    formatted = [reply["text"][e["offset"] : e["offset"] + e["length"]] for e in reply.get("entities", [])]
    assert not any("CEO" in f or "最长" == f for f in formatted)  # the user's tags did nothing


async def test_articles_lists_titles_and_the_day_they_were_added(bot, ann, chat):
    reply = await bot.say(chat, ann, "/articles")

    today = datetime.now(UTC).date().isoformat()
    assert reply["text"] == f"Articles I know (1):\n1. Sora很强大,但现在也不必过度神话, added {today}"


async def test_start_speaks_the_users_language_and_names_the_articles(bot):
    li = bot.api.user(1002, "丽", "zh-hans")

    reply = await bot.say(bot.api.private_chat(li), li, "/start")

    assert reply["text"].startswith(
        "你好!我根据下面这些文章回答问题,并注明引用的段落:\n• Sora很强大,但现在也不必过度神话\n"
    )
    assert "@articlebot_test_bot" in reply["text"] and "/ask" in reply["text"]


async def test_help_explains_asking_in_private_and_in_groups(bot, ann, chat):
    reply = await bot.say(chat, ann, "/help")

    assert "every text message is a question" in reply["text"]
    assert "mention me (@articlebot_test_bot)" in reply["text"]


async def test_command_menu_is_registered_in_english_and_chinese(bot):
    assert [c["command"] for c in bot.api.commands[""]] == ["ask", "articles", "help", "reset", "start"]
    assert [c["command"] for c in bot.api.commands["zh"]] == ["ask", "articles", "help", "reset", "start"]


async def test_ask_command_works_in_private_too(bot, ann, chat):
    reply = await bot.ask(chat, ann, "/ask Sora最长能生成多长的视频?")

    assert "60秒" in reply["text"]


async def test_two_quick_presses_expand_once_without_an_error(bot, ann, chat):
    reply = await bot.ask(chat, ann, "Sora最长能生成多长的视频?")

    presses = {bot.api.press(reply, ann), bot.api.press(reply, ann)}  # both sent before any edit
    await bot.api.wait_for(lambda: set(bot.api.callback_answers) == presses)
    await bot.api.settle()

    [message] = bot.api.bot_messages(chat["id"])  # no apology
    assert buttons(message) == ["收起来源", "👍", "👎"]
    assert [c.ok for c in bot.api.calls_to("editMessageText")] == [True, False]  # "message is not modified"


async def test_sources_button_of_a_forgotten_answer_asks_to_ask_again(bot, ann, chat):
    reply = await bot.ask(chat, ann, "Sora最长能生成多长的视频?")
    bot.application.bot_data.replies = RecentReplies()  # as after a restart

    query = bot.api.press(reply, ann)
    answer = await bot.api.wait_for(lambda: bot.api.callback_answers.get(query))

    assert answer["text"] == "These sources are no longer available. Please ask the question again."
    assert answer["show_alert"] is True
    assert bot.api.calls_to("editMessageText") == []


async def test_sources_button_data_pressed_in_another_chat_reveals_nothing(bot, ann, chat):
    reply = await bot.ask(chat, ann, "Sora最长能生成多长的视频?")
    anns_data = reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    bob = bot.api.user(1003, "Bob", "en")
    bobs_chat = bot.api.private_chat(bob)
    bobs_reply = await bot.ask(bobs_chat, bob, "How long can Sora videos be?")

    query = bot.api.press(bobs_reply, bob, data=anns_data)  # Ann's key, pressed in Bob's chat
    answer = await bot.api.wait_for(lambda: bot.api.callback_answers.get(query))
    await bot.api.settle()

    assert answer["text"] == "These sources are no longer available. Please ask the question again."
    assert answer["show_alert"] is True
    assert bot.api.calls_to("editMessageText") == []  # neither chat's message changed
    assert [m["text"] for m in bot.api.bot_messages(bobs_chat["id"])] == [bobs_reply["text"]]
    own = bot.api.press(reply, ann)  # in its own chat the button still works
    await bot.api.wait_for(lambda: bot.api.callback_answers.get(own))
    expanded = await bot.api.wait_for(lambda: bot.api.calls_to("editMessageText", ok=True))
    assert int(expanded[0].params["chat_id"]) == chat["id"]


@pytest.mark.parametrize(
    ("language", "text"), [("en", "This button no longer works."), ("zh-hans", "这个按钮已经失效。")]
)
async def test_a_press_no_handler_knows_is_answered_so_the_spinner_stops(bot, chat, ann, language, text):
    user = bot.api.user(1004, "Cy", language)
    reply = await bot.ask(bot.api.private_chat(user), user, "Sora最长能生成多长的视频?")

    queries = [bot.api.press(reply, user, data=data) for data in ("vote:up", "src:nokey", "rm:x:2")]
    answers = await bot.api.wait_for(
        lambda: all(q in bot.api.callback_answers for q in queries) and bot.api.callback_answers
    )
    await bot.api.settle()

    assert [answers[q].get("text") for q in queries] == [text] * 3
    assert bot.api.calls_to("editMessageText") == []
    assert bot.api.bot_messages(reply["chat"]["id"]) == [reply]  # no apology either
