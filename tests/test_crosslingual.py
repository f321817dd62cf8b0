"""Questions in one language about articles in the other, on made-up articles: names
written in the article's own script, numbers written as words, English-sized chunks and
answers, and on-topic questions the article does not answer."""

from __future__ import annotations

import pytest

from ingest.loaders import LoadedSource

LIGHTHOUSE_ZH = (
    "白石灯塔位于北海岸的礁石岬角上,由工程师彼得·汉森设计,于1892年建成。\n\n"
    "灯塔高38米,灯光可照到22海里以外的海面。塔身用本地开采的花岗岩砌成,外墙刷成红白相间的条纹。\n\n"
    "1960年代以前,灯塔由三名守塔人轮流值守;1987年改为自动化运行,此后无人常驻。\n\n"
    "如今灯塔下的旧守塔人小屋被改建为一座小型海事博物馆,夏季每天开放。"
)
ORCHARD_EN = (
    "The Greyfield orchard was planted in 1921 by the farmer Agnes Morrow on a south-facing slope "
    "above the river. It covers about forty acres and holds more than three thousand apple trees "
    "of nineteen varieties, most of them old English cider apples.\n\n"
    "The trees are pruned every winter by a team of six gardeners, who also graft new trees from "
    "the oldest ones so that the rare varieties survive. Harvest starts in late September and lasts "
    "about five weeks.\n\n"
    "Since 2004 the orchard has belonged to a charitable trust, which opens it to visitors on "
    "weekends and sells its juice in the village shop."
)


@pytest.fixture
def articles(fresh):
    fresh.library.ingest_loaded(LoadedSource(LIGHTHOUSE_ZH, "白石灯塔", "lighthouse.txt", "lighthouse.txt", "text"))
    fresh.library.ingest_loaded(LoadedSource(ORCHARD_EN, "Greyfield orchard", "orchard.txt", "orchard.txt", "text"))
    return fresh.engine


def test_english_question_names_someone_the_chinese_article_writes_in_chinese(articles):
    answer = articles.answer("When was the lighthouse designed by Peter Hansen completed?")
    assert not answer.refused
    assert "1892" in answer.text and answer.citations[0].title == "白石灯塔"


def test_english_question_about_a_number_in_a_chinese_article(articles):
    answer = articles.answer("How tall is the White Rock lighthouse?")
    assert not answer.refused and "38米" in answer.text


def test_chinese_question_about_a_number_written_as_words_in_an_english_article(articles):
    answer = articles.answer("Greyfield果园有多少棵苹果树?")
    assert not answer.refused
    assert "three thousand" in answer.text and answer.citations[0].title == "Greyfield orchard"


def test_english_answers_keep_whole_sentences(articles):
    """An English chunk is sized for English: the answering sentence is quoted whole."""
    answer = articles.answer("Who planted the Greyfield orchard and when?")
    assert not answer.refused
    assert "Agnes Morrow" in answer.text and "1921" in answer.text
    assert "The Greyfield orchard was planted in 1921 by the farmer Agnes Morrow" in answer.citations[0].quote


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Who is the mayor of the town next to the orchard?", "en"),
        ("What fuel did the White Rock lighthouse burn?", "en"),
        pytest.param(
            "白石灯塔的灯用什么燃料?",
            "zh",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known weakness: on an article of a few paragraphs, every one about the "
                "question's subject, a Chinese on-topic question gets its closest sentence "
                "(XQuAD zh/zh: about 30% of on-topic unanswerable questions are answered)",
            ),
        ),
    ],
)
def test_on_topic_questions_the_article_does_not_answer_are_refused(articles, question, language):
    answer = articles.answer(question)
    assert answer.refused and answer.language == language
