"""Admins manage the articles from Telegram, end to end: uploads, URLs, replace, remove.

The real Application polls the local Bot API; each test has an engine over its own empty
store (sharing the session's model) and a web server on 127.0.0.1 for the URLs. Tests that
check only the admins' messages and what is stored, never an answer, run over
`hashed_embeddings` (`make_hashed_bot`).
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from pypdf import PdfWriter

from bot.library import Library
from bot.wiring import build
from tests.conftest import make_settings
from tests.telegram.conftest import ADMIN_ID, Bot, free_port
from tests.telegram.fake_botapi import parse_html
from tests.test_backup import unversioned

REFUSAL = (
    "Sorry, only the bot's admins can do that (manage the articles, see stats and feedback). "
    "You can still ask me anything about the articles."
)
UNCHANGED = "The articles are unchanged."

FARM = """深海养殖场

一、位置

深海养殖场位于南海的一座海山上方,水深八十米。养殖场共有二十四个网箱。

二、产量

养殖场每年出产三千吨石斑鱼,全部由无人船运回港口。
"""
FARM_Q = "深海养殖场有多少个网箱?"
DESERT_HTML = """<html><head><title>沙漠温室计划</title></head><body>
<nav><a href="/">首页</a> | <a href="/news">新闻</a></nav>
<article><h1>沙漠温室计划</h1>
<p>沙漠温室建在库布其沙漠的边缘,占地六十公顷。温室用海水淡化后的水浇灌蔬菜。</p>
<h2>产出</h2><p>温室每天向附近城市供应九吨番茄。温室的屋顶铺满了太阳能电池板。</p>
</article></body></html>"""
DESERT_Q = "沙漠温室每天供应多少番茄?"
NEWS_HTML = """<html><head><title>Daily Planet</title></head><body>
<article><p>{story}</p><p>图书馆的开放时间没有改变,每天早上八点开门,晚上十点关门。</p></article></body></html>"""
# About 130 chunks: embedding them takes 5 to 15 seconds on two cores.
POLAR = "极地观测网\n\n" + "\n\n".join(
    f"第{i}号观测站位于北纬{i % 90}度,站内共有{i % 17 + 3}名研究员,他们每天记录{i * 7 % 300}次风速数据。"
    "观测站的发电机由柴油驱动,每月补给一次。"
    for i in range(400)
)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A web server on 127.0.0.1: an article, failures of every kind, and a slow page."""

    async def desert(_request: web.Request) -> web.Response:
        return web.Response(text=DESERT_HTML, content_type="text/html", charset="utf-8")

    async def news(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        html = NEWS_HTML.format(story=f"第{n}号新闻:月球图书馆今天收到了{n}百本新书,馆长说书架已经不够用了。")
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    async def broken(_request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    async def logo(_request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + bytes(200), content_type="image/png")

    async def cut_off(request: web.Request) -> web.StreamResponse:
        """Promises 50 kB of HTML, sends a little, then hangs up: a transfer broken midway."""
        response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "50000"})
        await response.prepare(request)
        await response.write(DESERT_HTML[:200].encode())
        request.transport.close()
        return response

    app = web.Application()
    app.router.add_get("/desert.html", desert)
    app.router.add_get("/broken", broken)
    app.router.add_get("/logo.png", logo)
    app.router.add_get("/cut-off.html", cut_off)
    app.router.add_get("/news/{n}.html", news)  # every page titled with the site's name
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    yield f"http://127.0.0.1:{server._server.sockets[0].getsockname()[1]}"
    await runner.cleanup()


# -- helpers ----------------------------------------------------------------------------------


def library_of(bot: Bot) -> Library:
    return bot.application.bot_data.library


def snapshot(library: Library) -> tuple:
    """Everything a question could find: the articles, their live chunks, all chunks."""
    live = sorted((d.id, d.page_content) for d in library.store.live_chunks())
    return library.articles(), live, library.store.chunk_count()


