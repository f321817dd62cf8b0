"""Token ids for XLM-R-style models through SentencePiece instead of `tokenizers`.

XLM-R's tokenizer is a SentencePiece unigram model. `tokenizers` loads its 250,002 pieces
into a trie of hash maps: 0.7–0.9 s, and a process that does only that peaks at 315 MB, in
every process that encodes (a third of the bot's memory, a fifth of a one-shot `articlebot
ask`). SentencePiece, the library the model was trained with, loads the same pieces in
0.35–0.4 s, peaking at 84 MB (`benchmarks/token_ids.py`). So `prepare` writes the model's `tokenizer.json` (transformers' own, `onnx_export.export_tokenizer`)
once more as a SentencePiece model, and the encoder asks it for ids.

The ids are transformers' ids (tests/test_embeddings.py checks the default article and
edge cases, `benchmarks/token_ids.py` every text of the benchmark files), because the pipeline around the unigram model is rebuilt as
transformers runs it: the special tokens are split off the raw text first, Unicode
whitespace separates words, each word gets the "▁" prefix, the same precompiled character
map normalises. Two places differ, and are handled:

- `tokenizers` applies the character map to a whole grapheme (a letter and its combining
  accent, a Hangul jamo syllable, whitespace and an emoji variation selector) where
  SentencePiece goes character by character. A text with such a grapheme is tokenized by
  `tokenizers`, loaded the first time one comes.
- Where two segmentations score exactly the same, the libraries may choose differently
  ("ccc" as c+cc or cc+c). `benchmarks/token_ids.py` measures it: none of the 17,580
  texts of the articles and benchmark files (alone and with the query prompt), 1 of
  20,000 random strings of mixed scripts.

    model_file = export_sentencepiece(tokenizer_json, folder / SENTENCEPIECE_FILE)  # None: not XLM-R-like
    tokens = token_ids(tokenizer_json, model_file, max_length=512, lower_case=False)
    tokens.ids(["query: Sora"])  # [[0, ..., 2]], as transformers' tokenizer gives
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SENTENCEPIECE_FILE = "tokenizer.model"
# What Rust's char::is_whitespace (tokenizers' WhitespaceSplit) counts as whitespace.
_WHITESPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_METASPACE = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}


def _convertible(spec: dict[str, Any]) -> bool:
    """Whether a tokenizer.json is the XLM-R pipeline this module reproduces."""
    model, normalizer = spec.get("model") or {}, spec.get("normalizer") or {}
    pre_tokenizers = (spec.get("pre_tokenizer") or {}).get("pretokenizers")
    single = (spec.get("post_processor") or {}).get("single") or []
    return (
        model.get("type") == "Unigram"
        and not model.get("byte_fallback")
        and normalizer.get("type") == "Precompiled"
        and pre_tokenizers == [{"type": "WhitespaceSplit"}, _METASPACE]
        and [next(iter(item)) for item in single] == ["SpecialToken", "Sequence", "SpecialToken"]
        and bool(spec.get("padding"))
        and all(
            token["special"] and not (token["lstrip"] or token["rstrip"] or token["single_word"] or token["normalized"])
            for token in spec.get("added_tokens", [])
        )
    )


def export_sentencepiece(tokenizer_json: Path, target: Path) -> Path | None:
    """`tokenizer_json` written as a SentencePiece model `target` (once), with the same ids;
    None when the tokenizer is not a unigram model with XLM-R's pipeline (WordPiece, BPE,
    lower-casing…): those keep using `tokenizers`."""
    if target.exists():
        return target
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    if not _convertible(spec):
        return None
    from sentencepiece import sentencepiece_model_pb2  # protobuf, which onnx needs too

    model_pb2: Any = sentencepiece_model_pb2  # generated code: no type information

    proto = model_pb2.ModelProto()
    piece_type = model_pb2.ModelProto.SentencePiece
    special = {token["id"] for token in spec["added_tokens"]}
    unk_id = spec["model"]["unk_id"]
    for index, (piece, score) in enumerate(spec["model"]["vocab"]):
        kind = piece_type.UNKNOWN if index == unk_id else piece_type.CONTROL if index in special else piece_type.NORMAL
        proto.pieces.add(piece=piece, score=score, type=kind)
    proto.trainer_spec.model_type = model_pb2.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(proto.pieces)
    proto.trainer_spec.unk_id = unk_id
    proto.normalizer_spec.name = "precompiled"
    proto.normalizer_spec.precompiled_charsmap = base64.b64decode(spec["normalizer"]["precompiled_charsmap"])
    proto.normalizer_spec.add_dummy_prefix = True  # Metaspace's "▁" before each word
    proto.normalizer_spec.remove_extra_whitespaces = True  # WhitespaceSplit drops runs of spaces
    proto.normalizer_spec.escape_whitespaces = True
    single = spec["post_processor"]["single"]
    first, last = single[0]["SpecialToken"]["id"], single[2]["SpecialToken"]["id"]
    ids = {token["content"]: token["id"] for token in spec["added_tokens"]}
    facts = {"special": ids, "first": ids[first], "last": ids[last], "pad": spec["padding"]["pad_id"]}
    _write(_facts_file(target), json.dumps(facts).encode())
    _write(target, proto.SerializeToString())  # last: the model is there only when both are
    return target


def _write(target: Path, data: bytes) -> None:
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    staging.write_bytes(data)
    staging.replace(target)  # appears complete or not at all


def _joins_graphemes(text: str) -> bool:
    """Whether the text has a character that joins the one before it into one grapheme,
    where the two libraries normalise differently: combining marks, conjoining jamo,
    half-width kana sound marks. A variation selector (emoji) tokenizes the same, except
    after whitespace."""
    for before, character in zip(" " + text, text, strict=False):
        if "\ufe00" <= character <= "\ufe0f":
            if _WHITESPACE.match(before):
                return True
        elif unicodedata.category(character) in ("Mn", "Mc", "Me") or (
            "\u1100" <= character <= "\u11ff" or character in "\uff9e\uff9f"
        ):
            return True
    return False


class TokenizersIds:
    """Texts → token ids with `tokenizers` (cut at `max_length`, no padding), as
    transformers' fast tokenizer gives them."""

    def __init__(self, tokenizer_json: Path, max_length: int, lower_case: bool = False) -> None:
        from tokenizers import Tokenizer, normalizers

        tokenizer = Tokenizer.from_file(str(tokenizer_json))
        if lower_case:  # what sentence-transformers adds for do_lower_case
            tokenizer.normalizer = normalizers.Sequence(
                [normalizers.Lowercase(), *([tokenizer.normalizer] if tokenizer.normalizer else [])]
            )
        self.pad_id: int = (tokenizer.padding or {})["pad_id"]  # onnx_export.export_tokenizer sets it
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)  # as transformers with truncation="longest_first"
        self._tokenizer = tokenizer

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]


