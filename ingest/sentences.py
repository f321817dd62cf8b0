"""Where a sentence ends: the one rule that cleaning (calls to action are cut by sentence),
chunking (chunks and quoted sentences end at sentences) and the bot's splitting of long
messages share.

Full-width 。！？… end a sentence wherever they stand. ASCII ! and ? end one before a space,
the end, or a non-ASCII character (Chinese text typed with ASCII marks); ASCII . only
before a space or the end, so "3.5" and "example.com" go on. Closing quotes and brackets
right after the mark belong to the sentence that ends there. Chunking also ends sentences
at semicolons (；;): a long list of clauses is then quoted clause by clause.
"""

from __future__ import annotations

import re

FULL_WIDTH_STOPS = "。\uff01\uff1f…"
ASCII_STOPS = ".!?"
FULL_WIDTH_SEMICOLON = "\uff1b"
# What may close a sentence after its mark: after a full-width mark (or ASCII ! ? in
# Chinese text), and after an ASCII mark before a space.
CLOSERS = "”’」』\uff09)"
ASCII_CLOSERS = "\"')"


def _sentence_end(full_width: str, ascii_marks: str) -> re.Pattern[str]:
    """The rule above for these marks (full-width, ASCII)."""
    bang = ascii_marks.replace(".", "")
    return re.compile(
        rf"[{full_width}]+[{CLOSERS}]*|[{bang}]+[{CLOSERS}]*(?=[^\x00-\x7f])|[{ascii_marks}]+[{ASCII_CLOSERS}]*(?=\s|$)"
    )


SENTENCE_END = _sentence_end(FULL_WIDTH_STOPS, ASCII_STOPS)
SENTENCE_OR_SEMICOLON_END = _sentence_end(FULL_WIDTH_STOPS + FULL_WIDTH_SEMICOLON, ASCII_STOPS + ";")