async def outcome(bot: Bot, request: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """The status message under `request` once it shows how the operation ended."""
    done = await bot.api.wait_for(
        lambda: [m for m in bot.api.replies_to(request) if not m["text"].startswith("⏳")], timeout
    )
    return done[0]


def history(bot: Bot, status: dict[str, Any]) -> list[str]:
    """Every text the status message showed, in order: as sent, then each edit."""
    chat_id, message_id = status["chat"]["id"], status["message_id"]
    request_id = status["reply_to_message"]["message_id"]
    sent = [
        parse_html(c.params["text"])[0]
        for c in bot.api.calls_to("sendMessage", ok=True)
        if int(c.params["chat_id"]) == chat_id and c.params.get("reply_parameters", {}).get("message_id") == request_id
    ]
    edits = [
        parse_html(c.params["text"])[0]
        for c in bot.api.calls_to("editMessageText", ok=True)
        if int(c.params["chat_id"]) == chat_id and int(c.params["message_id"]) == message_id
    ]
    return sent[:1] + edits


def stages(texts: list[str]) -> list[str]:
    """The second line of each status text, numbers masked, repeats collapsed."""
    lines = [re.sub(r"\d+", "N", text.splitlines()[1]) for text in texts]
    return [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]


async def edited(bot: Bot, message: dict[str, Any]) -> dict[str, Any]:
    """`message` as the user sees it once the bot has edited it."""
    key = (message["chat"]["id"], message["message_id"])
    return await bot.api.wait_for(lambda: "edit_date" in bot.api.messages[key] and bot.api.messages[key])


async def upload(bot: Bot, user: dict, name: str, content: bytes, caption: str | None = None) -> dict[str, Any]:
    message = bot.api.upload(bot.api.private_chat(user), user, name, content, caption)
    return await outcome(bot, message)


async def command(bot: Bot, user: dict, text: str, chat: dict | None = None) -> dict[str, Any]:
    """Send a command; the bot's next message in that chat."""
    return await bot.say(chat or bot.api.private_chat(user), user, text)


async def ingest(bot: Bot, user: dict, text: str) -> dict[str, Any]:
    message = bot.api.send(bot.api.private_chat(user), user, text)
    return await outcome(bot, message)


# -- adding, asking, replacing ----------------------------------------------------------------


async def test_admin_adds_a_gbk_file_and_a_web_page_and_users_get_answers_citing_each(make_bot, site, admin, bob):
    bot = await make_bot(ALLOW_PRIVATE_URLS=True)
    url = f"{site}/desert.html"

    farm_status = await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    desert_status = await ingest(bot, admin, f"/ingest {url}")
    farm_answer = await bot.ask(bot.api.private_chat(bob), bob, FARM_Q)
    desert_answer = await bot.ask(bot.api.private_chat(bob), bob, DESERT_Q)

    farm, desert = library_of(bot).articles()
    assert farm_status["text"] == (
        f"✅ farm.txt\nAdded a new article:\n{farm.article_id}  深海养殖场  ({farm.chunk_count} chunks, added)"
    )
    assert stages(history(bot, farm_status)) == [
        "Starting…",
        "Downloading the file…",
        "Cleaning the text…",
        "Splitting it into chunks…",
        "Embedding N/N (chunks, then their sentences)…",
        "Added a new article:",
    ]
    assert desert_status["text"] == (
        f"✅ {url}\nAdded a new article:\n{desert.article_id}  沙漠温室计划  (1 chunk, added)"
    )
    assert stages(history(bot, desert_status)) == [
        "Starting…",
        "Fetching…",
        "Cleaning the text…",
        "Splitting it into chunks…",
        "Embedding N/N (chunks, then their sentences)…",
        "Added a new article:",
    ]
    assert "二十四个网箱" in farm_answer["text"]
    assert "\n来源\n[1] 深海养殖场" in farm_answer["text"]
    assert "九吨番茄" in desert_answer["text"] and "\n来源\n[1] 沙漠温室计划" in desert_answer["text"]


async def test_url_credentials_are_never_shown_in_the_ingest_status(make_hashed_bot, site, admin):
    bot = await make_hashed_bot(ALLOW_PRIVATE_URLS=True)
    with_password = site.replace("http://", "http://reader:s3cr%40t@")
    masked = site.replace("http://", "http://<redacted>@")

    added = await ingest(bot, admin, f"/ingest {with_password}/desert.html")
    failed = await ingest(bot, admin, f"/ingest {with_password}/broken")

    [desert] = library_of(bot).articles()
    assert added["text"] == (
        f"✅ {masked}/desert.html\nAdded a new article:\n{desert.article_id}  沙漠温室计划  (1 chunk, added)"
    )
    assert failed["text"] == (
        f"❌ {masked}/broken\n{site}/broken answered HTTP 500 Internal Server Error.\n{UNCHANGED}"
    )
    shown = history(bot, added) + history(bot, failed)
    assert len(shown) > 4 and all(text.startswith(("⏳", "✅", "❌")) for text in shown)
    assert not any("reader" in text or "s3cr" in text for text in shown)  # nor in any progress edit


async def test_a_changed_upload_replaces_the_article_and_only_the_new_fact_is_cited(make_bot, admin, bob):
    bot = await make_bot()
    library = library_of(bot)
    chat = bot.api.private_chat(bob)
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    [first] = library.articles()
    before = await bot.ask(chat, bob, FARM_Q)

    changed = FARM.replace("二十四个网箱", "三十六个网箱").encode("gbk")
    replaced = await upload(bot, admin, "farm.txt", changed)
    after = await bot.ask(chat, bob, FARM_Q)
    bot.api.press(after, bob)  # 📖 Sources: the quoted passages
    quotes = await edited(bot, after)
    again = await upload(bot, admin, "farm.txt", changed)
    [second] = library.articles()

    assert "二十四个网箱" in before["text"]
    assert replaced["text"] == (
        f"✅ farm.txt\nReplaced the older version:\n{first.article_id}  深海养殖场  (2 chunks, "
        f"replaced version {first.version} of {first.ingested_at})"
    )
    assert "三十六个网箱" in after["text"] and "二十四" not in after["text"]
    assert "养殖场共有三十六个网箱。" in quotes["text"] and "二十四" not in quotes["text"]
    assert again["text"] == (
        f"✅ farm.txt\nUnchanged since the last time, nothing to do:\n{first.article_id}  深海养殖场  "
        "(2 chunks, unchanged, skipped)"
    )
    assert second.article_id == first.article_id
    assert library.store.chunk_count() == second.chunk_count  # no duplicate chunks


async def test_another_file_or_page_with_the_same_title_is_a_new_article_and_the_admin_is_told(
    make_hashed_bot, site, admin
):
    """Only the same source replaces: an upload's file name, a page's URL; never the title."""
    bot = await make_hashed_bot(ALLOW_PRIVATE_URLS=True)
    library = library_of(bot)
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    [farm] = library.articles()
    by_caption = await upload(bot, admin, "notes.md", FARM.replace("二十四", "四十八").encode(), caption="深海养殖场")
    first_page = await ingest(bot, admin, f"/ingest {site}/news/1.html")
    second_page = await ingest(bot, admin, f"/ingest {site}/news/2.html")
    first_again = await ingest(bot, admin, f"/ingest {site}/news/1.html")

    notes = next(r for r in library.articles() if r.source == "notes.md")
    news = {r.source: r for r in library.articles() if r.title == "Daily Planet"}
    one, two = news[f"{site}/news/1.html"], news[f"{site}/news/2.html"]
    assert by_caption["text"] == (
        f"✅ notes.md\nAdded a new article:\n{notes.article_id}  深海养殖场  ({notes.chunk_count} chunks, "
        f"added; another article is also titled “深海养殖场” (id {farm.article_id}))"
    )
    assert library.article(farm.article_id) == farm  # untouched
    assert first_page["text"].endswith(f"{one.article_id}  Daily Planet  (1 chunk, added)")
    assert second_page["text"] == (
        f"✅ {site}/news/2.html\nAdded a new article:\n{two.article_id}  Daily Planet  (1 chunk, "
        f"added; another article is also titled “Daily Planet” (id {one.article_id}))"
    )
    assert first_again["text"].startswith(f"✅ {site}/news/1.html\nUnchanged since the last time")
    assert len(library.articles()) == 4


async def test_a_question_during_a_long_ingest_is_answered_before_the_ingest_ends(make_bot, admin, bob):
    bot = await make_bot()
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    big = bot.api.upload(bot.api.private_chat(admin), admin, "polar.txt", POLAR.encode())
    [status] = await bot.api.wait_for(lambda: bot.api.replies_to(big))
    await bot.api.wait_for(lambda: "Embedding" in bot.api.messages[admin["id"], status["message_id"]]["text"])

    answer = await bot.ask(bot.api.private_chat(bob), bob, FARM_Q)
    status_meanwhile = bot.api.messages[admin["id"], status["message_id"]]["text"]
    done = await outcome(bot, big, timeout=120)

    assert "二十四个网箱" in answer["text"]
    assert re.fullmatch(r"⏳ polar\.txt\nEmbedding \d+/\d+ \(chunks, then their sentences\)…", status_meanwhile)
    assert done["text"].startswith("✅ polar.txt\nAdded a new article:\npolar-")


# -- looking after the articles ---------------------------------------------------------------


async def test_admin_lists_ids_sees_stats_reindexes_and_removes_after_confirming(make_bot, admin, bob):
    bot = await make_bot()
    chat = bot.api.private_chat(admin)
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    [farm] = library_of(bot).articles()
    await bot.ask(bot.api.private_chat(bob), bob, FARM_Q)
    await bot.ask(bot.api.private_chat(bob), bob, "火星基地在哪里?")
    today = datetime.now(UTC).date().isoformat()

    listed = await command(bot, admin, "/articles")
    stats = await command(bot, admin, "/stats")
    reindexing = bot.api.send(chat, admin, "/reindex")
    reindexed = await outcome(bot, reindexing)
    confirm = await command(bot, admin, f"/remove {farm.article_id}")
    bot.api.press(confirm, admin, button=1)
    kept = await edited(bot, confirm)
    still = await bot.ask(bot.api.private_chat(bob), bob, FARM_Q)
    second_confirm = await command(bot, admin, f"/remove {farm.article_id}")
    bot.api.press(second_confirm, admin, button=0)
    removed = await edited(bot, second_confirm)
    gone = await bot.ask(bot.api.private_chat(bob), bob, FARM_Q)
    unknown = await command(bot, admin, f"/remove {farm.article_id}")
    help_text = await command(bot, admin, "/help")

    assert listed["text"] == f"Articles (1, 2 chunks):\n1. 深海养殖场\n{farm.article_id}, 2 chunks, added {today}"
    assert re.fullmatch(
        r"Since start\nArticles: 1 \(2 chunks\)\nQuestions answered: 1\nRefused: 1\nMedian latency: \d+ ms",
        stats["text"],
    ), stats["text"]
    assert reindexed["text"] == f"✅ Re-embedded 2 chunks with {library_of(bot).model_name}."
    assert [b["text"] for b in confirm["reply_markup"]["inline_keyboard"][0]] == ["🗑 Remove", "Keep it"]
    assert confirm["text"] == (
        f"Remove 深海养殖场 ({farm.article_id}, 2 chunks)? Questions about it will no longer be answered."
    )
    assert kept["text"] == f"Kept 深海养殖场 ({farm.article_id})." and "reply_markup" not in kept
    assert "二十四个网箱" in still["text"]
    assert removed["text"] == f"🗑 Removed 深海养殖场 ({farm.article_id})." and "reply_markup" not in removed
    assert gone["text"].startswith("我知道的文章里没有涉及")
    assert unknown["text"] == f"No article has the id {farm.article_id}. /articles shows the ids."
    assert "Admin commands\n/ingest URL [title]: add a web page as an article" in help_text["text"]
    assert library_of(bot).articles() == []


async def test_admin_exports_the_articles_as_a_document_that_imports_into_another_store(
    make_bot, admin, tmp_path, embeddings
):
    bot = await make_bot()
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    await upload(bot, admin, "desert.html", DESERT_HTML.encode())
    request = bot.api.send(bot.api.private_chat(admin), admin, "/export")
    [done] = await bot.api.wait_for(
        lambda: [m for m in bot.api.replies_to(request) if m.get("text", "").startswith("✅")], timeout=60
    )
    [status, document] = bot.api.replies_to(request)
    name = document["document"]["file_name"]
    archive = tmp_path / name
    archive.write_bytes(bot.api.file_content(document["document"]["file_id"]))
    moved = build(
        make_settings(tmp_path / "moved", ARTICLEBOT_SEED_CORPUS=False), embeddings=embeddings, generator=None
    )

    summary = moved.library.import_archive(archive)

    farm, desert = library_of(bot).articles()
    chunks = farm.chunk_count + desert.chunk_count
    assert re.fullmatch(r"articlebot-\d{8}-\d{6}\.zip", name)
    assert document["caption"] == f"Articles: 2 ({chunks} chunks)"
    assert status == done and re.fullmatch(
        rf"✅ Exported every article: 2 \({chunks} chunks, \d+ KB\), in {re.escape(name)} below\.\n"
        rf"articlebot import {re.escape(name)} restores them, here or in another data dir\.",
        done["text"],
    ), done["text"]
    assert [r.status for r in summary.results] == ["new", "new"]
    assert unversioned(moved.library.articles()) == unversioned([farm, desert])
    here, there = bot.application.bot_data.engine.answer(FARM_Q), moved.engine.answer(FARM_Q)
    assert "二十四个网箱" in there.text
    assert there.text == here.text
    assert [dataclasses.replace(c, version="") for c in there.citations] == [
        dataclasses.replace(c, version="") for c in here.citations
    ]


async def test_non_admins_are_refused_politely_and_nothing_changes(make_hashed_bot, site, admin, bob):
    bot = await make_hashed_bot(ALLOW_PRIVATE_URLS=True)
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    [farm] = library_of(bot).articles()
    before = snapshot(library_of(bot))
    private = bot.api.private_chat(bob)
    group = bot.api.group_chat(-4100, "Editors")

    bot.api.upload(private, bob, "farm.txt", FARM.replace("二十四", "九十九").encode("gbk"))
    [upload_reply] = await bot.api.wait_for(lambda: bot.api.bot_messages(private["id"]))
    replies = [
        await command(bot, bob, text)
        for text in (f"/remove {farm.article_id}", f"/ingest {site}/desert.html", "/reindex", "/export", "/stats")
    ]
    in_group = await command(bot, bob, "/remove@articlebot_test_bot " + farm.article_id, chat=group)
    admins_confirm = await command(bot, admin, f"/remove@articlebot_test_bot {farm.article_id}", chat=group)
    press = bot.api.press(admins_confirm, bob, button=0)
    await bot.api.wait_for(lambda: press in bot.api.callback_answers)
    bobs_list = await command(bot, bob, "/articles")
    li = bot.api.user(4003, "丽", "zh-hans")
    li_reply = await command(bot, li, "/reindex")
    await bot.api.settle()

    assert upload_reply["text"] == REFUSAL
    assert [r["text"] for r in replies] == [REFUSAL] * 5
    assert li_reply["text"] == "抱歉,只有机器人的管理员可以这样做(管理文章、查看统计和反馈)。你仍然可以就文章向我提问。"
    assert bot.api.calls_to("sendDocument") == []
    assert in_group["text"] == REFUSAL
    assert bot.api.callback_answers[press]["text"] == REFUSAL and bot.api.callback_answers[press]["show_alert"]
    assert bot.api.messages[group["id"], admins_confirm["message_id"]]["text"].startswith("Remove 深海养殖场")
    assert farm.article_id not in bobs_list["text"] and "深海养殖场" in bobs_list["text"]
    assert [c.params["file_id"] for c in bot.api.calls_to("getFile")] == ["doc1"]  # the admin's file only
    assert snapshot(library_of(bot)) == before


# -- bad input ---------------------------------------------------------------------------------


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=300, height=300)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_bad_files_and_failing_urls_get_one_message_and_the_store_is_unchanged(make_hashed_bot, site, admin):
    bot = await make_hashed_bot(ALLOW_PRIVATE_URLS=True, MAX_SOURCE_BYTES=20_000)
    await upload(bot, admin, "farm.txt", FARM.encode("gbk"))
    before = snapshot(library_of(bot))
    closed = f"http://127.0.0.1:{free_port()}/gone.html"

    files = [
        await upload(bot, admin, "garbage.txt", bytes(range(256)) * 8),
        await upload(bot, admin, "farm.txt", b"\x8b\x1f" + bytes(range(1, 255)) * 9),
        await upload(bot, admin, "scan.pdf", blank_pdf()),
        await upload(bot, admin, "huge.txt", FARM.encode() * 100),
        await upload(bot, admin, "slides.pptx", b"PK\x03\x04"),
    ]
    urls = [
        await ingest(bot, admin, f"/ingest {site}/broken"),
        await ingest(bot, admin, f"/ingest {site}/logo.png"),
        await ingest(bot, admin, f"/ingest {site}/cut-off.html"),
        await ingest(bot, admin, f"/ingest {closed}"),
    ]

    assert [f["text"] for f in files] == [
        f"❌ garbage.txt\ngarbage.txt is not a text file (it contains binary data).\n{UNCHANGED}",
        f"❌ farm.txt\nCannot tell the text encoding of farm.txt; save it as UTF-8.\n{UNCHANGED}",
        f"❌ scan.pdf\nscan.pdf has no text layer (a scanned or image-only PDF?).\n{UNCHANGED}",
        f"❌ huge.txt\nhuge.txt is larger than the limit of 20,000 bytes.\n{UNCHANGED}",
        "❌ slides.pptx\nCannot read slides.pptx: supported file types are .docx, .htm, .html, .markdown, .md, "
        f".pdf, .text, .txt.\n{UNCHANGED}",
    ]
    assert [u["text"] for u in urls] == [
        f"❌ {site}/broken\n{site}/broken answered HTTP 500 Internal Server Error.\n{UNCHANGED}",
        f"❌ {site}/logo.png\n{site}/logo.png is image/png, not a web page, text or PDF.\n{UNCHANGED}",
        f"❌ {site}/cut-off.html\nCannot fetch {site}/cut-off.html: the transfer failed (RemoteProtocolError)."
        f"\n{UNCHANGED}",
        f"❌ {closed}\nCannot fetch {closed}: cannot connect to the server.\n{UNCHANGED}",
    ]
    downloaded = [c.params["file_id"] for c in bot.api.calls_to("getFile")]
    assert "doc5" not in downloaded and "doc6" not in downloaded  # too big, wrong type: never fetched
    assert snapshot(library_of(bot)) == before


