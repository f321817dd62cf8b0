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


def test_call_to_action_is_cut_from_the_sora_paragraph_and_its_information_kept(sora):
    paragraphs = sora.text.split("\n\n")
    for ad in ("需要一键升级", "可以看这", "ChatGPT Plus 教程"):
        assert ad not in sora.text
    assert "另外Sora还没开放注册呢哈, 但根据文生图模型 DALL·E 案例来看的话肯定是会先给GPT Plus用户使用" in paragraphs


def _page(*paragraphs: str) -> str:
    return "Page title\n\n" + "\n\n".join(paragraphs)


@pytest.mark.parametrize(
    "ad",
    [
        "扫码关注公众号,回复“AI”领取资料",
        "如果觉得这篇文章有用,欢迎点赞转发。",
        "需要的小伙伴可以私信我。",
        "添加小编微信\uff1aabc12345,备注“AI”即可。",
        "限时优惠!购买链接见评论区",
        "广告",
        "— Advertisement —",
        "Sponsored",
        "Subscribe to our newsletter for weekly updates.",
        "Click here to read the full report.",
        "Sign up now and get a free trial.",
        "Follow us on Twitter for more.",
        "Share this article:",
        "Buy now!",
        "Use code SORA20 for 20% off your first month.",
    ],
)
def test_ad_lines_between_paragraphs_are_dropped(ad):
    cleaned = clean(_page("Sora能生成60秒视频。", ad, "It runs on many GPUs."))
    assert cleaned.text == "Sora能生成60秒视频。\n\nIt runs on many GPUs."


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (
            "Sora会先给Plus用户使用\uff0c需要一键升级的可以看这\uff1a最新版 ChatGPT Plus 教程",
            "Sora会先给Plus用户使用",
        ),
        ("Sora发布后引发广泛关注,喜欢的话欢迎关注我们的公众号。", "Sora发布后引发广泛关注。"),
        ("Plans start at $20 a month; use code SAVE10 for 10% off.", "Plans start at $20 a month."),
        (
            "The launch drew wide attention, and if you enjoyed this article, please share it with your friends.",
            "The launch drew wide attention.",
        ),
    ],
)
def test_trailing_call_to_action_clause_is_cut_and_the_information_before_it_kept(line, kept):
    assert clean(_page(line)).text == kept


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Sora很强。点击这里领取免费教程。它能生成60秒视频。", "Sora很强。它能生成60秒视频。"),
        (
            "The model is fast. Subscribe to our newsletter for weekly updates. It runs on one GPU.",
            "The model is fast. It runs on one GPU.",
        ),
    ],
)
def test_call_to_action_sentence_inside_a_paragraph_is_cut(line, kept):
    assert clean(_page(line)).text == kept


@pytest.mark.parametrize(
    "line",
    [
        "Sora的发布引发广泛关注。",
        "该公众号获得了大量关注。",
        "用户可以扫码支付,该视频获得10万点赞和转发。",
        "我们可以看这个例子,具体数据请看下面的表格。",
        "推广新技术需要时间,用户在领取补贴时需要实名认证。",
        "Netflix has 200 million subscribers.",
        "Users who subscribe to Netflix pay $15 a month.",
        "Buy now, pay later services grew 20% last year.",
        "The event was sponsored by Google, and 2,000 people came.",
        "Click-through rates fell; ad revenue grew 10%.",
        "Developers use the code from GitHub.",
    ],
)
def test_factual_sentences_with_ad_words_are_kept(line):
    assert clean(_page(line)).text == line


@pytest.mark.parametrize(
    ("raw", "title", "text"),
    [
        ("Sora能生成60秒视频。", "Sora能生成60秒视频。", "Sora能生成60秒视频。"),
        ("Sora能生成60秒视频。它的画面很强!", "Sora能生成60秒视频。它的画面很强!", "Sora能生成60秒视频。它的画面很强!"),
        ("Sora能生成60秒视频。\n\n它的画面很强!", "Sora能生成60秒视频。", "Sora能生成60秒视频。\n\n它的画面很强!"),
        ("Sora makes videos from text.", "Sora makes videos from text.", "Sora makes videos from text."),
        ("Sora makes videos.\nThey last a minute.", "Sora makes videos.", "Sora makes videos.\n\nThey last a minute."),
        ("Sora makes videos", "Sora makes videos", "Sora makes videos"),  # one line: nothing else to keep
    ],
)
def test_a_sentence_or_two_without_a_title_are_kept(raw, title, text):
    cleaned = clean(raw)
    assert (cleaned.title, cleaned.text) == (title, text)


def test_a_heading_like_first_line_is_still_the_title():
    cleaned = clean("Sora 简介\n\nSora能生成60秒视频。")
    assert (cleaned.title, cleaned.text) == ("Sora 简介", "Sora能生成60秒视频。")


def test_a_given_title_is_not_repeated_in_the_body():
    cleaned = clean("Sora能生成60秒视频。\n\n它的画面很强!", title="Sora能生成60秒视频。")
    assert cleaned.text == "它的画面很强!"


def test_teasers_are_found_only_near_their_paragraph():
    paragraph = "从官方演示视频看,Sora能够根据文本提示创建详细的视频,最长能生成60秒视频。"
    filler = [f"第{i}段正文,说的是别的事情,和前面的内容没有关系。" * 4 for i in range(200)]  # ~20,000 characters
    near = clean(_page(paragraph[:30] + "…", paragraph, *filler))
    assert near.text.split("\n\n")[0] == paragraph
    far = clean(_page(paragraph[:30] + "…", *filler, paragraph))
    assert far.text.split("\n\n")[0] == paragraph[:30] + "…"
