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
        ("Sora能生成60秒视频。它很强!真的吗?", ["Sora能生成60秒视频。", "它很强!", "真的吗?"]),
        ("他说“很好。”然后走了。", ["他说“很好。”", "然后走了。"]),
        ("It is 2.5 GB. Really? Yes", ["It is 2.5 GB.", "Really?", "Yes"]),
        ("等等……后来呢", ["等等……", "后来呢"]),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_full_width_punctuation():
    assert split_sentences("生命数耗完即算为踢爆。重生者无敌！是吗？是；（注）") == [
        "生命数耗完即算为踢爆。", "重生者无敌！", "是吗？", "是；", "（注）"
    ]