async def test_failure_reasons_are_in_the_admins_language(make_hashed_bot, site, admin):
    """The same failures for an admin whose Telegram speaks Chinese: all Chinese, but for
    file names, file types and numbers; in English the CLI's sentence."""
    bot = await make_hashed_bot(ALLOW_PRIVATE_URLS=True, MAX_SOURCE_BYTES=20_000, MAX_CHUNKS_PER_ARTICLE=5)
    zh_admin = bot.api.user(ADMIN_ID, "Ada", "zh-hans")
    page = b"<html><body><p>A web page saved under the wrong name.</p></body></html>"
    bad_files = [("report.pdf", page), ("slides.pptx", b"PK\x03\x04"), ("huge.txt", FARM.encode() * 100)]

    zh = [await upload(bot, zh_admin, name, content) for name, content in bad_files]
    polar = "\n\n".join(POLAR.split("\n\n")[:41])  # 14 chunks, 6 kB
    zh.append(await upload(bot, zh_admin, "polar.txt", polar.encode()))
    en = [await upload(bot, admin, name, content) for name, content in bad_files]
    zh_url = await ingest(bot, zh_admin, f"/ingest {site}/broken")

    kept = "文章没有任何改动。"
    assert [z["text"] for z in zh] == [
        f"❌ report.pdf\nreport.pdf 已损坏或格式不对,无法读取。\n{kept}",
        "❌ slides.pptx\n无法读取 slides.pptx:支持的文件类型是 .docx, .htm, .html, .markdown, .md, .pdf, .text, "
        f".txt。\n{kept}",
        f"❌ huge.txt\nhuge.txt 超过了 20,000 字节的大小上限。\n{kept}",
        "❌ polar.txt\n“极地观测网”太长了:会切成超过 5 个片段,超出每篇文章的上限(MAX_CHUNKS_PER_ARTICLE),"
        f"索引也会很慢。请把它拆成几篇文章,或者调高上限。\n{kept}",
    ]
    for reply in zh[:3]:  # no English word but the file's name and the file types
        assert not re.search(r"[A-Za-z]", re.sub(r"[\w-]*\.[a-z]+", "", reply["text"])), reply["text"]
    assert zh_url["text"] == f"❌ {site}/broken\n{site}/broken 返回了错误 HTTP 500。\n{kept}"
    assert [e["text"] for e in en] == [
        f"❌ report.pdf\nreport.pdf is not a readable PDF (PdfStreamError).\n{UNCHANGED}",
        "❌ slides.pptx\nCannot read slides.pptx: supported file types are .docx, .htm, .html, .markdown, .md, "
        f".pdf, .text, .txt.\n{UNCHANGED}",
        f"❌ huge.txt\nhuge.txt is larger than the limit of 20,000 bytes.\n{UNCHANGED}",
    ]
    assert library_of(bot).articles() == []


