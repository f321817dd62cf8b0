"""Turn raw article text (often copied from a web page) into clean paragraphs.

Web text carries noise that would otherwise be retrieved and quoted back to users:
a truncated teaser repeating the first paragraph, the title repeated as image captions,
picture credits ("网图", "…(来源:东吴证券)"), calls to action and ad labels ("需要…的可以看这:
…教程", "Subscribe to our newsletter", "Advertisement"), and a trailing copyright / navigation
block. Each rule below removes one kind of noise and is deliberately conservative: when in
doubt a line stays, because a lost sentence is worse than a stray one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.errors import EmptyArticleError
from ingest.sentences import SENTENCE_END

_SPACES = re.compile(r"[ \t\u00a0\u3000\u2002-\u200a]+")
_SENTENCE_PUNCT = re.compile(r"[。\uff01\uff1f\uff0c\uff1b!?,;]|[.](\s|$)")
# A line starting the trailing block of a web page: copyright notice, navigation, tip jar.
_TRAILER = re.compile(
    r"^(声明[:\uff1a]|版权声明|免责声明|本文来源|原文链接|转载请|上一篇|下一篇|相关推荐|相关阅读|"
    r"给TA打赏|copyright\b|©|all rights reserved)",
    re.IGNORECASE,
)
# Picture captions and credits: short, unpunctuated, naming a picture or a source.
_CAPTION_CUE = re.compile(r"图|来源|摄|配图|source|photo|image|credit|getty", re.IGNORECASE)
MAX_CAPTION_CHARS = 40
MIN_TEASER_CHARS = 20
TEASER_WINDOW_CHARS = 10_000
# A line that only labels an ad slot ("Advertisement", "— 广告 —").
MAX_AD_LABEL_CHARS = 80  # with its decoration
_AD_LABEL = re.compile(
    r"^(广告|推广|赞助内容|广告推广|advertisement|advertising|ad|sponsored( content| post)?|"
    r"promoted|paid (content|partnership|post))$",
    re.IGNORECASE,
)
# A clause asking the reader to do something for the site (follow, share, scan, buy) rather
# than saying something about the subject. Each cue needs an imperative or site-specific
# word: "关注" alone ("引发广泛关注") or "subscribe" as a fact ("200 million subscribers",
# "users who subscribe to Netflix") is not one.
# Cues that must open the clause (they are tried only there, see `_cue_in_clause`).
_CALL_TO_ACTION_OPENING = re.compile(
    "|".join(
        (
            r"(需要|想要?).{0,20}的(朋友|小伙伴|同学|读者|话)?(可以|请|可|直接)?"
            r"(看这|戳|点击|点这|扫码|加我|关注|私信|领取|购买|下单)",
            r"(please )?(subscribe|sign up|register)( now| today| here| for free|\s*[!.:,]|$)",
        )
    ),
    re.IGNORECASE,
)
_CALL_TO_ACTION = re.compile(
    "|".join(
        (
            r"(看|戳|点)(这|这里|这儿|此处)\s*([:\uff1a!\uff01]|$)",
            r"(点击|戳)(这里|此处|这儿|链接|下方|上方|左下角|阅读原文|蓝字|头像)",
            r"扫码(关注|添加|加入|进群|入群|领取|咨询|下载|购买)|扫描(下方|上方|文末)?二维码|长按(识别)?二维码",
            r"关注(我们的?|本|我的|小编的?|作者的?)?(微信)?公众号",
            r"(欢迎|记得|求|麻烦|帮忙)(点赞|点个赞|在看|转发|分享|收藏|关注|订阅|三连)",
            r"点赞[、,\uff0c+和]?(在看|关注)|点个(赞|在看)|一键三连",
            r"(添加|加)(我|小编|客服|作者|助理|助手|老师|群主)的?(微信|vx|v信|wx|企业微信|好友)",
            r"(微信|vx|v信|wx)号?\s*[:\uff1a]\s*[A-Za-z][-_A-Za-z0-9]{4,}",
            r"(免费|即可|立即|马上|点击|扫码|私信)领取|领取(福利|优惠券|礼包|资料|教程)",
            r"私信(我|小编|作者|博主)|(欢迎|可以|可|请)私信",
            r"限时(优惠|特惠|折扣|秒杀|抢购|特价)",
            r"(购买|下单|优惠|推广|领券)(链接|地址|入口)|(优惠|折扣)码",
            r"(后台|公众号)回复",
            r"\bclick (here|this link|the link|below|on the (link|button|banner))\b|\btap here\b",
            r"\b(subscribe|sign up) (to|for) (our|my) ",
            r"\bplease (subscribe|sign up|like and|consider subscribing|share this)\b",
            r"\bfollow (us|me) (on|at)\b",
            r"\bshare this (article|post|story|page|video)\b",
            r"\bshare (this|it) with your friends\b",
            r"\blike and subscribe\b|\b(don't|do not) forget to (like|share|subscribe|follow)\b",
            r"\bjoin (our|my) (newsletter|mailing list|community|discord|telegram)\b",
            r"\bdownload our (free )?app\b",
            r"\b(buy|shop|order) now\b(?!,? pay later)",
            r"\b(use|enter|apply)( the)? (promo |discount |coupon )?code (?-i:[A-Z0-9]{3,})\b",
            r"\blimited[- ]time (offer|deal|discount)\b",
        )
    ),
    re.IGNORECASE,
)
# The clause leading into a call to action ("如果觉得有用", "If you enjoyed this article").
_CTA_LEAD_IN = re.compile(
    r"^(另外|所以|那么)?(如果|若|假如|想|需要|喜欢|感兴趣|觉得|更多|对.{0,15}感兴趣)|"
    r"^((and|but|so) )?(if you|for more|to learn more|want (to|more)|liked this|enjoyed this)",
    re.IGNORECASE,
)
MAX_LEAD_IN_CHARS = 40
MAX_TITLE_CHARS = 200  # a longer given title is cut: it is a heading, not a paragraph
# A run of ASCII without a space longer than this (a URL with its query string, a data
# blob) is cut to this many characters and "⋯" (not "…", which ends a sentence). Whole, a 5,000-character URL became nine
# chunks of nothing but URL that kept the sentences around it apart (the one after it lost
# the one naming its subject), and its citation quoted all of it; no word is this long.
MAX_TOKEN_CHARS = 80
CUT_TOKEN_MARK = "⋯"
_LONG_TOKEN = re.compile(rf"[!-~]{{{MAX_TOKEN_CHARS + 1},}}")
# A line ending like a sentence, not a title: a full stop, maybe inside closing quotes.
_ENDS_SENTENCE = re.compile(r"(。|(?<![.])[.])[”’」』\uff09)\"']*$")
_CLAUSE_BREAK = re.compile(r"[\uff0c\uff1b]|[,;](?!\d)")
_CLAUSE_EDGES = " ,;:\uff0c\uff1b\uff1a。.!?\uff01\uff1f…"


@dataclass(frozen=True)
class CleanText:
    title: str
    text: str  # paragraphs separated by one blank line


def drop_format_characters(text: str) -> str:
    """The text without invisible format characters (Unicode's Cf: zero-width spaces and
    joiners, bidi controls such as U+202E…U+202C, soft hyphens, BOMs): they change nothing a
    reader sees but split words apart for BM25 and the model."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf") if not text.isascii() else text


