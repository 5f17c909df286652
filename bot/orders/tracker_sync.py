"""Rasa's SQL tracker store, plus: every saved turn is copied into the sender's open work order.

A work order must carry the complete conversation "until it is closed", including the bot's
own utterances (utter_goodbye …) that no custom action ever sees. The tracker store is the one
place every turn passes through, so the copy happens here, after the conversation itself is
safely stored. Configured in endpoints.yml as ``type: bot.orders.tracker_sync.OrderSyncingTrackerStore``
(bot/endpoints.py writes it).

Most turns belong to conversations without an order, and those turns skip the orders database
altogether (see ``NoOrderMemo``): a turn then costs what Rasa's own SQL tracker store costs, less
the count query that Rasa sends before every save (see ``_additional_events``).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from bot import rasa_speedups, turn_replay
from bot.channels.identity import channel_of
from bot.orders.store import StoreUnavailable
from bot.orders.transcript import from_rasa_events

logger = logging.getLogger(__name__)

# Every reply that opens, appends to or spools a work order carries this custom payload type
# (bot/replies.py, bot/conversations/wording.py): the sign, inside the conversation itself, that
# an order may exist for it.
ORDER_PAYLOAD_TYPE = "work_order"


def shows_order(tracker: DialogueStateTracker) -> bool:
    """True if the loaded conversation contains a work-order reply (opened, appended or spooled)."""
    for event in tracker.events:
        if isinstance(event, BotUttered):
            custom = (event.data or {}).get("custom")
            if isinstance(custom, dict) and custom.get("type") == ORDER_PAYLOAD_TYPE:
                return True
    return False


def session_key(tracker: DialogueStateTracker) -> Optional[float]:
    """Which conversation session is loaded: the first event's timestamp (Rasa loads the latest
    session only, so a new session — or a tracker we have not seen — has another key)."""
    for event in tracker.events:
        return event.timestamp
    return None


class NoOrderMemo:
    """Conversation sessions known to have no open work order, so their turns skip the database.

    Why this is safe: orders are opened only by actions answering this conversation, and every
    such reply carries the work-order payload (``shows_order``), which every Rasa process sees in
    the tracker it loads. So once the database said "no open order" at some point of a session,
    the session cannot have one until a work-order reply appears in it. A new session (orders
    outlive sessions) is looked up again. A memo older than ``ttl`` seconds is looked up again too:
    it bounds the one gap left, an order stored by an action whose reply never reached Rasa
    (timeout) — the next look after that copies the whole conversation, keyed, so nothing doubles.
    """

    def __init__(self, *, ttl: float = 300.0, size: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._memo: "OrderedDict[str, tuple[Optional[float], float]]" = OrderedDict()

    def skip(self, tracker: DialogueStateTracker) -> bool:
        """True if this turn need not look at the orders database."""
        seen = self._memo.get(tracker.sender_id)
        if seen is None:
            return False
        key, at = seen
        if key != session_key(tracker) or key is None or self._clock() - at > self.ttl or shows_order(tracker):
            self.forget(tracker.sender_id)
            return False
        return True

    def remember(self, tracker: DialogueStateTracker) -> None:
        """The database just said: no open order for this sender (as of this turn)."""
        if shows_order(tracker):
            return  # a spooled order may still be replayed: keep looking every turn
        self._memo.pop(tracker.sender_id, None)
        self._memo[tracker.sender_id] = (session_key(tracker), self._clock())
        while len(self._memo) > self.size:
            self._memo.popitem(last=False)

    def forget(self, sender_id: str) -> None:
        self._memo.pop(sender_id, None)


class StoredCounts:
    """Tracker object → how many of its events are in the database, for as long as the object
    lives (trackers compare by value and cannot be dictionary keys: this one keys by identity)."""

    def __init__(self) -> None:
        self._counts: Dict[int, tuple] = {}

    def set(self, tracker: DialogueStateTracker, count: int) -> None:
        key = id(tracker)
        ref = weakref.ref(tracker, lambda _r, key=key: self._counts.pop(key, None))
        self._counts[key] = (ref, count)

    def get(self, tracker: DialogueStateTracker) -> Optional[int]:
        ref, count = self._counts.get(id(tracker), (None, None))
        return count if ref is not None and ref() is tracker else None


class SavedTrackers:
    """The tracker object this process saved last, per conversation, so that the next turn can take
    it back instead of reading and replaying every event of the session again (a few ms a turn,
    growing with the conversation).

    An entry is used only if the events table's last id for the conversation is still the one it
    had right after the save: another process, Rasa's HTTP API or a clean-up that wrote or deleted
    events makes it useless, and the turn reads the database as usual. Taking an entry removes it,
    so an object is never handed to two users; the next save puts it back. Only a tracker whose
    events begin at its session start is kept (what Rasa's own load would return), and only for the
    domain it was built with (a new model brings a new domain)."""

    def __init__(self, size: int = 500) -> None:
        self.size = size
        self._saved: "OrderedDict[str, tuple]" = OrderedDict()

    def put(self, tracker: DialogueStateTracker, last_id: Optional[int], domain: Any) -> None:
        self._saved.pop(tracker.sender_id, None)
        if last_id is None or not _starts_its_session(tracker):
            return
        self._saved[tracker.sender_id] = (tracker, last_id, domain)
        while len(self._saved) > self.size:
            self._saved.popitem(last=False)

    def take(self, sender_id: str, domain: Any) -> Optional[tuple]:
        """(tracker, last id after its save), removed from here; None if there is none for this domain."""
        entry = self._saved.pop(sender_id, None)
        if entry is None or entry[2] is not domain:
            return None
        return entry[0], entry[1]

    def forget(self, sender_id: str) -> None:
        self._saved.pop(sender_id, None)


def _starts_its_session(tracker: DialogueStateTracker) -> bool:
    """No session starts after the first event: Rasa's load (events since the latest session start)
    would give back exactly these events."""
    return not any(isinstance(e, SessionStarted) for e in itertools.islice(tracker.events, 1, None))


class OrderSyncingTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that appends each turn's new messages to the open work order, if any."""

    # A conversation whose copy failed (database down) is copied again from the tracker store once
    # the database answers, even if the customer says nothing more: no transcript line is lost.
    CATCH_UP_EVERY = 5.0
    MAX_BEHIND = 10_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rasa_speedups.install()
        turn_replay.install()
        if self.engine.dialect.name == "sqlite":
            # Rasa's engine opens a connection per query and fsyncs a rollback journal per commit.
            url = self.engine.url
            self.engine.dispose()
            self.engine = rasa_speedups.pooled_sqlite_engine(url)
            self.sessionmaker = sessionmaker(bind=self.engine)
        self._service: Optional[Any] = None
        self._behind: Dict[str, None] = {}  # sender ids, oldest first
        self._catching_up: Optional["asyncio.Task[None]"] = None
        self.no_order = NoOrderMemo()
        self._stored = StoredCounts()
        self.saved = SavedTrackers()

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        if not fetch_events_from_all_sessions:
            kept = self.saved.take(sender_id, self.domain)
            if kept is not None and self._last_event_id(sender_id) == kept[1]:
                return kept[0]  # unchanged since this process saved it; it still knows its count
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if tracker is not None and not fetch_events_from_all_sessions:
            self._stored.set(tracker, len(tracker.events))
        return tracker

    def _last_event_id(self, sender_id: str) -> Optional[int]:
        with self.session_scope() as session:
            return session.execute(sa.select(sa.func.max(self.SQLEvent.id))
                                   .where(self.SQLEvent.sender_id == sender_id)).scalar()

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events not yet stored. Rasa counts the stored ones with a query before every save
        (two a turn); a tracker this store loaded or saved already knows: Rasa holds the
        conversation's lock from loading to saving, so nobody else adds events in between. Counting
        our own also stays right after a new session starts, where Rasa's count (events since the
        last session start) no longer lines up with the tracker's events of both sessions."""
        stored = self._stored.get(tracker)
        if stored is None or stored > len(tracker.events):
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def _orders(self) -> Any:
        if self._service is None:
            from bot.orders.service import OrderService

            self._service = OrderService.from_settings()
        return self._service

    async def save(self, tracker: DialogueStateTracker) -> None:
        self.saved.forget(tracker.sender_id)
        await super().save(tracker)
        self._stored.set(tracker, len(tracker.events))
        # Rasa holds the conversation's lock until save returns: the last id is this save's.
        self.saved.put(tracker, self._last_event_id(tracker.sender_id), self.domain)
        if await self._copy(tracker) and self._behind:
            self._start_catch_up()

    async def _copy(self, tracker: DialogueStateTracker) -> bool:
        """Copy the conversation into its open order; False if the database could not be reached."""
        sender_id = tracker.sender_id
        if self.no_order.skip(tracker):
            return True
        # Rasa holds the conversation's lock until save returns: nobody changes these events meanwhile.
        events = list(tracker.events)
        try:
            # The orders database is synchronous SQLAlchemy: keep it off the event loop.
            added = await asyncio.get_running_loop().run_in_executor(
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
        if added is None:
            self.no_order.remember(tracker)
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

    def _sync(self, channel: str, sender_id: str, events: list) -> Optional[int]:
        """Messages added to the open orders, or None if the sender has no open order."""
        converted = []

        def transcript() -> list:
            # Only when an order is open: most turns never pay for converting the conversation.
            converted.append(True)
            return from_rasa_events([e.as_dict() for e in events])

        added = self._orders().sync_transcript(channel=channel, sender_id=sender_id,
                                               transcript=transcript, strict=True)
        return added if converted else None
