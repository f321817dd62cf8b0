"""What the engine has answered since it started, for the bot's /stats.

Answers are computed on several threads at once, so counting takes a lock. Latencies are
kept as a histogram of whole milliseconds: the median stays exact to the millisecond and
memory stays bounded however long the bot runs.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from bot.answering.answer import Answer


@dataclass(frozen=True)
class AnswerCounts:
    answered: int  # questions that got a cited answer
    refused: int  # questions the articles don't cover
    median_ms: int | None  # over both; None before the first question


class AnswerStats:
    """Counts of answers and refusals, and their latency, since start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answered = 0
        self._refused = 0
        self._latency_ms: Counter[int] = Counter()

    def record(self, answer: Answer) -> None:
        with self._lock:
            if answer.refused:
                self._refused += 1
            else:
                self._answered += 1
            self._latency_ms[round(answer.latency_ms)] += 1

    def counts(self) -> AnswerCounts:
        with self._lock:
            return AnswerCounts(self._answered, self._refused, _median(self._latency_ms))


def _median(histogram: Counter[int]) -> int | None:
    """The lower median of the recorded values."""
    total = sum(histogram.values())
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if 2 * seen >= total:
            return value
    return None