class SentencePieceIds:
    """Texts → the same ids as `TokenizersIds`, through the SentencePiece model that
    `export_sentencepiece` wrote; texts with combining characters through `TokenizersIds`."""

    def __init__(self, model_file: Path, tokenizer_json: Path, max_length: int) -> None:
        import sentencepiece

        self.model_file = model_file
        # Loading takes ~0.4 s of C++ that releases the GIL: a starting process goes on
        # meanwhile (opening the store, loading jieba's dictionary), and the first text waits.
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentencepiece")
        self._processor = loader.submit(sentencepiece.SentencePieceProcessor, model_file=str(model_file))
        loader.shutdown(wait=False)
        facts = json.loads(_facts_file(model_file).read_text(encoding="utf-8"))
        self._special: dict[str, int] = facts["special"]
        self._split = re.compile("(" + "|".join(map(re.escape, self._special)) + ")")
        self._first, self._last = facts["first"], facts["last"]
        self.pad_id: int = facts["pad"]
        self.tokenizer_json = tokenizer_json
        self._max_length = max_length
        self.fallback: TokenizersIds | None = None  # loaded for the first text that needs it
        self._fallback_lock = threading.Lock()  # by one of the engine's threads, once

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [self._text_ids(text) for text in texts]

    def _text_ids(self, text: str) -> list[int]:
        if _joins_graphemes(text):
            with self._fallback_lock:
                if self.fallback is None:
                    self.fallback = TokenizersIds(self.tokenizer_json, self._max_length)
            return self.fallback.ids([text])[0]
        processor = self._processor.result()
        ids: list[int] = []
        for part in self._split.split(text):
            if part in self._special:
                ids.append(self._special[part])
            elif part:
                ids.extend(processor.encode(_WHITESPACE.sub(" ", part)))
        return [self._first, *ids[: self._max_length - 2], self._last]


def token_ids(
    tokenizer_json: Path, sentencepiece_model: Path | None, max_length: int, lower_case: bool
) -> TokenizersIds | SentencePieceIds:
    """SentencePiece where `export_sentencepiece` could write a model, `tokenizers` otherwise."""
    if sentencepiece_model is None or lower_case:
        return TokenizersIds(tokenizer_json, max_length, lower_case)
    return SentencePieceIds(sentencepiece_model, tokenizer_json, max_length)


def _facts_file(model_file: Path) -> Path:
    """Beside the model: its special tokens and the ids that open, close and pad a text."""
    return model_file.with_name(model_file.name + ".json")
