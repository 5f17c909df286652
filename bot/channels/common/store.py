"""Where the channels keep state that several Rasa processes must share.

Five operations are enough for retry dedup, answer hand-over, the access token, the buttons a
customer was last offered, the nonce replay cache and the rate limits (bot/channels/limits.py):
set-if-absent, get, set, delete and increment, each with a TTL.
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
    async def incr(self, key: str, ttl: float) -> int: ...


class MemoryStore:
    """One process: a dict of (value, expiry); expired keys are dropped on access and every 500 writes.

    At most ``max_keys`` keys: a flood of made-up senders or nonces evicts the keys closest to
    expiry instead of growing the process without bound."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._data: Dict[str, Tuple[str, float]] = {}
        self._writes = 0
        self.max_keys = max_keys

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
        if self._writes % 500 == 0 or len(self._data) > self.max_keys:
            now = time.monotonic()
            for k in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[k]
            if len(self._data) > self.max_keys:
                by_expiry = sorted(self._data, key=lambda k: self._data[k][1])
                for k in by_expiry[:len(self._data) - self.max_keys * 9 // 10]:
                    del self._data[k]

    def __len__(self) -> int:
        return len(self._data)

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

    async def incr(self, key: str, ttl: float) -> int:
        """Add one; the TTL starts with the first increment (a fixed window)."""
        item = self._data.get(key)
        if item is None or item[1] <= time.monotonic():
            self._put(key, "1", ttl)
            return 1
        count = int(item[0]) + 1
        self._data[key] = (str(count), item[1])
        return count


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
        logger.warning("Redis %s unreachable (%s); channel state falls back to this process's memory",
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

    async def incr(self, key: str, ttl: float) -> int:
        from redis.exceptions import RedisError

        try:
            pipe = self._client().pipeline(transaction=True)
            pipe.set(key, 0, nx=True, px=max(1, int(ttl * 1000)))  # the window starts once
            pipe.incr(key)
            _, count = await pipe.execute()
            return int(count)
        except (RedisError, OSError) as exc:
            self._degraded(exc)
            return await self._fallback.incr(key, ttl)


def open_store(redis_url: str) -> Store:
    return RedisStore(redis_url) if redis_url else MemoryStore()
