"""Chunks follow sentence boundaries and know their section and offsets."""

import random
import time

import pytest

from bot.wiring import build
from ingest.chunking import CHUNK_SIZE, chunk_article, sections, split_sentences
from ingest.cleaning import MAX_TOKEN_CHARS, CleanText, clean
from ingest.errors import TooManyChunksError
from ingest.loaders import LoadedSource
from tests.conftest import make_settings
from tests.processes import MARS
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


def _words(n: int, separator: str) -> str:
    rnd = random.Random(0)
    words = ("".join(rnd.choice("abcdefghijklmnop") for _ in range(rnd.randint(2, 9))) for _ in range(n))
    return separator.join(words)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        pytest.param(_words(170_000, " ")[:1_000_000], None, id="words"),
        pytest.param(_words(150_000, ", ")[:1_000_000], None, id="comma-separated-words"),
        pytest.param("中文字，" * 250_000, None, id="chinese-clauses"),
        pytest.param("x" * 1_000_000, "x" * MAX_TOKEN_CHARS + "⋯", id="one-long-word"),  # no word is that long
    ],
)
def test_a_one_megabyte_line_without_sentence_ends_is_cleaned_and_chunked_quickly(line, kept):
    started = time.monotonic()
    chunks = chunk_article(clean(f"Title\n\n{line}"), max_chunks=10**6)
    assert time.monotonic() - started < 20  # a few seconds; minutes when it was quadratic
    kept = kept or line
    assert chunks[0].page_content == kept[: len(chunks[0].page_content)]
    assert max(len(c.page_content) for c in chunks) <= CHUNK_SIZE * 3


LONG_URL = ("https://example.com/data/" + "/".join(f"seg{i:04d}x" for i in range(700)))[:5000]
GLACIERS = f"""Glacier survey 2023

The survey team measured twelve glaciers in the northern range during the summer. Most of them are retreating.

Skarvbreen is the largest glacier of the range. Its full data table is at {LONG_URL} for anyone to download. It lost 41 metres of thickness since 1990, more than any other glacier measured.

Funding came from the Nordic Climate Fund. The team plans a second survey in 2026.
"""


def ask_about_glaciers(fresh, question: str):
    """The answer to `question` about an article with a 5,000-character URL in a sentence."""
    fresh.library.ingest_loaded(LoadedSource(GLACIERS, None, "glaciers.md", "glaciers.md", "markdown"))
    return fresh.engine.answer(question)


def test_the_sentence_after_a_5000_character_url_is_answered(fresh):
    answer = ask_about_glaciers(fresh, "How much thickness did Skarvbreen lose since 1990?")

    assert not answer.refused and "41 metres" in answer.text
    assert any("It lost 41 metres of thickness since 1990" in c.quote for c in answer.citations)


def test_the_citation_of_a_sentence_holding_a_5000_character_url_quotes_the_url_cut(fresh):
    answer = ask_about_glaciers(fresh, "Where is the data table of Skarvbreen?")

    (citation,) = [c for c in answer.citations if "data table" in c.quote]
    assert f"Its full data table is at {LONG_URL[:MAX_TOKEN_CHARS]}⋯ for anyone to download." in citation.quote
    assert len(citation.quote) < 300


def test_more_chunks_than_the_limit_are_refused():
    text = "。".join(f"第{i}句话说的是一件事情" for i in range(2_000)) + "。"
    assert len(chunk_article(CleanText("长文", text), max_chunks=10**6)) > 100
    with pytest.raises(TooManyChunksError, match=r"“长文” is too long: it would make more than 100 chunks"):
        chunk_article(CleanText("长文", text), max_chunks=100)


def test_an_article_over_the_chunk_limit_leaves_the_store_unchanged(tmp_path, embeddings):
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False, MAX_CHUNKS_PER_ARTICLE=20)
    library = build(settings, embeddings=embeddings, generator=None).library
    first = library.ingest_loaded(LoadedSource(MARS, None, "mars.md", "mars.md", "markdown"))
    before = (library.articles(), sorted(library.store.chunk_collection.get()["ids"]))
    stages: list[str] = []

    long_text = "长文\n\n" + "。".join(f"第{i}句话说的是一件事情" for i in range(2_000)) + "。"
    with pytest.raises(TooManyChunksError, match="more than 20 chunks, the limit per article .MAX_CHUNKS_PER_ARTICLE."):
        library.ingest_loaded(
            LoadedSource(long_text, None, "long.txt", "long.txt", "text"), progress=lambda s, _d, _t: stages.append(s)
        )
    new_version = LoadedSource(MARS + "\n\n" + long_text, None, "mars.md", "mars.md", "markdown")  # a replacement
    with pytest.raises(TooManyChunksError):
        library.ingest_loaded(new_version)

    assert "embedding" not in stages
    assert (library.articles(), sorted(library.store.chunk_collection.get()["ids"])) == before
    assert library.articles() == [first.record]