async def test_a_one_chunk_article_is_one_chunk_in_every_reply(make_hashed_bot, admin):
    bot = await make_hashed_bot()
    added = await upload(bot, admin, "moon.txt", "月球图书馆\n\n月球图书馆收藏了三千本纸质书。".encode())
    [moon] = library_of(bot).articles()
    listed = await command(bot, admin, "/articles")
    stats = await command(bot, admin, "/stats")
    reindexed = await outcome(bot, bot.api.send(bot.api.private_chat(admin), admin, "/reindex"))
    confirm = await command(bot, admin, f"/remove {moon.article_id}")
    today = datetime.now(UTC).date().isoformat()

    assert added["text"] == f"✅ moon.txt\nAdded a new article:\n{moon.article_id}  月球图书馆  (1 chunk, added)"
    assert listed["text"] == f"Articles (1, 1 chunk):\n1. 月球图书馆\n{moon.article_id}, 1 chunk, added {today}"
    assert "\nArticles: 1 (1 chunk)\n" in stats["text"]
    assert reindexed["text"] == f"✅ Re-embedded 1 chunk with {library_of(bot).model_name}."
    assert confirm["text"] == (
        f"Remove 月球图书馆 ({moon.article_id}, 1 chunk)? Questions about it will no longer be answered."
    )


