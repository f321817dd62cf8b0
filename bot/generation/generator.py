"""Generation mode: a chat model writes the answer from numbered passages.

The engine hands over the passages retrieval found (after deciding that they answer at
all) and gets back the model's text, streamed piece by piece to `on_text` so that a face
can show it growing. Anything that goes wrong — an unreachable server, an error, a
deadline passed — is a GenerationFailed, on which the engine answers extractively.
"""

from __future__ import annotations

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

    def __init__(self, chat: ChatModel, timeout_s: float) -> None:
        self.chat = chat
        self.timeout_s = timeout_s

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
        waiting for the model included."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        if not self.chat.lock.acquire(timeout=timeout_s):
            raise GenerationFailed(f"the model stayed busy for {timeout_s:.0f} s")
        try:
            text = ""
            for chunk in self.chat.model.stream(prompt):
                text += chunk.content if isinstance(chunk.content, str) else ""
                if time.monotonic() > deadline:
                    raise GenerationFailed(f"no complete answer within {timeout_s:.0f} s")
                if text.strip():
                    on_text(text)
        except GenerationFailed:
            raise
        except Exception as exc:  # any provider's error: connection, HTTP status, bad reply
            # Only the error's type and status: provider messages may echo the API key.
            status = getattr(exc, "status_code", None)
            raise GenerationFailed(type(exc).__name__ + (f" (HTTP {status})" if status else "")) from exc
        finally:
            self.chat.lock.release()
        if not text.strip():
            raise GenerationFailed("the model's reply was empty")
        return text.strip()


def build_generator(settings: Settings, progress: Callable[[str], None] = lambda _m: None) -> Generator | None:
    """The configured chat model ready to answer, or None for extractive answers."""
    chat = make_chat_model(settings, progress)
    return Generator(chat, settings.llm_timeout_s) if chat else None
