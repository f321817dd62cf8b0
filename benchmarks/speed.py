"""Speed on this machine, in one table: ingest and its floor, the plain LangChain pipeline,
query latency in-process and through the bot, peak memory, start-up to first answer; with
--scale, how the main figures grow with the corpus.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/speed.py [--questions N] [--passages N]
        [--skip-plain] [--skip-bot] [--fresh-only] [--only-ask] [--scale]

- ingest: the 256 CMRC 2018 trial passages, one article each, through `Library.ingest_many`
  (cleaning, chunking, embedding, Chroma) into a temporary embedded store;
- floor: the same chunks' texts embedded in one call by the same embeddings object;
- plain: the textbook pipeline on the same chunks, `Chroma.from_documents` with LangChain's
  `HuggingFaceEmbeddings` (sentence-transformers, fp32) over the multilingual-e5-small
  checkpoint that `load_embeddings` builds;
- a fresh engine: the same passages ingested by one process, then a newly started process
  opens the store and asks one question of each passage, none asked before: its start-up
  (open the store, `Engine.prepare` as the bot does), the first question's latency, and
  p50/p95 of all (`Answer.latency_ms`) — what a restarted bot gives, with no warm-up —
  and that process's peak RSS (VmHWM);
- queries: the CMRC questions, in the process that ingested them (`Answer.latency_ms`);
- one-shot `articlebot ask` (the README's question, on a prepared store): wall time and
  peak RSS of the process, median of 3, next to the floor of any process of ours: Python
  importing onnxruntime, chromadb and tokenizers and loading jieba's dictionary;
- the bot, on the fresh engine's store, against the local Bot API server of the tests
  (tests/telegram/fake_botapi.py), asked the fresh engine's questions:
  - `articlebot serve` as a process: time from launching it to the answer of a question
    sent at launch, then 100 questions from 20 chats at once (sent -> answer accepted by
    the Bot API, Telegram's flood limit included), then its peak RSS (VmHWM);
  - the real Application (bot/telegram/app.py's builder, run as the tests run it), in a
    process of its own as `articlebot serve` runs it, with `HandOffs` as its rate limiter
    (the bot's own FloodLimiter, noting when each answer is handed to it): a first
    question, then 100 questions from 20 chats at once. Answer-ready latency: from the update handed to the bot (the Bot API's
    getUpdates answer) to its answer handed to the rate limiter, p50/p95; and delivery:
    the messages the Bot API accepted during the burst, per second from the first to the
    last, against Telegram's flood limit of 30/s, beside the rate answers were ready at
    (below 30/s the workload, not the limiter, sets the pace).

--scale measures, instead of the table above, ingest time, the fresh engine (start-up,
p50/p95, peak RSS of its process) and the bot (start-up to first answer, peak RSS,
answer-ready p95, delivery) on three corpora, one row each with its ratio to the first:
(a) the CMRC trial, (b) (a) + the XQuAD passages (--xquad; the two enctx_* files share one
English set and the two zhctx_* one Chinese set, each passage ingested once), (c) 10× (b),
(b)'s passages repeated under new titles (distinct articles). Questions: one of each
distinct passage (copies add none). It takes long (the 10× ingest alone is tens of
minutes on 2 cores): run it on a quiet machine. --passages N takes the first N passages of
each file, for a quick trial of the benchmark itself (not for figures).

Everything runs on temporary data dirs (never yours). Targets (issue 15; the ingest and
in-process ones from issue 6) are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.telegram.fake_botapi

from bot.evaluation import squad  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.telegram.app import FLOOD_RETRIES, FloodLimiter  # noqa: E402
from bot.wiring import Articlebot, build  # noqa: E402
from ingest.chunking import embedded_sentences  # noqa: E402
from vectorstore.embeddings import load_embeddings, resolve_model_path  # noqa: E402

SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent
BOT_CHATS, BOT_QUESTIONS = 20, 100
GNU_TIME = "/usr/bin/time"  # Debian package `time`
ASK_RUNS = 3
FLOOR = "import onnxruntime, chromadb, tokenizers, jieba; jieba.initialize()"
SCALE_COPIES = 10  # corpus (c): (b) this many times
# Telegram's flood limit, all chats together (AIORateLimiter's overall rate), and the
# share of it the bot should deliver when enough answers are queued.
FLOOD_LIMIT, FLOOD_SHARE = 30, 0.9
# Issue 15's targets for the bot.
TARGET_START_UP_S, TARGET_READY_P95_MS, TARGET_RSS_GB = 4.0, 300, 0.6


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def ingest(settings: Settings, embeddings, passages: list[squad.Passage]) -> tuple[Articlebot, float]:
    bot = build(settings.model_copy(update={"collection": "speed"}), embeddings=embeddings, generator=None)
    sources = [p.as_source() for p in passages]
    started = time.perf_counter()
    bot.library.ingest_many(sources)
    return bot, time.perf_counter() - started


def plain_pipeline(model_path: Path, chunks, directory: Path) -> float:
    """`Chroma.from_documents` with LangChain's sentence-transformers embeddings, fp32."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_community.embeddings import HuggingFaceEmbeddings

    plain = HuggingFaceEmbeddings(
        model_name=str(model_path),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "prompt": "passage: "},
    )
    plain.embed_documents(["预热"])  # load and warm up outside the timing, as for ours
    client = chromadb.PersistentClient(path=str(directory), settings=chromadb.Settings(anonymized_telemetry=False))
    started = time.perf_counter()
    Chroma.from_documents(
        chunks, plain, client=client, collection_name="plain", collection_metadata={"hnsw:space": "cosine"}
    )
    return time.perf_counter() - started


