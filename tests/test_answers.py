"""Cited answers and refusals from the default corpus, through the real model and Chroma."""

import re

import pytest

from bot.answering.selection import FILL_CHARS, entity_terms
from bot.cli.wording import answer_json
from bot.errors import EmptyQuestionError, QuestionTooLongError
from ingest.loaders import LoadedSource

# A made-up article (not in any question set), for answers from an article of one's own.
ACTOR = (
    "林小川是台湾男演员、模特儿，出生于台中市。他的父亲是一名中学教师，母亲经营一家花店。"
    "高二的时候，他在街头被星探发掘，拍摄了第一支饮料广告。大学毕业后，他加入剧团，主演了多部舞台剧。"
    "他擅长弹吉他，也喜欢登山和摄影。林小川的代表作包括电视剧《海风》和电影《夏日车站》。"
)


def test_default_corpus_is_seeded_and_answers_the_readme_question(engine):
    answer = engine.answer("Sora最长能生成多长的视频?")
    assert not answer.refused
    assert "60秒" in answer.text
    assert "[1]" in answer.text
    assert any("60秒" in c.quote for c in answer.citations)


def test_every_marker_refers_to_a_citation_quoting_the_article(engine):
    answer = engine.answer("哪些公司参与了Runway的C轮融资?")
    article_text = "".join(d.page_content for d in engine.store.live_chunks())
    numbers = {c.n for c in answer.citations}
    assert numbers == {n for n in range(1, len(numbers) + 1)}
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        assert citation.quote in article_text
        assert citation.title == "Sora很强大,但现在也不必过度神话"


def test_citation_names_the_section(engine):
    answer = engine.answer("训练GPT-4用了多少块A100?")
    assert "25000" in answer.text
    assert answer.citations[0].section == "五、OpenAI使了多大力?"


def test_english_question_about_the_chinese_article(engine):
    answer = engine.answer("Which industry do many people expect Sora to disrupt first?")
    assert not answer.refused
    assert "影视" in answer.text


@pytest.mark.parametrize(
    "question, language",
    [
        ("Sora支持生成4K分辨率的视频吗?", "zh"),
        ("Who is the CEO of Runway?", "en"),
        ("法国的首都是哪里?", "zh"),
    ],
)
def test_refuses_in_the_question_language_when_the_articles_do_not_say(engine, question, language):
    answer = engine.answer(question)
    assert answer.refused and answer.language == language
    assert answer.text == ""  # the engine refuses with data; each face words it
    assert answer.citations == []


def test_answers_are_short(engine):
    for question in ("Sora有什么含义?", "OpenAI使了多大力?", "Sora面临哪些挑战?"):
        assert len(engine.answer(question).text) <= 300


@pytest.mark.parametrize("question", ["", "   \n ", "😀", "???", "...", "a", "what is it?"])
def test_a_message_without_a_question_is_an_error_not_an_answer(engine, question):
    with pytest.raises(EmptyQuestionError, match="no question"):
        engine.answer(question)


def test_a_follow_up_without_words_of_its_own_is_still_asked(engine):
    first = engine.answer("Sora最长能生成多长的视频?")
    assert engine.answer("what is it?", earlier=[first.turn]).question == "what is it?"


def test_oversized_question_is_an_error_that_says_how_long(engine):
    with pytest.raises(QuestionTooLongError, match="too long") as raised:
        engine.answer("Sora " * 200)
    assert (raised.value.length, raised.value.limit) == (len("Sora " * 200) - 1, engine.settings.max_question_chars)


# The fields of `ask --json`'s documented contract (docs/cli.md).
CONTRACT_FIELDS = {
    "question",
    "answer",
    "refused",
    "citations",
    "latency_ms",
    "standalone",
    "generated_by",
    "untranslated",
}


def test_json_contract(engine):
    data = answer_json(engine.answer("Sora这个名字是什么意思?"))
    assert set(data) == CONTRACT_FIELDS
    assert isinstance(data["refused"], bool) and isinstance(data["latency_ms"], float)
    assert data["standalone"] is None and data["generated_by"] is None  # no follow-up, extractive
    assert data["citations"] and set(data["citations"][0]) == {
        *("n", "article_id", "title", "section", "quote", "score"),
        *("url", "link"),  # added later: the web page and a link to the quote, null for a file
    }
    assert (data["citations"][0]["url"], data["citations"][0]["link"]) == (None, None)  # the Sora file


@pytest.mark.parametrize("question", ["OpenAI花了多少钱?", "How much money is OpenAI spending?"])
def test_section_heading_leads_to_its_passages(engine, question):
    answer = engine.answer(question)
    assert answer.citations and answer.citations[0].section == "五、OpenAI使了多大力?"


