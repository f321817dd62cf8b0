"""articlebot against a real `chroma run` server: the article flow, several processes sharing
the server, a CLI ingest while the bot answers, a server restart, credentials and outages."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from bot.settings import Settings
from bot.wiring import Articlebot, build, open_client
from tests.conftest import make_settings
from tests.processes import (
    MARS,
    MARS_Q,
    MARS_V2,
    MOON,
    MOON_Q,
    AskProcess,
    articlebot,
    articlebot_env,
    free_port,
)
from vectorstore import compaction
from vectorstore import store as store_module
from vectorstore.errors import StoreUnavailableError
from vectorstore.store import STATE_TTL_S

TOKEN = "s3cret-token-0123456789"
OUTAGE = re.compile(
    r"The article store is unavailable \(cannot connect to the Chroma server at 127\.0\.0\.1:\d+\); "
    r"try again shortly\."
)


@pytest.fixture
def settings(tmp_path, chroma_server) -> Settings:
    return make_settings(
        tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=chroma_server.port, ARTICLEBOT_SEED_CORPUS=False
    )


def server_bot(settings: Settings, embeddings) -> Articlebot:
    """A bot over the server, sharing the session's loaded model."""
    return build(settings, embeddings=embeddings, generator=None)


@pytest.fixture
def on_server(settings, embeddings) -> Articlebot:
    return server_bot(settings, embeddings)


