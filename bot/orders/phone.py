"""Customer phone numbers: accept what people type, store one canonical form."""
from __future__ import annotations

import re
import unicodedata

PHONE_HELP = "请填写 11 位手机号（如 13812345678）或带区号的固定电话（如 0371-12345678）。"

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_LANDLINE = re.compile(r"0\d{9,11}")
# Separators people type inside a number: spaces, dashes of every width, brackets round the
# area code. NFKC already folds full-width digits (１３８…) and the full-width plus.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―－()（）]")


class PhoneError(ValueError):
    """The text is not a phone number we can call back; the message is for the customer."""

    def __init__(self, message: str = f"电话号码格式不正确。{PHONE_HELP}") -> None:
        super().__init__(message)


def normalise_phone(text: str) -> str:
    """'138 1234 5678' / '+86-13812345678' → '13812345678'; '0371 12345678' → '0371-12345678'.

    Raises PhoneError (Chinese, for the customer) for anything else.
    """
    if not isinstance(text, str) or not text.strip():
        raise PhoneError(f"没有收到电话号码。{PHONE_HELP}")
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    mobile = _MOBILE.fullmatch(compact)
    if mobile:
        return mobile.group(1)
    if _LANDLINE.fullmatch(compact):
        # China's numbering plan: 010 and 02x are the only two-digit area codes (Beijing and
        # the big cities); every other area code has three digits. This splits numbers typed
        # without a dash correctly, e.g. 02012345678 → 020-12345678, 037112345678 → 0371-….
        area_len = 3 if compact[1] in "12" else 4
        area, local = compact[:area_len], compact[area_len:]
        if 7 <= len(local) <= 8:
            return f"{area}-{local}"
    raise PhoneError()


def mask_phone(phone: str | None) -> str | None:
    """'13812345678' → '138****5678', '0371-12345678' → '0371-****5678': for logs, lists and
    exports; the full number is shown only on the order page to staff (with an audit line)."""
    if not phone:
        return phone
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    if len(digits) <= 7:
        return "*" * len(phone)
    hidden = set(digits[-8:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(phone))