def test_answer_is_filled_with_further_cited_sentences_up_to_the_fill_length(engine):
    answer = engine.answer("Sora这个词容易让人联想到哪些作品?")
    article_text = "".join(d.page_content for d in engine.store.live_chunks())
    passages = re.findall(r"(.+?)\[(\d+)\]", answer.text)
    sentences = re.findall(r"[^。!?;]+[。!?;]", answer.text)
    assert not answer.refused and len(answer.text) <= FILL_CHARS
    assert "".join(f"{text}[{n}]" for text, n in passages) == answer.text  # nothing uncited
    assert "海底两万里" in passages[0][0]  # the passage with the best sentence comes first
    # consecutive sentences of one passage share their marker
    assert len(sentences) > len(passages) >= 1
    quotes = {c.n: c.quote for c in answer.citations}
    assert all(quote in article_text for quote in quotes.values())
    for text, n in passages:
        assert all(sentence in quotes[int(n)] for sentence in re.findall(r"[^。!?;]+[。!?;]?", text))


FARM = (
    "The Lakeside farm lies on the northern shore of Lake Qinghai. The farm keeps four hundred yaks "
    "and two hundred sheep. Its owner, Dorje Tsering, bought it in 1998. Every summer the herds move "
    "to pastures in the hills above the lake. The farm sells yak butter and cheese in the town of "
    "Xihai. Winters there are long and cold, and snow can block the road for weeks."
)


def test_english_answers_keep_the_spaces_between_sentences_and_quotes_are_article_text(fresh):
    fresh.library.ingest_loaded(LoadedSource(FARM, "Lakeside farm", "farm.txt", "farm.txt", "text"))
    answer = fresh.engine.answer("Where is the Lakeside farm and what animals does the farm keep?")
    assert not answer.refused and "yaks" in answer.text
    assert not re.search(r"[.!?](\[\d+\])?[A-Z]", answer.text), answer.text  # no "Qinghai.The farm"
    for citation in answer.citations:  # each stretch of a quote is the article's own text
        assert all(part in FARM for part in citation.quote.split(" … ")), citation.quote


def test_a_number_matches_only_as_the_whole_number(fresh):
    """Laboratory 1100's address is not laboratory 100's, which the articles don't give."""
    fresh.library.ingest_loaded(
        LoadedSource("第1100号实验室位于上海的浦东新区,主要负责研究新型电池。", "实验室甲", "a.txt", "a.txt", "text")
    )
    fresh.library.ingest_loaded(
        LoadedSource("第100号实验室的主任是李明,他从事材料研究二十年。", "实验室乙", "b.txt", "b.txt", "text")
    )
    answer = fresh.engine.answer("第100号实验室位于哪里?")
    assert answer.refused or "1100" not in answer.text, answer.text


def test_when_is_answered_by_an_event_as_well_as_by_a_date(fresh):
    fresh.library.ingest_loaded(LoadedSource(ACTOR, "林小川", "actor.txt", "actor.txt", "text"))
    answer = fresh.engine.answer("林小川什么时候拍了第一支广告?")
    assert not answer.refused
    assert answer.text.startswith("高二的时候")
    assert answer.citations[0].title == "林小川"


@pytest.mark.parametrize("question", ["苹果公司的创始人是谁?", "中国足球的五大恶人是哪些人?"])
def test_refuses_a_question_about_another_subject_that_shares_words_with_the_article(engine, question):
    answer = engine.answer(question)
    assert answer.refused and answer.language == "zh"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("What is Sora?", {"sora"}),  # "What" is capitalised by grammar
        ("Runway开发了哪个视频生成模型?", {"runway"}),  # a name that runs on into Chinese
        ("Runway最长能生成60秒视频", {"runway", "60"}),
        ("OpenAI训练GPT-4用了多少块GPU?", {"openai", "gpt-4", "gpu"}),
    ],
)
def test_names_and_numbers_of_a_text(text, names):
    assert entity_terms(text) == names


PLAIN = "Sora最长能生成多长的视频?"


@pytest.mark.parametrize(
    "question",
    ["\u202e" + PLAIN + "\u202c", "\u2066" + PLAIN + "\u2069", "\u200f" + PLAIN, PLAIN.replace("Sora", "So\u00adra")],
)
def test_a_question_with_invisible_format_characters_is_answered_as_the_plain_one(engine, question):
    answer, plain = engine.answer(question), engine.answer(PLAIN)

    assert answer.question == PLAIN
    assert not answer.refused
    assert (answer.text, answer.citations) == (plain.text, plain.citations)
