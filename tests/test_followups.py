"""Follow-up questions: the extractive rewriting heuristic, the per-chat history, the
engine answering with earlier questions, and the follow-up evaluation."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.answering.answer import Answer, Turn
from bot.answering.followups import is_follow_up, is_rewrite, rewrite
from bot.cli.commands import main
from bot.evaluation import question_sets
from bot.telegram.conversations import Conversations

FOLLOWUPS = Path(__file__).resolve().parent.parent / "eval" / "followups.jsonl"
FOLLOWUPS_EN = FOLLOWUPS.with_name("followups_en.jsonl")


# -- the heuristic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "question", "standalone"),
    [
        # a pronoun for the earlier question's subject
        ("Sora是什么?", "它最长能生成多长的视频?", "Sora最长能生成多长的视频?"),
        ("Runway开发了哪个视频生成模型?", "它的估值超过多少?", "Runway的估值超过多少?"),
        ("What is Sora?", "Who released it?", "Who released Sora?"),
        ("What is Sora?", "How long can its videos be?", "How long can Sora's videos be?"),
        # an elliptical question: its new part replaces the counterpart
        ("Sora在韩语中是什么意思?", "芬兰语呢?", "Sora在芬兰语中是什么意思?"),
        ("Sora最长能生成多长的视频?", "那Runway呢?", "Runway最长能生成多长的视频?"),
        ("What does Sora mean in Korean?", "And in Finnish?", "What does Sora mean in Finnish?"),
        (
            "How long were the videos Runway could make before Sora?",
            "What about Pika?",
            "How long were the videos Pika could make before Sora?",
        ),
        # "and" before a whole question only links it
        ("Who released Sora?", "And how long can its videos be?", "How long can Sora's videos be?"),
        # the counterpart of a name is the name of its family, of a possessive the subject's
        ("How many GPUs did OpenAI use to train GPT-4?", "And GPT-5?", "How many GPUs did OpenAI use to train GPT-5?"),
        ("How long can Sora's videos be?", "And Runway's?", "How long can Runway's videos be?"),
        # nothing to put in ("that", a fragment, a person a "Who" question asked for): asked together
        (
            "Who first proposed the idea of a world model?",
            "When was that?",
            "Who first proposed the idea of a world model, and when was that?",
        ),
        ("Which industry will Sora hit first?", "Why?", "Which industry will Sora hit first, and why?"),
        ("Who chose the name Sora?", "What are their names?", "Who chose the name Sora, and what are their names?"),
    ],
)
def test_follow_up_is_rewritten_from_the_earlier_question(earlier, question, standalone):
    assert is_follow_up(question)
    assert rewrite(question, earlier) == standalone


@pytest.mark.parametrize(
    "question",
    [
        "Sora最长能生成多长的视频?",
        "What is Sora?",
        "这篇文章整理了几个信息点?",  # a demonstrative with its own noun
        "其他公司有文生视频大模型吗?",  # 其他 is no pronoun
        "知乎上那位坦承心路历程的创业者叫什么名字?",
        "Which companies took part in Runway's Series C round?",
    ],
)
def test_standalone_question_is_left_alone(question, engine):
    assert not is_follow_up(question)
    assert rewrite(question, "Sora在韩语中是什么意思?") == question
    assert engine.standalone(question, [Turn("Sora在韩语中是什么意思?", "海螺壳。[1]")]) == question


def test_without_earlier_questions_nothing_is_rewritten(engine):
    assert engine.standalone("它最长能生成多长的视频?", []) == "它最长能生成多长的视频?"


def test_multi_word_chinese_pronoun_is_recognised():
    assert rewrite("该模型背后有哪些技术革新?", "Sora是什么?") == "Sora背后有哪些技术革新?"


# A known miss of the heuristic (eval/followups.jsonl f03): it flips when fixed.
@pytest.mark.xfail(strict=True, reason="subject() takes the first name, here the modifier OpenAI")
def test_subject_is_the_name_asked_about_not_a_modifier():
    assert "Sora" in rewrite("它有哪些关键特点?", "OpenAI发布的Sora是什么模型?")


def test_english_pronoun_with_its_antecedent_in_the_question_is_left_alone():
    assert not is_follow_up("What did Musk say that Tesla has mastered?")


# -- the history -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewritten", "usable"),
    [
        ("Meta的杨立昆是哪家公司的首席科学家?", True),
        ("What is the valuation of Runway?", True),
        ("他是哪家公司的首席科学家?", False),  # echoed: the pronoun is still there
        ("杨立昆(Yann LeCun)是谷歌公司首席科学家。", False),  # answered (wrongly), not rewritten
        ("杨立昆是哪家公司的首席科学家?" * 4, False),  # far longer than the questions allow
    ],
)
def test_a_models_rewrite_is_used_only_when_it_is_a_standalone_question(rewritten, usable):
    assert is_rewrite(rewritten, "他是哪家公司的首席科学家?", "谁最早提出了世界模型?") is usable


def test_turns_persist_in_the_file_across_a_restart(tmp_path):
    path = tmp_path / "data" / "conversations.sqlite3"
    Conversations(path, max_turns=4).add("42", "Sora是什么?", "Sora是文生视频大模型。[1]")

    reopened = Conversations(path, max_turns=4)

    assert reopened.turns("42") == [Turn("Sora是什么?", "Sora是文生视频大模型。[1]")]
    assert reopened.turns("43") == []


def test_only_the_newest_turns_are_kept(tmp_path):
    conversations = Conversations(tmp_path / "c.sqlite3", max_turns=2)
    for n in range(1, 5):
        conversations.add("42", f"question {n}", f"answer {n}")

    assert conversations.turns("42") == [Turn("question 3", "answer 3"), Turn("question 4", "answer 4")]


def test_reset_forgets_only_that_chat(tmp_path):
    conversations = Conversations(tmp_path / "c.sqlite3", max_turns=4)
    for key in ("42", "-100:7", "-100:8"):
        conversations.add(key, f"question of {key}", f"answer of {key}")

    conversations.reset("-100:7")

    assert conversations.turns("-100:7") == []
    assert conversations.turns("42") == [Turn("question of 42", "answer of 42")]
    assert conversations.turns("-100:8") == [Turn("question of -100:8", "answer of -100:8")]
    conversations.add("-100:7", "again", "answer")
    assert conversations.turns("-100:7") == [Turn("again", "answer")]


# -- the engine --------------------------------------------------------------------------


def test_engine_answers_a_follow_up_from_the_earlier_question(engine):
    answer = engine.answer("它能生成多长的视频?", earlier=[engine.answer("Sora是什么?").turn])

    assert not answer.refused and "60秒" in answer.text
    assert answer.standalone is not None and "Sora" in answer.standalone
    assert any("60秒" in c.quote for c in answer.citations)
    assert answer.question == "它能生成多长的视频?"


def test_engine_without_history_does_not_rewrite(engine):
    answer = engine.answer("它能生成多长的视频?")

    assert answer.standalone is None
    assert answer.question == "它能生成多长的视频?"


# -- the evaluation ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [FOLLOWUPS, FOLLOWUPS_EN], ids=lambda p: p.name)
def test_the_follow_up_set_is_well_formed(path):
    article = (Path(__file__).resolve().parent.parent / "ingest" / "corpus" / "sora-raw.txt").read_text("utf-8")
    conversations = question_sets.read_conversations(path)

    assert len({c.id for c in conversations}) == len(conversations) >= 20
    assert sum(c.is_control for c in conversations) >= 4
    for c in conversations:
        assert len(c.turns) >= 2 and c.lang in ("zh", "en") and c.standalone and c.expect
        assert c.gold in article, c.id
        assert all(any(s in article for s in group) for group in c.expect), c.id
        assert c.is_control == question_sets.holds_all(c.question, c.standalone), c.id


def recording(engine):
    """engine.answer, keeping each call's question and earlier questions."""
    calls: list[tuple[str, list[str]]] = []

    def ask(question: str, earlier=()) -> Answer:
        calls.append((question, [turn.question for turn in earlier]))
        return engine.answer(question, earlier=earlier)

    return ask, calls


