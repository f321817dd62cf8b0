"""The answering engine: retrieve → select sentences → cite → or refuse. Telegram-free.

Both faces (the `articlebot` CLI and the Telegram bot) build one Engine at start-up and
call it; it owns the store, the retriever and the sentence scorer::

    engine = build_engine(Settings())
    answer = engine.answer("Sora最长能生成多长的视频?")
    print(answer.text, [c.quote for c in answer.citations])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from importlib import resources

import chromadb
import numpy as np

from bot import followups, glossary, verification
from bot.answer import Answer, Citation, Turn
from bot.errors import QuestionError
from bot.generation import PASSAGES, GenerationFailed, Generator, build_generator
from bot.language import language_of
from bot.refusal import load_model
from bot.selection import (
    FILL_MARGIN,
    MAX_ANSWER_CHARS,
    Scored,
    SentenceScorer,
    answer_length,
    choose,
    chunk_numbers,
    content_terms,
    runs,
    shorten,
)
from bot.settings import Settings
from bot.stats import AnswerStats
from ingest.loaders import LoadedSource, LoaderLimits, check_upload, load_bytes, load_source, load_url
from ingest.pipeline import IngestResult, Progress, no_progress, ingest_many
from vectorstore.client import make_client
from vectorstore.embeddings import load_embeddings
from vectorstore.retrieval import Hit, HybridRetriever
from vectorstore.schema import ArticleRecord
from vectorstore.store import ArticleStore

logger = logging.getLogger(__name__)

RETRIEVE_K = 6
DEFAULT_CORPUS = ("ingest", "corpus/sora-raw.txt")
REFUSALS = {
    "zh": "抱歉,现有文章中没有提到这个问题的答案。",
    "en": "Sorry, the articles don't say.",
}


class Engine:
    """Answers questions from the store and manages its articles."""

    def __init__(self, settings: Settings, store: ArticleStore, generator: Generator | None = None) -> None:
        self.settings = settings
        self.store = store
        self.retriever = HybridRetriever(store)
        self.scorer = SentenceScorer(store.embeddings)
        self.generator = generator  # None: extractive answers
        self.verifier = verification.Verifier(self.scorer)
        self.refusal = load_model()
        self.limits = LoaderLimits(
            max_bytes=settings.max_source_bytes,
            fetch_timeout_s=settings.fetch_timeout_s,
            allow_private_urls=settings.allow_private_urls,
        )
        self.stats = AnswerStats()

    # -- questions ---------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        question = " ".join(question.split())
        if not question:
            raise QuestionError("The question is empty: ask something about the articles.")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"The question is too long ({len(question)} characters); please keep it under "
                f"{self.settings.max_question_chars}."
            )
        return question

    def candidates(self, question: str) -> list[Scored]:
        """Sentences of the retrieved chunks that could answer, best first."""
        query_vector = np.asarray(self.store.embeddings.embed_query(question), dtype=np.float32)
        hits = self.retriever.retrieve(question, query_vector.tolist(), k=RETRIEVE_K)
        return self.scorer.score(question, query_vector, hits, self.retriever.vocabulary())

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
        scored = self.candidates(asked)
        language = language_of(question)
        confident = self.refusal.answers(asked, scored)
        text, citations, generated = "", [], False
        if confident and self.generator is not None:
            try:
                text, citations = self._generate(asked, language, scored, max_chars, on_draft)
                generated = True
            except GenerationFailed as exc:
                logger.warning("Generation failed (%s); answering extractively", exc)
        if confident and not generated:
            text, citations = compose(choose(scored, max_chars), content_terms(asked), max_chars)
        if not citations:
            text = REFUSALS[language]
        answer = Answer(
            question=question,
            text=text,
            refused=not citations,
            citations=citations,
            latency_ms=(time.perf_counter() - started) * 1000,
            standalone=asked if asked != question else None,
            generated_by=self.generator.name if generated and citations else None,
        )
        self.stats.record(answer)
        return answer

    def _generate(
        self, question: str, language: str, scored: list[Scored], max_chars: int, on_draft: Callable[[str], None]
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
        passages = list({s.hit.doc.id: s.hit for s in scored}.values())[:PASSAGES]
        written = self.generator.write(question, language, passages, on_draft)
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
        where = [(passages[s.passage].doc.id, s.sentence) if s else None for s in supports]
        if (scored[0].hit.doc.id, scored[0].index) not in where:
            raise GenerationFailed("the model's sentences leave out the answering one")
        relevant = _relevant_sentences(scored)
        kept = [s if w in relevant else None for s, w in zip(supports, where)]
        return verification.cite(claims, kept, passages, max_chars)

    def warm_up(self) -> None:
        """Prepare answering for every stored sentence (a few seconds per hundred chunks),
        for services that answer many questions after one start."""
        self.scorer.warm_up([Hit(doc, 0.0, 0.0) for doc in self.store.live_chunks()])
        glossary.load()

    # -- articles ----------------------------------------------------------------------

    def articles(self) -> list[ArticleRecord]:
        return self.store.articles()

    def article(self, article_id: str) -> ArticleRecord:
        """The article with this id, or ArticleNotFoundError."""
        return self.store.article(article_id)

    def ingest(self, location: str, title: str | None = None, progress: Progress = no_progress) -> IngestResult:
        """Ingest a file path or http(s) URL."""
        progress("fetching", 0, 0)
        return self.ingest_loaded(load_source(location, self.limits), title, progress)

    def ingest_url(self, url: str, title: str | None = None, progress: Progress = no_progress) -> IngestResult:
        """Ingest an http(s) URL, never a local path: what remote admins may ask for."""
        progress("fetching", 0, 0)
        return self.ingest_loaded(load_url(url, self.limits), title, progress)

    def check_upload(self, filename: str, size: int) -> None:
        """Refuse an upload by its name and size before it is downloaded."""
        check_upload(filename, size, self.limits)

    def ingest_bytes(
        self, data: bytes, filename: str, title: str | None = None, progress: Progress = no_progress
    ) -> IngestResult:
        """Ingest an uploaded file's contents."""
        return self.ingest_loaded(load_bytes(data, filename, self.limits), title, progress)

    def ingest_loaded(
        self, loaded: LoadedSource, title: str | None = None, progress: Progress = no_progress
    ) -> IngestResult:
        """Ingest an already loaded source with the configured chunking."""
        return self.ingest_many([(loaded, title)], progress)[0]

    def ingest_many(
        self, sources: Sequence[tuple[LoadedSource, str | None]], progress: Progress = no_progress
    ) -> list[IngestResult]:
        """Ingest loaded (source, title) pairs in one pass: much faster than one by one."""
        return ingest_many(
            self.store,
            sources,
            progress,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
        )

    def remove(self, article_id: str) -> ArticleRecord:
        return self.store.remove_article(article_id)

    def reindex(self, progress: Callable[[int, int], None] = lambda _done, _total: None) -> int:
        """Re-embed every chunk with the current model; returns the number of chunks."""
        return self.store.reindex(progress)

    def seed_default_corpus(self, progress: Progress = no_progress) -> IngestResult | None:
        """Ingest the bundled Sora article into a store that has never been seeded."""
        if not self.settings.seed_default_corpus or self.store.is_seeded():
            return None
        data = resources.files(DEFAULT_CORPUS[0]).joinpath(DEFAULT_CORPUS[1]).read_bytes()
        result = self.ingest_loaded(load_bytes(data, "sora-raw.txt", self.limits), None, progress)
        self.store.mark_seeded()
        return result


