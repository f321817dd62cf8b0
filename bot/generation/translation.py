"""Translation by the chat model, where the embedding model runs out: across languages.

e5-small compares an English question with Chinese sentences too poorly to tell the
answering sentence from its neighbours, or an answerable question from an unanswerable
one (`benchmarks/quality.py`: cross-language files a fifth below their same-language
twins). Translated into the articles' language, the question is compared within one
language; and an answer quoted from a Chinese article is given to an English asker in
English, each translated sentence checked against the passage it cites
(`bot.generation.verification`) like a generated one.

Only questions in another language than their passages pay for the model, once each:
translations are cached (questions repeat, in groups and in the evaluation).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from bot.generation.generator import GenerationFailed, Generator
from bot.generation.prompts import question_translation_prompt, text_translation_prompt
from bot.language import written_in

logger = logging.getLogger(__name__)

CACHE_SIZE = 20_000


class Translator:
    """Questions and answers into the other language, through the chat model, within
    `timeout_s` each; None when the model fails (the caller goes on untranslated)."""

    def __init__(self, generator: Generator, timeout_s: float) -> None:
        self.generator = generator
        self.timeout_s = timeout_s
        self._cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def question(self, text: str, target: str) -> str | None:
        """`text`, a question, in the `target` language ("zh" or "en"); None when the
        model failed, or answered instead of translating (a reply far longer than a
        question's translation)."""
        translated = self._translate("question", text, target)
        if translated is None or written_in(translated) != target or len(translated) > 6 * len(text) + 40:
            return None
        return translated

    def text(self, text: str, target: str) -> str | None:
        """`text`, sentences of an answer without markers, in the `target` language; None
        when the model failed or did not write in that language."""
        translated = self._translate("text", text, target)
        if translated is None or written_in(translated) != target:
            return None
        return translated

    def remembered(self) -> list[list[str]]:
        """The cached translations as [kind, target, text, translation] rows, for a
        benchmark to keep between runs (`benchmarks/quality.py --translations`)."""
        with self._lock:
            return [[*key, value] for key, value in self._cache.items()]

    def remember(self, rows: list[list[str]]) -> None:
        """Cache translations made earlier (`remembered`)."""
        with self._lock:
            self._cache.update(((kind, target, text), value) for kind, target, text, value in rows)

    def _translate(self, kind: str, text: str, target: str) -> str | None:
        key = (kind, target, text)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        prompt = (question_translation_prompt if kind == "question" else text_translation_prompt)(target)
        try:
            translated = self.generator.translate(prompt.invoke({"text": text}), self.timeout_s)
        except GenerationFailed as exc:
            logger.warning("Translating %s failed (%s)", "a question" if kind == "question" else "an answer", exc)
            return None  # not cached: a busy model may translate it next time
        translated = " ".join(translated.split())
        with self._lock:
            self._cache[key] = translated
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return translated
