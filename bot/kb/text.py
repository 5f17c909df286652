"""Text normalisation and tokenisation shared by the loader (duplicate check) and the engine.

Two levels:
- ``clean(text)``: what any text goes through (HTML, NFKC, case, traditional → simplified,
  punctuation/emoji removed). The loader uses it to find one paraphrase in two entries.
- ``TextProcessor``: ``clean`` + typo map + synonyms → canonical word, jieba tokens and
  character bigrams. The engine uses one instance for the index and for every question,
  so both sides are processed identically.
"""
from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import jieba

jieba.setLogLevel(logging.WARNING)

# Anything longer is cut before the (pure Python) t2s conversion; a question is never this long,
# and a 10,000-character paste must not cost more than a normal question.
RAW_LIMIT = 1200
# Length kept after normalisation for ranking (the brief: "first 300 chars").
NORMALISED_LIMIT = 300

# Function words that carry no topic. Kept small on purpose: BM25's IDF already discounts
# frequent words, and words such as 多久/多少/为什么 do discriminate between entries.
STOP_WORDS: frozenset[str] = frozenset(
    """
    的 了 吗 呢 啊 呀 吧 嘛 么 哦 哈 呗 啦 喔 嗯 哇 噢 哎 唉 额 呃
    我 我家 我们 咱 咱们 咱家 俺 俺家 你 你们 您 他 她 它 他们 这 那 这个 那个 这种 那种 这样 那样 这边 那边
    怎么 怎么办 怎么样 怎样 如何 咋 咋办 咋整 咋弄 啥 什么 请问 请 问 问下 问一下 一下 下 想 想问 想问下 想知道
    是 在 有 要 会 能 能不能 可以 可不可以 是不是 有没有 还 就 都 也 又 和 与 及 或 或者 跟 给 被 把 让
    吧 呐 么样 得 地 着 过 个 些 一些 一个 一点 点 很 太 挺 非常 特别 真 真的 到底 究竟 其实 然后 还是
    谢谢 谢了 麻烦 你好 您好 急 急急 在线等 求助 求 帮忙 帮 帮我 告诉 说 说说 知道 了解 一 下子
    """.split()
)

_TAG_RE = re.compile(r"<[^<>]{0,300}>")
# Keep CJK ideographs, ASCII letters and digits; everything else (punctuation, emoji, symbols) is a space.
_NON_WORD_RE = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_SPACE_RE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s() -> tuple[object, frozenset[str]]:
    """The opencc converter and the set of characters it would change (lazy: ~0.1 s to load)."""
    import opencc

    converter = opencc.OpenCC("t2s")
    table = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    changing: set[str] = set()
    for line in table.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] != parts[1].split(" ")[0]:
            changing.add(parts[0])
    return converter, frozenset(changing)


def to_simplified(text: str) -> str:
    """Traditional → simplified; skipped when no character would change (the usual case, and opencc is slow)."""
    converter, changing = _t2s()
    if changing.isdisjoint(text):
        return text
    return converter.convert(text)  # type: ignore[attr-defined]


def clean(text: str, limit: int | None = NORMALISED_LIMIT) -> str:
    """Normalise surface form: HTML, NFKC (full-width → half-width), lower case, t2s, no punctuation/emoji."""
    if not text:
        return ""
    text = text[: RAW_LIMIT * 8]  # bound the regex work on absurd inputs
    if "<" in text or "&" in text:
        text = _TAG_RE.sub(" ", html.unescape(text))
    text = unicodedata.normalize("NFKC", text[:RAW_LIMIT]).lower()
    text = to_simplified(text)
    text = _SPACE_RE.sub(" ", _NON_WORD_RE.sub(" ", text)).strip()
    return text[:limit] if limit else text


def has_content(text: str) -> bool:
    """True when a cleaned text could be a question: a Chinese character or a word of ≥ 2 letters."""
    if _HAN_RE.search(text):
        return True
    return any(len(w) >= 2 and not w.isdigit() for w in text.split())


_LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def written_without_chinese(text: str) -> bool:
    """True for a message in another script ("How do I pay my bill?"): words of Latin letters and
    not one Chinese character. The knowledge base is Chinese, so such a customer needs to be told."""
    return not _HAN_RE.search(text or "") and len(_LATIN_WORD_RE.findall(text or "")) >= 2