def _relevant_sentences(scored: list[Scored]) -> set[tuple[str, int]]:
    """(chunk id, sentence index) of the sentences that score nearly as well as the best
    one for the question: what an answer may say (the extractive fill's margin)."""
    floor = scored[0].score - FILL_MARGIN
    return {(s.hit.doc.id, s.index) for s in scored if s.score >= floor}


def compose(chosen: list[Scored], terms: set[str], max_chars: int) -> tuple[str, list[Citation]]:
    """Answer text with a citation marker after each sentence, or after each run of
    consecutive sentences of one chunk; one citation per cited chunk.

    The quote is the cited sentences exactly as stored (a run of them as the stretch of
    the article it spans, paragraph breaks included), so it can be found in the article,
    even when a long sentence is shortened in the answer.
    """
    numbers = chunk_numbers(chosen)
    quotes: dict[str, list[list[Scored]]] = {}
    for run in runs(chosen):
        quotes.setdefault(run[0].hit.doc.id, []).append(run)
    room = max_chars
    if answer_length(chosen) > max_chars:  # only then is any sentence shortened
        room = (max_chars - 4 * len(chosen)) // len(chosen)  # each marker takes up to 4 characters
    text = "".join(
        "".join(shorten(s.sentence, terms, room) for s in run) + f"[{numbers[run[0].hit.doc.id]}]"
        for run in runs(chosen)
    )
    citations = []
    for chunk_id, n in numbers.items():
        items = quotes[chunk_id]
        citations.append(
            Citation.of_chunk(
                n,
                items[0][0].hit.doc.metadata,
                "".join(_span(run) for run in items),
                max(s.score for run in items for s in run),
            )
        )
    return text, citations


def _span(run: list[Scored]) -> str:
    """The stretch of its chunk that a run of consecutive sentences covers."""
    content = run[0].hit.doc.page_content
    start = content.find(run[0].sentence)
    end = content.find(run[-1].sentence, max(start, 0))
    if start < 0 or end < 0:
        return "".join(s.sentence for s in run)
    return content[start : end + len(run[-1].sentence)]


def open_client(settings: Settings) -> chromadb.ClientAPI:
    """The Chroma server at CHROMA_HOST when it is set, else the embedded store in the data dir."""
    if settings.chroma_host is None:
        return make_client(settings.chroma_dir)
    return make_client(
        host=settings.chroma_host,
        port=settings.chroma_port,
        ssl=settings.chroma_ssl,
        headers=settings.chroma_request_headers(),
    )


def build_engine(
    settings: Settings,
    progress: Callable[[str], None] = lambda _m: None,
    *,
    check_model: bool = True,
) -> Engine:
    """Load the model, open the store, and seed the default article on first use.

    `check_model=False` opens an index built with another model, for `reindex` only.
    """
    client = open_client(settings)  # first: a busy or unreachable store fails before the model loads
    embeddings = load_embeddings(
        settings.embedding_model, settings.models_dir, progress, backend=settings.embedding_backend
    )
    store = ArticleStore(client, embeddings, settings.collection, check_model=check_model)
    engine = Engine(settings, store, build_generator(settings, progress) if check_model else None)
    if check_model:
        engine.seed_default_corpus(
            lambda stage, done, total: progress(f"default article: {stage} {done}/{total}")
            if stage == "embedding" and done == total
            else None
        )
    return engine
