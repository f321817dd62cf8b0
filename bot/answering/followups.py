"""Follow-up questions: recognising them, and the extractive mode's rewriting heuristic.

Retrieval only sees the words of a question, so "它能生成多长的视频?" after "Sora是什么?"
must become "Sora能生成多长的视频?" first. A follow-up either refers back with a pronoun
("它", "it", "they") or leaves out what stays the same ("And in Finnish?", "那Runway呢?").
In extractive mode the rewrite is a heuristic: a pronoun becomes the earlier question's
subject (its first name-like word), and an elliptical phrase replaces its counterpart in
the earlier question (a phrase with the same preposition, a name of the same family or
the same last character, else the subject). What no substitution can say ("When was
that?", "Why?", "he" for the person a "Who …?" question asked for) is asked together with
the earlier question: "Who first proposed the world model, and when was that?". Its
accuracy is measured by `articlebot eval --followups` on Chinese and English conversations
(docs/followups.md).
"""

from __future__ import annotations

import re

from bot.answering.selection import content_terms, entity_terms
from bot.language import language_of, tagged_words

# Pronouns that stand for the earlier question's subject, with what replaces them.
_ZH_PRONOUN = re.compile(
    r"它们|他们|她们|它|他|她|该(?:公司|模型|产品|工具|技术)?|这个(?:模型|产品|工具|公司)?|这款|其|此"
)
_EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|he|she|his|her|him)\b", re.I)
_EN_POSSESSIVE = {"its", "their", "his", "her"}
# Pronouns for a person or people: after "Who …?" they stand for whom the answer named.
_EN_PERSONAL = {"he", "she", "his", "her", "him", "they", "them", "their"}
_EN_QUESTION_WORDS = "what|which|who|whom|whose|when|where|why|how"
_EN_AUXILIARIES = "is|are|was|were|does|do|did|can|could|will|would|should|has|have|had"
_EN_QUESTION_START = rf"(?:{_EN_QUESTION_WORDS}|{_EN_AUXILIARIES})\b"
# "And how long can its videos be?": a conjunction before a whole question only links it.
_EN_CONJUNCTION = re.compile(rf"^(?:and|so|but|then)\s+(?={_EN_QUESTION_START})", re.I)
# "that" for what the earlier question was about: last ("When was that?"), or after a
# question word, an auxiliary or a preposition ("What does that include?"); elsewhere it
# joins clauses ("say that …", "the model that …").
_EN_THAT = re.compile(
    rf"\bthat\s*[?.!]*$|\b(?:{_EN_QUESTION_WORDS}|{_EN_AUXILIARIES}|after|before|about|of|for|with|from|by)\s+that\b",
    re.I,
)
# Elliptical follow-ups: the new part is the group.
_ZH_ELLIPSIS = re.compile(r"^(?:那么?|还有|那在)?\s*(?P<part>[^，,。？?]{1,20}?)(?:呢|怎么样|如何)[？?]?$")
_EN_ELLIPSIS = re.compile(
    rf"^(?:and|what about|how about|and what about)\s+(?!{_EN_QUESTION_START})(?P<part>[^?]{{1,60}}?)\??$", re.I
)
_EN_PREPOSITION = re.compile(r"^(in|on|at|for|by|from|to|with|about|of|during|after|before)\s", re.I)
# A Latin-script name in a Chinese question ("Sora这个词…": 这个 is not a follow-up's pronoun).
_LATIN_NAME = re.compile(r"[A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*")


def is_follow_up(question: str) -> bool:
    """Whether the question leans on an earlier one (a pronoun for its subject, "that" for
    its matter, an elliptical "and …?" / "…呢?", or nothing to look up alone: "Why?")."""
    q = _unlinked(question)
    return bool(
        _ZH_ELLIPSIS.match(q) or _EN_ELLIPSIS.match(q) or _leans_on_matter(q) or _en_pronoun(q) or _zh_pronoun(q)
    )


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


def _unlinked(question: str) -> str:
    """The question without a conjunction that only links it to the earlier one."""
    q = question.strip()
    if match := _EN_CONJUNCTION.match(q):
        rest = q[match.end() :]
        return rest[:1].upper() + rest[1:]
    return q


def _leans_on_matter(question: str) -> bool:
    """Whether an English question refers to what the earlier one was about as a whole
    ("that"), or has nothing to look up on its own ("Why?"): no word of the earlier
    question can be put in, it is asked together with it."""
    return language_of(question) == "en" and (not content_terms(question) or bool(_EN_THAT.search(question)))


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


