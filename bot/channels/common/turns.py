"""One Rasa turn per channel message, and one delivery of its answer, across retries and processes.

WeChat (and 企业微信 / 微信客服 alike) waits 5 s for a reply, then retries the same message (same
MsgId) up to twice more, possibly to another Rasa process behind the load balancer. Keys in the
shared store, under the channel's prefix (``wechat``):

  <prefix>:seen:<id>       SET NX by the first request — the owner, which runs the turn
  <prefix>:result:<id>     the answer's parts, written by the owner when the turn ends
  <prefix>:delivered:<id>  SET NX "passive" or "async" by whoever delivers the answer

A request waits up to `passive_timeout` for the answer. If it comes, the request claims the
delivery and replies passively (the remaining parts go through the customer-service API).
If not, it replies "success" and the owner sends the answer through the customer-service API
when the turn ends — unless a retry has claimed it passively meanwhile. A retry after a passive
delivery gets the same passive text again (WeChat retries only when it did not receive it);
after an asynchronous delivery it gets "success".
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable, Dict, List, Optional, Set

from bot.channels.common.store import Store

logger = logging.getLogger(__name__)

Parts = List[str]
Send = Callable[[Parts], Awaitable[object]]


class TurnCoordinator:
    def __init__(self, store: Store, passive_timeout: float, *, prefix: str, ttl: float = 600,
                 poll: float = 0.1, followup_delay: float = 0.5) -> None:
        self.store = store
        self.prefix = prefix
        self.passive_timeout = passive_timeout
        self.ttl = ttl  # longer than WeChat's whole retry sequence (~15 s)
        self.poll = poll
        # The rest of a split answer goes out shortly after the passive reply, so WeChat shows it second.
        self.followup_delay = followup_delay
        self._turns: Dict[str, "asyncio.Task[Parts]"] = {}  # turns running in this process
        self._background: Set[asyncio.Task] = set()  # strong references, see asyncio.create_task docs

    def _spawn(self, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def reply(self, key: str, compute: Callable[[], Awaitable[Parts]], send: Send) -> Optional[str]:
        """The passive reply text for this request, or None for "success"."""
        if await self.store.set_nx(f"{self.prefix}:seen:{key}", "1", self.ttl):
            turn = asyncio.ensure_future(self._run(key, compute))
            self._turns[key] = turn
            turn.add_done_callback(lambda _t: self._turns.pop(key, None))
            try:
                parts = await self._wait_task(turn)
            except asyncio.CancelledError:  # WeChat hung up: the answer must still reach the customer
                turn.add_done_callback(lambda t: self._spawn(self._deliver_late(key, t, send)))
                raise
            if parts is None:
                turn.add_done_callback(lambda t: self._spawn(self._deliver_late(key, t, send)))
                return None
        else:
            local = self._turns.get(key)
            parts = await (self._wait_task(local) if local is not None else self._wait_stored(key))
            if parts is None:
                return None  # the owner delivers it when the turn ends
        return await self._deliver_now(key, parts, send)

    async def _run(self, key: str, compute: Callable[[], Awaitable[Parts]]) -> Parts:
        parts = await compute()  # compute never raises: it turns errors into an apology
        await self.store.set(f"{self.prefix}:result:{key}", json.dumps(parts, ensure_ascii=False), self.ttl)
        return parts

    async def _wait_task(self, turn: "asyncio.Task[Parts]") -> Optional[Parts]:
        try:
            # shield: a timeout here must not cancel the turn itself
            return await asyncio.wait_for(asyncio.shield(turn), self.passive_timeout)
        except asyncio.TimeoutError:
            return None

    async def _wait_stored(self, key: str) -> Optional[Parts]:
        """A retry in a process that does not run the turn: poll the shared store for the answer."""
        deadline = time.monotonic() + self.passive_timeout
        while True:
            raw = await self.store.get(f"{self.prefix}:result:{key}")
            if raw is not None:
                return json.loads(raw)
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(self.poll)

    async def _deliver_now(self, key: str, parts: Parts, send: Send) -> Optional[str]:
        if not parts:
            return None
        if await self.store.set_nx(f"{self.prefix}:delivered:{key}", "passive", self.ttl):
            if parts[1:]:
                self._spawn(self._send_later(parts[1:], send))
            return parts[0]
        # Delivered already. Passively: WeChat did not get that reply, so repeat it. Async: nothing.
        return parts[0] if await self.store.get(f"{self.prefix}:delivered:{key}") == "passive" else None

    async def _send_later(self, parts: Parts, send: Send) -> None:
        await asyncio.sleep(self.followup_delay)
        await send(parts)

    async def _deliver_late(self, key: str, turn: "asyncio.Task[Parts]", send: Send) -> None:
        if turn.cancelled() or turn.exception() is not None:
            return
        parts = turn.result()
        if parts and await self.store.set_nx(f"{self.prefix}:delivered:{key}", "async", self.ttl):
            await send(parts)
