"""Answer or refuse (bot/answering/refusal.py) on given candidate sentences, without a model:
the committed model's decision from the signals the engine computes."""

from __future__ import annotations

import json
import math

from bot.answering.refusal import FEATURES, RefusalModel, features, load_model, pair, words_found
from bot.answering.selection import Scored
from tests.test_citing import POWER_HIT, SITE_HIT

QUESTION = "火星基地第一期可以容纳多少名宇航员?"
CANDIDATES = [
    Scored("基地第一期可容纳十二名宇航员。", SITE_HIT, 2, dense=0.9, lexical=0.8, fits=True, score=1.0),
    Scored("宇航员每半年轮换一次。", SITE_HIT, 4, dense=0.85, lexical=0.3, fits=False, score=0.9),
    Scored("基地的主要能源来自一座小型核反应堆。", POWER_HIT, 0, dense=0.84, lexical=0.2, fits=True, score=0.88),
]


def test_a_question_without_candidates_is_refused():
    assert load_model().confidence(QUESTION, []) < 0


def test_the_same_candidates_count_for_less_for_a_question_whose_words_they_do_not_hold():
    model = load_model()

    about_them = model.confidence(QUESTION, CANDIDATES)
    about_else = model.confidence("月球射电望远镜的天线直径是多少?", CANDIDATES)

    assert about_them >= 0 and about_else < about_them - 0.2


def test_a_rare_word_of_the_question_counts_for_more_than_a_common_one():
    question = "深海养殖场共有多少个网箱?"

    rare = words_found(question, "网箱是钢做的。", cross=False)
    common = words_found(question, "我们共有两本书。", cross=False)

    assert rare > 3 * common > 0


def test_an_english_question_about_a_chinese_passage_is_judged_across_languages():
    question = "How many astronauts can the first phase of the Mars base hold?"

    signals = features(question, CANDIDATES)

    assert pair(question, CANDIDATES) == "en/zh"
    assert signals["cross"] == signals["en_question"] == 1.0
    assert signals["cross*score"] == signals["score"] == 1.0
    assert features(QUESTION, CANDIDATES)["cross"] == 0.0


def test_extreme_signals_give_a_probability_not_an_overflow():
    model = load_model()

    high = model.probability(dict.fromkeys(FEATURES, 1e9))
    low = model.probability(dict.fromkeys(FEATURES, -1e9))

    assert 0 < min(high, low) and max(high, low) < 1 and not math.isclose(high, low)


def test_the_model_as_fit_refusal_writes_it_reads_back_the_same():
    model = load_model()

    assert RefusalModel(**json.loads(model.to_json())) == model
    assert set(model.weights) == set(FEATURES) and set(model.thresholds) == {"en/en", "en/zh", "zh/en", "zh/zh"}
