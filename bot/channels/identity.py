"""Who a customer is: the channel says so, never the request body.

Every Rasa sender id starts with the prefix of the channel that vouched for it:

  wx:<openid>     WeChat: the openid in a message signed with the account's Token (wechat/)
  web:<random>    web chat: an id the server issued in an HMAC-signed, HttpOnly cookie (webchat.py)
  rest:<id>       REST integrators: their own id, behind REST_SECRET or from this machine (rest.py)

So no client can take another channel's id ("wx:…" sent over REST becomes "rest:wx:…"), and the
channel of a work order is read from the id's prefix (``channel_of``), not from a label the
client sent. Ownership of orders stays (channel, sender id).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Optional

WECHAT_PREFIX = "wx:"
WEBCHAT_PREFIX = "web:"
REST_PREFIX = "rest:"
CHANNEL_BY_PREFIX = (("wx:", "wechat"), ("web:", "webchat"), ("rest:", "rest"))
# Rasa's own HTTP API (off in production) and direct tests may use ids without a prefix.
UNKNOWN_CHANNEL = "api"
MAX_SENDER_CHARS = 128  # what a channel accepts from a client, before its prefix


def channel_of(sender_id: str) -> str:
    """The channel that vouched for this sender id."""
    for prefix, channel in CHANNEL_BY_PREFIX:
        if (sender_id or "").startswith(prefix):
            return channel
    return UNKNOWN_CHANNEL


def rest_sender(client_id: str) -> str:
    return REST_PREFIX + client_id


# --- web chat ids --------------------------------------------------------------------------------
def new_webchat_id() -> str:
    return WEBCHAT_PREFIX + secrets.token_urlsafe(18)


def _mac(key: str, sender_id: str) -> str:
    return hmac.new(key.encode("utf-8"), sender_id.encode("utf-8"), hashlib.sha256).hexdigest()[:43]


def sign_webchat_id(key: str, sender_id: str) -> str:
    """The cookie value: ``<id>.<mac>``."""
    return f"{sender_id}.{_mac(key, sender_id)}"


def verify_webchat_cookie(key: str, value: Optional[str]) -> Optional[str]:
    """The web chat id in a cookie we signed, or None."""
    if not value or len(value) > 200 or "." not in value:
        return None
    sender_id, _, mac = value.rpartition(".")
    if not sender_id.startswith(WEBCHAT_PREFIX):
        return None
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, sender_id).encode("ascii")):
        return None
    return sender_id