def _names(question: str) -> list[str]:
    """The Latin-script names of a question, in order."""
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9.\-]*", question) if w.lower() in entity_terms(question)]


def subject(question: str) -> str | None:
    """The earlier question's subject: its first name (Latin-script word or Chinese proper
    noun), else, in Chinese, its first noun (jieba tags every English word alike)."""
    if names := _names(question):
        return names[0]
    if language_of(question) == "en":
        return None
    words = tagged_words(question)
    for flags in (("nr", "ns", "nt", "nz", "eng"), ("n", "vn")):
        found = next((w.word for w in words if w.flag in flags and len(w.word) > 1), None)
        if found:
            return found
    return None


def rewrite(question: str, earlier: str) -> str:
    """`question` made standalone from the `earlier` (standalone) question; unchanged when
    it is not a follow-up or the earlier question gives nothing to fill in. An English
    substitution that would still lean on the conversation ("Who released how long can
    its videos be?") is not shown: the question is asked together with the earlier one."""
    q = _unlinked(question)
    if match := _EN_ELLIPSIS.match(q):
        return _swap(earlier, match.group("part").strip(), english=True)
    if match := _ZH_ELLIPSIS.match(q):
        return _swap(earlier, match.group("part").strip(), english=False)
    if _leans_on_matter(q):
        return _joined(q, earlier)
    if match := _en_pronoun(q):
        substituted = _substituted(q, match, earlier)
        return substituted if substituted and is_rewrite(substituted, q, earlier) else _joined(q, earlier)
    topic = subject(earlier)
    if topic is not None and (match := _zh_pronoun(q)):
        return q[: match.start()] + topic + q[match.end() :]
    return q


def _substituted(question: str, pronoun: re.Match, earlier: str) -> str | None:
    """The English question with the earlier question's subject for its pronoun; None
    when there is no subject, or the pronoun is a person's after "Who …?" (then it
    stands for whom the answer named)."""
    topic = subject(earlier)
    word = pronoun.group(1).lower()
    if topic is None or (word in _EN_PERSONAL and re.match(r"who", earlier.strip(), re.I)):
        return None
    replacement = f"{topic}'s" if word in _EN_POSSESSIVE else topic
    return question[: pronoun.start()] + replacement + question[pronoun.end() :]


def _joined(question: str, earlier: str) -> str:
    """The question asked together with the earlier one, which gives it its topic:
    "Which industry will Sora hit first, and why?"."""
    first = question.split()[0]
    if first[1:].islower() or not first[1:]:  # a capitalised ordinary word, not a name
        question = question[0].lower() + question[1:]
    return f"{earlier.strip().rstrip('?？')}, and {question}"


def _swap(earlier: str, part: str, english: bool) -> str:
    """The earlier question with `part` in place of its counterpart."""
    if english and (prep := _EN_PREPOSITION.match(part)):
        phrase = re.search(rf"\b{prep.group(1)}\s+[\w'\-]+(?:\s+[A-Z][\w'\-]*)*", earlier, re.I)
        if phrase:
            return earlier[: phrase.start()] + part + earlier[phrase.end() :]
    if english and (kin := _kin_name(earlier, part)):
        return earlier.replace(kin, part, 1)  # "And GPT-5?" after "… train GPT-4?"
    if not english:
        # "(在)芬兰语中呢?" after "…在韩语中…": the earlier question's word with the same ending
        part = re.sub(r"^在|[中里上]$", "", part)
        for word in tagged_words(earlier):
            if len(word.word) > 1 and word.word[-1] == part[-1] and word.word != part:
                return earlier.replace(word.word, part, 1)
    topic = subject(earlier)
    if topic is None:
        return f"{earlier} {part}"
    if part.endswith("'s") and f"{topic}'s" in earlier:  # "And Runway's?" after "… Sora's videos …"
        part = part[:-2]
    return earlier.replace(topic, part, 1)


def _kin_name(earlier: str, part: str) -> str | None:
    """The earlier question's name of the same family as `part` (GPT-4 for GPT-5: the
    same letters before a number), if any."""
    family = re.match(r"[A-Za-z]+", part)
    if family is None or not re.search(r"\d", part):
        return None
    return next((n for n in _names(earlier) if n != part and n.lower().startswith(family.group().lower())), None)
