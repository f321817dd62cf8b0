"""Answers as Telegram HTML, read back the way Telegram parses it (the fake's parser)."""

from __future__ import annotations

import re

import pytest

from bot.answering.answer import Answer, Citation
from bot.telegram.formatting import MAX_LENGTH, escape, last_message, layout, length, split_html
from tests.telegram.fake_botapi import BotAPIError, parse_html


def cited(text: str, *citations: Citation, question: str = "q") -> Answer:
    return Answer(question=question, text=text, refused=False, citations=list(citations))


def citation(n: int, quote: str = "A quote.", title: str = "Sora", section: str = "Intro") -> Citation:
    return Citation(n=n, article_id="a1", title=title, section=section, quote=quote, score=0.9)


def visible(html: str) -> str:
    return parse_html(html)[0]


def balanced(html: str) -> bool:
    stack = []
    for closing, name in re.findall(r"<(/?)([a-z-]+)[^>]*>", html):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def test_answer_shows_markers_then_numbered_sources():
    answer = cited("Sora makes videos.[1] Up to 60 s.[2]", citation(1, section="Intro"), citation(2, section="Length"))

    text = visible(last_message(layout(answer, "en"), expanded=False))

    assert text == "Sora makes videos.[1] Up to 60 s.[2]\n\nSources\n[1] Sora, Intro\n[2] Sora, Length"


def test_expanded_sources_quote_each_passage_in_a_blockquote():
    answer = cited("Up to 60 s.[1]", citation(1, quote="最长能生成60秒视频。"))

    text, entities = parse_html(last_message(layout(answer, "zh"), expanded=True))

    assert text == "Up to 60 s.[1]\n\n来源\n[1] Sora, Intro\n最长能生成60秒视频。"
    assert {"type": "blockquote", "offset": text.index("最长"), "length": 11} in entities


def test_section_equal_to_the_title_is_not_repeated():
    answer = cited("x.[1]", citation(1, title="Sora", section="Sora"))

    assert visible(last_message(layout(answer, "en"), expanded=False)).endswith("[1] Sora")


@pytest.mark.parametrize("hostile", ["<b>bold</b> & co", "a < b > c &amp; d", "<script>alert(1)</script>"])
def test_text_from_users_and_articles_comes_back_literally(hostile):
    answer = cited(f"{hostile}[1]", citation(1, quote=hostile, title=hostile, section=hostile), question=hostile)

    for expanded in (False, True):
        text, entities = parse_html(last_message(layout(answer, "en"), expanded=expanded))
        assert text.startswith(f"{hostile}[1]")
        assert all(e["type"] in ("bold", "blockquote") for e in entities)
        assert text.count(hostile) == (3 if expanded else 2)  # section = title: shown once


def test_refusal_echoes_the_question_harmlessly_and_suggests_articles():
    refusal = Answer(question="Who runs <b>Runway</b> & co?", text="", refused=True)

    reply = layout(refusal, "en")
    text, entities = parse_html(last_message(reply, expanded=False))

    assert text == (
        "The articles I know don't cover “Who runs <b>Runway</b> & co?”.\nSend /articles to see what they are about."
    )
    assert entities == [] and reply.parts == () and not reply.has_sources


def sentences(count: int) -> str:
    return " ".join(f"Sentence number {i} is <b>about</b> Sora &amp; video." for i in range(count))


def test_split_keeps_every_part_within_the_limit_and_balanced():
    html = f"<i>{sentences(400)}</i>"

    parts = split_html(html)

    assert len(parts) > 1
    assert all(length(p) <= MAX_LENGTH and balanced(p) for p in parts)
    assert " ".join(visible(p) for p in parts) == visible(html)


def test_split_cuts_after_sentence_ends():
    parts = split_html(sentences(400))

    assert all(visible(p).endswith("video.") for p in parts)


def test_split_cuts_after_chinese_full_stops():
    html = "Sora最长能生成60秒视频。" * 600

    parts = split_html(html, 500)

    assert all(length(p) <= 500 and p.endswith("。") for p in parts)
    assert "".join(parts) == html


def test_split_never_cuts_inside_an_entity_or_a_tag():
    html = "&amp;" * 3000 + '<a href="https://example.com/very/long">link</a>' * 50

    parts = split_html(html, 1000)

    for part in parts:
        parse_html(part)  # Telegram would reject a broken tag or entity
    assert "".join(visible(p) for p in parts) == visible(html)


def test_split_counts_utf16_units_like_telegram():
    parts = split_html("🙂" * 3000)

    assert [length(p) for p in parts] == [4096, 6000 - 4096]


def test_long_answer_keeps_sources_under_its_last_part():
    answer = cited(sentences(300) + "[1]", citation(1))

    reply = layout(answer, "en")
    last = last_message(reply, expanded=True)

    assert len(reply.parts) >= 1
    assert all(length(p) <= MAX_LENGTH for p in (*reply.parts, last))
    assert visible(last).endswith("Sources\n[1] Sora, Intro\nA quote.")


def test_expanded_sources_are_shortened_to_fit_one_message():
    answer = cited("x.[1][2]", citation(1, quote="长" * 4000), citation(2, quote="long " * 800))

    last = last_message(layout(answer, "en"), expanded=True)

    assert length(last) <= MAX_LENGTH
    assert visible(last).count("…") == 2


def test_fake_rejects_what_telegram_rejects():
    with pytest.raises(BotAPIError, match="Unsupported start tag"):
        parse_html("<script>x</script>")
    with pytest.raises(BotAPIError, match="Character entity expected"):
        parse_html("a & b")
    assert visible(escape("a & <b>")) == "a & <b>"
