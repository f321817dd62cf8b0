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
            (
                "human",
                "资料：\n[1] 长城站位于南极乔治王岛，1985年建成。\n[2] 长城站夏季可容纳约80人，冬季约40人。\n\n问题：长城站是哪一年建成的？夏天能住多少人？",
            ),
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

# Rewriting follow-ups: one worked example each for a pronoun standing for the earlier
# question's subject, for a person the earlier answer named, and for an elliptical
# "and …?"; with fewer, the 1.5B model echoed the follow-up or answered it.
_STANDALONE = {
    "zh": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "把用户的追问改写成一个不依赖上下文、可以单独理解的问句：把“它”“他”“这个”等代词换成所指的事物"
                "（可能在之前的问题里，也可能在之前的回答里），补全省略的部分。只输出改写后的问句，不要回答它。",
            ),
            ("human", "之前的对话：\n问：长城站是哪一年建成的？\n答：长城站于1985年建成。\n\n追问：它能住多少人？"),
            ("ai", "长城站能住多少人？"),
            ("human", "之前的对话：\n问：谁设计了长城站的主楼？\n答：主楼由建筑师张工设计。\n\n追问：他还设计过什么？"),
            ("ai", "建筑师张工还设计过什么？"),
            ("human", "之前的对话：\n问：长城站夏天能住多少人？\n答：长城站夏季可容纳约80人。\n\n追问：那中山站呢？"),
            ("ai", "中山站夏天能住多少人？"),
            ("human", "之前的对话：\n{history}\n\n追问：{question}"),
        ]
    ),
    "en": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "Rewrite the user's follow-up as one question that can be understood on its own: "
                "replace pronouns such as 'it' or 'he' with what they stand for (in an earlier question "
                "or in an earlier answer) and fill in what is left out. "
                "Reply with the rewritten question only; do not answer it.",
            ),
            (
                "human",
                "Earlier conversation:\nQ: When was the Great Wall Station built?\nA: It was built in 1985.\n\nFollow-up: How many people can it hold?",
            ),
            ("ai", "How many people can the Great Wall Station hold?"),
            (
                "human",
                "Earlier conversation:\nQ: Who designed the station's main building?\nA: The architect Zhang Gong designed it.\n\nFollow-up: What else did he design?",
            ),
            ("ai", "What else did the architect Zhang Gong design?"),
            (
                "human",
                "Earlier conversation:\nQ: How many people can the Great Wall Station hold in summer?\nA: About 80 people in summer.\n\nFollow-up: And Zhongshan Station?",
            ),
            ("ai", "How many people can Zhongshan Station hold in summer?"),
            ("human", "Earlier conversation:\n{history}\n\nFollow-up: {question}"),
        ]
    ),
}


def answer_prompt(language: str) -> ChatPromptTemplate:
    """Variables: `passages` ("[1] …" lines) and `question`."""
    return _ANSWER[language]


def standalone_prompt(language: str) -> ChatPromptTemplate:
    """Variables: `history` (earlier turns, "问：…/答：…" lines) and `question`."""
    return _STANDALONE[language]


# Translating a question into the articles' language, so that retrieval, sentence scoring
# and the refusal model compare it within one language. One worked example each way: with
# none, the 1.5B model answered the question instead of translating it.
_QUESTION = {
    "zh": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "把用户的问题翻译成中文。人名、地名、机构名用中文通行的译名。只输出译文，不要回答问题。",
            ),
            ("human", "How many people can the Great Wall Station hold in summer?"),
            ("ai", "长城站夏天能住多少人？"),
            ("human", "{text}"),
        ]
    ),
    "en": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "Translate the user's question into English. Give names in their usual English form. "
                "Reply with the translation only; do not answer the question.",
            ),
            ("human", "长城站夏天能住多少人？"),
            ("ai", "How many people can the Great Wall Station hold in summer?"),
            ("human", "{text}"),
        ]
    ),
}

# Translating a stretch of an extractive answer (quoted sentences) into the asker's
# language: faithfully, since each translated sentence is checked against its passage.
_TEXT = {
    "zh": ChatPromptTemplate.from_messages(
        [
            ("system", "把这段文字翻译成中文，忠实原文，保留所有数字和名称。只输出译文。"),
            ("human", "The station was built in 1985. It holds about 80 people in summer."),
            ("ai", "该站于1985年建成。夏季可容纳约80人。"),
            ("human", "{text}"),
        ]
    ),
    "en": ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "Translate this text into English, faithfully, keeping every number and name. "
                "Reply with the translation only.",
            ),
            ("human", "长城站于1985年建成。夏季可容纳约80人。"),
            ("ai", "The Great Wall Station was built in 1985. It holds about 80 people in summer."),
            ("human", "{text}"),
        ]
    ),
}


def question_translation_prompt(target: str) -> ChatPromptTemplate:
    """Variable: `text`, a question to put into the `target` language ("zh" or "en")."""
    return _QUESTION[target]


def text_translation_prompt(target: str) -> ChatPromptTemplate:
    """Variable: `text`, sentences to put into the `target` language."""
    return _TEXT[target]
