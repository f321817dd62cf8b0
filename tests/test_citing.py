"""Citations built from given sentences (bot/answering/citing.py), without a model: what a
reader sees in an answer's markers and in the quotes under 📖 Sources."""

from __future__ import annotations

from langchain_core.documents import Document

from bot.answering.citing import cite_claims, cite_sentences, quote
from bot.answering.selection import Scored
from bot.generation.verification import Claim, Support
from vectorstore.retrieval import Hit

SITE = "火星基地将建在乌托邦平原。那里地势平坦,适合着陆。\n\n基地第一期可容纳十二名宇航员。第二期再扩建一倍。宇航员每半年轮换一次。"
POWER = "基地的主要能源来自一座小型核反应堆。备用能源是太阳能电池板。"


def hit(content: str, chunk_id: str, section: str, url: str = "mars.md") -> Hit:
    metadata = {"article_id": "mars-1a2b3c", "title": "火星基地建设计划", "section": section, "version": "v1"}
    return Hit(Document(content, id=chunk_id, metadata=metadata | {"source": url}), dense=0.9, fused=1 / 61)


def scored(h: Hit, index: int, sentence: str, score: float = 1.0) -> Scored:
    return Scored(sentence, h, index, dense=score, lexical=0.5, fits=True, score=score)


SITE_HIT = hit(SITE, "mars:v1:0", "一、选址")
POWER_HIT = hit(POWER, "mars:v1:1", "二、能源")


def test_sentences_close_together_are_quoted_as_the_stretch_they_span_paragraph_break_included():
    assert quote(SITE, [1, 2]) == "那里地势平坦,适合着陆。\n\n基地第一期可容纳十二名宇航员。"
    assert quote(SITE, [0, 2]) == SITE[: SITE.index("第二期")]  # the sentence between them too


def test_sentences_far_apart_are_quoted_as_their_runs_joined_by_an_ellipsis():
    assert quote(SITE, [4, 0, 1]) == "火星基地将建在乌托邦平原。那里地势平坦,适合着陆。 … 宇航员每半年轮换一次。"


def test_an_extractive_answer_marks_each_run_and_numbers_chunks_in_order_of_first_use():
    chosen = [
        scored(POWER_HIT, 0, "基地的主要能源来自一座小型核反应堆。", 1.2),
        scored(SITE_HIT, 2, "基地第一期可容纳十二名宇航员。", 1.1),
        scored(SITE_HIT, 3, "第二期再扩建一倍。", 0.9),
        scored(POWER_HIT, 1, "备用能源是太阳能电池板。", 1.0),
    ]

    text, citations = cite_sentences(chosen, {"基地"}, max_chars=300)

    assert (
        text
        == "基地的主要能源来自一座小型核反应堆。[1]基地第一期可容纳十二名宇航员。第二期再扩建一倍。[2]备用能源是太阳能电池板。[1]"
    )
    assert [(c.n, c.section, c.quote, c.score) for c in citations] == [
        (1, "二、能源", POWER, 1.2),
        (2, "一、选址", "基地第一期可容纳十二名宇航员。第二期再扩建一倍。", 1.1),
    ]
    assert citations[0].url is None  # a file's article links nowhere


def test_a_sentence_too_long_for_the_answer_is_shortened_there_and_quoted_whole():
    long = "基地的主要能源来自一座小型核反应堆,反应堆由地球运来,安装在基地北侧的山坡下,备用能源是太阳能电池板,电池板铺在南侧的平原上。"
    page = hit(long, "mars:v1:2", "二、能源", url="https://example.com/mars")

    text, [citation] = cite_sentences([scored(page, 0, long)], {"备用能源"}, max_chars=40)

    assert len(text) <= 40 and text.endswith("…[1]") and "备用能源" in text
    assert citation.quote == long
    assert citation.url == "https://example.com/mars"


def test_a_generated_answer_keeps_supported_claims_renumbered_and_marks_before_a_clause_end():
    claims = [
        Claim("基地第一期可容纳十二名宇航员,", (2,)),
        Claim("基地有一座游泳池。", (1,)),  # nothing supports it
        Claim("主要能源是一座小型核反应堆。", (1,)),
        Claim("第二期再扩建一倍。", (2,)),
    ]
    supports = [
        Support(passage=1, sentence=2, similarity=0.93, overlap=1.0),
        None,
        Support(passage=0, sentence=0, similarity=0.88, overlap=1.0),
        Support(passage=1, sentence=3, similarity=0.9, overlap=1.0),
    ]

    text, citations = cite_claims(claims, supports, [POWER_HIT, SITE_HIT], max_chars=300)

    assert text == "基地第一期可容纳十二名宇航员[1],主要能源是一座小型核反应堆。[2]第二期再扩建一倍。[1]"
    assert [(c.n, c.section, c.quote, c.score) for c in citations] == [
        (1, "一、选址", "基地第一期可容纳十二名宇航员。第二期再扩建一倍。", 0.93),
        (2, "二、能源", "基地的主要能源来自一座小型核反应堆。", 0.88),
    ]


def test_a_generated_answer_stops_before_the_claim_that_would_pass_the_limit():
    claims = [Claim("主要能源是一座小型核反应堆。", (1,)), Claim("备用能源是太阳能电池板。", (1,))]
    supports = [Support(0, 0, 0.9, 1.0), Support(0, 1, 0.9, 1.0)]

    text, [citation] = cite_claims(claims, supports, [POWER_HIT], max_chars=20)

    assert text == "主要能源是一座小型核反应堆。[1]"
    assert citation.quote == "基地的主要能源来自一座小型核反应堆。"  # only what the answer says


def test_a_generated_answer_with_no_supported_claim_is_empty():
    assert cite_claims([Claim("基地有一座游泳池。", (1,))], [None], [POWER_HIT], max_chars=300) == ("", [])
