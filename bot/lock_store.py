"""Rasa's Redis lock store, with one fix: a turn whose ticket expired while it waited is served.

Rasa 3.6's ticket lock serves the oldest unexpired ticket and looks once a second. When a Rasa
process dies mid-turn its ticket stays until it expires (TICKET_LOCK_LIFETIME); the conversation's
next turn, on another process, waits behind it with a ticket issued a fraction of a second later,
so both expire within that fraction. If no look falls in between, the waiting ticket is gone too:
Rasa then finds the lock held by nobody yet never by this ticket, and the turn waits until the
customer's client gives up (tests/test_scaleout.py lost the turn after the in-flight one this way).

Here a waiting turn whose ticket has expired takes the lock when no live ticket precedes it (every
earlier ticket expired earlier, all having the same lifetime): it is put back at the head of the
queue with a fresh lifetime, so later turns keep waiting for it, and released as usual. Configured
by bot/endpoints.py as ``type: bot.lock_store.ServingRedisLockStore`` when LOCK_STORE_URL is set.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

logger = logging.getLogger(__name__)


class ExpiredWaiterServed:
    """LockStore mixin: the acquisition loop of Rasa's LockStore, serving an expired waiting ticket."""

    async def _acquire_lock(self: Any, conversation_id: Text, ticket: int,
                            wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                break
            if not lock.is_locked(ticket):
                return lock
            if _expired_waiter(lock, ticket):
                # Our ticket expired while waiting, and with it every earlier one: ours now.
                logger.warning("conversation %s: ticket %d expired while waiting; serving it", conversation_id, ticket)
                lock.tickets = [t for t in lock.tickets if t.number != ticket]
                lock.tickets.insert(0, Ticket(ticket, time.time() + LOCK_LIFETIME))
                self.save_lock(lock)
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")


def _expired_waiter(lock: TicketLock, ticket: int) -> bool:
    """Our ticket is gone (expired) and no live ticket was issued before it."""
    live = [t.number for t in lock.tickets if not t.has_expired()]
    return ticket not in live and all(n > ticket for n in live)


class ServingRedisLockStore(ExpiredWaiterServed, RedisLockStore):
    """RedisLockStore (several Rasa processes) with the expired-waiter fix."""

    def __init__(self, endpoint_config: Optional[Any] = None, **kwargs: Any) -> None:
        # Rasa builds a lock store named by module path with endpoint_config only.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs}
        super().__init__(**kwargs)
