"""Turning answers and article lists into Telegram HTML, and splitting long HTML.

Telegram's HTML mode wants `<`, `>` and `&` escaped everywhere outside our own tags;
every value that comes from users or articles goes through `escape`. A message holds at
most 4096 characters, so long replies are split at sentence boundaries, closing the tags
that are open at the cut and reopening them in the next part::

    reply = layout(answer, "en")
    for part in reply.parts:          # usually none
        send(part)
    send(last_message(reply, expanded=False), button)
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass

from telegram.constants import MessageLimit

from bot.answering.answer import Answer, Citation
from bot.answering.links import citation_link
from bot.feedback import Vote
from bot.telegram.redaction import without_credentials
from bot.telegram.texts import say, say_error
from ingest.sentences import SENTENCE_END
from vectorstore.errors import ArticlebotError
from vectorstore.schema import ArticleRecord

MAX_LENGTH = MessageLimit.MAX_TEXT_LENGTH  # 4096
# A refusal echoes the question, shortened to this many characters.
ECHO_CHARS = 120

# Tags, entities, or single characters: the splitter never cuts inside the first two.
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|.", re.S)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")


def escape(text: str) -> str:
    """Text made safe for Telegram HTML (`<`, `>`, `&`; quotes may stay)."""
    return html.escape(text, quote=False)


def failure_reason(lang: str, error: ArticlebotError) -> str:
    """Why something failed (an ingest, a question the store could not answer), as HTML in
    `lang`: the template of the error's code in `lang` when there is one, else the error's
    own (English) message; neither shows a URL's user:password@."""

    def shown(value: object) -> object:  # numbers stay numbers, for templates that format them
        return escape(without_credentials(value)) if isinstance(value, str) else value

    values = {name: shown(value) for name, value in error.values.items()}
    return say_error(lang, error.code, **values) or escape(without_credentials(str(error)))


def length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def truncate_text(text: str, limit: int) -> str:
    """Plain text cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


# -- answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An answer laid out as messages: `parts` go first, then the last message.

    The last message is `head` (the tail of the answer, or nothing when the answer needed
    the whole room) followed by the sources, compact or expanded; it carries the button.
    """

    answer: Answer
    lang: str
    parts: tuple[str, ...]
    head: str

    @property
    def has_sources(self) -> bool:
        return bool(self.answer.citations)


def layout(answer: Answer, lang: str, limit: int = MAX_LENGTH) -> Reply:
    """Split an answer into messages so the sources always sit under its last part."""
    if answer.refused:
        body = say(lang, "refusal", question=escape(truncate_text(answer.question, ECHO_CHARS)))
        return Reply(answer, lang, (), truncate_html(body, limit))
    body = escape(answer.text)
    sources = compact_sources(answer, lang)
    if length(_join(body, sources)) <= limit:
        return Reply(answer, lang, (), body)
    pieces = split_html(body, limit)
    if length(_join(pieces[-1], sources)) <= limit:
        return Reply(answer, lang, tuple(pieces[:-1]), pieces[-1])
    return Reply(answer, lang, tuple(pieces), "")


def last_message(reply: Reply, expanded: bool, limit: int = MAX_LENGTH) -> str:
    """The message under which the Sources button sits, sources compact or expanded."""
    if not reply.has_sources:
        return reply.head
    if not expanded:
        return truncate_html(_join(reply.head, compact_sources(reply.answer, reply.lang)), limit)
    room = limit - (length(reply.head) + 2 if reply.head else 0)
    return _join(reply.head, expanded_sources(reply.answer, reply.lang, room))


def compact_sources(answer: Answer, lang: str) -> str:
    """A bold heading and one line per citation: [n] title, section."""
    lines = [_sources_heading(answer, lang)]
    lines += [f"[{c.n}] {_where(c)}" for c in answer.citations]
    return "\n".join(lines)


def _sources_heading(answer: Answer, lang: str) -> str:
    """ "Sources", and how a follow-up question was understood (its standalone form)."""
    heading = f"<b>{say(lang, 'sources')}</b>"
    if answer.standalone:
        understood = say(lang, "understood_as", question=escape(truncate_text(answer.standalone, ECHO_CHARS)))
        heading += f"\n<i>{understood}</i>"
    if answer.untranslated:
        heading += f"\n<i>{say(lang, 'untranslated_' + answer.untranslated)}</i>"
    return heading


def expanded_sources(answer: Answer, lang: str, room: int = MAX_LENGTH) -> str:
    """Each citation with its quoted passage; quotes are shortened until it fits `room`."""
    cap = max((len(c.quote) for c in answer.citations), default=0)
    while True:
        blocks = [_sources_heading(answer, lang)]
        for c in answer.citations:
            quote = escape(truncate_text(c.quote, cap))
            blocks.append(f"[{c.n}] {_where(c)}\n<blockquote>{quote}</blockquote>")
        text = "\n".join(blocks)
        if length(text) <= room or cap <= 20:
            return text if length(text) <= room else truncate_html(text, room)
        cap = int(cap * 0.8)


def _where(citation: Citation) -> str:
    """The citation's title (a link to the quoted sentence, for a web page) and section."""
    title, section = citation.title, citation.section
    where = f"<b>{escape(title)}</b>"
    if citation.url:
        href = html.escape(citation_link(citation.url, citation.quote), quote=True)
        where = f'<a href="{href}">{where}</a>'
    if section and section.strip() != title.strip():
        where += f", {escape(section)}"
    return where


def _join(head: str, tail: str) -> str:
    return f"{head}\n\n{tail}" if head and tail else head or tail


# -- articles ---------------------------------------------------------------------------