def test_conversation_threads_the_standalone_forms_and_asks_the_baseline_alone(engine):
    conversation = question_sets.Conversation(
        id="x",
        lang="zh",
        turns=["Sora是什么?", "它在韩语中表示什么?", "芬兰语呢?"],
        standalone=[["Sora"], ["芬兰语"]],
        expect=[["砂砾"]],
        gold="在芬兰语中表示砂砾",
    )
    ask, calls = recording(engine)

    graded = question_sets.ask_conversation(conversation, ask, history_turns=4)

    assert calls == [
        ("Sora是什么?", []),
        ("它在韩语中表示什么?", ["Sora是什么?"]),
        ("芬兰语呢?", ["Sora是什么?", "Sora在韩语中表示什么?"]),
        ("芬兰语呢?", []),  # the baseline, without the conversation
    ]
    assert graded.answer.understood_as == "Sora在芬兰语中表示什么?"
    assert graded.understood and graded.final.right and graded.final.cites_gold
    summary = question_sets.FollowUpSummary.of([graded])
    assert (summary.understood, summary.right, summary.cites_gold, summary.controls) == (1, 1, 1, 0)
    assert summary.lines()[0].startswith("rewrite accuracy   1/1")


def test_history_is_bounded_like_a_chats(engine):
    conversation = question_sets.Conversation(
        id="x", turns=["alpha?", "beta?", "gamma?", "delta?"], standalone=[["delta"]], expect=[["delta"]], gold=None
    )
    ask, calls = recording(engine)

    question_sets.ask_conversation(conversation, ask, history_turns=2)

    assert calls[3] == ("delta?", ["beta?", "gamma?"])


