"""BM25's words: jieba search tokens of a chunk's text, its title and its section heading.

Computed once per chunk, at ingest, and stored with it (`BM25_TOKENS` in its metadata):
tokenizing every live chunk with jieba was nine tenths of a freshly started bot's first
question (1.8 of 2.2 s for the 917 chunks of the CMRC trial, on two busy cores), and that
cost grew with the corpus. Chunks stored before have none and are tokenized when the index
is built, as before; `articlebot reindex` adds them.
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
    """A chunk's BM25 words: as stored at ingest, else tokenized now (a chunk stored before
    they were)."""
    stored = doc.metadata.get(BM25_TOKENS)
    if isinstance(stored, str):
        return stored.split()
    return list(tokenize(bm25_text(doc)))