async def test_private_addresses_local_paths_and_files_telegram_keeps_are_refused(make_hashed_bot, site, admin):
    bot = await make_hashed_bot(MAX_SOURCE_BYTES=30_000_000)  # over the 20 MB bots may download

    results = [
        await ingest(bot, admin, f"/ingest {site}/desert.html"),
        await ingest(bot, admin, "/ingest /etc/passwd"),
        await ingest(bot, admin, "/ingest file:///etc/passwd"),
    ]
    usage = await command(bot, admin, "/ingest")
    too_big = await upload(bot, admin, "archive.txt", b"x" * 21 * 1024 * 1024)

    assert [r["text"] for r in results] == [
        f"❌ {site}/desert.html\n127.0.0.1 is a private or local address (127.0.0.1); "
        f"set ALLOW_PRIVATE_URLS=true to ingest from it.\n{UNCHANGED}",
        f"❌ /etc/passwd\nOnly http(s) URLs can be ingested, not /etc/passwd.\n{UNCHANGED}",
        f"❌ file:///etc/passwd\nOnly http(s) URLs can be ingested, not file:///etc/passwd.\n{UNCHANGED}",
    ]
    assert too_big["text"] == (
        "❌ archive.txt\nTelegram did not let me download the file (File is too big).\nThe articles are unchanged."
    )
    assert usage["text"].startswith("Put an http(s) URL after the command, e.g. /ingest https://example.com/post.html")
    assert library_of(bot).articles() == []


async def test_an_ingest_that_crashes_midway_says_so_and_the_old_version_stays(make_bot, tmp_path, embeddings, admin):
    # A store with the article in it, then a bot whose chunking is misconfigured (an
    # overlap longer than the chunks): its ingests crash after downloading and cleaning.
    settings = make_settings(tmp_path / "data", ARTICLEBOT_SEED_CORPUS=False)
    build(settings, embeddings=embeddings, generator=None).library.ingest_bytes(FARM.encode("gbk"), "farm.txt")
    bot = await make_bot(CHUNK_SIZE=50, CHUNK_OVERLAP=80)
    before = snapshot(library_of(bot))

    crashed = await upload(bot, admin, "farm.txt", FARM.replace("二十四个网箱", "三十六个网箱").encode("gbk"))
    answer = await bot.ask(bot.api.private_chat(admin), admin, FARM_Q)

    assert crashed["text"] == (
        "❌ farm.txt\nThe ingest failed midway (an error on my side, now in the log). "
        "Nothing was lost: the articles are as before. Send it again to retry."
    )
    assert "二十四个网箱" in answer["text"]
    assert snapshot(library_of(bot)) == before
