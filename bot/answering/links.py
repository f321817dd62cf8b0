"""Links from a citation to the quoted sentence in its web page: a text fragment.

A text fragment (WICG "URL Fragment Text Directives", `#:~:text=…`) makes a browser that
supports it scroll to the quoted text and highlight it; others just open the page. A quote
is exact article text (bot/answering/citing.py), so it can be searched for on the page:

- a quote of gaps (" … ") links to its first stretch only;
- a short stretch within one paragraph is matched whole: `#:~:text=<stretch>`;
- a longer one, or one across paragraphs (a match of a single term never crosses a block
  boundary), is matched as a range: `#:~:text=<start>,<end>`, a few words from each end.

Browsers only match a term at word boundaries, so the words at each end are whole: split
at spaces in Latin text; in Chinese cut after a punctuation mark when one is near, else
between jieba's words. Each term is percent-encoded, `-`, `,` and `&` included (they
delimit a directive's parts).
"""

from __future__ import annotations

import re
from urllib.parse import quote as percent_encode

from bot.language import language_of

# The separator between the stretches of one quote (citing.ELLIPSIS; not imported, to keep
# this module free of the answering machinery).
GAP = " … "
# A stretch (one paragraph) up to this many characters is matched whole.
WHOLE_CHARS = 60
# A longer one is matched from its first to its last few words:
EDGE_WORDS = 4  # words of Latin text
EDGE_CHARS = 10  # characters of Chinese, at least (whole words)
MAX_EDGE_CHARS = 24  # up to a punctuation mark within this many characters
_PUNCTUATION = set("，。、；：！？,;:!?")


def citation_link(url: str, quote: str) -> str:
    """The page's `url` with a text fragment that leads to `quote`'s (first) stretch."""
    directive = text_directive(quote)
    if directive is None:
        return url
    return f"{url}{':~:' if '#' in url else '#:~:'}{directive}"


def text_directive(quote: str) -> str | None:
    """`text=start[,end]` for the quote's first stretch; None when it has no text."""
    stretch = quote.split(GAP)[0]
    paragraphs = [" ".join(line.split()) for line in stretch.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        return None
    first, last = paragraphs[0], paragraphs[-1]
    if len(paragraphs) == 1 and len(first) <= WHOLE_CHARS:
        return f"text={_encode(first)}"
    start, end = _head(first), _tail(last)
    if len(paragraphs) == 1 and len(start) + len(end) >= len(first):
        return f"text={_encode(first)}"
    return f"text={_encode(start)},{_encode(end)}"


def _encode(term: str) -> str:
    """Percent-encoded for a text directive: everything but letters, digits and `_.~`."""
    return percent_encode(term, safe="").replace("-", "%2D")


def _head(text: str) -> str:
    """The first few whole words of `text`."""
    if language_of(text) == "en":
        return " ".join(text.split(" ")[:EDGE_WORDS])
    return "".join(_cjk_edge(_words(text)))


def _tail(text: str) -> str:
    """The last few whole words of `text`."""
    if language_of(text) == "en":
        return " ".join(text.split(" ")[-EDGE_WORDS:])
    return "".join(reversed(_cjk_edge(list(reversed(_words(text))), ending=True)))


def _cjk_edge(words: list[str], ending: bool = False) -> list[str]:
    """Words from the start of `words` (the end, when reversed with `ending`): up to a
    punctuation mark within MAX_EDGE_CHARS characters, else at least EDGE_CHARS characters.

    At the end, the text's own final mark (。) does not count as the cut: the cut is after
    the mark before it, so the end term holds the sentence's last clause."""
    size = 0
    for i, word in enumerate(words):
        if word in _PUNCTUATION and size >= EDGE_CHARS // 2 and not (ending and i == 0):
            return words[:i] if ending else words[: i + 1]
        size += len(word)
        if size > MAX_EDGE_CHARS:
            break
    taken: list[str] = []
    size = 0
    for word in words:
        taken.append(word)
        size += len(word)
        if size >= EDGE_CHARS:
            break
    return taken


def _words(text: str) -> list[str]:
    """Chinese text as jieba's words (Latin words and numbers whole), punctuation apart."""
    import jieba  # loads its dictionary on first use; answering has loaded it already

    return [w for w in jieba.cut(text) if w] if re.search(r"\S", text) else []
