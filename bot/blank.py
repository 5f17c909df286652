"""What counts as a blank message — shared by the NLU component and the actions."""
from __future__ import annotations

import re

import unicodedata


def is_blank(text: str) -> bool:
    """True when the text has no letter or digit at all: empty, whitespace, punctuation, emoji only."""
    return not any(unicodedata.category(ch)[0] in "LN" for ch in text or "")


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_DIGIT = re.compile(r"\d")


def has_no_chinese(text: str) -> bool:
    """No Chinese character and no digit: our NLU has nothing to go on (phone numbers and GD
    order numbers have digits and keep their intents)."""
    return not _CJK.search(text) and not _DIGIT.search(text)