def clean_title(title: str) -> str:
    """A title fit to print on one line: normalized, without control characters (an escape
    sequence would reach a terminal, a newline forge a line of `list`), its whitespace one
    space, at most MAX_TITLE_CHARS. Given titles (`--title`, an archive's) get this too."""
    text = drop_format_characters(unicodedata.normalize("NFC", title))
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(text.split())[:MAX_TITLE_CHARS].strip()


def normalize(raw: str) -> str:
    """Unify newlines, drop format characters, collapse runs of spaces per line, cut
    overlong tokens (MAX_TOKEN_CHARS)."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = _LONG_TOKEN.sub(lambda m: m.group()[:MAX_TOKEN_CHARS] + CUT_TOKEN_MARK, drop_format_characters(text))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def cut_trailer(lines: list[str]) -> list[str]:
    """Drop everything from the first trailer marker in the second half of the text on."""
    for i in range(len(lines) // 2, len(lines)):
        if _TRAILER.match(lines[i]):
            return lines[:i]
    return lines


def is_caption(line: str) -> bool:
    return len(line) <= MAX_CAPTION_CHARS and not _SENTENCE_PUNCT.search(line) and bool(_CAPTION_CUE.search(line))


def _sentences(line: str) -> list[str]:
    """The line's sentences, each with its closing punctuation; they join back to the line."""
    ends = [m.end() for m in SENTENCE_END.finditer(line)]
    bounds = [0, *ends, len(line)]
    return [line[a:b] for a, b in zip(bounds, bounds[1:]) if a < b]


