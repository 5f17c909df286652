"""Where the WeChat channel keeps state that several Rasa processes must share.

Four operations are enough for retry dedup, answer hand-over, the access token and the
buttons a customer was last offered: set-if-absent, get, set and delete, each with a TTL.
Redis (SET NX EX) when several processes run; a TTL dict in memory for one process.
"""
from __future__ import annotations

import logging
import time
from typing import Dict, Optional, Protocol, Tuple

logger = logging.getLogger(__name__)


class Store(Protocol):
    async def set_nx(self, key: str, value: str, ttl: float) -> bool: ...
    async def get(self, key: str) -> Optional[str]: ...
    async def set(self, key: str, value: str, ttl: float) -> None: ...
    async def delete(self, key: str) -> None: ...


class MemoryStore:
    """One process: a dict of (value, expiry); expired keys are dropped on access and every 500 writes."""

    def __init__(self) -> None:
        self._data: Dict[str, Tuple[str, float]] = {}
        self._writes = 0

    def _live(self, key: str) -> Optional[str]:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item[0]

    def _put(self, key: str, value: str, ttl: float) -> None:
        self._data[key] = (value, time.monotonic() + ttl)
        self._writes += 1
        if self._writes % 500 == 0:
            now = time.monotonic()
            for k in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[k]

    async def set_nx(self, key: str, value: str, ttl: float) -> bool:
        # No await between the check and the write, so this is atomic on the event loop.
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def get(self, key: str) -> Optional[str]:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class RedisStore:
    """Several processes: Redis. If Redis fails mid-flight the process carries on with its own memory
    (a warning is logged) — a customer getting a reply matters more than perfect dedup."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._redis = None  # created on first use, inside the server's event loop
        self._fallback = MemoryStore()

    def _client(self):  # noqa: ANN202 — redis.asyncio.Redis
        if self._redis is None:
            import redis.asyncio as aioredis

            self._redis = aioredis.Redis.from_url(self.url, decode_responses=True,
                                                  socket_timeout=2, socket_connect_timeout=2)
        return self._redis

    def _degraded(self, exc: Exception) -> None:
        logger.warning("Redis %s unreachable (%s); WeChat channel state falls back to this process's memory",
                       self.url, exc)

    async def set_nx(self, key: str, value: str, ttl: float) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(await self._client().set(key, value, nx=True, px=max(1, int(ttl * 1000))))
        except (RedisError, OSError) as exc:
            self._degraded(exc)
            return await self._fallback.set_nx(key, value, ttl)

    async def get(self, key: str) -> Optional[str]:
        from redis.exceptions import RedisError

        try:
            return await self._client().get(key)
        except (RedisError, OSError) as exc:
            self._degraded(exc)
            return await self._fallback.get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client().set(key, value, px=max(1, int(ttl * 1000)))
        except (RedisError, OSError) as exc:
            self._degraded(exc)
            await self._fallback.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client().delete(key)
        except (RedisError, OSError) as exc:
            self._degraded(exc)
            await self._fallback.delete(key)


def open_store(redis_url: str) -> Store:
    return RedisStore(redis_url) if redis_url else MemoryStore()
