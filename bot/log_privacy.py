"""Personal data out of the logs: phone numbers masked, customer ids replaced by a pseudonym.

``install()`` puts one filter on every handler of the root logger (and of the "bot" logger),
so it covers our modules, Rasa's and Sanic's alike. A log line keeps what an operator needs
(which conversation, which order) without the number or the id itself:

  13812345678        → 138****5678
  wx:oAbC…xyz        → wx:#5f0c2a91   (the same id gives the same pseudonym in every process)

Message text is never logged at INFO by our code; Rasa logs it only at DEBUG.
"""
from __future__ import annotations

import hashlib
import logging
import re

_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")
_SENDER = re.compile(r"\b(wx|web|rest):([^\s'\"/,;)]{3,})")


def pseudonym(sender_id: str) -> str:
    prefix, _, rest = sender_id.partition(":")
    return f"{prefix}:#{hashlib.sha256(rest.encode('utf-8')).hexdigest()[:8]}"


def scrub(text: str) -> str:
    text = _MOBILE.sub(r"\1****\2", text)
    return _SENDER.sub(lambda m: m.group(0) if m.group(2).startswith("#") else pseudonym(m.group(0)), text)


class PrivacyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a broken log call is not ours to fix here
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = PrivacyFilter()


def install() -> None:
    """Add the filter to every handler there is now (idempotent)."""
    for name in ("", "bot", "rasa", "sanic.root", "sanic.error"):
        for handler in logging.getLogger(name).handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
