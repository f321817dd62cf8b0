"""Citations, for both answer modes: passages numbered in order of first use, and quotes
cut from the stored chunk the same way whichever mode wrote the answer.

A quote is the cited sentences exactly as stored, so a reader can find it in the
article: sentences close together (at most two apart) as the one stretch of the chunk
they span, paragraph breaks included; sentences farther apart as their stretches of
consecutive sentences, joined by an ellipsis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from bot.answering.answer import Citation
from bot.answering.selection import Scored, answer_length, best_clauses, chunk_numbers, runs
from bot.language import join_sentences, joins_tightly
from ingest.chunking import split_sentences
from vectorstore.retrieval import Hit

if TYPE_CHECKING:  # the checker imports this module
    from bot.generation.verification import Claim, Support

# Sentences at most this many apart are quoted as one stretch, with those between them.
CLOSE = 2
ELLIPSIS = " … "
# A clause ends with one of these; its marker goes before it ("…60秒[1],").
_CLAUSE_END = "，,；;"


def quote(content: str, indexes: Iterable[int]) -> str:
    """The sentences of `content` at these indexes (of `split_sentences`), as stored."""
    wanted = sorted(set(indexes))
    sentences = split_sentences(content)
    if wanted[-1] - wanted[0] <= CLOSE:
        return _stretch(content, sentences, wanted[0], wanted[-1])
    groups: list[list[int]] = []
    for i in wanted:
        if groups and i == groups[-1][-1] + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return ELLIPSIS.join(_stretch(content, sentences, g[0], g[-1]) for g in groups)


def _stretch(content: str, sentences: list[str], first: int, last: int) -> str:
    """The stretch of `content` from sentence `first` to sentence `last`."""
    start = content.find(sentences[first])
    end = content.find(sentences[last], max(start, 0))
    if start < 0 or end < 0:
        return "".join(sentences[first : last + 1])
    return content[start : end + len(sentences[last])]


def cite_sentences(chosen: list[Scored], terms: set[str], max_chars: int) -> tuple[str, list[Citation]]:
    """An extractive answer: the chosen sentences with a marker after each one, or after
    each run of consecutive sentences of one chunk; one citation per cited chunk.

    A sentence too long for `max_chars` is shortened in the answer (to the clauses that
    hold the question's `terms`), never in its quote.
    """
    numbers = chunk_numbers(chosen)
    room = max_chars
    if answer_length(chosen) > max_chars:  # only then is any sentence shortened
        room = (max_chars - 5 * len(chosen)) // len(chosen)  # a marker and a space: up to 5 characters
    text = join_sentences(
        best_clauses(s.sentence, terms, room) + (f"[{numbers[s.hit.chunk_id]}]" if s is run[-1] else "")
        for run in runs(chosen)
        for s in run
    )
    citations = []
    for chunk_id, n in numbers.items():
        cited = [s for s in chosen if s.hit.chunk_id == chunk_id]
        doc = cited[0].hit.doc
        citations.append(
            Citation.of_chunk(
                n, doc.metadata, quote(doc.page_content, (s.index for s in cited)), max(s.score for s in cited)
            )
        )
    return text, citations


def cite_claims(
    claims: Sequence[Claim], supports: Sequence[Support | None], passages: list[Hit], max_chars: int
) -> tuple[str, list[Citation]]:
    """A generated answer: its supported claims with markers renumbered in order of first
    use, and their citations; ("", []) when no claim is supported. Claims past
    `max_chars` are left out."""
    numbers: dict[int, int] = {}
    quoted: dict[int, list[int]] = {}
    text = ""
    for claim, support in zip(claims, supports):
        if support is None:
            continue
        n = numbers.get(support.passage, len(numbers) + 1)
        body = claim.text.rstrip(_CLAUSE_END)
        piece = f"{body}[{n}]{claim.text[len(body) :]}"
        if text and len(text) + len(piece) > max_chars:
            break
        numbers[support.passage] = n
        quoted.setdefault(support.passage, []).append(support.sentence)
        text += piece if joins_tightly(text, claim.text) else f" {piece}"
    citations = [
        Citation.of_chunk(
            n,
            passages[passage].doc.metadata,
            quote(passages[passage].doc.page_content, quoted[passage]),
            max(s.similarity for s in supports if s and s.passage == passage),
        )
        for passage, n in numbers.items()
    ]
    return text.strip(), citations