def article_list(records: list[ArticleRecord], lang: str) -> str:
    """/articles: numbered titles with the day each was added."""
    if not records:
        return say(lang, "no_articles")
    lines = [
        say(lang, "article_line", n=i, title=f"<b>{escape(r.title)}</b>", date=escape(r.ingested_at[:10]))
        for i, r in enumerate(records, 1)
    ]
    return say(lang, "articles", count=len(records), lines="\n".join(lines))


def admin_article_list(records: list[ArticleRecord], lang: str) -> str:
    """/articles for admins: numbered titles with the ids /remove takes."""
    if not records:
        return say(lang, "no_articles")
    lines = [
        say(
            lang,
            "admin_article_line",
            n=i,
            title=f"<b>{escape(r.title)}</b>",
            id=escape(r.article_id),
            chunks=r.chunk_count,
            date=escape(r.ingested_at[:10]),
        )
        for i, r in enumerate(records, 1)
    ]
    chunks = sum(r.chunk_count for r in records)
    return truncate_html(say(lang, "admin_articles", count=len(records), chunks=chunks, lines="\n".join(lines)))


def title_list(records: list[ArticleRecord]) -> str:
    """Bulleted titles for /start."""
    return "\n".join(f"• <b>{escape(r.title)}</b>" for r in records)


# -- splitting --------------------------------------------------------------------------


def truncate_html(text: str, limit: int = MAX_LENGTH) -> str:
    """`text` if it fits, else its first sentence-bounded part with an ellipsis."""
    if length(text) <= limit:
        return text
    return split_html(text, limit - 2)[0] + " …"


def split_html(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """Cut Telegram HTML into parts of at most `limit` UTF-16 units.

    Cuts go after the last sentence end that fits (else the last space, else anywhere
    between characters), never inside a tag or an entity like `&amp;`. Tags open at a cut
    are closed at the end of the part and reopened at the start of the next one.
    """
    if length(text) <= limit:
        return [text]
    tokens = _TOKEN.findall(text)
    ends = _sentence_ends(tokens)
    parts: list[str] = []
    reopen: list[tuple[str, str]] = []  # (name, opening tag) carried into the next part
    start = 0
    while start < len(tokens):
        cut, stack = _find_cut(tokens, ends, start, reopen, limit)
        body = "".join(tokens[start:cut]).strip()
        if body:
            closing = "".join(f"</{name}>" for name, _ in reversed(stack))
            parts.append("".join(tag for _, tag in reopen) + body + closing)
        reopen, start = stack, cut
        while start < len(tokens) and tokens[start].isspace():
            start += 1
    return parts


def _sentence_ends(tokens: list[str]) -> set[int]:
    """The indices of the tokens a sentence ends before (ingest/sentences.py's rule)."""
    starts = itertools.accumulate((len(token) for token in tokens), initial=0)
    index = {offset: i for i, offset in enumerate(starts)}
    return {index[m.end()] for m in SENTENCE_END.finditer("".join(tokens)) if m.end() in index}


def _find_cut(
    tokens: list[str], ends: set[int], start: int, reopen: list[tuple[str, str]], limit: int
) -> tuple[int, list[tuple[str, str]]]:
    """Where the part beginning at `start` ends, and the tags open there (`ends`: the
    token indices a sentence ends before)."""
    stack = list(reopen)
    size = sum(length(tag) for _, tag in reopen)
    sentence = space = None
    i = start
    while i < len(tokens):
        token = tokens[i]
        grown = _apply(stack, token)
        closing = sum(len(name) + 3 for name, _ in grown)
        if size + length(token) + closing > limit:
            break
        size += length(token)
        stack = grown
        i += 1
        if token == "\n" or i in ends:
            sentence = (i, list(stack))
        elif token.isspace():
            space = (i, list(stack))
    else:
        return i, stack
    for candidate in (sentence, space):
        if candidate and candidate[0] > start:
            return candidate
    return max(i, start + 1), stack


def _apply(stack: list[tuple[str, str]], token: str) -> list[tuple[str, str]]:
    """The open-tag stack after `token`."""
    match = _TAG.fullmatch(token)
    if not match:
        return stack
    closing, name = match.group(1), match.group(2).lower()
    if not closing:
        return [*stack, (name, token)]
    for k in range(len(stack) - 1, -1, -1):
        if stack[k][0] == name:
            return stack[:k] + stack[k + 1 :]
    return stack


# -- feedback ---------------------------------------------------------------------------

# /feedback shows each vote's question, answer and reason shortened to these lengths.
FEEDBACK_CHARS = {"question": 200, "answer": 160, "reason": 300}


def feedback_list(votes: list[Vote], up: int, down: int, lang: str) -> str:
    """/feedback: the latest 👎 votes, each with its date, question, answer and reason."""
    if not votes:
        return say(lang, "feedback_none", up=up)
    items = [
        say(
            lang,
            "feedback_item",
            n=i,
            date=escape(v.voted_at[:16].replace("T", " ")) + " UTC",
            question=f"<b>{escape(truncate_text(v.question, FEEDBACK_CHARS['question']))}</b>",
            answer=(
                say(lang, "feedback_refused")
                if v.refused
                else escape(truncate_text(v.answer, FEEDBACK_CHARS["answer"]))
            ),
            reason=(
                escape(truncate_text(v.reason, FEEDBACK_CHARS["reason"]))
                if v.reason
                else say(lang, "feedback_no_reason")
            ),
        )
        for i, v in enumerate(votes, 1)
    ]
    header = say(lang, "feedback_header", shown=len(votes), down=down, up=up)
    return truncate_html("\n\n".join([header, *items]))
