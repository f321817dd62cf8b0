"""Questions over many small articles: what a fresh engine pays per question when the
article list is long (the check for other processes' changes, `ArticleStore.live_state`).

    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/many_articles.py DATA_DIR ingest
    ARTICLEBOT_MODELS_DIR=.cache/models .venv/bin/python benchmarks/many_articles.py DATA_DIR ask

`ingest` stores N one-sentence articles (default 4,000) in DATA_DIR (about 100 s); `ask`
starts a fresh engine on it and asks 200 questions, printing its start-up and p50/p95/max
latency. Run `ask` with two checkouts on one store to compare them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bot.settings import Settings
from bot.wiring import build
from ingest.loaders import LoadedSource

CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "西安"]
BATCH = 500


def text(i: int) -> str:
    return f"第{i}号实验室位于{CITIES[i % 8]},主任是研究员{i % 97}号,主要研究第{i % 13}类新型材料。"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("step", choices=["ingest", "ask"])
    parser.add_argument("--articles", type=int, default=4000)
    args = parser.parse_args()
    settings = Settings(ARTICLEBOT_DATA_DIR=args.data_dir, ARTICLEBOT_SEED_CORPUS=False)
    started = time.perf_counter()
    bot = build(settings, generator=None)
    if args.step == "ingest":
        for start in range(0, args.articles, BATCH):
            numbers = range(start, min(start + BATCH, args.articles))
            bot.library.ingest_many(
                [(LoadedSource(text(i), f"实验室{i}", f"lab{i}", f"lab{i}", "text"), None) for i in numbers]
            )
        print(f"ingested {args.articles} articles in {time.perf_counter() - started:.1f} s")
        return
    bot.engine.prepare()
    print(f"start-up {time.perf_counter() - started:.2f} s")
    latencies = sorted(bot.engine.answer(f"第{i * 17}号实验室位于哪里?").latency_ms for i in range(200))
    p95 = latencies[int(0.95 * len(latencies))]
    print(f"200 questions: p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms")


if __name__ == "__main__":
    main()