@pytest.fixture
def env(tmp_path, chroma_server) -> dict[str, str]:
    """The environment of another articlebot process using the same server."""
    return articlebot_env(tmp_path / "other-data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(chroma_server.port))


def settle() -> None:
    """Wait out how long a process may answer from its cached view of the others' changes."""
    time.sleep(STATE_TTL_S + 0.1)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_ingest_ask_replace_remove_through_the_server(on_server, settings, tmp_path):
    bot = on_server
    article = write(tmp_path, "mars.md", MARS)

    first = bot.library.ingest(str(article))
    answered = bot.engine.answer(MARS_Q)
    article.write_text(MARS_V2, encoding="utf-8")
    second = bot.library.ingest(str(article))
    replaced = bot.engine.answer(MARS_Q)
    stored = bot.library.store.chunk_collection.get(include=["metadatas"])
    removed = bot.library.remove(second.record.article_id)

    assert first.status == "new" and "十二名宇航员" in answered.text
    assert second.status == "replaced" and second.record.article_id == first.record.article_id
    assert "四十名宇航员" in replaced.text and "十二名" not in replaced.text
    assert {m["version"] for m in stored["metadatas"]} == {second.record.version}
    assert removed.article_id == first.record.article_id
    assert bot.library.articles() == [] and bot.library.store.chunk_collection.get()["ids"] == []
    assert bot.engine.answer(MARS_Q).refused
    assert not settings.chroma_dir.exists()  # nothing was written to an embedded store


@pytest.mark.model  # runs articlebot, which loads the model
def test_build_uses_the_server_and_seeds_it_once(settings):
    seeding = settings.model_copy(update={"seed_default_corpus": True})

    first = build(seeding)
    second = build(seeding.model_copy(update={"data_dir": settings.data_dir / "another"}))

    assert "60秒" in first.engine.answer("Sora最长能生成多长的视频?").text
    assert [r.title for r in second.library.articles()] == [r.title for r in first.library.articles()]
    assert len(second.library.articles()) == 1


def test_two_bot_processes_answer_from_one_server_and_see_each_others_changes(on_server, env, tmp_path):
    bot = on_server  # this process is one bot, `articlebot ask` the other
    article = write(tmp_path, "mars.md", MARS)
    record = bot.library.ingest(str(article)).record

    with AskProcess(env, tmp_path) as other:
        before = other.ask(MARS_Q)
        article.write_text(MARS_V2, encoding="utf-8")
        bot.library.ingest(str(article))
        settle()
        after_replace = other.ask(MARS_Q)
        bot.library.remove(record.article_id)
        settle()
        after_remove = other.ask(MARS_Q)

    assert "十二名宇航员" in before["answer"]
    # Its BM25 index was rebuilt from the server: no chunk of the old version comes back.
    assert "四十名宇航员" in after_replace["answer"] and "十二名" not in after_replace["answer"]
    assert all("十二名" not in c["quote"] for c in after_replace["citations"])
    assert after_remove["refused"] and after_remove["citations"] == [], after_remove


def test_a_cli_ingest_while_the_bot_answers(on_server, env, tmp_path):
    bot = on_server
    bot.library.ingest(str(write(tmp_path, "mars.md", MARS)))
    moon = write(tmp_path, "moon.md", MOON)
    answers, errors, stop = [], [], threading.Event()

    def keep_answering() -> None:
        while not stop.is_set():
            try:
                answers.append(bot.engine.answer(MARS_Q))
            except Exception as exc:  # noqa: BLE001 - any failure is the test's failure
                errors.append(exc)

    asker = threading.Thread(target=keep_answering)
    asker.start()
    try:
        ingested = articlebot("ingest", str(moon), env=env, cwd=tmp_path)
    finally:
        stop.set()
        asker.join()
    listed = articlebot("list", env=env, cwd=tmp_path)
    settle()
    moon_answer = bot.engine.answer(MOON_Q)

    assert ingested.returncode == 0, ingested.stderr
    assert "月球射电望远镜计划" in ingested.stdout and "added" in ingested.stdout
    assert errors == []
    assert len(answers) > 10 and all("十二名宇航员" in a.text for a in answers)
    assert "五公里" in moon_answer.text and moon_answer.citations[0].title == "月球射电望远镜计划"
    assert [line.split("  ")[1] for line in listed.stdout.splitlines()] == ["火星基地建设计划", "月球射电望远镜计划"]


def test_a_server_restart_is_reported_then_the_same_engine_recovers(on_server, chroma_server, tmp_path):
    bot = on_server
    bot.library.ingest(str(write(tmp_path, "mars.md", MARS)))
    bot.engine.answer(MARS_Q)

    chroma_server.stop()
    with pytest.raises(StoreUnavailableError) as during_answer:
        bot.engine.answer(MARS_Q)
    with pytest.raises(StoreUnavailableError) as during_list:
        bot.library.articles()
    chroma_server.start()  # same port, same path
    answer = bot.engine.answer(MARS_Q)

    assert OUTAGE.fullmatch(str(during_answer.value)), str(during_answer.value)
    assert OUTAGE.fullmatch(str(during_list.value))
    assert "十二名宇航员" in answer.text


@pytest.mark.model  # runs articlebot, which loads the model
def test_an_unreachable_server_fails_the_cli_in_one_line(tmp_path):
    env = articlebot_env(tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(free_port()))

    result = articlebot("list", env=env, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert OUTAGE.fullmatch(result.stderr.strip().removeprefix("Error: ")), result.stderr


# -- a deployment behind a gateway: credentials and outages ------------------------------


class Gateway(ThreadingHTTPServer):
    """A reverse proxy in front of the Chroma server, as nginx or an API gateway would be:
    it wants `Authorization: Bearer TOKEN`, answers plain-text 401 without it, and can be
    switched to answer 503 as a proxy does when its upstream is down."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.upstream = upstream
        self.down = False
        self.seen: list[dict[str, str]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]


class _GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(dict(self.headers))
        if self.server.down:
            return self._reply(503, b"<html><h1>503 Service Temporarily Unavailable</h1></html>", "text/html")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._reply(401, b"<html><h1>401 Authorization Required</h1></html>", "text/html")
        upstream = httpx.request(
            self.command,
            self.server.upstream + self.path,
            content=body,
            headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
        )
        self._reply(upstream.status_code, upstream.content, upstream.headers.get("Content-Type", "application/json"))

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def gateway(chroma_server):
    server = Gateway(chroma_server.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_token_and_headers_reach_the_server_on_every_request(gateway, tmp_path, embeddings):
    settings = make_settings(
        tmp_path / "data",
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=gateway.port,
        CHROMA_AUTH_TOKEN=TOKEN,
        CHROMA_HEADERS={"X-Team": "articles"},
        ARTICLEBOT_SEED_CORPUS=False,
    )
    bot = server_bot(settings, embeddings)

    bot.library.ingest(str(write(tmp_path, "mars.md", MARS)))
    answer = bot.engine.answer(MARS_Q)

    assert "十二名宇航员" in answer.text
    assert len(gateway.seen) > 5
    assert all(h["Authorization"] == f"Bearer {TOKEN}" and h["X-Team"] == "articles" for h in gateway.seen)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_refused_credentials_are_named_but_never_shown(gateway, tmp_path, token):
    settings = make_settings(
        tmp_path / "data", CHROMA_HOST="127.0.0.1", CHROMA_PORT=gateway.port, CHROMA_AUTH_TOKEN=token
    )

    with pytest.raises(StoreUnavailableError) as refused:
        open_client(settings)

    assert str(refused.value) == (
        f"The Chroma server at 127.0.0.1:{gateway.port} refused articlebot's credentials (HTTP 401); "
        "check CHROMA_AUTH_TOKEN and CHROMA_HEADERS."
    )


def test_a_gateway_outage_mid_session_is_reported_then_recovered(gateway, tmp_path, embeddings):
    settings = make_settings(
        tmp_path / "data",
        CHROMA_HOST="127.0.0.1",
        CHROMA_PORT=gateway.port,
        CHROMA_AUTH_TOKEN=TOKEN,
        ARTICLEBOT_SEED_CORPUS=False,
    )
    bot = server_bot(settings, embeddings)
    bot.library.ingest(str(write(tmp_path, "mars.md", MARS)))

    gateway.down = True
    with pytest.raises(StoreUnavailableError) as outage:
        bot.engine.answer(MARS_Q)
    gateway.down = False

    assert str(outage.value) == (
        f"The article store is unavailable (the Chroma server at 127.0.0.1:{gateway.port} answered HTTP 503); "
        "try again shortly."
    )
    assert TOKEN not in str(outage.value)
    assert "十二名宇航员" in bot.engine.answer(MARS_Q).text


def test_server_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CHROMA_HOST", "chroma.internal")
    monkeypatch.setenv("CHROMA_PORT", "8443")
    monkeypatch.setenv("CHROMA_SSL", "true")
    monkeypatch.setenv("CHROMA_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("CHROMA_HEADERS", '{"X-Team": "articles"}')

    settings = Settings(_env_file=None)

    assert (settings.chroma_host, settings.chroma_port, settings.chroma_ssl) == ("chroma.internal", 8443, True)
    assert settings.chroma_request_headers() == {"X-Team": "articles", "Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in repr(settings)


def test_a_token_and_an_authorization_header_together_are_refused(monkeypatch):
    monkeypatch.setenv("CHROMA_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("CHROMA_HEADERS", '{"Authorization": "Basic eDp5"}')

    with pytest.raises(ValueError, match="give CHROMA_AUTH_TOKEN or an Authorization header here, not both"):
        Settings(_env_file=None)


def test_a_url_host_with_credentials_is_named_without_them(tmp_path):
    port = free_port()
    settings = make_settings(tmp_path / "data", CHROMA_HOST=f"http://reader:{TOKEN}@127.0.0.1:{port}")

    with pytest.raises(StoreUnavailableError) as outage:
        open_client(settings)

    assert str(outage.value) == (
        f"The article store is unavailable (cannot connect to the Chroma server at 127.0.0.1:{port}); try again shortly."
    )


def test_a_switch_whose_change_count_was_lost_is_still_seen_within_the_full_read_interval(
    settings, embeddings, tmp_path, monkeypatch
):
    """A writer that died between switching an article live and counting the change (here:
    the count set back by hand) is seen at the next full read of the registry."""
    full_read_s = 6.0
    monkeypatch.setattr(store_module, "FULL_READ_S", full_read_s)
    reader, writer = server_bot(settings, embeddings), server_bot(settings, embeddings)
    writer.library.ingest(str(write(tmp_path, "moon.md", MOON)))
    counted = open_client(settings).get_collection(writer.library.store.live_collection.name).metadata
    assert reader.engine.answer(MARS_Q).refused  # the reader's view: the Moon article only

    writer.library.ingest(str(write(tmp_path, "mars.md", MARS)))
    writer.library.store.live_collection.modify(metadata=counted)
    time.sleep(full_read_s + STATE_TTL_S)

    assert "十二名宇航员" in reader.engine.answer(MARS_Q).text


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_only_an_embedded_store_compacts_and_a_server_keeps_another_processs_article(
    where, tmp_path, embeddings, env, settings, monkeypatch
):
    """Compaction copies the live records into new collections; on a server another process
    may be writing meanwhile (a real `articlebot ingest` here), so it must never run there."""
    monkeypatch.setattr(compaction, "COMPACT_MIN_RETIRED", 2)  # compact after a few replaces, not 100 chunks
    chosen = settings if where == "server" else make_settings(tmp_path / "embedded", ARTICLEBOT_SEED_CORPUS=False)
    bot = server_bot(chosen, embeddings)
    article = write(tmp_path, "mars.md", MARS)
    bot.library.ingest(str(article))
    if where == "server":
        assert articlebot("ingest", str(write(tmp_path, "moon.md", MOON)), env=env, cwd=tmp_path).returncode == 0
    for text in (MARS_V2, MARS, MARS_V2):  # each replace retires the article's chunks
        article.write_text(text, encoding="utf-8")
        bot.library.ingest(str(article))

    names = {c.name for c in bot.library.store.client.list_collections()}
    compacted = any(name.startswith("articles.") for name in names)  # a generation's collections
    assert compacted == (where == "embedded"), names
    assert "四十名宇航员" in bot.engine.answer(MARS_Q).text
    if where == "server":
        assert "五公里" in bot.engine.answer(MOON_Q).text  # the other process's article is whole
