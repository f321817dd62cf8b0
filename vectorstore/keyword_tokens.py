"""BM25's words: jieba search tokens of a chunk's text, its title and its section heading.

Computed once per chunk, at ingest, and stored with it (`BM25_TOKENS` in its metadata), so
that building the BM25 index reads them instead of tokenizing every live chunk again,
which grew with the corpus and made a freshly started bot's first question slow
(docs/performance.md).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba
from langchain_core.documents import Document

jieba.setLogLevel(logging.WARNING)
_WORD = re.compile(r"[\w\u00b7]+", re.UNICODE)
BM25_TOKENS = "bm25_tokens"  # the chunk metadata holding its words, space-separated


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """Lower-cased jieba search tokens, punctuation dropped; works for mixed zh/en."""
    return tuple(t.lower() for t in jieba.cut_for_search(text) if _WORD.fullmatch(t))


def bm25_text(doc: Document) -> str:
    """Titles and section headings count as words of every chunk under them."""
    meta = doc.metadata
    return f"{meta.get('title', '')} {meta.get('section', '')} {doc.page_content}"


def words_to_store(doc: Document) -> str:
    """A chunk's BM25 words as stored: space-separated (a word never contains a space)."""
    return " ".join(tokenize(bm25_text(doc)))


def bm25_words(doc: Document) -> list[str]:
    """A stored chunk's BM25 words, as stored at ingest."""
    return str(doc.metadata[BM25_TOKENS]).split()
