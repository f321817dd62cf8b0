"""What the bot says, in English and Chinese; everything here is Telegram HTML.

Placeholders are filled by `formatting`, which escapes every value it puts in. An English
count takes its noun in the singular or plural by the format spec "one|many":
"{chunks} {chunks:chunk|chunks}" says "1 chunk" and "2 chunks" (Chinese needs no such thing).
The language is the question's script when there is a question (a Chinese question gets
a Chinese reply whatever the app language), else the user's Telegram language.
"""

from __future__ import annotations

import string

from bot.language import language_of

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
            "again to hide them. <b>👍</b> or <b>👎</b> tells me whether the answer helped; "
            "after 👎 you can say in one line what was wrong, which helps to improve me.\n\n"
            "I only know what the articles say: if they don't cover your question I say so.\n\n"
            "I remember your last few questions, so you can follow up (“And how long can "
            "its videos be?”); /reset makes me forget them.\n\n"
            "<b>Commands</b>\n"
            "/articles: the articles I know\n"
            "/ask <i>question</i>: ask (handy in groups)\n"
            "/reset: start a new conversation\n"
            "/help: this message"
        ),
        "articles": "<b>Articles I know</b> ({count}):\n{lines}",
        "article_line": "{n}. {title}, added {date}",
        "no_articles": "I don't have any articles yet.",
        "sources": "Sources",
        "understood_as": "Understood as: {question}",
        "untranslated_no_model": "Quoted in Chinese: no translation model is installed.",
        "untranslated_failed": "Quoted in Chinese: no checked translation in time.",
        "reset_done": "Done: I've forgotten our conversation. Your next question starts afresh.",
        "show_sources": "📖 Sources",
        "hide_sources": "Hide sources",
        "refusal": ("The articles I know don't cover “{question}”.\nSend /articles to see what they are about."),
        "ask_usage": "Put the question after the command, e.g. <code>/ask {example}</code>",
        "empty_mention": "Yes? Ask me something about the articles, e.g. <i>{example}</i>",
        "empty_question": (
            "That message has no question in it. Ask me something about the articles, e.g. <i>{example}</i>"
        ),
        "too_long": (
            "That message is {length} characters long; I take questions of up to {limit}. Please ask something shorter."
        ),
        "too_fast": ("You are asking faster than I can answer. Please wait {seconds} s and ask again."),
        "unsupported": ("I can't read {kind}. Please send your question as a text message."),
        "unsupported_edit": (
            "I only answer new messages, so I didn't see your edit. "
            "Please send the corrected question as a new message."
        ),
        "unknown_command": "I don't know that command. /help shows what I can do.",
        "sources_gone": "These sources are no longer available. Please ask the question again.",
        "button_unknown": "This button no longer works.",
        "apology": "Sorry, something went wrong on my side. Please try again in a moment.",
        "cannot_answer_now": "I can't search the articles right now (a problem on my side). Please try again shortly.",
        "kind_sticker": "stickers",
        "kind_photo": "photos",
        "kind_voice": "voice messages",
        "kind_audio": "audio",
        "kind_video": "videos",
        "kind_video_note": "video messages",
        "kind_animation": "GIFs",
        "kind_location": "locations",
        "kind_contact": "contacts",
        "kind_poll": "polls",
        "kind_other": "this kind of message",
        # Admins (bot/telegram/admin.py).
        "admin_only": (
            "Sorry, only the bot's admins can do that (manage the articles, see stats and feedback). "
            "You can still ask me anything about the articles."
        ),
        "admin_help": (
            "\n\n<b>Admin commands</b>\n"
            "/ingest <i>URL</i> [<i>title</i>]: add a web page as an article\n"
            "Send a file ({types}; UTF-8 or GBK text), with an optional caption as its title\n"
            "The same URL or file name again replaces that article; a new one is added.\n"
            "/articles: the articles with their ids\n"
            "/remove <i>id</i>: remove an article (asks first)\n"
            "/reindex: re-embed every article with the current model\n"
            "/refresh [<i>id</i>]: fetch the web pages again and replace the articles that changed\n"
            "/export: every article in one file, to back up or move (<code>articlebot import</code> restores it)\n"
            "/stats: articles, chunks, questions and latency since start\n"
            "/feedback: the latest 👎 votes, with their reasons"
        ),
        "ingest_usage": (
            "Put an http(s) URL after the command, e.g. "
            "<code>/ingest https://example.com/post.html</code>, or send me a file ({types})."
        ),
        "status": "⏳ <b>{source}</b>\n{stage}",
        "stage_start": "Starting…",
        "stage_download": "Downloading the file…",
        "stage_fetching": "Fetching…",
        "stage_cleaning": "Cleaning the text…",
        "stage_chunking": "Splitting it into chunks…",
        "stage_embedding": "Embedding {done}/{total} (chunks, then their sentences)…",
        "ingest_new": "✅ <b>{source}</b>\nAdded a new article:\n<code>{summary}</code>",
        "ingest_unchanged": (
            "✅ <b>{source}</b>\nUnchanged since the last time, nothing to do:\n<code>{summary}</code>"
        ),
        "ingest_replaced": "✅ <b>{source}</b>\nReplaced the older version:\n<code>{summary}</code>",
        "ingest_failed": "❌ <b>{source}</b>\n{reason}\nThe articles are unchanged.",
        "download_failed": "Telegram did not let me download the file ({reason}).",
        "ingest_crashed": (
            "❌ <b>{source}</b>\nThe ingest failed midway (an error on my side, now in the log). "
            "Nothing was lost: the articles are as before. Send it again to retry."
        ),
        "ingest_stopped": (
            "⏹ <b>{source}</b>\nStopped: the bot is shutting down. The articles are as before; "
            "send it again once the bot is back."
        ),
        "admin_articles": "<b>Articles</b> ({count}, {chunks} {chunks:chunk|chunks}):\n{lines}",
        "admin_article_line": "{n}. {title}\n<code>{id}</code>, {chunks} {chunks:chunk|chunks}, added {date}",
        "remove_usage": (
            "Put the article's id after the command, e.g. <code>/remove {example}</code>; /articles shows the ids."
        ),
        "unknown_article": "No article has the id <code>{id}</code>. /articles shows the ids.",
        "remove_confirm": (
            "Remove <b>{title}</b> (<code>{id}</code>, {chunks} {chunks:chunk|chunks})? "
            "Questions about it will no longer be answered."
        ),
        "remove_yes": "🗑 Remove",
        "remove_no": "Keep it",
        "removed": "🗑 Removed <b>{title}</b> (<code>{id}</code>).",
        "remove_kept": "Kept <b>{title}</b> (<code>{id}</code>).",
        "reindex_status": "⏳ Re-embedding every article with {model}: {done}/{total} {total:chunk|chunks}…",
        "reindex_done": "✅ Re-embedded {count} {count:chunk|chunks} with {model}.",
        "reindex_failed": ("❌ Re-embedding failed midway (an error on my side, now in the log). Send /reindex again."),
        "reindex_stopped": "⏹ Re-embedding stopped: the bot is shutting down. Send /reindex again once it is back.",
        # Web pages fetched again (bot/telegram/refresh.py).
        "refresh_status": "⏳ Fetching the web pages again: {done}/{total}…",
        "refresh_done": (
            "<b>Web pages fetched again</b> ({total}): {replaced} replaced, {unchanged} unchanged, "
            "{failed} not fetched (their old versions stay)."
        ),
        "refresh_scheduled": (
            "<b>Scheduled refresh of the web pages</b> ({total}): {replaced} replaced, "
            "{failed} not fetched (their old versions stay), {unchanged} unchanged."
        ),
        "refresh_nothing": "No article comes from a web page, so there is nothing to refresh.",
        "refresh_not_web": (
            "Article <code>{id}</code> comes from a file, not a web page: send the file again to update it."
        ),
        "refresh_crashed": (
            "❌ The refresh failed midway (an error on my side, now in the log). "
            "Articles not refreshed yet are as before. Send /refresh to try again."
        ),
        "export_status": "⏳ Exporting every article…",
        "export_done": (
            "✅ Exported every article: {articles} ({chunks} chunks, {size}), in <b>{name}</b> below.\n"
            "<code>articlebot import {name}</code> restores them, here or in another data dir."
        ),
        "export_caption": "Articles: {articles} ({chunks} chunks)",
        "export_too_big": (
            "❌ The archive is {size}, more than the {limit} MB Telegram lets bots send. "
            "Run <code>articlebot export FILE</code> on the bot's machine instead."
        ),
        "export_failed": "❌ Exporting failed: {reason}",
        "export_crashed": "❌ Exporting failed midway (an error on my side, now in the log). Send /export again.",
        "stats": (
            "<b>Since start</b>\n"
            "Articles: {articles} ({chunks} {chunks:chunk|chunks})\n"
            "Questions answered: {answered}\n"
            "Refused: {refused}\n"
            "Median latency: {median}"
        ),
        "milliseconds": "{ms} ms",
        "no_latency": "none yet",
        # Who may use the bot, and how much (bot/telegram/gates.py).
        "not_allowed": (
            "Sorry, this bot only answers the people and groups it was set up for. "
            "If you think you should be one of them, ask whoever runs it."
        ),
        "quota_used_up": (
            "You have asked your {limit} questions for today. You can ask again after 00:00 UTC, in {left}."
        ),
        "hours_minutes": "{hours} h {minutes} min",
        "minutes": "{minutes} min",
        # Votes on answers (👍 / 👎).
        "vote_thanks": "Thanks for the feedback!",
        "vote_down_noted": "Noted. Thanks for telling me.",
        "vote_why": (
            "{name}, what was wrong with this answer? Your next message here (within {minutes} minutes) "
            "is taken as the reason, in one line; or press Skip."
        ),
        "vote_skip": "Skip",
        "vote_reason_thanks": ("Thanks, noted: “{reason}”. If that was meant as a question, just send it again."),
        "vote_skipped": "Noted without a reason. Thanks!",
        "vote_gone": "This answer can no longer be rated. Please ask the question again.",
        "vote_not_yours": "Only the person who voted can skip this.",
        "feedback_none": "No 👎 votes yet (👍 {up}).",
        "feedback_header": "<b>Latest 👎 votes</b> ({shown} of {down}; 👍 {up})",
        "feedback_item": "{n}. {date}\nQ: {question}\nA: {answer}\nWhy: {reason}",
        "feedback_refused": "<i>(said the articles don't cover it)</i>",
        "feedback_no_reason": "<i>no reason given</i>",
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
            "点回答下面的 <b>来源</b> 按钮可以查看引用的原文,再点一次收起。"
            "<b>👍</b> 或 <b>👎</b> 告诉我回答有没有帮助;点 👎 之后可以用一句话说明哪里不对,帮助我改进。\n\n"
            "我只知道文章里写了什么:文章没有涉及的问题,我会直接说明。\n\n"
            "我记得你最近的几个问题,所以可以接着追问(“它能生成多长的视频?”);"
            "/reset 让我忘掉之前的对话。\n\n"
            "<b>命令</b>\n"
            "/articles:我知道的文章\n"
            "/ask <i>问题</i>:提问(适合在群组里用)\n"
            "/reset:开始新的对话\n"
            "/help:本说明"
        ),
        "articles": "<b>我知道的文章</b>({count} 篇):\n{lines}",
        "article_line": "{n}. {title},添加于 {date}",
        "no_articles": "现在还没有文章。",
        "sources": "来源",
        "understood_as": "理解为:{question}",
        "untranslated_no_model": "引文为英文:未安装翻译模型。",
        "untranslated_failed": "引文为英文:没有及时得到核对过的译文。",
        "reset_done": "好的,我已经忘掉之前的对话。下一个问题重新开始。",
        "show_sources": "📖 来源",
        "hide_sources": "收起来源",
        "refusal": "我知道的文章里没有涉及“{question}”。\n发送 /articles 看看这些文章讲了什么。",
        "ask_usage": "请把问题写在命令后面,例如 <code>/ask {example}</code>",
        "empty_mention": "在呢!请问一个关于文章的问题,例如:<i>{example}</i>",
        "empty_question": "这条消息里没有问题。请问一个关于文章的问题,例如:<i>{example}</i>",
        "too_long": "这条消息有 {length} 个字符,问题最多 {limit} 个字符。请问得简短一些。",
        "too_fast": "你提问的速度太快了,我来不及回答。请等 {seconds} 秒再问。",
        "unsupported": "我看不懂{kind}。请用文字发送你的问题。",
        "unsupported_edit": "我只回答新消息,没有看到你的修改。请把修改后的问题作为新消息发送。",
        "unknown_command": "我不认识这个命令。发送 /help 查看我能做什么。",
        "sources_gone": "这些来源已经失效,请重新提问。",
        "button_unknown": "这个按钮已经失效。",
        "apology": "抱歉,我这边出了点问题。请稍后再试。",
        "cannot_answer_now": "我现在查不了文章(是我这边的问题)。请稍后再试。",
        "kind_sticker": "贴纸",
        "kind_photo": "图片",
        "kind_voice": "语音消息",
        "kind_audio": "音频",
        "kind_video": "视频",
        "kind_video_note": "视频消息",
        "kind_animation": "动图",
        "kind_location": "位置",
        "kind_contact": "联系人",
        "kind_poll": "投票",
        "kind_other": "这种消息",
        "admin_only": "抱歉,只有机器人的管理员可以这样做(管理文章、查看统计和反馈)。你仍然可以就文章向我提问。",
        "admin_help": (
            "\n\n<b>管理员命令</b>\n"
            "/ingest <i>网址</i> [<i>标题</i>]:把网页加为文章\n"
            "发送文件({types};UTF-8 或 GBK 文本),可用说明文字作标题\n"
            "再次发送同一网址或文件名会替换那篇文章,其他的加为新文章。\n"
            "/articles:文章及其 id\n"
            "/remove <i>id</i>:删除文章(会先确认)\n"
            "/reindex:用当前模型重新嵌入所有文章\n"
            "/refresh [<i>id</i>]:重新获取网页,替换内容有变化的文章\n"
            "/export:把所有文章导出为一个文件,用于备份或迁移(<code>articlebot import</code> 可恢复)\n"
            "/stats:启动以来的文章、片段、提问和延迟\n"
            "/feedback:最近的 👎 评价及其原因"
        ),
        "ingest_usage": (
            "请把 http(s) 网址写在命令后面,例如 "
            "<code>/ingest https://example.com/post.html</code>,或者直接发送文件({types})。"
        ),
        "status": "⏳ <b>{source}</b>\n{stage}",
        "stage_start": "开始处理…",
        "stage_download": "正在下载文件…",
        "stage_fetching": "正在获取…",
        "stage_cleaning": "正在清理文本…",
        "stage_chunking": "正在切分片段…",
        "stage_embedding": "正在嵌入 {done}/{total}(先片段,后句子)…",
        "ingest_new": "✅ <b>{source}</b>\n已添加新文章:\n<code>{summary}</code>",
        "ingest_unchanged": "✅ <b>{source}</b>\n内容与上次相同,无需处理:\n<code>{summary}</code>",
        "ingest_replaced": "✅ <b>{source}</b>\n已替换旧版本:\n<code>{summary}</code>",
        "ingest_failed": "❌ <b>{source}</b>\n{reason}\n文章没有任何改动。",
        "download_failed": "Telegram 不让我下载这个文件({reason})。",
        "ingest_crashed": (
            "❌ <b>{source}</b>\n处理到一半出错了(是我这边的问题,已记入日志)。"
            "没有丢失任何内容:文章和之前一样。请重新发送再试一次。"
        ),
        "ingest_stopped": "⏹ <b>{source}</b>\n已停止:机器人正在关闭。文章和之前一样;机器人恢复后请重新发送。",
        "admin_articles": "<b>文章</b>({count} 篇,{chunks} 个片段):\n{lines}",
        "admin_article_line": "{n}. {title}\n<code>{id}</code>,{chunks} 个片段,添加于 {date}",
        "remove_usage": "请把文章 id 写在命令后面,例如 <code>/remove {example}</code>;/articles 列出所有 id。",
        "unknown_article": "没有 id 为 <code>{id}</code> 的文章。/articles 列出所有 id。",
        "remove_confirm": "删除 <b>{title}</b>(<code>{id}</code>,{chunks} 个片段)?删除后将不再回答关于它的问题。",
        "remove_yes": "🗑 删除",
        "remove_no": "保留",
        "removed": "🗑 已删除 <b>{title}</b>(<code>{id}</code>)。",
        "remove_kept": "已保留 <b>{title}</b>(<code>{id}</code>)。",
        "reindex_status": "⏳ 正在用 {model} 重新嵌入所有文章:{done}/{total} 个片段…",
        "reindex_done": "✅ 已用 {model} 重新嵌入 {count} 个片段。",
        "reindex_failed": "❌ 重新嵌入中途失败(是我这边的问题,已记入日志)。请再发送一次 /reindex。",
        "reindex_stopped": "⏹ 重新嵌入已停止:机器人正在关闭。恢复后请再发送一次 /reindex。",
        "refresh_status": "⏳ 正在重新获取网页:{done}/{total}…",
        "refresh_done": (
            "<b>已重新获取 {total} 个网页</b>:替换 {replaced} 篇,未变 {unchanged} 篇,获取失败 {failed} 篇(保留旧版本)。"
        ),
        "refresh_scheduled": (
            "<b>定时重新获取 {total} 个网页</b>:替换 {replaced} 篇,获取失败 {failed} 篇(保留旧版本),"
            "未变 {unchanged} 篇。"
        ),
        "refresh_nothing": "没有来自网页的文章,无需重新获取。",
        "refresh_not_web": "文章 <code>{id}</code> 来自文件而不是网页:请重新发送文件来更新它。",
        "refresh_crashed": (
            "❌ 重新获取中途失败(是我这边的问题,已记入日志)。尚未处理的文章保持不变。请再发送 /refresh 重试。"
        ),
        "export_status": "⏳ 正在导出所有文章…",
        "export_done": (
            "✅ 已导出所有文章:{articles} 篇({chunks} 个片段,{size}),见下方的 <b>{name}</b>。\n"
            "<code>articlebot import {name}</code> 可以在这里或另一个数据目录中恢复它们。"
        ),
        "export_caption": "文章:{articles} 篇({chunks} 个片段)",
        "export_too_big": (
            "❌ 导出文件有 {size},超过了 Telegram 允许机器人发送的 {limit} MB。"
            "请在机器人所在的机器上运行 <code>articlebot export FILE</code>。"
        ),
        "export_failed": "❌ 导出失败:{reason}",
        "export_crashed": "❌ 导出中途失败(是我这边的问题,已记入日志)。请再发送一次 /export。",
        "stats": (
            "<b>启动以来</b>\n"
            "文章:{articles} 篇({chunks} 个片段)\n"
            "已回答的问题:{answered}\n"
            "未能回答:{refused}\n"
            "延迟中位数:{median}"
        ),
        "milliseconds": "{ms} 毫秒",
        "no_latency": "暂无",
        "not_allowed": "抱歉,这个机器人只为指定的用户和群组服务。如果你觉得自己应该可以使用,请联系它的管理者。",
        "quota_used_up": "你今天的 {limit} 个问题已经问完了。UTC 时间 00:00(北京时间 08:00)之后可以再问,还有 {left}。",
        "hours_minutes": "{hours} 小时 {minutes} 分钟",
        "minutes": "{minutes} 分钟",
        "vote_thanks": "谢谢你的反馈!",
        "vote_down_noted": "收到,谢谢告诉我。",
        "vote_why": "{name},这个回答哪里不对?你在这里发的下一条消息({minutes} 分钟内)会被当作原因,一句话即可;也可以点“跳过”。",
        "vote_skip": "跳过",
        "vote_reason_thanks": "谢谢,已记下:“{reason}”。如果这其实是一个问题,请再发一次。",
        "vote_skipped": "已记下,没有原因。谢谢!",
        "vote_gone": "这个回答已经不能评价了,请重新提问。",
        "vote_not_yours": "只有评价的人才能跳过。",
        "feedback_none": "还没有 👎 评价(👍 {up} 个)。",
        "feedback_header": "<b>最近的 👎 评价</b>(显示 {shown} 个,共 {down} 个;👍 {up} 个)",
        "feedback_item": "{n}. {date}\n问:{question}\n答:{answer}\n原因:{reason}",
        "feedback_refused": "<i>(回答说文章没有涉及)</i>",
        "feedback_no_reason": "<i>没有给出原因</i>",
    },
}