class _Replacer:
    """Longest-match, left-to-right replacement of many substrings at once (one regex pass)."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = {k: v for k, v in mapping.items() if k}
        keys = sorted(self.mapping, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, keys))) if keys else None

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.mapping[m.group(0)], text)


_BASE_LOCK = threading.Lock()
_BASE_TOKENIZER: jieba.Tokenizer | None = None


def _base_tokenizer() -> jieba.Tokenizer:
    """jieba's default dictionary, loaded once per process (≈ 0.8 s); engines copy it."""
    global _BASE_TOKENIZER
    with _BASE_LOCK:
        if _BASE_TOKENIZER is None:
            tok = jieba.Tokenizer()
            tok.initialize()
            _BASE_TOKENIZER = tok
        return _BASE_TOKENIZER


def new_tokenizer(dict_files: Iterable[Path] = (), words: Iterable[str] = ()) -> jieba.Tokenizer:
    """A private jieba tokenizer: default dictionary + user dictionaries + extra words.

    A copy of the base frequency table rather than the global tokenizer, so that a hot reload
    with a changed dictionary never leaks words into (or out of) another engine.
    """
    base = _base_tokenizer()
    tok = jieba.Tokenizer()
    tok.FREQ = dict(base.FREQ)
    tok.total = base.total
    tok.initialized = True
    for path in dict_files:
        tok.load_userdict(str(path))
    for word in words:
        # freq=None lets jieba pick a frequency high enough to keep the word in one piece
        if len(word) >= 2:
            tok.add_word(word)
    return tok


class TextProcessor:
    """Full pipeline for ranking: clean → typo map → synonyms → jieba tokens / char bigrams."""

    def __init__(
        self,
        synonym_groups: list[list[str]],
        typos: dict[str, str],
        dict_files: Iterable[Path] = (),
        extra_words: Iterable[str] = (),
        search_mode: bool = True,
    ) -> None:
        self.search_mode = search_mode
        # variants are cleaned like any text, so 国网APP in synonyms.yml matches 国网app typed
        self.typo_map = {clean(k, None): clean(v, None) for k, v in typos.items()}
        self.synonyms: dict[str, str] = {}
        for group in synonym_groups:
            words = [clean(w, None) for w in group]
            words = [w for w in words if w]
            if not words:
                continue
            for w in words:
                self.synonyms.setdefault(w, words[0])
        self._typos = _Replacer(self.typo_map)
        # canonical words map to themselves so that a longer canonical word is never cut by a shorter variant
        self._synonyms = _Replacer({w: c for w, c in self.synonyms.items() if len(w) >= 2})
        vocab = set(self.synonyms) | set(self.typo_map.values())
        vocab |= {clean(w, None) for w in extra_words}
        self.tokenizer = new_tokenizer(dict_files, sorted(w for w in vocab if " " not in w))

    def normalise(self, text: str) -> str:
        """Cleaned, typo-corrected, synonym-canonicalised text (≤ NORMALISED_LIMIT chars)."""
        return self.canonical(clean(text, NORMALISED_LIMIT))

    def canonical(self, cleaned: str) -> str:
        """Typo map then synonyms, on a text that already went through ``clean``."""
        return self._synonyms(self._typos(cleaned)) if cleaned else ""

    def tokens(self, normalised: str) -> list[str]:
        """Content words of a normalised text (synonyms mapped again after segmentation, stop words out)."""
        if self.search_mode:
            raw = self.tokenizer.lcut_for_search(normalised, HMM=False)
        else:
            raw = self.tokenizer.lcut(normalised, HMM=False)
        out = []
        for tok in raw:
            tok = tok.strip()
            if not tok:
                continue
            tok = self.synonyms.get(tok, tok)
            if tok not in STOP_WORDS:
                out.append(tok)
        return out

    @staticmethod
    def char_ngrams(normalised: str) -> list[str]:
        """Character bigrams within each space-separated chunk, plus every single character.

        Single characters were added by measurement (+1.7 points top-1 in leave-one-out on the
        real KB): they let 表 match 电表 and 费 match 电费 where jieba split differently.
        """
        grams: list[str] = []
        for chunk in normalised.split():
            grams.extend(chunk)
            grams.extend(chunk[i : i + 2] for i in range(len(chunk) - 1))
        return grams
