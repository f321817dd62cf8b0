"""The SQuAD-layout benchmark (`articlebot eval --squad`) on a small file of its own."""

from __future__ import annotations

import json

import pytest

from bot.squad import cmrc_f1, gold_recall, run_squad
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

    report = run_squad(path, make_settings(tmp_path / "data"), embeddings)

    assert (report.passages, report.questions) == (2, 3)
    assert report.recall_at_1 == 1.0 and report.cites_passage == 1.0
    assert report.containment == 1.0 and report.gold_recall == 1.0
    assert 0.2 < report.f1 < 1.0  # whole sentences quoted: they hold the gold and more
    assert report.refused == 0.0 and report.generated == 0.0
