"""Turn raw article text (often copied from a web page) into clean paragraphs.

Web text carries noise that would otherwise be retrieved and quoted back to users:
a truncated teaser repeating the first paragraph, the title repeated as image captions,
picture credits ("网图", "…(来源:东吴证券)"), and a trailing copyright / navigation block.
Each rule below removes one kind of noise and is deliberately conservative: when in
doubt a line stays, because a lost sentence is worse than a stray one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.errors import EmptyArticleError

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2002-\u200a]+")
_SENTENCE_PUNCT = re.compile(r"[。\uff01\uff1f\uff0c\uff1b!?,;]|[.](\s|$)")
# A line starting the trailing block of a web page: copyright notice, navigation, tip jar.
_TRAILER = re.compile(
    r"^(声明[:\uff1a]|版权声明|免责声明|本文来源|原文链接|转载请|上一篇|下一篇|相关推荐|相关阅读|"
    r"给TA打赏|copyright\b|©|all rights reserved)",
    re.IGNORECASE,
)
# Picture captions and credits: short, unpunctuated, naming a picture or a source.
_CAPTION_CUE = re.compile(r"图|来源|摄|配图|source|photo|image|credit|getty", re.IGNORECASE)
MAX_CAPTION_CHARS = 40
MIN_TEASER_CHARS = 20


@dataclass(frozen=True)
class CleanText:
    title: str
    text: str  # paragraphs separated by one blank line


def normalize(raw: str) -> str:
    """Unify newlines, drop zero-width characters, collapse runs of spaces per line."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.translate(_ZERO_WIDTH)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def cut_trailer(lines: list[str]) -> list[str]:
    """Drop everything from the first trailer marker in the second half of the text on."""
    for i in range(len(lines) // 2, len(lines)):
        if _TRAILER.match(lines[i]):
            return lines[:i]
    return lines


def is_caption(line: str) -> bool:
    return (
        len(line) <= MAX_CAPTION_CHARS
        and not _SENTENCE_PUNCT.search(line)
        and bool(_CAPTION_CUE.search(line))
    )


def drop_teasers(lines: list[str]) -> list[str]:
    """Drop a paragraph whose text (maybe cut off at the end) reappears later on.

    Pages often open with an excerpt of the first paragraph, truncated mid-word; a
    question about it would then cite the fragment instead of the full sentence.
    """
    kept = []
    for i, line in enumerate(lines):
        squashed = _squash(line).rstrip(".…")
        later = _squash("".join(lines[i + 1 :]))
        if len(squashed) >= MIN_TEASER_CHARS and squashed in later:
            continue
        kept.append(line)
    return kept


def clean(raw: str, title: str | None = None) -> CleanText:
    """Clean raw article text; the title is the given one or the first short line."""
    lines = [line for line in normalize(raw).split("\n") if line]
    if not lines:
        raise EmptyArticleError("The article is empty: no text was found in it.")
    if not title and len(lines[0]) <= 80 and len(lines) > 1:
        title = lines.pop(0)
    title = (title or lines[0][:40]).strip()
    lines = cut_trailer(lines)
    lines = [line for line in lines if line != title and not is_caption(line)]
    lines = drop_teasers(lines)
    seen: set[str] = set()
    paragraphs = []
    for line in lines:
        if line not in seen:
            seen.add(line)
            paragraphs.append(line)
    if not paragraphs:
        raise EmptyArticleError("The article is empty after removing page boilerplate.")
    return CleanText(title=title, text="\n\n".join(paragraphs))
