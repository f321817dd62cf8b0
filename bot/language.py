"""Which language a text is in, as far as answering cares: Chinese or English.

A question with any CJK character (kana included) is answered, refused and prompted in
Chinese; anything else in English.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """ "zh" when the text has a CJK character, else "en"."""
    return "zh" if _CJK.search(text) else "en"
