"""WeChat's server API as the channel uses it: the access token and customer-service text messages.

The token (GET /cgi-bin/token) is valid for expires_in seconds (7200) and each fetch starts a new
one, so it is cached in the shared store — one token for all Rasa processes — and refreshed
`margin` seconds before it expires, or at once when WeChat says it is invalid (40001/42001/40014).
Two processes refreshing at the same moment is harmless: WeChat keeps the previous token valid
for five more minutes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Dict, List, Optional

import aiohttp

from bot.channels.common.store import Store

logger = logging.getLogger(__name__)

# errcodes meaning "this access_token is no good": invalid, expired, not the latest.
TOKEN_ERRORS = {40001, 40014, 42001}
# 45015: the customer has not written for 48 hours; 45047: the per-message quota is used up.
HINTS = {
    40164: "this server's IP is not in the official account's IP whitelist (公众平台 → 基本配置 → IP白名单)",
    45015: "the customer has not written for 48 hours, customer-service messages are not allowed",
    45047: "the customer-service message quota for this customer is used up",
    40125: "WECHAT_APP_SECRET is wrong",
    40013: "WECHAT_APP_ID is wrong",
}


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, what: str) -> None:
        hint = HINTS.get(errcode, "")
        super().__init__(f"WeChat {what} failed: errcode {errcode} {errmsg}" + (f" — {hint}" if hint else ""))
        self.errcode = errcode


class WeChatApi:
    """Sends text to a customer through the customer-service message API."""

    def __init__(self, store: Store, api_base: str, app_id: str, app_secret: str,
                 margin: float = 300, clock: Callable[[], float] = time.time, timeout: float = 10) -> None:
        self.store = store
        self.api_base = api_base.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.margin = margin
        self.clock = clock  # injectable so tests can move time past the token's expiry
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._key = f"wechat:token:{app_id}"
        self._lock: Optional[asyncio.Lock] = None  # one refresh at a time within a process

    async def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Dict[str, Any]:
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            async with session.request(method, self.api_base + path, **kwargs) as resp:
                body = await resp.text()
        try:
            data = json.loads(body)
        except ValueError:
            raise WeChatApiError(-1, f"HTTP {resp.status}, not JSON: {body[:200]!r}", what) from None
        if data.get("errcode"):
            raise WeChatApiError(int(data["errcode"]), str(data.get("errmsg", "")), what)
        return data

    async def access_token(self, stale: Optional[str] = None) -> str:
        """A valid token; `stale` is one WeChat just refused, so it must not be returned again."""
        cached = await self._cached()
        if cached and cached != stale:
            return cached
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            cached = await self._cached()  # another task may have refreshed while we waited
            if cached and cached != stale:
                return cached
            data = await self._call("GET", "/cgi-bin/token", "get access_token", params={
                "grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret})
            token, expires_in = str(data["access_token"]), float(data.get("expires_in", 7200))
            value = json.dumps({"token": token, "expires_at": self.clock() + expires_in})
            await self.store.set(self._key, value, ttl=max(1.0, expires_in))
            return token

    async def _cached(self) -> Optional[str]:
        raw = await self.store.get(self._key)
        if not raw:
            return None
        item = json.loads(raw)
        # Refresh `margin` seconds early so no send goes out with a token about to lapse.
        return item["token"] if item["expires_at"] - self.margin > self.clock() else None

    async def send_text(self, openid: str, text: str) -> None:
        """One customer-service text message; retried once with a fresh token if WeChat refuses the token."""
        body = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": text}},
                          ensure_ascii=False).encode("utf-8")
        token = await self.access_token()
        for attempt in (1, 2):
            try:
                await self._call("POST", "/cgi-bin/message/custom/send", "customer-service send",
                                 params={"access_token": token}, data=body,
                                 headers={"Content-Type": "application/json; charset=utf-8"})
                return
            except WeChatApiError as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt == 2:
                    raise
                token = await self.access_token(stale=token)

    async def send_texts(self, openid: str, parts: List[str]) -> bool:
        """Send parts in order; stop at the first failure (logged). True when all went out."""
        for part in parts:
            try:
                await self.send_text(openid, part)
            except (WeChatApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                logger.error("WeChat reply to %s not delivered: %s", openid, exc)
                return False
        return True
