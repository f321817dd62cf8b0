"""Speed on this machine, in one table: ingest and its floor, the plain LangChain pipeline,
query latency in-process and through the bot, peak memory, start-up to first answer.

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/speed.py [--questions N] [--only-ask]

- ingest: the 256 CMRC 2018 trial passages, one article each, through `Library.ingest_many`
  (cleaning, chunking, embedding, Chroma) into a temporary embedded store;
- floor: the same chunks' texts embedded in one call by the same embeddings object;
- plain: the textbook pipeline on the same chunks, `Chroma.from_documents` with LangChain's
  `HuggingFaceEmbeddings` (sentence-transformers, fp32) over the multilingual-e5-small
  checkpoint that `load_embeddings` builds;
- a fresh engine: the same passages ingested by one process, then a newly started process
  opens the store and asks one question of each passage, none asked before: its start-up
  (open the store, `Engine.prepare` as the bot does), the first question's latency, and p50/p95 of all (`Answer.latency_ms`) —
  what a restarted bot gives, with no warm-up;
- queries: the CMRC questions, in the process that ingested them (`Answer.latency_ms`);
- one-shot `articlebot ask` (the README's question, on a prepared store): wall time and
  peak RSS of the process, median of 3, next to the floor of any process of ours: Python
  importing onnxruntime, chromadb and tokenizers and loading jieba's dictionary;
- the bot: `articlebot serve` as a process against the local Bot API server of the tests
  (tests/telegram/fake_botapi.py) on a prepared store: time from launching it to the
  answer of a question sent at launch, then 100 questions from 20 chats at once, then its
  peak RSS (VmHWM).

Everything runs on temporary data dirs (never yours). Targets (issue 6) are printed beside
the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.telegram.fake_botapi

from bot.evaluation import question_sets, squad  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.wiring import Articlebot, build  # noqa: E402
from ingest.chunking import embedded_sentences  # noqa: E402
from vectorstore.embeddings import load_embeddings, resolve_model_path  # noqa: E402

SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent
BOT_CHATS, BOT_QUESTIONS = 20, 100
GNU_TIME = "/usr/bin/time"  # Debian package `time`
ASK_RUNS = 3
FLOOR = "import onnxruntime, chromadb, tokenizers, jieba; jieba.initialize()"


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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


def _ingest_only(settings: Settings, passages: list[squad.Passage]) -> None:
    """In a process of its own (which then exits, releasing the store): ingest the passages."""
    bot = build(settings, generator=None)
    bot.library.ingest_many([p.as_source() for p in passages])


def _ask_fresh(settings: Settings, questions: list[str], results) -> None:
    """In a newly started process: open the store and ask each question once, timing each."""
    started = time.perf_counter()
    engine = build(settings, generator=None).engine
    engine.prepare()  # as `articlebot serve` does at start-up: a fixed cost, whatever is stored
    open_s = time.perf_counter() - started
    latencies = [engine.answer(q, max_chars=squad.SQUAD_ANSWER_CHARS).latency_ms for q in questions]
    results.put({"open_s": open_s, "latencies": latencies})


def fresh_engine(settings: Settings, passages: list[squad.Passage], questions: list[str]) -> dict:
    """Ingest in one process, then ask `questions` (never asked before) in a new one."""
    spawn = multiprocessing.get_context("spawn")  # a new interpreter: nothing loaded, nothing cached
    ingesting = spawn.Process(target=_ingest_only, args=(settings, passages))
    ingesting.start()
    ingesting.join()
    results = spawn.Queue()
    asking = spawn.Process(target=_ask_fresh, args=(settings, questions, results))
    asking.start()
    got = results.get()
    asking.join()
    return got


async def through_the_bot(settings: Settings, data_dir: Path, questions: list[str]) -> dict[str, float]:
    """Start-up to first answer, then BOT_QUESTIONS from BOT_CHATS at once, then peak RSS."""
    from tests.telegram.fake_botapi import TOKEN, FakeBotAPI

    env = os.environ | {
        "ARTICLEBOT_DATA_DIR": str(data_dir),
        "ARTICLEBOT_MODELS_DIR": str(settings.models_dir),
        "HF_HUB_OFFLINE": "1",
    }
    prepared = await asyncio.create_subprocess_exec(
        str(BIN / "articlebot"),
        "prepare",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await prepared.wait()
    api = FakeBotAPI()
    await api.start()
    env |= {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api.base_url, "TELEGRAM_FILE_URL": api.file_url}
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
        await api.wait_for(lambda: api.replies_to(first), timeout=120)
        start_up = time.monotonic() - started

        users = [api.user(100 + i, f"User {i}") for i in range(BOT_CHATS)]
        asked = [
            api.send(api.private_chat(users[n % BOT_CHATS]), users[n % BOT_CHATS], questions[n % len(questions)])
            for n in range(BOT_QUESTIONS)
        ]
        await api.wait_for(lambda: all(api.replies_to(m) for m in asked), timeout=300)
        answered_at = {
            (c.params["chat_id"], c.params.get("reply_parameters", {}).get("message_id")): c.at
            for c in api.calls_to("sendMessage", ok=True)  # the last (complete) reply to each
        }
        latencies = [
            (answered_at[m["chat"]["id"], m["message_id"]] - api.sent_at[m["chat"]["id"], m["message_id"]]) * 1000
            for m in asked
        ]
        status = Path(f"/proc/{bot.pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    finally:
        bot.send_signal(signal.SIGINT)
        await asyncio.wait_for(bot.wait(), 30)
        await api.stop()
    return {"start_up_s": start_up, "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SHARED / "benchmarks" / "cmrc2018_trial.json")
    parser.add_argument("--dev", type=Path, default=SHARED / "eval" / "dev_qa.jsonl")
    parser.add_argument("--questions", type=int, default=None, help="only the first N CMRC questions")
    parser.add_argument("--skip-plain", action="store_true", help="leave out the plain LangChain pipeline")
    parser.add_argument("--only-ask", action="store_true", help="only one-shot `articlebot ask` and its floor")
    parser.add_argument(
        "--skip-bot", action="store_true", help="leave out `articlebot serve` (start-up, 100 questions)"
    )
    parser.add_argument("--fresh-only", action="store_true", help="only the fresh engine's figures")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = Settings()
    if args.only_ask:
        with tempfile.TemporaryDirectory(prefix="articlebot-speed-") as tmp:
            print_table(one_shot_ask(base, Path(tmp) / "ask-data"))
        return
    passages = squad.read_squad(args.squad)
    questions = [q.text for p in passages for q in p.questions][: args.questions]
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="articlebot-speed-") as tmp:
        tmp = Path(tmp)
        settings = base.model_copy(update={"data_dir": tmp / "data", "seed_default_corpus": False})
        # One question of each passage, none asked before, on an engine started after the ingest.
        first_questions = [p.questions[0].text for p in passages if p.questions][: args.questions]
        fresh_settings = settings.model_copy(update={"data_dir": tmp / "fresh", "collection": "speed"})
        fresh = fresh_engine(fresh_settings, passages, first_questions)
        rows.append(
            (
                f"fresh engine: start (open a {len(passages)}-passage store, prepare) / its first question",
                f"{fresh['open_s']:.1f} s / {fresh['latencies'][0]:.0f} ms",
                "first ≈ the rest",
            )
        )
        rows.append(
            (
                f"fresh engine: {len(first_questions)} never-asked questions (one a passage)",
                f"p50 {percentile(fresh['latencies'], 50):.0f} ms, p95 {percentile(fresh['latencies'], 95):.0f} ms",
                "p50 ≤ 25 ms, p95 ≤ 60 ms",
            )
        )
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
        rows.append(("peak RSS, this process (model, 256-passage store, queries)", f"{peak_rss_mb():.0f} MB", ""))

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

        dev = [q.q for q in question_sets.read_questions(args.dev) if q.answerable] if args.dev.exists() else questions
        served = None if args.skip_bot else asyncio.run(through_the_bot(base, tmp / "bot-data", dev))
        asks = one_shot_ask(base, tmp / "ask-data")
    if served is not None:
        rows.append(
            (
                "bot start-up to first answer (`articlebot serve`, prepared store)",
                f"{served['start_up_s']:.1f} s",
                "≤ 15 s",
            )
        )
        rows.append(
            (
                f"through the bot: {BOT_QUESTIONS} questions from {BOT_CHATS} chats at once",
                f"p50 {served['p50']:.0f} ms, p95 {served['p95']:.0f} ms",
                "all answered, p95 ≤ 2 s",
            )
        )
        rows.append(("peak RSS, the bot process", f"{served['rss']:.0f} MB", "≤ 1.5 GB"))
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
