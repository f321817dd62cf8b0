"""The chat model's prompts, as LangChain prompt templates, one per question language.

Small local models (Qwen2.5 0.5B/1.5B) only write [n] markers reliably after a worked
example, so each prompt carries two: an answer with markers, and a refusal. Examples and
instructions come first and the passages last, so an in-process model reuses the
computed prefix from one question to the next.
"""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate

# What the model writes when the passages don't answer; such an answer is a refusal.
NO_ANSWER = {"zh": "资料中没有相关信息。", "en": "The passages don't say."}

_ANSWER = {
    "zh": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "你是问答助手。只根据给出的资料回答问题，不要使用资料以外的知识。"
                "回答要简短（一到三句），用中文，尽量沿用资料原文的词语。"
                "每句话后面用 [n] 标出它依据的资料编号。"
                "资料中没有答案时，只回答：" + NO_ANSWER["zh"],
            ),
            ("human", "资料：\n[1] 长城站位于南极乔治王岛，1985年建成。\n[2] 长城站夏季可容纳约80人，冬季约40人。\n\n问题：长城站是哪一年建成的？夏天能住多少人？"),
            ("ai", "长城站于1985年建成[1]，夏季可容纳约80人[2]。"),
            ("human", "资料：\n[1] 长城站位于南极乔治王岛，1985年建成。\n\n问题：长城站的站长是谁？"),
            ("ai", NO_ANSWER["zh"]),
            ("human", "资料：\n{passages}\n\n问题：{question}"),
        ]
    ),
    "en": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "You answer questions from the given passages only, never from other knowledge. "
                "The passages may be in Chinese: read them and answer in English, briefly (one to three sentences), keeping the passages' names "
                "and numbers; give names as the passages write them, with an English form when "
                "you know it. After each sentence write [n], the number of the passage it rests on. "
                "When the passages don't contain the answer, reply only: " + NO_ANSWER["en"],
            ),
            (
                "human",
                "Passages:\n[1] 长城站位于南极乔治王岛，1985年建成。\n[2] The station holds about 80 people "
                "in summer and 40 in winter.\n\nQuestion: When was the Great Wall Station built, and how "
                "many people can stay there in summer?",
            ),
            ("ai", "It was built in 1985 [1] and holds about 80 people in summer [2]."),
            ("human", "Passages:\n[1] 长城站位于南极乔治王岛，1985年建成。\n\nQuestion: Who runs the station?"),
            ("ai", NO_ANSWER["en"]),
            ("human", "Passages:\n{passages}\n\nQuestion: {question}"),
        ]
    ),
}

_STANDALONE = {
    "zh": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "把用户的追问改写成一个不依赖上下文、可以单独理解的问题：把“它”“这个”等代词换成所指的事物，"
                "补全省略的部分。只输出改写后的问题，不要回答它。",
            ),
            ("human", "之前的问题：\n长城站是哪一年建成的？\n\n追问：它能住多少人？"),
            ("ai", "长城站能住多少人？"),
            ("human", "之前的问题：\n{history}\n\n追问：{question}"),
        ]
    ),
    "en": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "Rewrite the user's follow-up as one question that can be understood on its own: "
                "replace pronouns such as 'it' with what they stand for and fill in what is left out. "
                "Reply with the rewritten question only; do not answer it.",
            ),
            ("human", "Earlier questions:\nWhen was the Great Wall Station built?\n\nFollow-up: And how many people live there?"),
            ("ai", "How many people live at the Great Wall Station?"),
            ("human", "Earlier questions:\n{history}\n\nFollow-up: {question}"),
        ]
    ),
}


def answer_prompt(language: str) -> ChatPromptTemplate:
    """Variables: `passages` ("[1] …" lines) and `question`."""
    return _ANSWER[language]


def standalone_prompt(language: str) -> ChatPromptTemplate:
    """Variables: `history` (earlier questions, one a line) and `question`."""
    return _STANDALONE[language]
