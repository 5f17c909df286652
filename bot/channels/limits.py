"""What every channel does to a message before the NLU sees it, and how often it lets a client in.

- ``clean_text``: NUL and other control characters are removed (PostgreSQL refuses NUL in text;
  the others are never meant by a customer); line breaks and tabs stay.
- ``defuse_shortcut``: a message that starts with "/" is read by Rasa as an intent with entities
  (how the buttons' payloads work); a customer who types one gets the buttons' shortcuts only —
  never the console's EXTERNAL_ intents, a made-up entity or a confidence — else it is plain text.
- ``cap_text``: at most MESSAGE_MAX_CHARS characters reach the NLU (DIET's attention grows with the
  square of the length). The customer is told the message was too long and what part was read.
- ``RateLimiter``: requests per minute per customer and per client address, and new web chat
  ids per address per hour, in Redis when configured (several Rasa processes), else in memory.
  An IPv6 "address" is its /64 (``address_key``).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import unicodedata
from typing import Optional, Tuple

from bot.channels.common.store import Store, open_store

logger = logging.getLogger(__name__)

_KEEP = {"\n", "\t"}
RATE_LIMITED_TEXT = ("您发送消息太频繁了，请稍等一分钟再试。"
                     "紧急情况（停电、触电、电线掉落）请立即拨打 95598 供电服务热线（24 小时）。")
# A turn that ended with no reply at all (the action server died mid-action): resending is safe,
# a work order already stored is found again (idempotent) and its number shown.
NO_REPLY_TEXT = ("抱歉，刚才的消息没有处理完，请再发一次；如已提交工单，不会重复生成，"
                 "也可以输入“我的工单”查看。紧急情况请拨打 95598 供电服务热线（24 小时）。")
# When Rasa itself fails (the tracker store or lock store is down): never a raw 500.
UNAVAILABLE_TEXT = ("抱歉，系统暂时无法处理您的消息，请稍后再试。"
                    "紧急情况（停电、触电、电线掉落）请立即拨打 95598 供电服务热线（24 小时）。")


def clean_text(text: str) -> str:
    """The text without NUL, other control characters and lone surrogates; CRLF becomes LF."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isprintable():
        return text
    return "".join(ch for ch in text
                   if ch in _KEEP or unicodedata.category(ch) not in ("Cc", "Cs"))


# Rasa's own reading of "/intent@confidence{entities}rest" (YAMLStoryReader._regex_message_pattern)
_SHORTCUT = re.compile(r"^/(?P<name>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)$", re.S)
# the only entities a button sends (replies.RATING_BUTTONS); every other shortcut is a bare intent
_BUTTON_ENTITIES = {"rate_service": ({"rating": "满意"}, {"rating": "基本满意"}, {"rating": "不满意"})}


def defuse_shortcut(text: str) -> str:
    """The text, or without its leading "/" when it names an intent a customer may not send."""
    stripped = text.strip()
    match = _SHORTCUT.match(stripped) if stripped.startswith("/") else None
    if match is None:
        return text
    name = match.group("name").strip()
    allowed = not name.upper().startswith("EXTERNAL_") and not match.group("confidence") and not match.group("rest")
    if allowed and match.group("entities"):
        try:
            entities = json.loads(match.group("entities"))
        except ValueError:
            entities = None
        allowed = entities in _BUTTON_ENTITIES.get(name, ())
    return text if allowed else stripped.lstrip("/")


def cap_text(text: str, max_chars: int) -> Tuple[str, bool]:
    """(what the NLU reads, whether it was cut)."""
    if max_chars > 0 and len(text) > max_chars:
        return text[:max_chars], True
    return text, False


def too_long_notice(read: str, max_chars: int) -> str:
    head = read[:20].replace("\n", " ")
    return (f"您的消息太长了，助手只读取了前 {max_chars} 个字（从“{head}……”开始）。"
            "如有更多内容，请分几条发送。")


def prepare(text: str, max_chars: int) -> Tuple[str, Optional[str]]:
    """(the text for the NLU, a notice for the customer if it was cut)."""
    cleaned, cut = cap_text(defuse_shortcut(clean_text(text)), max_chars)
    return cleaned, (too_long_notice(cleaned, max_chars) if cut else None)


def address_key(ip: str) -> str:
    """Whom a per-address limit counts: an IPv6 client by its /64 (one subscriber is given a whole
    /64 and can pick any address in it, so per-address counting would not limit them at all);
    an IPv4-mapped address as the IPv4 address; anything unparsable as itself."""
    try:
        address = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RateLimiter:
    """Fixed one-minute (or one-hour) windows counted in a shared store."""

    def __init__(self, store: Store, per_sender: int, per_ip: int, new_ids_per_ip_hour: int = 0) -> None:
        self.store = store
        self.per_sender = per_sender
        self.per_ip = per_ip
        self.new_ids_per_ip_hour = new_ids_per_ip_hour

    @classmethod
    def from_settings(cls, settings) -> "RateLimiter":  # noqa: ANN001 — bot.settings.Settings
        return cls(open_store(settings.shared_redis_url), settings.rate_sender_per_minute,
                   settings.rate_ip_per_minute, settings.webchat_new_ids_per_ip_per_hour)

    async def _under(self, key: str, limit: int, window: float) -> bool:
        if limit <= 0:
            return True
        return await self.store.incr(key, window) <= limit

    async def allow_ip(self, ip: str) -> bool:
        ok = await self._under(f"rate:ip:{address_key(ip)}", self.per_ip, 60)
        if not ok:
            logger.warning("rate limit: client %s over %d requests a minute", ip, self.per_ip)
        return ok

    async def allow_sender(self, sender_id: str) -> bool:
        ok = await self._under(f"rate:sender:{sender_id}", self.per_sender, 60)
        if not ok:
            logger.warning("rate limit: a customer over %d messages a minute", self.per_sender)
        return ok

    async def allow_new_id(self, ip: str) -> bool:
        return await self._under(f"rate:newid:{address_key(ip)}", self.new_ids_per_ip_hour, 3600)