def _cut_call_to_action(sentence: str) -> str:
    """The sentence up to its first call-to-action clause, or all of it if it has none.

    What follows a call to action in the same sentence is its object (a link's title, the
    offer's terms), so it goes too, and so does a lead-in right before it ("如果觉得有用,…");
    the clauses before those are information and stay, with the sentence's end. A cue is
    looked for from its clause to the sentence's end, so that it can see past a comma
    ("Buy now, pay later" is a kind of loan, not an offer).

    Linear in the sentence's length: the search for a cue from one clause on also answers
    for the clauses up to the cue it finds, so a sentence of many thousand clauses (a
    comma-separated list, a long unpunctuated line) is not searched again from each one.
    """
    starts = [0, *(m.end() for m in _CLAUSE_BREAK.finditer(sentence))]
    tail = len(sentence.rstrip(_CLAUSE_EDGES))  # what a cue may see: up to the sentence's end
    cue_at = -1  # where the first cue at or after the last search's start is (len(sentence): none)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(sentence)
        raw = sentence[start:end]
        clause = raw.strip(_CLAUSE_EDGES)
        if not clause:
            continue
        at = start + len(raw) - len(raw.lstrip(_CLAUSE_EDGES))  # where the clause's text starts
        if cue_at < at:
            cue = _CALL_TO_ACTION.search(sentence, at, tail)
            cue_at = cue.start() if cue is not None else len(sentence)
        if cue_at >= at + len(clause) and _CALL_TO_ACTION_OPENING.match(sentence, at, tail) is None:
            continue
        while i > 0 and _is_lead_in(sentence[starts[i - 1] : starts[i]].strip(_CLAUSE_EDGES)):
            i -= 1
        kept = sentence[: starts[i]].rstrip(_CLAUSE_EDGES)
        ending = SENTENCE_END.search(sentence.rstrip())
        if kept and ending is not None and ending.end() == len(sentence.rstrip()):
            return kept + ending.group()  # the sentence's own end, after what is kept
        return kept
    return sentence


def _is_lead_in(clause: str) -> bool:
    return len(clause) <= MAX_LEAD_IN_CHARS and bool(_CTA_LEAD_IN.match(clause))


def strip_calls_to_action(line: str) -> str:
    """The line without ad labels and calls to action ("" when nothing else is left).

    A page's ads and pleas ("需要一键升级的可以看这:…教程", "Subscribe to our newsletter")
    match questions about the article's subject and would be quoted as answers. They are
    often the tail of a paragraph with real information, so they are cut by clause, not
    by line.
    """
    if len(line) <= MAX_AD_LABEL_CHARS and _AD_LABEL.match(re.sub(r"^[\W_]+|[\W_]+$", "", line)):
        return ""
    kept = "".join(_cut_call_to_action(sentence) for sentence in _sentences(line))
    return _SPACES.sub(" ", kept).strip()


def drop_teasers(lines: list[str]) -> list[str]:
    """Drop a paragraph whose text (maybe cut off at the end) reappears soon after it:
    within the next TEASER_WINDOW_CHARS characters (not counting whitespace).

    Pages often open with an excerpt of the first paragraph, truncated mid-word; a
    question about it would then cite the fragment instead of the full sentence. (The
    window keeps this linear in the text's length; a teaser's paragraph is never far.)
    """
    squashed = [_squash(line) for line in lines]
    later = "".join(squashed)  # each line's "later" text starts at its end in here
    kept, offset = [], 0
    for line, own in zip(lines, squashed):
        offset += len(own)
        teaser = own.rstrip(".…")
        if len(teaser) >= MIN_TEASER_CHARS and later.find(teaser, offset, offset + TEASER_WINDOW_CHARS) >= 0:
            continue
        kept.append(line)
    return kept


def clean(raw: str, title: str | None = None) -> CleanText:
    """Clean raw article text; the title is the given one or the first short line.

    A first line that reads as a heading (short, and not ending like a sentence with
    "。" or ".") becomes the title and leaves the body. Otherwise, with no title given,
    the title is the first line's beginning and the line stays in the body: a text of a
    sentence or two is an article, not a title with nothing under it.
    """
    lines = [line for line in normalize(raw).split("\n") if line]
    if not lines:
        raise EmptyArticleError("The article is empty: no text was found in it.", code="empty")
    keep_first = False
    title = clean_title(title or "")
    if not title:
        if len(lines[0]) <= 80 and len(lines) > 1 and not _ENDS_SENTENCE.search(lines[0]):
            title = lines.pop(0)
        else:
            title, keep_first = lines[0][:40], True
    title = title.strip()
    lines = cut_trailer(lines)
    lines = [
        line for i, line in enumerate(lines) if (line != title or (i == 0 and keep_first)) and not is_caption(line)
    ]
    lines = [kept for line in lines if (kept := strip_calls_to_action(line))]
    lines = drop_teasers(lines)
    seen: set[str] = set()
    paragraphs = []
    for line in lines:
        if line not in seen:
            seen.add(line)
            paragraphs.append(line)
    if not paragraphs:
        raise EmptyArticleError("The article is empty after removing page boilerplate.", code="empty_boilerplate")
    return CleanText(title=title, text="\n\n".join(paragraphs))
