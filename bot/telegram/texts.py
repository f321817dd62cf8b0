"""What the bot says, in English and Chinese; everything here is Telegram HTML.

Placeholders are filled by `formatting`, which escapes every value it puts in.
The language is the question's script when there is a question (a Chinese question gets
a Chinese reply whatever the app language), else the user's Telegram language.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")

LANGUAGES = ("en", "zh")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "start": (
            "Hi! I answer questions about these articles and cite the passages I used:\n"
            "{titles}\n\n"
            "Just send me a question, for example: <i>{example}</i>\n"
            "In a group, mention me ({mention}), reply to one of my messages, or use "
            "/ask <i>question</i>.\n\n"
            "/articles lists the articles, /help explains the rest."
        ),
        "start_empty": (
            "Hi! I answer questions about articles, with citations, but I don't have any "
            "articles yet. Ask again once some have been added."
        ),
        "example": "How long can Sora's videos be?",
        "help": (
            "<b>How to ask</b>\n"
            "• In this private chat every text message is a question.\n"
            "• In a group, mention me ({mention}), reply to one of my messages, or send "
            "/ask <i>question</i>.\n\n"
            "<b>What you get</b>\n"
            "A short answer with markers like [1], and a numbered list of sources. "
            "Press <b>Sources</b> under the answer to read the quoted passages; press it "
            "again to hide them.\n\n"
            "I only know what the articles say: if they don't cover your question I say so.\n\n"
            "<b>Commands</b>\n"
            "/articles: the articles I know\n"
            "/ask <i>question</i>: ask (handy in groups)\n"
            "/help: this message"
        ),
        "articles": "<b>Articles I know</b> ({count}):\n{lines}",
        "article_line": "{n}. {title}, added {date}",
        "no_articles": "I don't have any articles yet.",
        "sources": "Sources",
        "show_sources": "📖 Sources",
        "hide_sources": "Hide sources",
        "refusal": (
            "The articles I know don't cover “{question}”.\n"
            "Send /articles to see what they are about."
        ),
        "ask_usage": "Put the question after the command, e.g. <code>/ask {example}</code>",
        "empty_mention": "Yes? Ask me something about the articles, e.g. <i>{example}</i>",
        "too_long": (
            "That message is {length} characters long; I take questions of up to {limit}. "
            "Please ask something shorter."
        ),
        "too_fast": (
            "You are asking faster than I can answer. Please wait {seconds} s and ask again."
        ),
        "unsupported": (
            "I can't read {kind}. Please send your question as a text message."
        ),
        "unsupported_edit": (
            "I only answer new messages, so I didn't see your edit. "
            "Please send the corrected question as a new message."
        ),
        "unknown_command": "I don't know that command. /help shows what I can do.",
        "sources_gone": "These sources are no longer available. Please ask the question again.",
        "apology": "Sorry, something went wrong on my side. Please try again in a moment.",
        "kind_sticker": "stickers",
        "kind_photo": "photos",
        "kind_voice": "voice messages",
        "kind_audio": "audio",
        "kind_video": "videos",
        "kind_video_note": "video messages",
        "kind_animation": "GIFs",
        "kind_document": "files",
        "kind_location": "locations",
        "kind_contact": "contacts",
        "kind_poll": "polls",
        "kind_other": "this kind of message",
    },
    "zh": {
        "start": (
            "你好!我根据下面这些文章回答问题,并注明引用的段落:\n"
            "{titles}\n\n"
            "直接发给我一个问题即可,例如:<i>{example}</i>\n"
            "在群组里,请 @我({mention})、回复我的消息,或者发送 /ask <i>问题</i>。\n\n"
            "/articles 列出文章,/help 查看使用说明。"
        ),
        "start_empty": "你好!我根据文章回答问题并注明出处,但现在还没有文章。请稍后再来提问。",
        "example": "Sora最长能生成多长的视频?",
        "help": (
            "<b>怎么提问</b>\n"
            "• 在私聊里,每条文字消息都是一个问题。\n"
            "• 在群组里,请 @我({mention})、回复我的消息,或者发送 /ask <i>问题</i>。\n\n"
            "<b>回答的样子</b>\n"
            "简短的回答带有 [1] 这样的标记,后面是编号的来源列表。"
            "点回答下面的 <b>来源</b> 按钮可以查看引用的原文,再点一次收起。\n\n"
            "我只知道文章里写了什么:文章没有涉及的问题,我会直接说明。\n\n"
            "<b>命令</b>\n"
            "/articles:我知道的文章\n"
            "/ask <i>问题</i>:提问(适合在群组里用)\n"
            "/help:本说明"
        ),
        "articles": "<b>我知道的文章</b>({count} 篇):\n{lines}",
        "article_line": "{n}. {title},添加于 {date}",
        "no_articles": "现在还没有文章。",
        "sources": "来源",
        "show_sources": "📖 来源",
        "hide_sources": "收起来源",
        "refusal": "我知道的文章里没有涉及“{question}”。\n发送 /articles 看看这些文章讲了什么。",
        "ask_usage": "请把问题写在命令后面,例如 <code>/ask {example}</code>",
        "empty_mention": "在呢!请问一个关于文章的问题,例如:<i>{example}</i>",
        "too_long": "这条消息有 {length} 个字符,问题最多 {limit} 个字符。请问得简短一些。",
        "too_fast": "你提问的速度太快了,我来不及回答。请等 {seconds} 秒再问。",
        "unsupported": "我看不懂{kind}。请用文字发送你的问题。",
        "unsupported_edit": "我只回答新消息,没有看到你的修改。请把修改后的问题作为新消息发送。",
        "unknown_command": "我不认识这个命令。发送 /help 查看我能做什么。",
        "sources_gone": "这些来源已经失效,请重新提问。",
        "apology": "抱歉,我这边出了点问题。请稍后再试。",
        "kind_sticker": "贴纸",
        "kind_photo": "图片",
        "kind_voice": "语音消息",
        "kind_audio": "音频",
        "kind_video": "视频",
        "kind_video_note": "视频消息",
        "kind_animation": "动图",
        "kind_document": "文件",
        "kind_location": "位置",
        "kind_contact": "联系人",
        "kind_poll": "投票",
        "kind_other": "这种消息",
    },
}

# The command menu registered with setMyCommands, per language ("" = everybody else).
COMMANDS: dict[str, list[tuple[str, str]]] = {
    "": [
        ("ask", "Ask a question about the articles"),
        ("articles", "List the articles I know"),
        ("help", "How to ask and read answers"),
        ("start", "What I know and how to ask"),
    ],
    "zh": [
        ("ask", "就文章提问"),
        ("articles", "列出我知道的文章"),
        ("help", "怎么提问、怎么看回答"),
        ("start", "我知道什么、怎么提问"),
    ],
}


def language_for(text: str | None = None, language_code: str | None = None) -> str:
    """"zh" for a Chinese question or a Chinese-speaking user, otherwise "en"."""
    if text and _CJK.search(text):
        return "zh"
    if text is None and language_code and language_code.lower().startswith("zh"):
        return "zh"
    return "en"


def say(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang`, with the (already escaped) values filled in."""
    table = TEXTS.get(lang, TEXTS["en"])
    return table[key].format(**values) if values else table[key]
