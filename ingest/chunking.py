"""Split clean article text into sections, chunks and sentences.

Chunks are what retrieval finds; sentences are what an answer quotes (`split_sentences`),
and what ingest embeds for each of them (`embedded_sentences`). Both split on
sentence boundaries (ingest/sentences.py: 。！？；… and their ASCII forms), so a chunk never ends mid-sentence
unless one sentence alone is longer than a chunk. Every chunk keeps the heading of its
section and its character offsets in the cleaned text, so a citation can point to the
exact passage.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.cleaning import CleanText
from ingest.errors import TooManyChunksError
from ingest.sentences import (
    ASCII_STOPS,
    CLOSERS,
    FULL_WIDTH_SEMICOLON,
    FULL_WIDTH_STOPS,
    SENTENCE_OR_SEMICOLON_END,
)

# Chosen by measurement on the dev question set (see docs/evaluation.md, "Chunk size"), for Chinese.
CHUNK_SIZE = 200
CHUNK_OVERLAP = 40
# Alphabetic text takes about three times the characters of Chinese to say the same:
# XQuAD's parallel English and Chinese paragraphs run 3.09 : 1. Sizes given in characters
# (chunks, answers) are Chinese characters, stretched by this for alphabetic text, or a
# 200-character English chunk holds a sentence and a half.
ALPHABETIC_STRETCH = 3
# At most this many chunks per article (setting MAX_CHUNKS_PER_ARTICLE): about 320,000
# Chinese or 950,000 English characters (chunks overlap), a long book, and minutes of
# embedding (docs/performance.md, "Figures behind limits"); a larger upload is more
# likely a mistake (a data dump, a log) than an article.
MAX_CHUNKS_PER_ARTICLE = 2_000
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# Paragraphs, lines, then sentence ends (kept with the sentence), then clause commas.
SEPARATORS = [
    "\n\n",
    "\n",
    rf"(?<=[{FULL_WIDTH_STOPS}{FULL_WIDTH_SEMICOLON}!?;])(?![{CLOSERS}])",
    rf"(?<=[{ASCII_STOPS};])\s+",
    r"(?<=[,\uff0c、])",
    "",
]
_HEADING = re.compile(
    r"^(#{1,6}\s+\S|[一二三四五六七八九十百]+、\S|第[一二三四五六七八九十百\d]+[章节部分篇]|"
    r"\d{1,2}[.、]\s*\S)"
)
MAX_HEADING_CHARS = 60


@dataclass(frozen=True)
class Section:
    heading: str  # "" before the first heading
    start: int  # offset of the body in the cleaned text
    body: str


def is_heading(paragraph: str) -> bool:
    return len(paragraph) <= MAX_HEADING_CHARS and bool(_HEADING.match(paragraph))


def sections(text: str) -> list[Section]:
    """Group paragraphs under the heading that precedes them."""
    found: list[Section] = []
    heading, body_start, body_end = "", 0, 0
    for match in re.finditer(r"[^\n]+", text):
        paragraph = match.group()
        if is_heading(paragraph):
            if body_end > body_start:
                found.append(Section(heading, body_start, text[body_start:body_end]))
            heading = paragraph.lstrip("#").strip()
            body_start = body_end = match.end()
            continue
        if body_end == body_start:
            body_start = match.start()
        body_end = match.end()
    if body_end > body_start:
        found.append(Section(heading, body_start, text[body_start:body_end]))
    return found


def make_splitter(chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        add_start_index=True,
        strip_whitespace=True,
    )


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stretch(text: str) -> int:
    """How many characters of this text say what one Chinese character does: 1 for
    Chinese, ALPHABETIC_STRETCH when fewer than half its letters are Chinese."""
    letters = sum(c.isalpha() for c in text)
    return 1 if len(_HAN.findall(text)) * 2 >= letters else ALPHABETIC_STRETCH


def chunk_article(
    clean: CleanText,
    chunk_size: int = CHUNK_SIZE,
    overlap: int = CHUNK_OVERLAP,
    max_chunks: int = MAX_CHUNKS_PER_ARTICLE,
) -> list[Document]:
    """Chunks with title, section, position, offsets in `clean.text` and a content hash;
    `chunk_size` and `overlap` in Chinese characters (see `stretch`). More than
    `max_chunks` chunks raise TooManyChunksError (as soon as they are counted)."""
    scale = stretch(clean.text)
    splitter = make_splitter(chunk_size * scale, overlap * scale)
    chunks: list[Document] = []
    for section in sections(clean.text):
        pieces = splitter.create_documents([section.body])
        if len(chunks) + len(pieces) > max_chunks:
            raise TooManyChunksError(
                f"“{clean.title}” is too long: it would make more than {max_chunks:,} "
                f"chunk{'' if max_chunks == 1 else 's'}, the limit per article (MAX_CHUNKS_PER_ARTICLE), "
                f"and take long to index. Split it into several articles, or raise the limit.",
                code="too_many_chunks",
                title=clean.title,
                limit=max_chunks,
            )
        for piece in pieces:
            start = section.start + piece.metadata["start_index"]
            text = piece.page_content
            chunks.append(
                Document(
                    page_content=text,
                    metadata={
                        "title": clean.title,
                        "section": section.heading,
                        "position": len(chunks),
                        "start": start,
                        "end": start + len(text),
                        "content_hash": content_hash(text),
                    },
                )
            )
    return chunks


MIN_SENTENCE_CHARS = 5


def _unfinished(sentence: str) -> bool:
    """Too short to stand alone, or cut inside parentheses."""
    opened = sentence.count("(") + sentence.count("\uff08")
    closed = sentence.count(")") + sentence.count("\uff09")
    return len(re.sub(r"\W", "", sentence)) < MIN_SENTENCE_CHARS or opened > closed


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, each with its closing punctuation and quotes, exactly as
    in the text; a fragment of a few characters (a cut inside parentheses, "注:") joins
    the sentence after it, and so does one cut inside parentheses."""
    ends = [m.end() for m in SENTENCE_OR_SEMICOLON_END.finditer(text)]
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    spans: list[list[int]] = []
    start = 0
    for end in ends:
        if not text[start:end].strip():
            continue
        if spans and _unfinished(text[spans[-1][0] : spans[-1][1]]):
            spans[-1][1] = end
        else:
            spans.append([start, end])
        start = end
    return [text[a:b].strip() for a, b in spans]


def embedded_sentences(chunk: Document) -> list[str]:
    """What is embedded for each sentence of a chunk, in `split_sentences` order: the
    sentence after its section heading (or the article title), which names what "it" in
    the sentence refers to.

    The one definition both sides use: ingest stores a vector for each of these texts
    (`ArticleStore(sentences_of=embedded_sentences)`), and answering looks them up by the
    same texts, so what is stored is exactly what answering asks for."""
    context = chunk.metadata.get("section") or chunk.metadata.get("title", "")
    return [f"{context}: {sentence}" for sentence in split_sentences(chunk.page_content)]
