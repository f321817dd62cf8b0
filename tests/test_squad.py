"""The SQuAD-layout benchmark (`articlebot eval --squad`) on a small file of its own."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli.commands import main
from bot.evaluation.squad import SquadFormatError, cmrc_f1, gold_recall, read_squad, run_squad
from tests.conftest import make_settings

SQUAD = {
    "data": [
        {
            "title": "长城站",
            "paragraphs": [
                {
                    "id": "p1",
                    "context": "长城站位于南极乔治王岛,1985年2月20日建成。长城站夏季可容纳约80人,冬季约40人。",
                    "qas": [
                        {"question": "长城站是哪一天建成的?", "answers": [{"text": "1985年2月20日"}]},
                        {"question": "长城站夏季可容纳多少人?", "answers": [{"text": "约80人"}]},
                    ],
                }
            ],
        },
        {
            "title": "猴面包树",
            "paragraphs": [
                {
                    "id": "p2",
                    "context": "猴面包树是一种锦葵科的大型落叶乔木,原产于热带非洲。非洲猴面包树的果实长约15至20厘米。",
                    "qas": [{"question": "非洲猴面包树的果实有多长?", "answers": [{"text": "长约15至20厘米"}]}],
                }
            ],
        },
    ]
}


@pytest.mark.parametrize(
    ("answer", "gold", "recall"),
    [
        ("玩家以水枪泡封敌人", "玩家以水枪泡封敌人", 1.0),
        ("玩家用水枪泡封敌人。[1]", "玩家以水枪泡封敌人", 8 / 9),  # a paraphrase keeps most
        ("它在1985年建成", "1985年2月20日", 5 / 10),  # characters in order only
        ("完全无关", "1985年", 0.0),
    ],
)
def test_gold_recall_counts_the_gold_characters_found_in_order(answer, gold, recall):
    assert gold_recall(answer, gold) == pytest.approx(recall)


@pytest.mark.parametrize(
    ("answer", "gold", "f1"),
    [
        ("玩家以水枪泡封敌人。[1]", "玩家以水枪泡封敌人", 1.0),  # markers and punctuation don't count
        ("长城站于1985年2月20日建成。[1]", "1985年2月20日", 2 * (6 / 12) / (6 / 12 + 1)),  # extra words cost precision
        ("它在1985年建成", "1985年2月20日", 2 * (2 / 6) * (2 / 6) / (4 / 6)),  # one common run: "1985", "年"
        ("Sora makes 60-second videos [2].", "60 second videos", 2 * (3 / 5) / (3 / 5 + 1)),  # English words are tokens
        ("完全无关", "1985年", 0.0),
    ],
)
def test_cmrc_f1_rewards_the_gold_and_nothing_else(answer, gold, f1):
    assert cmrc_f1(answer, gold) == pytest.approx(f1)


def test_report_measures_retrieval_and_answers(tmp_path, embeddings):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")

    report = run_squad(read_squad(path), make_settings(tmp_path / "data"), embeddings)

    assert (report.passages, report.answerable, report.unanswerable) == (2, 3, 0)
    assert report.recall_at_1 == 1.0 and report.cites_passage == 1.0
    assert report.containment == 1.0 and report.gold_recall == 1.0 and report.gold_cited == 1.0
    assert 0.2 < report.f1 < 1.0  # whole sentences quoted: they hold the gold and more
    assert report.refused == 0.0 and report.generated == 0.0
    assert report.unanswerable_refused is None


# SQuAD 2.0 as XQuAD has it: no paragraph ids, English questions about a Chinese article
# with the gold also in English, and an on-topic question the paragraph does not answer.
SQUAD2 = {
    "version": "2.0",
    "data": [
        {
            "title": "Great_Wall_Station",
            "paragraphs": [
                {
                    "context": "长城站位于南极乔治王岛，1985年2月20日建成。长城站夏季可容纳约80人，冬季约40人。",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "How many people can the Great Wall Station hold in summer?",
                            "answers": [{"text": "约80人", "answer_start": 30}],
                            "answers_in_question_language": ["about 80"],
                            "is_impossible": False,
                        },
                        {
                            "id": "q2",
                            "question": "Which country's research vessel resupplies the station every winter?",
                            "answers": [],
                            "plausible_answers": [{"text": "雪龙号", "answer_start": 0}],
                            "is_impossible": True,
                        },
                        # No word to look up: the engine declines it, which counts as refused.
                        {"id": "q3", "question": "What is it?", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        }
    ],
}


def test_squad2_file_with_cross_lingual_and_unanswerable_questions(tmp_path, embeddings):
    path = tmp_path / "xquad.json"
    path.write_text(json.dumps(SQUAD2, ensure_ascii=False), encoding="utf-8")

    report = run_squad(read_squad(path), make_settings(tmp_path / "data"), embeddings)

    assert (report.passages, report.answerable, report.unanswerable) == (1, 1, 2)
    assert report.recall_at_1 == 1.0
    assert report.containment == 1.0 and report.gold_cited == 1.0  # the Chinese gold, quoted
    assert report.refused == 0.0 and report.unanswerable_refused == 1.0


def test_golds_in_either_language_count(tmp_path):
    path = tmp_path / "xquad.json"
    path.write_text(json.dumps(SQUAD2, ensure_ascii=False), encoding="utf-8")
    answerable, unanswerable, _empty = read_squad(path)[0].questions
    assert answerable.golds == ("约80人", "about 80") and answerable.answerable
    assert not unanswerable.answerable and unanswerable.golds == ()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"version": "2.0"}),
        json.dumps({"data": [{"title": "x"}]}),
        json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [{"answers": []}]}]}]}),
    ],
)
def test_malformed_file_gets_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SquadFormatError, match="is not a SQuAD file"):
        read_squad(path)


def test_malformed_file_is_one_error_line_in_the_cli(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"title": "x"}]}), encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "--squad", str(path)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:") and "bad.json is not a SQuAD file" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
