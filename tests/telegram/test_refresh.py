"""Web pages kept current from Telegram, and answers whose citations link to the page.

The real Application polls the local Bot API, over an engine with its own empty store;
the page is served from 127.0.0.1 (tests/pages.py) and changes between fetches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from tests.pages import ChangingSite, html_page
from tests.telegram.conftest import Bot
from tests.telegram.test_admin import FARM, FARM_Q, REFUSAL, command, ingest, library_of, outcome, upload
from tests.test_refresh import AFTER, BEFORE, QUESTION, TITLE

NOT_MODIFIED = "(unchanged: not modified since the last fetch)"


@pytest.fixture
def site() -> Iterator[ChangingSite]:
    page = ChangingSite(html_page(TITLE, BEFORE)).start()
    yield page
    page.stop()


async def refresh(bot: Bot, user: dict, text: str = "/refresh") -> dict[str, Any]:
    """An admin's /refresh: the status message once it shows how the refresh ended."""
    return await outcome(bot, bot.api.send(bot.api.private_chat(user), user, text))


async def test_admins_refresh_now_and_everybody_else_is_refused(make_bot, site, admin, bob):
    bot = await make_bot(ALLOW_PRIVATE_URLS=True)
    assert not bot.application.job_queue.jobs()  # REFRESH_INTERVAL is off by default
    nothing = await command(bot, admin, "/refresh")
    assert nothing["text"] == "No article comes from a web page, so there is nothing to refresh."
    await ingest(bot, admin, f"/ingest {site.url}")
    [article] = library_of(bot).articles()
    fetches = len(site.requests)

    refused = await command(bot, bob, "/refresh")
    assert refused["text"] == REFUSAL and len(site.requests) == fetches

    unchanged = await refresh(bot, admin)
    assert unchanged["text"] == (
        "Web pages fetched again (1): 0 replaced, 1 unchanged, 0 not fetched (their old versions stay).\n"
        f"✅ {article.article_id}  {TITLE}  {NOT_MODIFIED}"
    )
    assert site.statuses[-1] == 304

    site.change(html_page(TITLE, AFTER))
    replaced = await refresh(bot, admin, f"/refresh {article.article_id}")
    assert replaced["text"].startswith("Web pages fetched again (1): 1 replaced, 0 unchanged, 0 not fetched")
    assert f"🔄 {article.article_id}  {TITLE}  (1 chunk, replaced version {article.version}" in replaced["text"]
    answer = await bot.ask(bot.api.private_chat(bob), bob, QUESTION)
    assert "一万五千辆" in answer["text"] and "八千" not in answer["text"]

    site.stop()
    failed = await refresh(bot, admin)
    assert failed["text"].endswith(
        f"❌ {article.article_id}  {TITLE}  (not refreshed, the old version stays: "
        f"Cannot fetch {site.url}: cannot connect to the server.)"
    )
    answer = await bot.ask(bot.api.private_chat(bob), bob, QUESTION)
    assert "一万五千辆" in answer["text"]

    await upload(bot, admin, "farm.txt", FARM.encode())
    farm = next(r for r in library_of(bot).articles() if r.title == "深海养殖场")
    not_web = await command(bot, admin, f"/refresh {farm.article_id}")
    assert not_web["text"] == (
        f"Article {farm.article_id} comes from a file, not a web page: send the file again to update it."
    )
    unknown = await command(bot, admin, "/refresh no-such-id")
    assert unknown["text"] == "No article has the id no-such-id. /articles shows the ids."