def subset(tmp_path: Path, source: Path, ids: set[str]) -> Path:
    """A follow-up set of the conversations of `source` with these ids."""
    lines = [line for line in source.read_text("utf-8").splitlines() if json.loads(line)["id"] in ids]
    path = tmp_path / source.name
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.mark.model  # runs articlebot, which loads the model
def test_eval_followups_command_reports_with_and_without_history(tmp_path):
    chosen = subset(tmp_path, FOLLOWUPS, {"f01", "f11", "c02"})

    result = CliRunner().invoke(main, ["eval", "--followups", str(chosen), "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_id = {c["id"]: c for c in report["per_conversation"]}
    assert by_id["f01"]["understood_as"] == "Sora最长能生成多长的视频?" and by_id["f01"]["right"]
    assert by_id["f11"]["understood_as"] == "Sora在芬兰语中是什么意思?" and by_id["f11"]["right"]
    assert by_id["c02"]["control"] and by_id["c02"]["answer"]["standalone"] is None
    assert (report["total"], report["follow_ups"], report["controls"], report["understood"]) == (3, 2, 1, 3)
    assert report["controls_rewritten"] == 0

    text = CliRunner().invoke(main, ["eval", "--followups", str(chosen)])
    assert text.exit_code == 0, text.output
    assert "rewrite accuracy   3/3" in text.stdout and "without" in text.stdout


@pytest.mark.model  # runs articlebot, which loads the model
def test_eval_followups_understands_english_follow_ups(tmp_path):
    chosen = subset(tmp_path, FOLLOWUPS_EN, {"e01", "e02", "e10", "e28", "ec2"})

    result = CliRunner().invoke(main, ["eval", "--followups", str(chosen), "--json"])

    assert result.exit_code == 0, result.output
    by_id = {c["id"]: c for c in json.loads(result.stdout)["per_conversation"]}
    assert by_id["e01"]["understood_as"] == "How long can Sora's videos be?"
    assert by_id["e02"]["understood_as"] == "Who first proposed the idea of a world model, and when was that?"
    assert by_id["e10"]["understood_as"] == "How many GPUs did OpenAI use to train GPT-5?"
    assert by_id["ec2"]["answer"]["standalone"] is None
    assert all(c["understood"] and c["right"] for c in by_id.values()), by_id


@pytest.mark.model  # runs articlebot, which loads the model
def test_chat_answers_when_was_that_after_a_question(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))

    result = CliRunner().invoke(main, ["chat"], input="Who first proposed the idea of a world model?\nWhen was that?\n")

    assert result.exit_code == 0, result.output
    last = result.stdout.split("you> ")[2]
    assert "2023年6月" in last and "Sorry" not in last
    assert "Who first proposed the idea of a world model, and when was that?" in last


@pytest.mark.model  # runs articlebot, which loads the model
def test_eval_grades_a_follow_up_with_nothing_to_look_up_alone_as_refused_without_the_conversation(tmp_path):
    result = CliRunner().invoke(main, ["eval", "--followups", str(subset(tmp_path, FOLLOWUPS_EN, {"e02"})), "--json"])

    assert result.exit_code == 0, result.output
    (graded,) = json.loads(result.stdout)["per_conversation"]
    assert graded["turns"][-1] == "When was that?"
    assert graded["answer_without_history"] == "Sorry, the articles don't say." and not graded["right_without_history"]


def test_eval_wants_exactly_one_set(tmp_path, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))

    result = CliRunner().invoke(main, ["eval", "--followups", str(FOLLOWUPS), "--squad", str(FOLLOWUPS)])

    assert result.exit_code == 2 and "--followups FILE" in result.output


def test_first_questions_of_many_chats_at_once_are_all_remembered(tmp_path):
    """A new bot gets its first questions concurrently (engine threads); none may fail."""
    conversations = Conversations(tmp_path / "conversations.sqlite3", max_turns=4)
    start = threading.Barrier(8)

    def first_turn(chat: int) -> None:
        start.wait()
        conversations.turns(str(chat))
        conversations.add(str(chat), f"q{chat}", "a")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(first_turn, range(8)))  # re-raises any thread's error
    assert all(conversations.turns(str(chat)) == [Turn(f"q{chat}", "a")] for chat in range(8))
