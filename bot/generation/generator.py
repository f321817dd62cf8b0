"""Generation mode: a chat model writes the answer from numbered passages.

The engine hands over the passages retrieval found (after deciding that they answer at
all) and gets back the model's text, streamed piece by piece to `on_text` so that a face
can show it growing. Anything that goes wrong — an unreachable server, an error, a
deadline passed — is a GenerationFailed, on which the engine answers extractively.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

from bot.answering.answer import Turn
from bot.generation.chat_models import ChatModel, make_chat_model
from bot.generation.prompts import answer_prompt, standalone_prompt
from bot.generation.verification import without_markers
from bot.settings import Settings
from vectorstore.retrieval import Hit

# The passages given to the model: the chunks of the best-scoring sentences, best first.
PASSAGES = 3


class GenerationFailed(Exception):
    """The model gave no usable text in time; the reason is for the log, not for users."""


def number_passages(passages: Sequence[Hit]) -> str:
    """ "[1] title / section: text" lines, as the prompt shows them."""
    lines = []
    for n, hit in enumerate(passages, 1):
        meta = hit.doc.metadata
        where = meta.get("section") or meta.get("title", "")
        lines.append(f"[{n}] {where}: {' '.join(hit.doc.page_content.split())}")
    return "\n".join(lines)


# Of an earlier answer, the rewrite sees the start: where the names a follow-up points to are.
TURN_ANSWER_CHARS = 150


def turns_text(turns: Sequence[Turn], language: str) -> str:
    """The earlier turns as the rewriting prompt shows them: "问：…" / "答：…" lines."""
    q, a = ("问：", "答：") if language == "zh" else ("Q: ", "A: ")
    return "\n".join(f"{q}{t.question}\n{a}{without_markers(t.answer)[:TURN_ANSWER_CHARS]}" for t in turns)


class Generator:
    """Runs the prompts through the chat model within a deadline."""

    def __init__(self, chat: ChatModel, timeout_s: float, first_token_s: float | None = None) -> None:
        self.chat = chat
        self.timeout_s = timeout_s
        self.first_token_s = timeout_s if first_token_s is None else first_token_s

    @property
    def name(self) -> str:
        return self.chat.name

    def write(self, question: str, language: str, passages: Sequence[Hit], on_text: Callable[[str], None]) -> str:
        """The model's answer to `question` from `passages`, reported to `on_text` as it grows."""
        prompt = answer_prompt(language).invoke({"passages": number_passages(passages), "question": question})
        return self._run(prompt, on_text)

    def standalone(self, question: str, language: str, earlier: Sequence[Turn]) -> str:
        """`question` rewritten so that it needs none of the `earlier` turns."""
        prompt = standalone_prompt(language).invoke({"history": turns_text(earlier, language), "question": question})
        return " ".join(self._run(prompt, lambda _t: None).split())

    def translate(self, prompt, timeout_s: float) -> str:
        """The model's reply to a translation `prompt` (`bot.generation.translation`)."""
        return self._run(prompt, lambda _t: None, timeout_s)

    def _run(self, prompt, on_text: Callable[[str], None], timeout_s: float | None = None) -> str:
        """The model's whole reply to `prompt` within `timeout_s` (LLM_TIMEOUT when None),
        its first piece within `first_token_s`, both measured from this call: waiting for
        the model counts. The model runs in a worker thread, so a deadline holds even
        while an in-process model is still reading the prompt: the caller goes on at
        once, and the worker stops at the model's next piece (`_Stream`).

        The model's one-time load (a local model's first use) comes before and is not
        counted: the bot loads it at start-up, and a one-off `articlebot ask` would
        otherwise never have its first translation in time."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        try:
            self.chat.load()
        except Exception as exc:  # a broken model file, too little memory: answer without it
            raise GenerationFailed(f"the model could not be loaded ({type(exc).__name__})") from None
        started = time.monotonic()
        stream = _Stream(self.chat, prompt)
        text = ""
        try:
            while True:
                first = not text.strip()
                limit = min(self.first_token_s, timeout_s) if first else timeout_s
                piece = stream.next(started + limit)
                if piece is None:
                    break
                text += piece
                if text.strip():
                    on_text(text)
        except TimeoutError:
            stream.abandon()
            what = "no first words" if not text.strip() else "no complete answer"
            raise GenerationFailed(f"{what} within {time.monotonic() - started:.1f} s") from None
        if not text.strip():
            raise GenerationFailed("the model's reply was empty")
        return text.strip()


class _Stream:
    """A chat model's streamed reply, read in a worker thread that holds the model's
    lock (one call at a time in process); `next` waits for a piece until a deadline."""

    def __init__(self, chat: ChatModel, prompt) -> None:
        self._chat = chat
        self._prompt = prompt
        self._pieces: queue.Queue[str | None | BaseException] = queue.Queue()
        self._abandoned = threading.Event()
        threading.Thread(target=self._read, daemon=True, name="chat-model").start()

    def next(self, deadline: float) -> str | None:
        """The next piece of the reply; None at its end; TimeoutError past `deadline`;
        GenerationFailed for the model's error."""
        try:
            item = self._pieces.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            raise TimeoutError from None
        if isinstance(item, BaseException):
            raise item
        return item

    def abandon(self) -> None:
        """Stop reading at the model's next piece."""
        self._abandoned.set()

    def _read(self) -> None:
        lock = self._chat.lock
        while not lock.acquire(timeout=0.1):
            if self._abandoned.is_set():
                return
        try:
            for chunk in self._chat.model.stream(self._prompt):
                if self._abandoned.is_set():
                    return
                self._pieces.put(chunk.content if isinstance(chunk.content, str) else "")
            self._pieces.put(None)
        except Exception as exc:  # any provider's error: connection, HTTP status, bad reply
            # Only the error's type and status: provider messages may echo the API key.
            status = getattr(exc, "status_code", None)
            self._pieces.put(GenerationFailed(type(exc).__name__ + (f" (HTTP {status})" if status else "")))
        finally:
            lock.release()


def build_generator(settings: Settings, progress: Callable[[str], None] = lambda _m: None) -> Generator | None:
    """The configured chat model ready to answer, or None for extractive answers."""
    chat = make_chat_model(settings, progress)
    return Generator(chat, settings.llm_timeout_s, settings.llm_first_token_s) if chat else None
