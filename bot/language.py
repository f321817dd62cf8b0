"""Which language a text is in, as far as answering cares: Chinese or English.

A question with any CJK character (kana included) is answered, refused and prompted in
Chinese; anything else in English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """ "zh" when the text has a CJK character, else "en"."""
    return "zh" if _CJK.search(text) else "en"


def written_in(text: str) -> str:
    """The language most of a text is written in: "zh" when its CJK characters are at
    least half as many as its Latin letters (a Chinese word is one or two characters, an
    English one about five letters), else "en". So an English sentence keeping a Chinese
    name, or a Chinese one naming "OpenAI", counts as the language it is written in,
    which `language_of` (any CJK character) does not tell."""
    cjk = len(_CJK.findall(text))
    latin = sum(c.isascii() and c.isalpha() for c in text)
    return "zh" if cjk and 2 * cjk >= latin else "en"


def joins_tightly(text: str, following: str) -> bool:
    """Whether `following` goes right after `text` without a space: Chinese sentences
    follow each other directly, a Latin one ("The farm…") after a space."""
    return not text or not (following[:1].isascii() and following[:1].isalnum())


def join_sentences(sentences: Iterable[str]) -> str:
    """Sentences as running text (`joins_tightly`)."""
    text = ""
    for sentence in sentences:
        text += sentence if joins_tightly(text, sentence) else f" {sentence}"
    return text


def tagged_words(text: str) -> list[Any]:
    """jieba's words of `text` with their parts of speech (`.word`, `.flag`).

    jieba's tagger loads its tables on import (about half a second): only questions that
    need it (who…?, a follow-up) pay for it, once; the bot loads it at start-up."""
    from jieba import posseg

    return posseg.lcut(text)
