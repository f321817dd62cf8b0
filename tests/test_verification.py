"""The answer checker on passages built for the case: numbers at their magnitude, and
facts kept with the subject the passage gives them to.

The real e5 model scores the sentences (the session's `embeddings`), through the real
SentenceScorer and Verifier, as the engine uses them in generation mode. Each claim
cites passage [1], as a model would write it.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from bot.answering.selection import SentenceScorer
from bot.generation.verification import Claim, Verifier
from vectorstore.retrieval import Hit

RUNWAY = "视频生成大模型Gen-2的开发商Runway在2023年6月底完成C轮融资，估值超过15亿美元。"
LAUNCH = "首届发布会在上海举行，共吸引了3万名观众到场。"
CROWD_Q = "How many people came to the first launch event?"
SORA = "从官方演示视频看，Sora能够根据文本提示创建详细的视频，最长能生成60秒视频。"
# The number is Falcon's; Llama is named in the sentence before.
TRAINING = "Meta在2023年发布了Llama，并向研究者公开了模型权重。Falcon的训练动用了4096块A100 GPU，历时约两个月。"
# "它" continues a sentence that names only Falcon ...
FALCON_IT = "Falcon由阿联酋技术创新研究院开发。它的训练动用了4096块A100 GPU，历时约两个月。"
# ... or one that names Llama and Falcon, and then it could be either.
EITHER_IT = "Meta发布了Llama，Falcon则由阿联酋技术创新研究院开发。它的训练动用了4096块A100 GPU，历时约两个月。"


@pytest.fixture(scope="module")
def verifier(embeddings) -> Verifier:
    return Verifier(SentenceScorer(embeddings))


def passage(text: str, title: str, section: str = "") -> Hit:
    return Hit(Document(page_content=text, metadata={"title": title, "section": section}), 0.0, 0.0)


def kept(verifier: Verifier, hit: Hit, question: str, claim: str) -> bool:
    return verifier.supports([Claim(claim, (1,))], [hit], question)[0] is not None


@pytest.mark.parametrize(
    "claim, is_kept",
    [
        ("Runway was valued at over 1.5 billion dollars.", True),  # 15亿 = 1.5 billion
        ("Runway was valued at over $1.5 billion.", True),
        ("Runway was valued at over 15 billion dollars.", False),  # the digits, ten times the value
    ],
)
def test_a_number_is_read_with_its_magnitude_word(verifier, claim, is_kept):
    hit = passage(RUNWAY, "文生视频", "竞争对手")
    assert kept(verifier, hit, "What was Runway valued at?", claim) is is_kept


@pytest.mark.parametrize(
    "question, claim, is_kept",
    [
        (CROWD_Q, "The first launch event in Shanghai drew 30,000 spectators.", True),  # 3万
        (CROWD_Q, "The first launch event in Shanghai drew 3,000 spectators.", False),
        ("首届发布会有多少名观众？", "首届发布会共吸引了30000名观众到场。", True),
        ("首届发布会有多少名观众？", "首届发布会共吸引了3000名观众到场。", False),
    ],
)
def test_a_number_written_out_matches_the_magnitude_word_of_the_same_value(verifier, question, claim, is_kept):
    hit = passage(LAUNCH, "发布会")
    assert kept(verifier, hit, question, claim) is is_kept


@pytest.mark.parametrize(
    "question, claim",
    [
        ("How long can Sora's videos be?", "Sora can generate videos up to 60 seconds long."),
        ("Sora最长能生成多长的视频?", "Sora最长能生成60秒视频。"),
    ],
)
def test_a_number_without_magnitude_word_matches_its_digits(verifier, question, claim):
    assert kept(verifier, passage(SORA, "Sora很强大"), question, claim)


@pytest.mark.parametrize(
    "question, claim, is_kept",
    [
        ("训练Llama用了多少块GPU？", "Llama的训练动用了4096块A100 GPU。", False),
        ("训练Falcon用了多少块GPU？", "Falcon的训练动用了4096块A100 GPU。", True),
    ],
)
def test_a_number_stays_with_the_subject_its_sentence_names(verifier, question, claim, is_kept):
    hit = passage(TRAINING, "开源大模型", "训练算力")
    assert kept(verifier, hit, question, claim) is is_kept


@pytest.mark.parametrize(
    "question, claim, is_kept",
    [
        ("How many GPUs were used to train Llama?", "It took 4,096 A100 GPUs to train Llama.", False),
        ("How many GPUs were used to train Falcon?", "It took 4,096 A100 GPUs to train Falcon.", True),
        ("How many GPUs were used to train Falcon?", "Falcon was trained on 4,096 A100 GPUs.", True),
    ],
)
def test_across_languages_a_number_stays_with_the_subject_its_sentence_names(verifier, question, claim, is_kept):
    hit = passage(TRAINING, "开源大模型", "训练算力")
    assert kept(verifier, hit, question, claim) is is_kept


def test_a_sentence_without_a_name_continues_the_subject_of_the_one_before(verifier):
    hit = passage(FALCON_IT, "开源大模型", "训练算力")
    assert kept(verifier, hit, "训练Falcon用了多少块GPU？", "Falcon的训练动用了4096块A100 GPU。")
    assert kept(verifier, hit, "How many GPUs trained Falcon?", "Falcon was trained on 4,096 A100 GPUs.")


def test_a_sentence_without_a_name_after_one_naming_two_subjects_supports_neither(verifier):
    hit = passage(EITHER_IT, "开源大模型", "训练算力")
    assert not kept(verifier, hit, "训练Llama用了多少块GPU？", "Llama的训练动用了4096块A100 GPU。")
    assert not kept(verifier, hit, "How many GPUs trained Llama?", "It took 4,096 A100 GPUs to train Llama.")
