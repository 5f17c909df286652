"""What counts as a blank message — shared by the NLU component and the actions."""
from __future__ import annotations

import unicodedata


def is_blank(text: str) -> bool:
    """True when the text has no letter or digit at all: empty, whitespace, punctuation, emoji only."""
    return not any(unicodedata.category(ch)[0] in "LN" for ch in text or "")
