"""Cleaning web text: boilerplate out, article text in."""

from importlib import resources

import pytest

from ingest.cleaning import clean
from ingest.errors import EmptyArticleError

SORA_RAW = resources.files("ingest").joinpath("corpus/sora-raw.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sora():
    return clean(SORA_RAW)


def test_title_is_the_first_line(sora):
    assert sora.title == "Sora很强大,但现在也不必过度神话"


def test_trailing_copyright_and_navigation_block_is_cut(sora):
    for noise in ("声明:本站所有文章", "给TA打赏", "{{data.count}}", "购物车", "今日签到", "通过Ollama 使用Gemma 模型"):
        assert noise not in sora.text
    assert sora.text.endswith("有时候,问题提错了可能一切就都错了。")


def test_truncated_teaser_is_dropped_but_the_full_paragraph_stays(sora):
    full = "从官方演示视频看,Sora能够根据文本提示创建详细的视频,扩展现有视频中的叙述以及从静态图像生成场景,最长能生成60秒视频。"
    assert sora.text.count("从官方演示视频看") == 1
    assert full in sora.text


def test_title_repeated_as_image_caption_is_dropped(sora):
    assert sora.title not in sora.text


@pytest.mark.parametrize("caption", ["网图", "主要视频生成模型/技术对比(来源:东吴证券)"])
def test_picture_captions_are_dropped(sora, caption):
    assert caption not in sora.text.split("\n\n")


def test_section_headings_and_short_sentences_stay(sora):
    paragraphs = sora.text.split("\n\n")
    assert "二、Sora为何被称为世界模拟器?" in paragraphs
    assert "大力出奇迹。" in paragraphs


def test_no_paragraph_appears_twice(sora):
    paragraphs = sora.text.split("\n\n")
    assert len(paragraphs) == len(set(paragraphs))


def test_whitespace_and_newlines_are_normalised():
    cleaned = clean("Title\r\n\r\nFirst\u3000 line  with\u00a0spaces.\r\n\u200bSecond line.")
    assert cleaned.text == "First line with spaces.\n\nSecond line."


def test_english_short_headings_are_kept():
    cleaned = clean("My post\n\nIntroduction\n\nThis is the body. It says things.")
    assert cleaned.text.split("\n\n") == ["Introduction", "This is the body. It says things."]


@pytest.mark.parametrize("raw", ["", "   \n\n  \t"])
def test_empty_text_is_an_empty_article(raw):
    with pytest.raises(EmptyArticleError):
        clean(raw)