def run_process(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s) and peak RSS (MB) of one process run to its end.

    The peak comes from GNU time (`/usr/bin/time`), which forks the command from its own
    small process: a child forked from this benchmark keeps the benchmark's high-water mark
    in its `ru_maxrss` (Linux records the forked copy's at exec), over 1 GB after an ingest.
    """
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        process = subprocess.Popen(
            [GNU_TIME, "-f", "%M", "-o", peak.name, *command], env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{command} exited with {process.returncode}: {errors.read()[-2000:].decode()}")
        peak_kib = int(peak.read().split()[-1])
    return elapsed, usage.ru_utime + usage.ru_stime, peak_kib / 1024


def one_shot_ask(settings: Settings, data_dir: Path) -> list[tuple[str, str, str]]:
    """`articlebot ask` as a process on a prepared store, median of ASK_RUNS, beside the floor."""
    env = os.environ | {
        "ARTICLEBOT_DATA_DIR": str(data_dir),
        "ARTICLEBOT_MODELS_DIR": str(settings.models_dir),
        "HF_HUB_OFFLINE": "1",
    }
    run_process([str(BIN / "articlebot"), "prepare"], env)  # the model and the default article, once
    asks, floors = [], []
    for _ in range(ASK_RUNS):  # interleaved: both see the same load on a shared machine
        asks.append(run_process([str(BIN / "articlebot"), "ask", "Sora最长能生成多长的视频?"], env))
        floors.append(run_process([sys.executable, "-c", FLOOR], env))
    # CPU time as well: on a shared machine it depends less on what else runs.
    ask_s, ask_cpu, ask_mb = (statistics.median(run[i] for run in asks) for i in range(3))
    floor_s, floor_cpu = (statistics.median(run[i] for run in floors) for i in range(2))
    return [
        (
            f"one-shot `articlebot ask` (prepared store), median of {ASK_RUNS}",
            f"{ask_s:.1f} s ({ask_cpu:.1f} s CPU), peak RSS {ask_mb:.0f} MB",
            f"≤ 2× floor: {ask_s / floor_s:.2f}× ({ask_cpu / floor_cpu:.2f}× CPU)",
        ),
        (
            "floor: Python importing onnxruntime, chromadb, tokenizers; jieba.initialize()",
            f"{floor_s:.1f} s ({floor_cpu:.1f} s CPU)",
            "",
        ),
    ]


def vm_hwm_mb(pid: int | str = "self") -> float:
    """A process's peak RSS (VmHWM): its own, not a high-water mark inherited at fork."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


def _ingest_only(settings: Settings, passages: list[squad.Passage], results) -> None:
    """In a process of its own (which then exits, releasing the store): ingest the passages,
    timing the ingest itself (the model is loaded before)."""
    bot = build(settings, generator=None)
    started = time.perf_counter()
    ingested = bot.library.ingest_many([p.as_source() for p in passages])
    results.put({"ingest_s": time.perf_counter() - started, "chunks": sum(r.record.chunk_count for r in ingested)})


def _ask_fresh(settings: Settings, questions: list[str], results) -> None:
    """In a newly started process: open the store and ask each question once, timing each."""
    started = time.perf_counter()
    engine = build(settings, generator=None).engine
    engine.prepare()  # as `articlebot serve` does at start-up: a fixed cost, whatever is stored
    open_s = time.perf_counter() - started
    latencies = [engine.answer(q, max_chars=squad.SQUAD_ANSWER_CHARS).latency_ms for q in questions]
    results.put({"open_s": open_s, "latencies": latencies, "rss": vm_hwm_mb()})


def fresh_engine(settings: Settings, passages: list[squad.Passage], questions: list[str]) -> dict:
    """Ingest in one process (timed), then ask `questions` (never asked before) in a new one:
    its start-up, each question's latency, its peak RSS."""
    spawn = multiprocessing.get_context("spawn")  # a new interpreter: nothing loaded, nothing cached
    results = spawn.Queue()
    ingesting = spawn.Process(target=_ingest_only, args=(settings, passages, results))
    ingesting.start()
    ingested = results.get()
    ingesting.join()
    asking = spawn.Process(target=_ask_fresh, args=(settings, questions, results))
    asking.start()
    got = results.get()
    asking.join()
    return got | ingested


def store_env(settings: Settings) -> dict[str, str]:
    """The environment of an `articlebot` process on `settings`' store, running this checkout."""
    return os.environ | {
        "ARTICLEBOT_DATA_DIR": str(settings.data_dir),
        "ARTICLEBOT_COLLECTION": settings.collection,
        "ARTICLEBOT_SEED_CORPUS": "true" if settings.seed_default_corpus else "false",
        "ARTICLEBOT_MODELS_DIR": str(settings.models_dir),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def ask_at_once(api, questions: list[str]) -> list[dict]:
    """BOT_QUESTIONS of `questions` (in turn) from BOT_CHATS private chats, all sent now."""
    users = [api.user(100 + i, f"User {i}") for i in range(BOT_CHATS)]
    return [
        api.send(api.private_chat(users[n % BOT_CHATS]), users[n % BOT_CHATS], questions[n % len(questions)])
        for n in range(BOT_QUESTIONS)
    ]


async def through_the_bot(settings: Settings, questions: list[str]) -> dict[str, float]:
    """`articlebot serve` as a process on `settings`' (ingested) store: start-up to first
    answer, then BOT_QUESTIONS from BOT_CHATS at once (send to the answer accepted), then
    its peak RSS."""
    from tests.telegram.fake_botapi import TOKEN, FakeBotAPI

    api = FakeBotAPI()
    await api.start()
    env = store_env(settings) | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "TELEGRAM_FILE_URL": api.file_url,
    }
    started = time.monotonic()
    bot = await asyncio.create_subprocess_exec(
        str(BIN / "articlebot"),
        "serve",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        first_user = api.user(1, "First")
        first = api.send(api.private_chat(first_user), first_user, questions[0])
        await api.wait_for(lambda: api.replies_to(first), timeout=300)
        start_up = time.monotonic() - started

        asked = ask_at_once(api, questions)
        await api.wait_for(lambda: all(api.replies_to(m) for m in asked), timeout=600)
        answered_at = {
            (c.params["chat_id"], c.params.get("reply_parameters", {}).get("message_id")): c.at
            for c in api.calls_to("sendMessage", ok=True)  # the last (complete) reply to each
        }
        latencies = [
            (answered_at[m["chat"]["id"], m["message_id"]] - api.sent_at[m["chat"]["id"], m["message_id"]]) * 1000
            for m in asked
        ]
        rss = vm_hwm_mb(bot.pid)
    finally:
        bot.send_signal(signal.SIGINT)
        await asyncio.wait_for(bot.wait(), 30)
        await api.stop()
    return {"start_up_s": start_up, "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "rss": rss}


# What the bot hands to the rate limiter when an answer is ready (a generated answer's
# last edit completes it), and what Telegram then counts as messages delivered.
ANSWER_METHODS = ("sendMessage", "editMessageText")
DELIVERED = {"sendmessage", "editmessagetext", "editmessagereplymarkup", "senddocument"}


class HandOffs(FloodLimiter):
    """The bot's own rate limiter, noting when each answer is handed to it: the moment an
    answer is ready, before Telegram's flood limit may hold it back."""

    def __init__(self) -> None:
        super().__init__(max_retries=FLOOD_RETRIES)
        self.handed: list[tuple[float, str, int, int | None]] = []  # at, method, chat, question or edited message
        self.replying: dict[tuple[int, int], int] = {}  # (chat, bot message) -> the question it answers

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint not in ANSWER_METHODS:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        chat = int(data["chat_id"])
        reply = data.get("reply_parameters")
        if endpoint == "sendMessage":
            target = (
                None if reply is None else int(reply["message_id"] if isinstance(reply, dict) else reply.message_id)
            )
        else:
            target = int(data["message_id"])
        self.handed.append((time.monotonic(), endpoint, chat, target))
        result = await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        if endpoint == "sendMessage" and target is not None and isinstance(result, dict):
            self.replying[chat, int(result["message_id"])] = target
        return result

    def ready_at(self) -> dict[tuple[int, int], float]:
        """Per question (chat, message id): when its last answer message or edit was handed over."""
        ready: dict[tuple[int, int], float] = {}
        for at, endpoint, chat, target in self.handed:
            question = target if endpoint == "sendMessage" else self.replying.get((chat, target or 0))
            if question is not None:
                ready[chat, question] = max(at, ready.get((chat, question), at))
        return ready


def _application(settings: Settings, results, stop) -> None:
    """In a process of its own, as `articlebot serve` runs it (the builder loads and
    prepares the engine in post_init): the real Application with HandOffs as its rate
    limiter, polling until `stop` is set; then when each answer was handed over."""

    async def run() -> None:
        from bot.telegram.app import build_application
        from tests.telegram.conftest import running

        limiter = HandOffs()
        async with running(build_application(settings, rate_limiter=limiter)):
            await asyncio.to_thread(stop.wait)
        results.put({"ready": limiter.ready_at(), "handed": [at for at, *_ in limiter.handed]})

    asyncio.run(run())


async def answer_ready(settings: Settings, questions: list[str]) -> dict[str, float]:
    """The real Application (bot/telegram/app.py's builder, with HandOffs as its rate
    limiter) on `settings`' store, in a process of its own (sharing none of this one's
    event loop and interpreter lock with the Bot API server), polling the local Bot API
    server: a first question, then BOT_QUESTIONS from BOT_CHATS at once. Answer-ready
    latency (the update handed to the bot -> its answer handed to the rate limiter;
    time.monotonic() is one clock for all processes) and messages delivered per second
    during the burst."""
    from pydantic import SecretStr

    from tests.telegram.fake_botapi import FakeBotAPI

    api = FakeBotAPI()
    await api.start()
    telegram = {
        "telegram_bot_token": SecretStr(api.token),
        "telegram_api_url": api.base_url,
        "telegram_file_url": api.file_url,
    }
    spawn = multiprocessing.get_context("spawn")
    results, stop = spawn.Queue(), spawn.Event()
    bot = spawn.Process(target=_application, args=(settings.model_copy(update=telegram), results, stop))
    bot.start()
    try:
        first_user = api.user(1, "First")
        first = api.send(api.private_chat(first_user), first_user, questions[0])
        await api.wait_for(lambda: api.replies_to(first), timeout=300)
        burst = time.monotonic()
        asked = ask_at_once(api, questions)
        await api.wait_for(lambda: all(api.replies_to(m) for m in asked), timeout=600)
        await api.settle()  # the last parts and edits too
        stop.set()
        got = await asyncio.to_thread(results.get, True, 120)
    finally:
        stop.set()
        await asyncio.to_thread(bot.join, 60)
        if bot.is_alive():
            bot.terminate()
        await api.stop()
    ready = got["ready"]
    keys = [(m["chat"]["id"], m["message_id"]) for m in asked]
    latencies = [(ready[key] - api.handed_out_at[api.update_ids[key]]) * 1000 for key in keys]
    delivered = sorted(c.at for c in api.calls if c.ok and c.method in DELIVERED and c.at >= burst)
    handed = sorted(at for at in got["handed"] if at >= burst)
    return {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "delivered": len(delivered),
        "delivery_s": delivered[-1] - delivered[0],
        "per_s": len(delivered) / max(delivered[-1] - delivered[0], 1e-3),
        "ready_per_s": len(handed) / max(handed[-1] - handed[0], 1e-3),
    }


@dataclass(frozen=True)
class Corpus:
    name: str
    passages: list[squad.Passage]
    questions: list[str]  # the first of each distinct passage: none asked before


def first_questions(passages: list[squad.Passage], limit: int | None = None) -> list[str]:
    """One question of each distinct passage (copies of a passage add none)."""
    seen: set[str] = set()
    questions = []
    for passage in passages:
        if passage.text not in seen and passage.questions:
            questions.append(passage.questions[0].text)
        seen.add(passage.text)
    return questions[:limit]


def xquad_passages(directory: Path, limit: int | None = None) -> list[squad.Passage]:
    """The four XQuAD files' passages, each once (the first `limit` of each file): the two
    enctx_* files share one English set, the two zhctx_* one Chinese set, so a passage's
    questions are both files'. Keys get the context language: both sets number their
    paragraphs alike, and a key is an article's source (one would replace the other)."""
    by_text: dict[str, squad.Passage] = {}
    for path in sorted(directory.glob("xquad_*.json")):
        language = path.stem.split("_")[1]  # enctx / zhctx
        for passage in squad.read_squad(path, limit):
            known = by_text.get(passage.text)
            if known is None:
                by_text[passage.text] = replace(passage, key=f"xquad-{language}-{passage.key}")
            else:
                by_text[passage.text] = replace(known, questions=known.questions + passage.questions)
    return list(by_text.values())


def repeated(passages: list[squad.Passage], times: int) -> list[squad.Passage]:
    """`passages` and times - 1 copies, each copy a distinct article (its own key and title)."""
    copies = [
        replace(p, key=f"{p.key}-copy{n}", title=f"{p.title} (copy {n})") for n in range(2, times + 1) for p in passages
    ]
    return passages + copies


def scale_corpora(trial: list[squad.Passage], xquad: Path, limit: int | None, questions: int | None) -> list[Corpus]:
    """(a) the CMRC trial, (b) with the XQuAD passages, (c) SCALE_COPIES times (b)."""
    with_xquad = trial + xquad_passages(xquad, limit)
    copied = repeated(with_xquad, SCALE_COPIES)
    return [
        Corpus("(a) CMRC trial", trial, first_questions(trial, questions)),
        Corpus("(b) (a) + XQuAD", with_xquad, first_questions(with_xquad, questions)),
        Corpus(f"(c) {SCALE_COPIES}× (b)", copied, first_questions(copied, questions)),
    ]


def measure(settings: Settings, corpus: Corpus, with_bot: bool) -> dict:
    """A corpus's figures on a store of its own under `settings.data_dir`: `fresh_engine`,
    then (`with_bot`) `through_the_bot` and `answer_ready` on the same store."""
    say(f"{corpus.name}: ingesting {len(corpus.passages)} passages, then a fresh engine…")
    figures = fresh_engine(settings, corpus.passages, corpus.questions)
    if with_bot:
        say(f"{corpus.name}: the bot…")
        figures |= bot_figures(settings, corpus)
    return figures


def say(progress: str) -> None:
    """Progress of a long run, on stderr (the table goes to stdout)."""
    print(time.strftime("%H:%M:%S"), progress, file=sys.stderr, flush=True)


def bot_figures(settings: Settings, corpus: Corpus) -> dict:
    """`through_the_bot` then `answer_ready`, on `settings`' store."""
    return {
        "serve": asyncio.run(through_the_bot(settings, corpus.questions)),
        "ready": asyncio.run(answer_ready(settings, corpus.questions)),
    }


def bot_rows(corpus: Corpus, figures: dict) -> list[tuple[str, str, str]]:
    served, ready = figures["serve"], figures["ready"]
    limit = f"≥ {FLOOD_SHARE:.0%} of {FLOOD_LIMIT}/s: ≥ {FLOOD_SHARE * FLOOD_LIMIT:.0f}/s"
    if ready["per_s"] < FLOOD_SHARE * FLOOD_LIMIT and ready["ready_per_s"] < FLOOD_SHARE * FLOOD_LIMIT:
        limit += f" (not reachable here: answers were ready at only {ready['ready_per_s']:.1f}/s)"
    return [
        (
            f"bot start-up to first answer (`articlebot serve`, {len(corpus.passages)}-passage store)",
            f"{served['start_up_s']:.1f} s",
            f"≤ {TARGET_START_UP_S:g} s",
        ),
        (
            f"through `articlebot serve`: {BOT_QUESTIONS} questions from {BOT_CHATS} chats at once, "
            "sent -> answer accepted (flood limit included)",
            f"p50 {served['p50']:.0f} ms, p95 {served['p95']:.0f} ms",
            "all answered",
        ),
        ("peak RSS, the bot process (after the burst)", f"{served['rss']:.0f} MB", f"≤ {TARGET_RSS_GB} GB"),
        (
            f"answer ready (the Application, a process of its own): {BOT_QUESTIONS} questions from {BOT_CHATS} chats "
            "at once, update handed to the bot -> answer handed to the rate limiter",
            f"p50 {ready['p50']:.0f} ms, p95 {ready['p95']:.0f} ms",
            f"p95 ≤ {TARGET_READY_P95_MS} ms",
        ),
        (
            "delivered during that burst (messages the Bot API accepted, first to last)",
            f"{ready['delivered']} in {ready['delivery_s']:.2f} s: {ready['per_s']:.1f}/s "
            f"(answers ready at {ready['ready_per_s']:.1f}/s)",
            limit,
        ),
    ]


def scale_table(corpora: list[Corpus], results: list[dict], with_bot: bool) -> None:
    """One row per corpus, a column per measure, each with its ratio to the first corpus."""
    columns: list[tuple[str, Callable[[dict], float], str]] = [
        ("ingest", lambda f: f["ingest_s"], "{:.1f} s"),
        ("fresh engine start-up", lambda f: f["open_s"], "{:.1f} s"),
        ("fresh p50", lambda f: percentile(f["latencies"], 50), "{:.0f} ms"),
        ("fresh p95", lambda f: percentile(f["latencies"], 95), "{:.0f} ms"),
        ("asking process peak RSS", lambda f: f["rss"], "{:.0f} MB"),
    ]
    if with_bot:
        columns += [
            ("bot start-up to first answer", lambda f: f["serve"]["start_up_s"], "{:.1f} s"),
            ("bot peak RSS", lambda f: f["serve"]["rss"], "{:.0f} MB"),
            ("answer-ready p95", lambda f: f["ready"]["p95"], "{:.0f} ms"),
            ("delivered", lambda f: f["ready"]["per_s"], "{:.1f}/s"),
            ("answers ready at", lambda f: f["ready"]["ready_per_s"], "{:.1f}/s"),
        ]
    print(
        f"\nScale on this machine ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}; (×N): ratio to the first row\n"
    )
    print("| corpus | passages / chunks / questions | " + " | ".join(name for name, _, _ in columns) + " |")
    print("| --- " * (len(columns) + 2) + "|")
    base = results[0]
    for corpus, figures in zip(corpora, results, strict=True):
        size = f"{len(corpus.passages)} / {figures['chunks']} (×{figures['chunks'] / base['chunks']:.1f}) / {len(corpus.questions)}"
        cells = [f"{fmt.format(get(figures))} (×{get(figures) / get(base):.2f})" for _, get, fmt in columns]
        print(f"| {corpus.name} | {size} | " + " | ".join(cells) + " |")
    targets = [f"bot start-up ≤ {TARGET_START_UP_S:g} s", f"answer-ready p95 ≤ {TARGET_READY_P95_MS} ms"]
    targets += [f"delivery ≥ {FLOOD_SHARE * FLOOD_LIMIT:.0f}/s", f"bot peak RSS ≤ {TARGET_RSS_GB} GB"]
    print("\nTargets (issue 15): " + "; ".join(targets) + ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SHARED / "benchmarks" / "cmrc2018_trial.json")
    parser.add_argument("--xquad", type=Path, default=SHARED / "benchmarks" / "xquad", help="for --scale")
    parser.add_argument("--questions", type=int, default=None, help="only the first N CMRC questions")
    parser.add_argument(
        "--passages", type=int, default=None, help="only the first N passages of each file (small trial runs)"
    )
    parser.add_argument("--skip-plain", action="store_true", help="leave out the plain LangChain pipeline")
    parser.add_argument("--only-ask", action="store_true", help="only one-shot `articlebot ask` and its floor")
    parser.add_argument(
        "--skip-bot", action="store_true", help="leave out the bot (`articlebot serve`, the Application in-process)"
    )
    parser.add_argument("--fresh-only", action="store_true", help="only the fresh engine's figures")
    parser.add_argument(
        "--scale",
        action="store_true",
        help=f"the corpus-size table: CMRC trial, + XQuAD, {SCALE_COPIES}× that (long: run it on a quiet machine)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = Settings()
    if args.only_ask:
        with tempfile.TemporaryDirectory(prefix="articlebot-speed-") as name:
            print_table(one_shot_ask(base, Path(name) / "ask-data"))
        return
    passages = squad.read_squad(args.squad, args.passages)
    questions = [q.text for p in passages for q in p.questions][: args.questions]
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="articlebot-speed-") as name:
        tmp = Path(name)
        settings = base.model_copy(update={"data_dir": tmp / "data", "seed_default_corpus": False})
        if args.scale:
            corpora = scale_corpora(passages, args.xquad, args.passages, args.questions)
            results = []
            for n, corpus in enumerate(corpora):
                corpus_settings = settings.model_copy(update={"data_dir": tmp / f"scale-{n}", "collection": "speed"})
                results.append(measure(corpus_settings, corpus, with_bot=not args.skip_bot))
            scale_table(corpora, results, with_bot=not args.skip_bot)
            return
        # One question of each passage, none asked before, on an engine started after the ingest;
        # then the bot on that store.
        corpus = Corpus("CMRC trial", passages, first_questions(passages, args.questions))
        fresh_settings = settings.model_copy(update={"data_dir": tmp / "fresh", "collection": "speed"})
        fresh = fresh_engine(fresh_settings, corpus.passages, corpus.questions)
        rows.append(
            (
                f"fresh engine: start (open a {len(passages)}-passage store, prepare) / its first question",
                f"{fresh['open_s']:.1f} s / {fresh['latencies'][0]:.0f} ms",
                "first ≈ the rest",
            )
        )
        rows.append(
            (
                f"fresh engine: {len(corpus.questions)} never-asked questions (one a passage)",
                f"p50 {percentile(fresh['latencies'], 50):.0f} ms, p95 {percentile(fresh['latencies'], 95):.0f} ms",
                "p50 ≤ 25 ms, p95 ≤ 60 ms",
            )
        )
        rows.append(("peak RSS, the fresh engine's process", f"{fresh['rss']:.0f} MB", ""))
        if args.fresh_only:
            print_table(rows)
            return
        started = time.perf_counter()
        embeddings = load_embeddings(base.embedding_model, base.models_dir, backend=base.embedding_backend)
        embeddings.embed_documents(["预热"])
        load_s = time.perf_counter() - started

        bot, ingest_s = ingest(settings, embeddings, passages)
        engine = bot.engine
        chunks = engine.store.live_chunks()
        texts = [c.page_content for c in chunks]
        sentences = list(dict.fromkeys(t for c in chunks for t in embedded_sentences(c)))
        started = time.perf_counter()
        embeddings.embed_documents(texts)
        chunks_s = time.perf_counter() - started
        started = time.perf_counter()
        embeddings.embed_documents(sentences)
        floor_s = chunks_s + time.perf_counter() - started
        n = len(chunks)
        rows.append(
            (
                f"ingest, {len(passages)} CMRC passages ({n} chunks, {len(sentences)} sentences)",
                f"{ingest_s:.1f} s, {n / ingest_s:.1f} chunks/s",
                f"≤ 1.2× floor: {ingest_s / floor_s:.2f}×",
            )
        )
        rows.append(
            (
                "floor: raw embedding of the same chunks + their sentences, each text once",
                f"{chunks_s:.1f} s + {floor_s - chunks_s:.1f} s = {floor_s:.1f} s",
                "",
            )
        )

        latencies = [engine.answer(q, max_chars=squad.SQUAD_ANSWER_CHARS).latency_ms for q in questions]
        rows.append(
            (
                f"query latency in-process ({len(questions)} CMRC questions, after ingest, no warm-up)",
                f"p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms",
                "p50 ≤ 40 ms",
            )
        )
        rows.append(("model load", f"{load_s:.1f} s", ""))
        rows.append(
            (f"peak RSS, this process (model, {len(passages)}-passage store, queries)", f"{vm_hwm_mb():.0f} MB", "")
        )

        if not args.skip_plain:
            model_path = resolve_model_path(base.embedding_model, base.models_dir, lambda _m: None)
            plain_s = plain_pipeline(Path(model_path), chunks, tmp / "plain")
            rows.insert(
                2,
                (
                    "plain LangChain + sentence-transformers, fp32 (`Chroma.from_documents`)",
                    f"{plain_s:.1f} s, {n / plain_s:.1f} chunks/s",
                    f"ours no slower: {plain_s / ingest_s:.2f}× faster",
                ),
            )

        # The bot on the fresh engine's store (its processes have exited).
        if not args.skip_bot:
            rows.extend(bot_rows(corpus, bot_figures(fresh_settings, corpus)))
        asks = one_shot_ask(base, tmp / "ask-data")
    rows.extend(asks)
    print_table(rows)


def print_table(rows: list[tuple[str, str, str]]) -> None:
    print(f"\nSpeed on this machine ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}\n")
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")


if __name__ == "__main__":
    main()
