"""Rasa's SQL tracker store, plus: every saved turn is copied into the sender's open work order.

A work order must carry the complete conversation "until it is closed", including the bot's
own utterances (utter_goodbye …) that no custom action ever sees. The tracker store is the one
place every turn passes through, so the copy happens here, after the conversation itself is
safely stored. Configured in endpoints.yml as ``type: bot.orders.tracker_sync.OrderSyncingTrackerStore``
(bot/endpoints.py writes it).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.identity import channel_of
from bot.orders.store import StoreUnavailable
from bot.orders.transcript import from_rasa_events

logger = logging.getLogger(__name__)


class OrderSyncingTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that appends each turn's new messages to the open work order, if any."""

    # A conversation whose copy failed (database down) is copied again from the tracker store once
    # the database answers, even if the customer says nothing more: no transcript line is lost.
    CATCH_UP_EVERY = 5.0
    MAX_BEHIND = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._service: Optional[Any] = None
        self._behind: Dict[str, None] = {}  # sender ids, oldest first
        self._catching_up: Optional["asyncio.Task[None]"] = None

    def _orders(self) -> Any:
        if self._service is None:
            from bot.orders.service import OrderService

            self._service = OrderService.from_settings()
        return self._service

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        if await self._copy(tracker) and self._behind:
            self._start_catch_up()

    async def _copy(self, tracker: DialogueStateTracker) -> bool:
        """Copy the conversation into its open order; False if the database could not be reached."""
        events = [e.as_dict() for e in tracker.events]
        sender_id = tracker.sender_id
        try:
            # The orders database is synchronous SQLAlchemy: keep it off the event loop.
            await asyncio.get_running_loop().run_in_executor(
                None, self._sync, channel_of(sender_id), sender_id, events)
        except StoreUnavailable:
            self._behind.pop(sender_id, None)
            self._behind[sender_id] = None
            while len(self._behind) > self.MAX_BEHIND:
                del self._behind[next(iter(self._behind))]
            self._start_catch_up()
            return False
        except Exception:  # noqa: BLE001 — the conversation is saved; the next turn syncs again
            logger.warning("copying a conversation into its work order failed", exc_info=True)
            return True
        self._behind.pop(sender_id, None)
        return True

    def _start_catch_up(self) -> None:
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.ensure_future(self._catch_up())

    async def _catch_up(self) -> None:
        """Copy the conversations left behind, oldest first, while the database answers."""
        while self._behind:
            await asyncio.sleep(self.CATCH_UP_EVERY)
            for sender_id in list(self._behind):
                tracker = await self.retrieve(sender_id)
                if tracker is None:
                    self._behind.pop(sender_id, None)
                    continue
                if not await self._copy(tracker):
                    break  # still down: wait and try again

    def _sync(self, channel: str, sender_id: str, events: list) -> int:
        return self._orders().sync_transcript(channel=channel, sender_id=sender_id,
                                              transcript=from_rasa_events(events), strict=True)
