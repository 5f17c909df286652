"""The console's client of Rasa's HTTP API (``rasa run --enable-api --auth-token``).

While an agent holds a conversation, Rasa's own mechanisms keep the bot silent and the transcript
whole: ``pause`` (ConversationPaused) stops predictions, the customer's messages are still logged,
the agent's messages are appended as bot events with ``metadata.livechat``; ``resume`` and an
external intent (``EXTERNAL_livechat_*``) hand the conversation back to the bot's rules.
"""
from __future__ import annotations

import asyncio
import re
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from bot.local_secrets import local_secret
from bot.settings import Settings

TOKEN_FILE = "rasa-api-token"


# Rasa 3.6's routes (Sanic 21.12) do not percent-decode the conversation id: an id must travel
# as it is. Web chat ("web:…") and WeChat ("wx:" + openid) ids always can; a REST client's id with
# other characters (non-ASCII, "%", "?", "#", spaces) cannot be addressed through the API.
PATH_SAFE = ":/@!$&'()*+,;=-._~"
_ADDRESSABLE = re.compile(r"^[A-Za-z0-9:/@!$&'()*+,;=\-._~]+$")


def addressable(sender_id: str) -> bool:
    """Can Rasa's HTTP API reach this conversation (see PATH_SAFE)?"""
    return bool(_ADDRESSABLE.match(sender_id or ""))


class RasaUnavailable(Exception):
    """Rasa did not answer or refused the call."""


def api_token(settings: Settings) -> str:
    return local_secret(settings.var_dir, TOKEN_FILE, settings.rasa_api_token)


def bot_event(text: str, *, timestamp: Optional[float] = None, data: Optional[Dict[str, Any]] = None,
              livechat: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A bot utterance for the tracker; ``livechat`` marks a message of a live chat (agent, ids)."""
    event: Dict[str, Any] = {"event": "bot", "text": text, "data": data or {},
                             "metadata": {"livechat": livechat or {}}}
    if timestamp is not None:
        event["timestamp"] = timestamp
    return event


class RasaApi:
    def __init__(self, base_url: str, token: str, timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RasaApi":
        return cls(settings.rasa_base_url, api_token(settings))

    def _url(self, sender_id: str, what: str) -> str:
        return f"{self.base_url}/conversations/{quote(sender_id, safe=PATH_SAFE)}/{what}"

    async def _call(self, method: str, url: str, body: Any = None, params: Optional[dict] = None) -> Any:
        query = {"token": self.token, **(params or {})}
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as session:
                async with session.request(method, url, json=body, params=query) as resp:
                    if resp.status >= 400:
                        raise RasaUnavailable(f"Rasa answered HTTP {resp.status}: {(await resp.text())[:200]}")
                    return await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise RasaUnavailable(f"Rasa not reachable: {exc.__class__.__name__}") from exc

    async def append(self, sender_id: str, events: List[Dict[str, Any]]) -> None:
        """Append events to the conversation (under Rasa's lock for that conversation)."""
        await self._call("POST", self._url(sender_id, "tracker/events"), events,
                         params={"include_events": "NONE"})

    async def trigger(self, sender_id: str, intent: str, entities: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """Run an external intent; the bot's messages (Rasa's REST format) come back to be delivered."""
        body = await self._call("POST", self._url(sender_id, "trigger_intent"),
                                {"name": intent, "entities": entities or {}},
                                params={"include_events": "NONE"})
        messages = (body or {}).get("messages") or []
        return [m for m in messages if isinstance(m, dict)]

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        body = await self._call("GET", self._url(sender_id, "tracker"), params={"include_events": "ALL"})
        return [e for e in (body or {}).get("events") or [] if isinstance(e, dict)]
