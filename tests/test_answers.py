"""Cited answers and refusals from the default corpus, through the real model and Chroma."""

import pytest

from bot.errors import QuestionError


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
    "question, refusal",
    [
        ("Sora支持生成4K分辨率的视频吗?", "抱歉"),
        ("Who is the CEO of Runway?", "Sorry"),
        ("法国的首都是哪里?", "抱歉"),
    ],
)
def test_refuses_in_the_question_language_when_the_articles_do_not_say(engine, question, refusal):
    answer = engine.answer(question)
    assert answer.refused
    assert answer.text.startswith(refusal)
    assert answer.citations == []


def test_answers_are_short(engine):
    for question in ("Sora有什么含义?", "OpenAI使了多大力?", "Sora面临哪些挑战?"):
        assert len(engine.answer(question).text) <= 300


@pytest.mark.parametrize("question", ["", "   \n "])
def test_empty_question_is_an_error(engine, question):
    with pytest.raises(QuestionError, match="empty"):
        engine.answer(question)


def test_oversized_question_is_an_error(engine):
    with pytest.raises(QuestionError, match="too long"):
        engine.answer("Sora " * 200)


def test_json_contract(engine):
    data = engine.answer("Sora这个名字是什么意思?").to_json()
    assert set(data) == {"question", "answer", "refused", "citations", "latency_ms"}
    assert isinstance(data["refused"], bool) and isinstance(data["latency_ms"], float)
    assert data["citations"] and set(data["citations"][0]) == {
        "n", "article_id", "title", "section", "quote", "score"
    }


@pytest.mark.parametrize("question", ["OpenAI花了多少钱?", "How much money is OpenAI spending?"])
def test_section_heading_leads_to_its_passages(engine, question):
    answer = engine.answer(question)
    assert answer.citations and answer.citations[0].section == "五、OpenAI使了多大力?"