async def test_the_scheduled_refresh_tells_the_admins_only_when_something_changed_or_failed(make_bot, site, admin, bob):
    bot = await make_bot(ALLOW_PRIVATE_URLS=True, REFRESH_INTERVAL="1s")
    assert [job.name for job in bot.application.job_queue.jobs()] == ["refresh"]
    admin_chat, bob_chat = bot.api.private_chat(admin), bot.api.private_chat(bob)
    bot.api.send(bob_chat, bob, "/start")  # Bob has a chat with the bot too, but is no admin
    await ingest(bot, admin, f"/ingest {site.url}")
    [article] = library_of(bot).articles()
    admin_seen, bob_seen = len(bot.api.bot_messages(admin_chat["id"])), len(bot.api.bot_messages(bob_chat["id"]))

    # Unchanged runs say nothing.
    await bot.api.wait_for(lambda: site.statuses.count(304) >= 3, timeout=30)
    assert len(bot.api.bot_messages(admin_chat["id"])) == admin_seen

    # A changed page: the admins hear of it, once per run that changed something.
    site.change(html_page(TITLE, AFTER))
    [changed] = await bot.api.wait_for(lambda: bot.api.bot_messages(admin_chat["id"])[admin_seen:], timeout=30)
    assert changed["text"].startswith(
        "Scheduled refresh of the web pages (1): 1 replaced, 0 not fetched (their old versions stay), 0 unchanged.\n"
        f"🔄 {article.article_id}  {TITLE}  (1 chunk, replaced version {article.version}"
    )
    answer = await bot.ask(bob_chat, bob, QUESTION)
    assert "一万五千辆" in answer["text"]
    await bot.api.wait_for(lambda: site.statuses[-2:] == [304, 304], timeout=30)  # unchanged again since
    assert len(bot.api.bot_messages(admin_chat["id"])) == admin_seen + 1

    # The page is down: the admins hear of it; the article stays answerable.
    site.stop()
    failed = await bot.api.wait_for(lambda: bot.api.bot_messages(admin_chat["id"])[admin_seen + 1 :], timeout=30)
    assert failed[0]["text"] == (
        "Scheduled refresh of the web pages (1): 0 replaced, 1 not fetched (their old versions stay), 0 unchanged.\n"
        f"❌ {article.article_id}  {TITLE}  (not refreshed, the old version stays: "
        f"Cannot fetch {site.url}: cannot connect to the server.)"
    )
    assert "一万五千辆" in (await bot.ask(bob_chat, bob, QUESTION))["text"]
    bobs = bot.api.bot_messages(bob_chat["id"])[bob_seen:]
    assert not any("Scheduled refresh" in m["text"] for m in bobs)  # only answers


def links(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(linked text, URL) of each link in a message, as Telegram shows it."""
    text = message["text"]
    return [
        (text[e["offset"] : e["offset"] + e["length"]], e["url"])
        for e in message.get("entities", [])
        if e["type"] == "text_link"
    ]


async def test_a_citation_of_a_web_page_links_to_the_quoted_sentence_and_a_files_does_not(make_bot, site, admin, bob):
    bot = await make_bot(ALLOW_PRIVATE_URLS=True)
    await ingest(bot, admin, f"/ingest {site.url}")
    await upload(bot, admin, "farm.txt", FARM.encode())
    chat = bot.api.private_chat(bob)

    web_answer = await bot.ask(chat, bob, QUESTION)
    [(title, url)] = links(web_answer)
    assert title == TITLE and url.startswith(f"{site.url}#:~:text=")
    terms = [unquote(term) for term in url.split("#:~:text=")[1].split(",")]
    assert terms and all(term in site.html for term in terms)  # the quoted text, found on the page

    bot.api.press(web_answer, bob)  # the Sources view links the same way, above the quote
    key = (chat["id"], web_answer["message_id"])
    expanded = await bot.api.wait_for(lambda: bot.api.messages[key].get("edit_date") and bot.api.messages[key])
    assert links(expanded) == [(TITLE, url)]
    [quote] = [
        expanded["text"][e["offset"] : e["offset"] + e["length"]]
        for e in expanded["entities"]
        if e["type"] == "blockquote"
    ]
    assert "八千辆" in quote and quote.startswith(terms[0]) and quote.endswith(terms[-1])

    farm_answer = await bot.ask(chat, bob, FARM_Q)
    assert "二十四个网箱" in farm_answer["text"] and links(farm_answer) == []
