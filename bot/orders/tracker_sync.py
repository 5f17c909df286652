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
from typing import Any, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.identity import channel_of
from bot.orders.transcript import from_rasa_events

logger = logging.getLogger(__name__)


class OrderSyncingTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that appends each turn's new messages to the open work order, if any."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._service: Optional[Any] = None

    def _orders(self) -> Any:
        if self._service is None:
            from bot.orders.service import OrderService

            self._service = OrderService.from_settings()
        return self._service

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        events = [e.as_dict() for e in tracker.events]
        channel = channel_of(tracker.sender_id)  # the id's prefix, never the client's label
        try:
            # The orders database is synchronous SQLAlchemy: keep it off the event loop.
            await asyncio.get_running_loop().run_in_executor(
                None, self._sync, channel, tracker.sender_id, events)
        except Exception:  # noqa: BLE001 — the conversation is saved; the next turn syncs again
            logger.warning("copying the conversation of %s into its work order failed",
                           tracker.sender_id, exc_info=True)

    def _sync(self, channel: str, sender_id: str, events: list) -> int:
        return self._orders().sync_transcript(channel=channel, sender_id=sender_id,
                                              transcript=from_rasa_events(events))
