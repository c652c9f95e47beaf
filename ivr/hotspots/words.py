"""A ticket's content as the set of words it is compared by.

jieba's precise cut (:func:`ivr.knowledge.segment.tokenizer`: the knowledge base's tokenizer
and dictionary cache), in lower case with full-width forms folded; then dropped: numbers
(house numbers, dates), the words every request has (反映, 希望, 问题, 解决 ...), single-character
function words (的, 了, 在 ...), and the words of the ticket's own address (the place is
compared on its own, :mod:`.address`, so 阳光小区 in the text does not make two complaints
alike). A text is compared by its words and their characters.
"""

from __future__ import annotations

from ivr.knowledge.segment import RUN, fold, tokenizer

#: words nearly every request has: they tell nothing of what it is about
STOPWORDS = frozenset(
    """
    市民 来电 反映 反应 称 表示 希望 要求 请求 诉求 咨询 询问 问题 情况
    解决 处理 相关 部门 有关 单位 尽快 及时 一下 一直 现在 目前 已经
    还是 没有 不能 可以 能否 是否 什么 怎么 为什么 如何 多次 非常 严重
    影响 这个 那个 这里 那里 我们 你们 他们 自己 本人 家里 家中 地址
    附近 周边 今天 昨天 最近 近期 期间 之后 以后 以前 时候 时间 联系
    电话 工单 热线 12345 小区 居民 业主 住户 楼 号楼 单元 号 户 室 只有
    """.split()  # noqa: SIM905
)
#: single characters that carry meaning (停水 may be cut 停 水): kept
KEPT_SINGLE = frozenset("水电气热暖冷臭吵堵漏塌坏脏")


def content_words(content: str, address: str = "") -> tuple[frozenset[str], frozenset[str]]:
    """(words, features) of ``content`` (see the module's docstring): the words kept, and
    what it is compared by: those words and their characters (自来水管: 自 来 水 管), so that
    水管破裂 and 自来水管爆裂 meet."""
    place = set(_cut(address))
    words = set()
    for word in _cut(content):
        if word in STOPWORDS or word in place or word.isdigit():
            continue
        if len(word) == 1 and word not in KEPT_SINGLE:
            continue
        words.add(word)
    features = set(words)
    for word in words:
        if not word.isascii():
            features.update(word)
    return frozenset(words), frozenset(features)


def _cut(text: str) -> list[str]:
    if not text:
        return []
    out = []
    for match in RUN.finditer(fold(text)):
        run = match.group()
        if run[0].isascii():
            out.append(run)
        else:
            out.extend(w for w in tokenizer().lcut(run) if w)
    return out
