"""The lock store of several Rasa processes: a turn waiting behind a dead process's turn is served.

Against the real Redis on 127.0.0.1:6379 (skipped with a reason when it is absent).
"""
from __future__ import annotations

import asyncio
import uuid

from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.endpoints import lock_store_config
from bot.lock_store import ServingRedisLockStore
from conftest import require_redis, run_async

REDIS = "redis://127.0.0.1:6379/0"


def _store(cls: type) -> RedisLockStore:
    require_redis(REDIS)
    return cls(endpoint_config=EndpointConfig.from_dict(lock_store_config(REDIS)))


async def _next_turn_after_a_dead_one(store: RedisLockStore, conversation: str) -> bool:
    """A process died holding the conversation's lock (its ticket never released); the next
    turn, issued a moment later, gets a ticket that expires a moment after the dead one. Rasa
    looks once a second, so it misses the gap between the two expiries. True if it was served."""
    store.issue_ticket(conversation, 0.3)          # the dead process's turn
    await asyncio.sleep(0.05)

    async def turn() -> bool:
        async with store.lock(conversation, lock_lifetime=0.35, wait_time_in_seconds=1):
            return True

    try:
        return await asyncio.wait_for(turn(), 5)
    except asyncio.TimeoutError:
        return False


def test_a_turn_whose_ticket_expired_while_waiting_is_served() -> None:
    conversation = f"lock-{uuid.uuid4().hex[:8]}"
    store = _store(ServingRedisLockStore)
    assert run_async(_next_turn_after_a_dead_one(store, conversation))
    # released as usual: the next turn takes the lock at once
    assert run_async(asyncio.wait_for(_take(store, conversation), 2))


async def _take(store: RedisLockStore, conversation: str) -> bool:
    async with store.lock(conversation, wait_time_in_seconds=0.05):
        return True


def test_a_live_earlier_ticket_is_still_waited_for() -> None:
    conversation = f"lock-{uuid.uuid4().hex[:8]}"
    store = _store(ServingRedisLockStore)
    store.issue_ticket(conversation, 30)  # a turn still running elsewhere

    async def turn() -> bool:
        async with store.lock(conversation, lock_lifetime=0.2, wait_time_in_seconds=0.1):
            return True

    async def waits() -> bool:
        try:
            await asyncio.wait_for(turn(), 1.0)
            return False
        except asyncio.TimeoutError:
            return True

    assert run_async(waits())
