"""Chunks follow sentence boundaries and know their section and offsets."""

import pytest

from ingest.chunking import CHUNK_SIZE, chunk_article, sections, split_sentences
from ingest.cleaning import clean
from tests.test_cleaning import SORA_RAW


@pytest.fixture(scope="module")
def sora():
    return clean(SORA_RAW)


@pytest.fixture(scope="module")
def chunks(sora):
    return chunk_article(sora)


def test_offsets_point_at_the_chunk_text(sora, chunks):
    for chunk in chunks:
        assert sora.text[chunk.metadata["start"] : chunk.metadata["end"]] == chunk.page_content


def test_chunks_end_on_sentence_or_paragraph_boundaries(sora, chunks):
    for chunk in chunks:
        end = chunk.metadata["end"]
        assert len(chunk.page_content) <= CHUNK_SIZE
        assert chunk.page_content[-1] in "。!?;…!?;.”」)" or sora.text[end : end + 1] in ("\n", "")


def test_chunks_carry_their_section_heading(chunks):
    spending = next(c for c in chunks if "25000块A100" in c.page_content)
    assert spending.metadata["section"] == "五、OpenAI使了多大力?"
    intro = chunks[0]
    assert intro.metadata["section"] == ""


def test_positions_are_consecutive_and_metadata_complete(chunks):
    assert [c.metadata["position"] for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert set(chunk.metadata) >= {"title", "section", "position", "start", "end", "content_hash"}
        assert chunk.metadata["title"] == "Sora很强大,但现在也不必过度神话"


def test_headings_are_not_chunk_text(chunks):
    assert all("一、为什么叫Sora?有什么含义?" not in c.page_content for c in chunks)


def test_sections_recognise_markdown_and_chinese_numbering():
    text = "intro line.\n\n# Setup\n\nDo this.\n\n二、第二部分\n\n正文。"
    assert [(s.heading, s.body) for s in sections(text)] == [
        ("", "intro line."),
        ("Setup", "Do this."),
        ("二、第二部分", "正文。"),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Sora能生成60秒视频。它的画面很强!真的是这样吗?", ["Sora能生成60秒视频。", "它的画面很强!", "真的是这样吗?"]),
        ("他说“这很好。”然后他走了。", ["他说“这很好。”", "然后他走了。"]),
        ("It is 2.5 GB in size. Really? Yes it is", ["It is 2.5 GB in size.", "Really?", "Yes it is"]),
        ("请大家等等……后来怎么样了", ["请大家等等……", "后来怎么样了"]),
        (
            "生命数耗完即算为踢爆。重生者无敌！是吗？是；（注）",
            ["生命数耗完即算为踢爆。", "重生者无敌！", "是吗？是；（注）"],
        ),
        (
            "纽西兰鸡毛松（学名：'；毛利语：kahikatea），是罗汉松科的一种。",
            ["纽西兰鸡毛松（学名：'；毛利语：kahikatea），是罗汉松科的一种。"],
        ),
    ],
)
def test_split_sentences(text, expected):
    sentences = split_sentences(text)
    assert sentences == expected
    assert all(s in text for s in sentences)  # quotes are always exact
