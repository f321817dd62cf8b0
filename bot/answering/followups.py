"""Follow-up questions: recognising them, and the extractive mode's rewriting heuristic.

Retrieval only sees the words of a question, so "它能生成多长的视频?" after "Sora是什么?"
must become "Sora能生成多长的视频?" first. A follow-up either refers back with a pronoun
("它", "it", "they") or leaves out what stays the same ("And in Finnish?", "那Runway呢?").
In extractive mode the rewrite is a heuristic: a pronoun becomes the earlier question's
subject (its first name-like word), and an elliptical phrase replaces its counterpart in
the earlier question (a phrase with the same preposition or the same last character, else
the subject). Its accuracy is measured by `articlebot eval --followups` (docs/followups.md).
"""

from __future__ import annotations

import re

from bot.answering.selection import entity_terms
from bot.language import tagged_words

# Pronouns that stand for the earlier question's subject, with what replaces them.
_ZH_PRONOUN = re.compile(
    r"它们|他们|她们|它|他|她|该(?:公司|模型|产品|工具|技术)?|这个(?:模型|产品|工具|公司)?|这款|其|此"
)
_EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|he|she|his|her)\b", re.I)
_EN_POSSESSIVE = {"its", "their", "his", "her"}
# Elliptical follow-ups: the new part is the group.
_ZH_ELLIPSIS = re.compile(r"^(?:那么?|还有|那在)?\s*(?P<part>[^，,。？?]{1,20}?)(?:呢|怎么样|如何)[？?]?$")
_EN_ELLIPSIS = re.compile(r"^(?:and|what about|how about|and what about)\s+(?P<part>[^?]{1,60}?)\??$", re.I)
_EN_PREPOSITION = re.compile(r"^(in|on|at|for|by|from|to|with|about|of|during|after|before)\s", re.I)
# A Latin-script name in a Chinese question ("Sora这个词…": 这个 is not a follow-up's pronoun).
_LATIN_NAME = re.compile(r"[A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*")
_QUESTION_WORDS = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "is",
    "are",
    "does",
    "do",
    "did",
    "can",
}


def is_follow_up(question: str) -> bool:
    """Whether the question leans on an earlier one (a pronoun for its subject, or an
    elliptical "and …?" / "…呢?")."""
    q = question.strip()
    return bool(_ZH_ELLIPSIS.match(q) or _EN_ELLIPSIS.match(q) or _en_pronoun(q) or _zh_pronoun(q))


def is_rewrite(rewritten: str, question: str, earlier: str) -> bool:
    """Whether a chat model's rewrite of `question` can stand for it: a question (the 1.5B
    model sometimes answers instead: "杨立昆是谷歌公司首席科学家。", which the user would
    see as how they were understood), not a follow-up still (an echo, a pronoun left), and
    not longer than the two questions' words could make."""
    return (
        rewritten.endswith(("?", "？"))
        and len(rewritten) <= 2 * len(question) + len(earlier)
        and not is_follow_up(rewritten)
    )


def _en_pronoun(question: str) -> re.Match | None:
    """An English pronoun with no name before it in the question (in "Runway … its
    Series C", "its" is Runway's)."""
    match = _EN_PRONOUN.search(question)
    if match and not entity_terms(question[: match.start()]):
        return match
    return None


def _zh_pronoun(question: str) -> re.Match | None:
    """A Chinese pronoun standing alone: the jieba word at its place is tagged as a
    pronoun (so not inside 其他, 其中, 这个词 …)."""
    offsets, at = {}, 0
    for word in tagged_words(question):
        offsets[at] = word
        at += len(word.word)
    for match in _ZH_PRONOUN.finditer(question):
        word = offsets.get(match.start())
        if word is None or not match.group().startswith(word.word):  # not 其|他 in 其他
            continue
        if word.flag in ("r", "rz", "rr") and not _LATIN_NAME.search(question[: match.start()]):
            return match
    return None


def subject(question: str) -> str | None:
    """The earlier question's subject: its first name (Latin-script word or Chinese proper
    noun), else its first noun."""
    names = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9.\-]*", question) if w.lower() in entity_terms(question)]
    if names:
        return names[0]
    words = tagged_words(question)
    for flags in (("nr", "ns", "nt", "nz", "eng"), ("n", "vn")):
        found = next((w.word for w in words if w.flag in flags and len(w.word) > 1), None)
        if found:
            return found
    return None


def rewrite(question: str, earlier: str) -> str:
    """`question` made standalone from the `earlier` (standalone) question; unchanged when
    it is not a follow-up or the earlier question gives nothing to fill in."""
    q = question.strip()
    if match := _EN_ELLIPSIS.match(q):
        return _swap(earlier, match.group("part").strip(), english=True)
    if match := _ZH_ELLIPSIS.match(q):
        return _swap(earlier, match.group("part").strip(), english=False)
    topic = subject(earlier)
    if topic is None:
        return q
    if match := _en_pronoun(q):
        replacement = f"{topic}'s" if match.group(1).lower() in _EN_POSSESSIVE else topic
        return q[: match.start()] + replacement + q[match.end() :]
    if match := _zh_pronoun(q):
        return q[: match.start()] + topic + q[match.end() :]
    return q


def _swap(earlier: str, part: str, english: bool) -> str:
    """The earlier question with `part` in place of its counterpart."""
    if english and (prep := _EN_PREPOSITION.match(part)):
        phrase = re.search(rf"\b{prep.group(1)}\s+[\w'\-]+(?:\s+[A-Z][\w'\-]*)*", earlier, re.I)
        if phrase:
            return earlier[: phrase.start()] + part + earlier[phrase.end() :]
    if not english:
        # "(在)芬兰语中呢?" after "…在韩语中…": the earlier question's word with the same ending
        part = re.sub(r"^在|[中里上]$", "", part)
        for word in tagged_words(earlier):
            if len(word.word) > 1 and word.word[-1] == part[-1] and word.word != part:
                return earlier.replace(word.word, part, 1)
    topic = subject(earlier)
    if topic is None or topic.lower() in _QUESTION_WORDS:
        return f"{earlier} {part}"
    return earlier.replace(topic, part, 1)
