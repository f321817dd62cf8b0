"""The answering engine: retrieve → select sentences → cite → or refuse. Telegram-free.

Both faces (the `articlebot` CLI and the Telegram bot) build one Engine at start-up
(`bot.wiring.build`) and call it; it reads the store through the retriever and the
sentence scorer, and never writes it::

    answer = build(Settings()).engine.answer("Sora最长能生成多长的视频?")
    print(answer.text, [c.quote for c in answer.citations])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from bot.answering import followups, glossary
from bot.answering.answer import Answer, Citation, Turn
from bot.answering.citing import cite_claims, cite_sentences
from bot.answering.refusal import load_model
from bot.answering.selection import (
    FILL_MARGIN,
    MAX_ANSWER_CHARS,
    Scored,
    SentenceScorer,
    choose,
    content_terms,
    has_person_name,
    rarity,
)
from bot.answering.stats import AnswerStats
from bot.errors import EmptyQuestionError, QuestionTooLongError
from bot.generation import verification
from bot.generation.generator import PASSAGES, GenerationFailed, Generator
from bot.generation.translation import Translator
from bot.language import language_of
from bot.settings import Settings
from ingest.cleaning import drop_format_characters
from vectorstore.keyword_tokens import tokenize
from vectorstore.retrieval import Hit, HybridRetriever
from vectorstore.store import ArticleStore

logger = logging.getLogger(__name__)

RETRIEVE_K = 6
# An extractive answer's text up to its first [n] marker (`cite_sentences`).


class Engine:
    """Answers questions from the store; the library (`bot.library`) writes it."""

    def __init__(
        self,
        settings: Settings,
        store: ArticleStore,
        generator: Generator | None = None,
        translator: Translator | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.retriever = HybridRetriever(store)
        self.scorer = SentenceScorer(store.embeddings, store)
        self.generator = generator  # None: extractive answers
        self.translator = translator  # None: questions and answers across languages stay untranslated
        self.verifier = verification.Verifier(self.scorer)
        self.refusal = load_model()
        self.stats = AnswerStats()

    def prepare(self) -> None:
        """Load now what the first question would otherwise wait for, none of which grows
        with the articles stored: jieba's dictionaries (words, parts of speech, IDF), the
        English glosses of Chinese words, the embedding model's first run, the chat model
        (a local one takes seconds to load). The bot calls it at start-up; every vector of the articles was computed at ingest, so there is no
        warm-up of them."""
        tokenize("准备回答问题")
        has_person_name("蒂姆·布鲁克斯介绍了名字的来历。")
        rarity({"准备"})
        glossary.load()
        self.store.embeddings.encode(["准备"], query=True)
        for generator in (self.generator, self.translator.generator if self.translator else None):
            if generator is not None:
                generator.chat.load()

    # -- questions ---------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """The question with its whitespace collapsed and its invisible format characters
        dropped; EmptyQuestionError or QuestionTooLongError when it can't be answered (each
        face words these)."""
        question = " ".join(drop_format_characters(question).split())
        if not any(c.isalnum() for c in question):  # blank, or only emoji and punctuation
            raise EmptyQuestionError()
        if len(question) > self.settings.max_question_chars:
            raise QuestionTooLongError(len(question), self.settings.max_question_chars)
        return question

    def retrieve(self, question: str, k: int = RETRIEVE_K) -> tuple[np.ndarray, list[Hit]]:
        """The question's vector and the `k` chunks that best match it."""
        query_vector = np.asarray(self.store.embeddings.embed_query(question), dtype=np.float32)
        return query_vector, self.retriever.retrieve(question, query_vector.tolist(), k=k)

    def candidates(self, question: str, translated: bool = False) -> list[Scored]:
        """Sentences of the retrieved chunks that could answer, best first. A `translated`
        question may name things as the articles don't (`SentenceScorer.score`)."""
        return self._candidates(question, translated)[0]

    def _candidates(self, question: str, translated: bool = False) -> tuple[list[Scored], list[Hit]]:
        query_vector, hits = self.retrieve(question)
        vocabulary = self.retriever.vocabulary()
        return self.scorer.score(question, query_vector, hits, vocabulary, translated=translated), hits

    def understood(self, question: str) -> tuple[str, list[Scored], float]:
        """The form of the question to answer from, its candidates, and how sure the
        refusal model is that they answer (`RefusalModel.confidence`, ≥ 0: answered).

        A question in another language than its best passage is also translated into
        that language and scored again: its candidates are those of the form the refusal
        model is surer of, and its confidence the mean of both. On the dev files the
        mean beat each form alone and the surer one (docs/generation.md): the original
        answers what its translation shows off-topic, the surer form refuses fewer
        unanswerable questions, the translation alone loses what a poor one misses."""
        scored, hits = self._candidates(question)
        confidence = self.refusal.confidence(question, scored)
        language = language_of(question)
        target = language_of(hits[0].doc.page_content) if hits else language
        if self.translator is None or target == language:
            return question, scored, confidence
        translated = self.translator.question(question, target)
        if translated is None:
            return question, scored, confidence
        rival = self.candidates(translated, translated=True)
        rival_confidence = self.refusal.confidence(translated, rival)
        mean = (confidence + rival_confidence) / 2
        return (translated, rival, mean) if rival_confidence > confidence else (question, scored, mean)

    def standalone(self, question: str, earlier: Sequence[Turn]) -> str:
        """The question as it can be understood without the `earlier` turns (newest last):
        rewritten by the chat model in generation mode, which also reads the answers, by a
        heuristic on the questions otherwise."""
        if not earlier or not followups.is_follow_up(question):
            return question
        if self.generator is not None:
            try:
                rewritten = self.generator.standalone(question, language_of(question), earlier[-2:])
                if followups.is_rewrite(rewritten, question, earlier[-1].question):
                    return rewritten
            except GenerationFailed as exc:
                logger.warning("Rewriting a follow-up failed (%s); using the heuristic", exc)
        return followups.rewrite(question, earlier[-1].question)

    def answer(
        self,
        question: str,
        max_chars: int = MAX_ANSWER_CHARS,
        *,
        earlier: Sequence[Turn] = (),
        on_draft: Callable[[str], None] = lambda _text: None,
    ) -> Answer:
        """A short cited answer (at most `max_chars` with its markers), or a refusal when
        the articles don't contain one.

        `earlier` are the chat's previous turns, for follow-ups.
        In generation mode the model's text goes to `on_draft` as it grows (unchecked);
        the returned answer holds only its checked sentences.
        """
        started = time.perf_counter()
        question = self.check_question(question)
        asked = self.standalone(question, earlier)
        if not earlier and not content_terms(asked):  # "a", "what is it?": nothing to look up
            raise EmptyQuestionError()
        compared, scored, confidence = self.understood(asked)
        language = language_of(question)
        confident = confidence >= 0
        generator = self.generator
        text, citations = "", list[Citation]()
        generated_by: str | None = None  # the chat model, when its answer is kept
        untranslated: str | None = None
        if confident and generator is not None:
            try:
                text, citations = self._generate(generator, asked, language, scored, max_chars, on_draft)
                generated_by = generator.name
            except GenerationFailed as exc:
                logger.warning("Generation failed (%s); answering extractively", exc)
        if confident and generated_by is None:
            chosen = choose(scored, max_chars)
            text, citations = cite_sentences(chosen, content_terms(compared), max_chars)
            if language_of(chosen[0].sentence) != language:
                text, citations, untranslated = self._translate_answer(text, citations, chosen, asked, max_chars)
        if not citations:
            text = ""  # a refusal is data (refused, language); each face words it
        answer = Answer(
            question=question,
            text=text,
            refused=not citations,
            citations=citations,
            latency_ms=(time.perf_counter() - started) * 1000,
            standalone=asked if asked != question else None,
            generated_by=generated_by if citations else None,
            untranslated=untranslated if citations else None,
        )
        self.stats.record(answer)
        return answer

    def _generate(
        self,
        generator: Generator,
        question: str,
        language: str,
        scored: list[Scored],
        max_chars: int,
        on_draft: Callable[[str], None],
    ) -> tuple[str, list[Citation]]:
        """The model's answer from the best sentences' chunks, keeping only its sentences
        that a passage supports and that answer the question; no citations (a refusal)
        when none is supported.

        The refusal threshold has already judged that the passages answer, and which
        sentence does (the best-scoring one). A model that declines, that writes no
        supported sentence and no [n] marker either, or whose supported sentences leave
        the best one out, has failed: GenerationFailed, and the extractive answer is
        given instead. So a generated answer always states what the
        extractive one would lead with.
        """
        passages = list({s.hit.chunk_id: s.hit for s in scored}.values())[:PASSAGES]
        written = generator.write(question, language, passages, on_draft)
        claims = [c for c in verification.claims(written) if not verification.declines(c.text)]
        if not claims:
            raise GenerationFailed("the model declined passages that answer the question")
        supports = self.verifier.supports(claims, passages, question)
        if not any(supports):
            if not any(c.cited for c in claims):
                # No marker at all: the model ignored the task (echoed a passage heading,
                # mangled the question) rather than cited something the passage denies.
                raise GenerationFailed("the model cited no passage and no passage supports it")
            return "", []
        where = [(passages[s.passage].chunk_id, s.sentence) if s else None for s in supports]
        if (scored[0].hit.chunk_id, scored[0].index) not in where:
            raise GenerationFailed("the model's sentences leave out the answering one")
        relevant = _relevant_sentences(scored)
        kept = [s if w in relevant else None for s, w in zip(supports, where)]
        return cite_claims(claims, kept, passages, max_chars)

    def _translate_answer(
        self, text: str, citations: list[Citation], chosen: list[Scored], question: str, max_chars: int
    ) -> tuple[str, list[Citation], str | None]:
        """An extractive answer quoted from passages in another language than the
        question, as its answering stretch (the text before the first marker: the core,
        `choose`) translated into the question's language, each translated sentence
        checked against the passage (`Verifier`), kept only when it passes, and cited to
        the sentence that supports it. The rest of the answer is left out: it fills a
        same-language answer, and each stretch would cost the model seconds more. The
        quoted answer as it was, and why (`Answer.untranslated`), when there is no model
        or its translation is late or fails every check."""
        if self.translator is None:
            return text, citations, "no_model"
        translated = self.translator.text(verification.first_stretch(text).strip(), language_of(question))
        if translated is None:
            return text, citations, "failed"
        passage = chosen[0].hit  # the first marker's chunk (`chunk_numbers`)
        claims = verification.claims(f"{translated}[1]")
        supports = self.verifier.supports(claims, [passage], question)
        if not any(supports):
            return text, citations, "failed"
        translated_text, translated_citations = cite_claims(claims, supports, [passage], max_chars)
        return translated_text, translated_citations, None


def _relevant_sentences(scored: list[Scored]) -> set[tuple[str, int]]:
    """(chunk id, sentence index) of the sentences that score nearly as well as the best
    one for the question: what an answer may say (the extractive fill's margin)."""
    floor = scored[0].score - FILL_MARGIN
    return {(s.hit.chunk_id, s.index) for s in scored if s.score >= floor}
