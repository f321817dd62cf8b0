"""Web-page articles kept current (`Library.refresh`, `articlebot refresh`), and citations
that link to the quoted sentence of their page.

A real page on 127.0.0.1 (tests/pages.py) changes between fetches and speaks ETag /
Last-Modified; the store, the model and the answers are the real ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from bot.answering.links import citation_link, text_directive
from bot.cli.commands import main
from bot.errors import NotAWebPageError
from bot.wiring import Articlebot, build
from tests.conftest import make_settings
from tests.pages import ChangingSite, html_page
from vectorstore.errors import ArticleNotFoundError

TITLE = "海底隧道工程"
BEFORE = ["海底隧道连接东岛和西岛,全长十二公里,由三家公司共同建造。", "隧道每天通行八千辆汽车,高峰时段每分钟通过十辆。"]
AFTER = [
    "海底隧道连接东岛和西岛,全长十二公里,由三家公司共同建造。",
    "隧道每天通行一万五千辆汽车,高峰时段每分钟通过二十辆。",
]
QUESTION = "海底隧道每天通行多少辆汽车?"


@pytest.fixture
def web(tmp_path, embeddings) -> Articlebot:
    """An engine and library over an empty store that may fetch from 127.0.0.1."""
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False, ALLOW_PRIVATE_URLS=True)
    return build(settings, embeddings=embeddings, generator=None)


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    page = ChangingSite(html_page(TITLE, BEFORE)).start()
    yield page
    page.stop()


def snapshot(bot: Articlebot) -> tuple:
    """Everything a question could find: the articles and every stored chunk."""
    chunks = bot.library.store.chunk_collection.get(include=["documents"])
    return bot.library.articles(), sorted(zip(chunks["ids"], chunks["documents"]))


def test_a_web_page_is_kept_current_unchanged_changed_and_unreachable(web, site):
    article = web.library.ingest(site.url).record
    assert article.etag == site.etag() and article.last_modified.endswith(" GMT")
    assert "八千辆" in web.engine.answer(QUESTION).text

    # Unchanged: the fetch sends the validators back, the server answers 304, nothing is written.
    before = snapshot(web)
    unchanged = web.library.refresh(article.article_id)
    assert unchanged is not None and (unchanged.status, unchanged.not_modified) == ("unchanged", True)
    assert site.requests[-1] == {"If-None-Match": article.etag, "If-Modified-Since": article.last_modified}
    assert site.statuses[-1] == 304
    assert snapshot(web) == before
    assert unchanged.describe() == f"{article.article_id}  {TITLE}  (unchanged: not modified since the last fetch)"

    # Changed: the article is replaced in place (same id and title) and answers the new text.
    site.change(html_page(TITLE, AFTER))
    replaced = web.library.refresh(article.article_id)
    assert replaced is not None and replaced.status == "replaced" and replaced.changed
    assert replaced.record.article_id == article.article_id and replaced.record.title == TITLE
    assert replaced.record.etag == site.etag() != article.etag
    assert f"replaced version {article.version}" in replaced.describe()
    answer = web.engine.answer(QUESTION)
    assert "一万五千辆" in answer.text and "八千" not in answer.text
    assert [a.article_id for a in web.library.articles()] == [article.article_id]
    assert not any("八千" in text for _, text in snapshot(web)[1])  # the old version's chunks are gone

    # Unreachable: the old version stays, and the reason is given.
    site.stop()
    before = snapshot(web)
    failed = web.library.refresh(article.article_id)
    assert failed is not None and failed.status == "failed" and failed.changed
    assert failed.reason == f"Cannot fetch {site.url}: cannot connect to the server."
    assert failed.describe().endswith(f"(not refreshed, the old version stays: {failed.reason})")
    assert snapshot(web) == before
    assert "一万五千辆" in web.engine.answer(QUESTION).text


def test_without_validators_the_same_text_is_skipped_by_its_hash(web):
    site = ChangingSite(html_page(TITLE, BEFORE), etags=False).start()
    try:
        article = web.library.ingest(site.url).record
        assert (article.etag, article.last_modified) == ("", "")
        before = snapshot(web)
        refreshed = web.library.refresh(article.article_id)
        assert site.requests[-1] == {} and site.statuses[-1] == 200  # nothing to send back
        assert refreshed is not None and (refreshed.status, refreshed.not_modified) == ("unchanged", False)
        assert refreshed.describe().endswith("(unchanged: the page has the same text)")
        assert snapshot(web) == before
    finally:
        site.stop()


def test_a_new_etag_for_the_same_text_is_remembered_for_the_next_refresh(web, site):
    article = web.library.ingest(site.url).record
    site.extra_etag = "v2"  # a server that renamed the version without changing the page
    refreshed = web.library.refresh(article.article_id)
    assert site.statuses[-1] == 200
    assert refreshed is not None and (refreshed.status, refreshed.not_modified) == ("unchanged", False)
    assert web.library.article(article.article_id).etag == site.etag() != article.etag
    assert web.library.article(article.article_id).version == article.version

    again = web.library.refresh(article.article_id)
    assert site.statuses[-1] == 304 and again is not None and again.not_modified


def test_only_web_pages_are_refreshed(web, site, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("灯塔笔记\n\n灯塔每晚亮十二个小时,由两名守塔人轮流值班。", encoding="utf-8")
    file_article = web.library.ingest(str(notes)).record
    page = web.library.ingest(site.url).record

    assert [r.article_id for r in web.library.web_articles()] == [page.article_id]
    with pytest.raises(NotAWebPageError, match=r"comes from .*notes\.txt, not a web page"):
        web.library.web_articles(file_article.article_id)
    with pytest.raises(ArticleNotFoundError):
        web.library.web_articles("no-such-article")


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run `articlebot ARGS` on a data dir of this test, allowed to fetch from 127.0.0.1."""
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ARTICLEBOT_SEED_CORPUS", "false")
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args))

    return invoke