# The command menu registered with setMyCommands, per language ("" = everybody else).
COMMANDS: dict[str, list[tuple[str, str]]] = {
    "": [
        ("ask", "Ask a question about the articles"),
        ("articles", "List the articles I know"),
        ("help", "How to ask and read answers"),
        ("reset", "Forget our conversation"),
        ("start", "What I know and how to ask"),
    ],
    "zh": [
        ("ask", "就文章提问"),
        ("articles", "列出我知道的文章"),
        ("help", "怎么提问、怎么看回答"),
        ("reset", "忘掉之前的对话"),
        ("start", "我知道什么、怎么提问"),
    ],
}


def language_for(text: str | None = None, language_code: str | None = None) -> str:
    """ "zh" for a Chinese question or a Chinese-speaking user, otherwise "en"."""
    if text and language_of(text) == "zh":
        return "zh"
    if text is None and language_code and language_code.lower().startswith("zh"):
        return "zh"
    return "en"


def say(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang`, with the (already escaped) values filled in."""
    table = TEXTS.get(lang, TEXTS["en"])
    return _COUNTING.format(table[key], **values) if values else table[key]


# -- Failures in the user's language; singular and plural ---------------------------------

# Why an ingest (or a question) failed, per error code (`ArticlebotError.code`, set where the
# error is raised in ingest/ or vectorstore/), with the error's `values` as placeholders. English is the error's own
# message, the one the CLI prints; a code with no template here is shown in English too.
ERROR_TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "url_scheme": "只能导入 http(s) 网址,不能导入 {url}。",
        "url_or_file_scheme": "只能导入 http(s) 网址和文件,不能导入 {url}。",
        "url_space": "{url} 的主机名里有空格。",
        "url_no_host": "{url} 里没有主机名(应为 http://主机名/…)。",
        "url_port": "{url} 的端口 {port} 无效:端口应是 1 到 65535 之间的数字。",
        "url_invalid": "{url} 不是有效的网址。",
        "unresolved_host": "无法解析主机名 {host}。",
        "private_address": "{host} 是私有或本机地址({address});要从这里导入,请设置 ALLOW_PRIVATE_URLS=true。",
        "fetch_timeout": "无法获取 {url}:{seconds:g} 秒内没有收到完整的响应(FETCH_TIMEOUT)。",
        "fetch_connect": "无法获取 {url}:连接不上服务器。",
        "fetch_failed": "无法获取 {url}:传输中途失败({detail})。",
        "http_status": "{url} 返回了错误 HTTP {status}。",
        "unsupported_content_type": "{url} 的类型是 {content_type},不是网页、文本或 PDF。",
        "unknown_content_type": "{url} 的类型未知,不是网页、文本或 PDF。",
        "too_many_redirects": "{url} 重定向超过 {limit} 次。",
        "not_found": "找不到文件:{path}",
        "read_failed": "无法读取 {name}({detail})。",
        "too_large": "{name} 超过了 {limit:,} 字节的大小上限。",
        "unsupported_type": "无法读取 {name}:支持的文件类型是 {types}。",
        "binary": "{name} 不是文本文件(里面有二进制数据)。",
        "unknown_encoding": "无法判断 {name} 的文本编码;请把它另存为 UTF-8。",
        "not_text": "{name} 看起来不是文本;它真的是 {suffix} 文件吗?",
        "no_text": "{name} 里没有文字。",
        "no_article_text": "{name} 里没有找到文章正文。",
        "pdf_password": "{name} 有密码保护;请发送一份没有密码的副本。",
        "pdf_unreadable": "{name} 已损坏或格式不对,无法读取。",
        "pdf_no_text": "{name} 里没有可以提取的文字(是扫描件或纯图片吗?)。",
        "docx_unreadable": "{name} 已损坏或格式不对,无法读取。",
        "docx_unpacked": "{name} 解压后有 {size:,} 字节、{parts:,} 个部分,远超一篇文档应有的大小:已拒绝。",
        "empty": "文章是空的:里面没有找到文字。",
        "empty_boilerplate": "去掉网页的导航、页脚等固定内容之后,文章是空的。",
        "empty_after_cleaning": "清理之后,文章里没有可以索引的文字。",
        "too_many_chunks": (
            "“{title}”太长了:会切成超过 {limit:,} 个片段,超出每篇文章的上限(MAX_CHUNKS_PER_ARTICLE),"
            "索引也会很慢。请把它拆成几篇文章,或者调高上限。"
        ),
        "article_changed": "导入期间,文章 {article_id} 被另一次导入或删除改动了:这次什么都没有保存,那次的改动保留。要替换它,请再导入一次。",
        "ingest_lost_records": "导入期间,另一个进程删除了这次写入的部分内容:这次什么都没有保存。请再导入一次。",
        "disk_full": "存放文章库 {path} 的磁盘已满。请在那里腾出一些空间后再试一次(失败的导入不会改动已保存的文章)。",
    },
}


def say_error(lang: str, code: str | None, **values: object) -> str | None:
    """Why something failed, worded in `lang` from the error's code and (already escaped)
    values; None when there is no such template, and the error's own message applies."""
    template = ERROR_TEXTS.get(lang, {}).get(code or "")
    return None if template is None else _COUNTING.format(template, **values)


class _Counting(string.Formatter):
    """str.format, plus the spec "one|many": the word that goes with the number."""

    def format_field(self, value: object, format_spec: str) -> str:
        if "|" in format_spec:
            one, many = format_spec.split("|", 1)
            return one if value == 1 else many
        return super().format_field(value, format_spec)


_COUNTING = _Counting()