@pytest.mark.model  # runs articlebot, which loads the model
def test_articlebot_refresh_reports_each_web_page_and_fails_when_one_cannot_be_fetched(run, site, tmp_path):
    assert run("refresh").stdout == "No articles from web pages to refresh.\n"
    added = run("ingest", site.url)
    assert added.exit_code == 0, added.output
    article_id = added.stdout.split()[0]

    unchanged = run("refresh")
    assert unchanged.exit_code == 0, unchanged.output
    assert unchanged.stdout == f"{article_id}  {TITLE}  (unchanged: not modified since the last fetch)\n"

    site.change(html_page(TITLE, AFTER))
    replaced = run("refresh", article_id)
    assert replaced.exit_code == 0, replaced.output
    assert re.fullmatch(
        rf"{article_id}  {TITLE}  \(\d+ chunks?, replaced version \w+ of [-\dT:+]+\)\n", replaced.stdout
    )
    assert "一万五千辆" in run("ask", QUESTION).stdout

    site.stop()
    failed = run("refresh")
    assert failed.exit_code == 1
    assert failed.stdout == (
        f"{article_id}  {TITLE}  (not refreshed, the old version stays: "
        f"Cannot fetch {site.url}: cannot connect to the server.)\n"
    )
    assert "一万五千辆" in run("ask", QUESTION).stdout

    notes = tmp_path / "notes.txt"
    notes.write_text("灯塔笔记\n\n灯塔每晚亮十二个小时,由两名守塔人轮流值班。", encoding="utf-8")
    file_id = run("ingest", str(notes)).stdout.split()[0]
    refused = run("refresh", file_id)
    assert refused.exit_code == 1 and refused.stderr.startswith(f"Error: Article {file_id} comes from ")


@pytest.mark.parametrize(
    ("written", "seconds"), [("6h", 21600), ("30m", 1800), ("1d", 86400), ("1h30m", 5400), ("off", None), ("", None)]
)
def test_refresh_interval_is_written_with_its_unit(written, seconds, tmp_path):
    assert make_settings(tmp_path, REFRESH_INTERVAL=written).refresh_interval_s == seconds


def test_a_bad_refresh_interval_is_one_error_line(run, monkeypatch):
    monkeypatch.setenv("REFRESH_INTERVAL", "six hours")
    result = run("list")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Bad setting REFRESH_INTERVAL: ")
    assert "30m, 6h or 1d" in result.stderr


# -- citations that link to the page -------------------------------------------------------------


@pytest.mark.model  # runs articlebot, which loads the model
def test_ask_json_gives_a_web_pages_url_and_a_link_to_the_quote_and_none_for_a_file(run, site, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("灯塔笔记\n\n灯塔每晚亮十二个小时,由两名守塔人轮流值班。", encoding="utf-8")
    assert run("ingest", site.url, str(notes)).exit_code == 0

    web_answer = json.loads(run("ask", "--json", QUESTION).stdout)
    file_answer = json.loads(run("ask", "--json", "灯塔每晚亮几个小时?").stdout)

    cited = web_answer["citations"][0]
    assert cited["url"] == site.url
    assert cited["link"].startswith(f"{site.url}#:~:text=")
    terms = [unquote(term) for term in cited["link"].split("#:~:text=")[1].split(",")]
    assert terms and all(term in cited["quote"] and term in site.html for term in terms)  # on the page
    assert cited["quote"].startswith(terms[0]) and cited["quote"].endswith(terms[-1])
    assert (file_answer["citations"][0]["url"], file_answer["citations"][0]["link"]) == (None, None)
    text = run("ask", QUESTION).stdout
    assert cited["link"] in text  # the plain output shows the link under the quote


@pytest.mark.parametrize(
    ("quote", "terms"),
    [
        # Short, one paragraph: the whole quote.
        ("隧道每天通行八千辆汽车。", ["隧道每天通行八千辆汽车。"]),
        ("Up to 60 s - or more, & then some.", ["Up to 60 s - or more, & then some."]),
        # Long: its first words to its last, cut where words end (after a mark in Chinese).
        (
            "沙漠温室建在库布其沙漠的边缘,占地六十公顷。温室用海水淡化后的水浇灌蔬菜。"
            "温室每天向附近城市供应九吨番茄。温室的屋顶铺满了太阳能电池板。",
            ["沙漠温室建在库布其沙漠的边缘,", "温室的屋顶铺满了太阳能电池板。"],
        ),
        (
            "The tunnel links the east and west islands. It carries eight thousand cars a day, ten a minute at peak.",
            ["The tunnel links the", "a minute at peak."],
        ),
        # Across paragraphs: a range (one term never matches across a block boundary).
        ("First paragraph here.\n\nSecond one.", ["First paragraph here.", "Second one."]),
        # Gaps: the first stretch only.
        ("隧道全长十二公里。 … 每分钟通过十辆。", ["隧道全长十二公里。"]),
    ],
)
def test_a_text_fragment_leads_to_the_quotes_first_stretch(quote, terms):
    directive = text_directive(quote)
    assert directive is not None and directive.startswith("text=")
    encoded = directive.removeprefix("text=").split(",")
    assert [unquote(term) for term in encoded] == terms
    assert not any(c in term for term in encoded for c in "-&, ")  # delimiters and spaces percent-encoded


def test_a_link_keeps_a_pages_own_fragment():
    assert citation_link("https://example.com/post#part-2", "A quote.") == (
        "https://example.com/post#part-2:~:text=A%20quote."
    )
