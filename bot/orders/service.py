"""OrderService: the work-order API that the actions, the staff CLI and the console call.

The promise to the customer: a failed answer opens exactly one work order with the complete
conversation, and the customer is told a number and a due time only once the order is stored. So:

- every customer-side write carries an idempotency key and is safe to retry or replay;
- if the database cannot be reached, the request is written to the local spool instead and
  the caller gets status "spooled" with NO number (it must not promise one); the spool is
  replayed at the start of every later call and by ``python -m bot orders flush``.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time as _time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.orders.models import (
    REASONS,
    SATISFACTIONS,
    STATUS_CALLED_BACK,
    STATUS_CLOSED,
    STATUS_RESOLVED,
    STATUSES,
)
from bot.orders.numbering import OrderNumberError, normalise_order_no
from bot.orders.phone import normalise_phone
from bot import replies
from bot.clock import day_start_utc, format_beijing, utcnow
from bot.orders.sla import SlaTable
from bot.orders.spool import Spool
from bot.orders.vocabulary import KINDS, PRIORITIES, PRIORITY_NORMAL, kind_for_reason
from bot.orders.store import (
    EventView,
    OrderError,
    OrderNotFound,
    OrderStore,
    OrderView,
    StoreUnavailable,
    TransitionError,
)
from bot.orders.transcript import Msg

__all__ = ["OpenResult", "OrderService", "OrderView", "EventView", "describe_for_customer",
           "OrderError", "OrderNotFound", "TransitionError", "StoreUnavailable"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenResult:
    status: str                 # "stored" | "appended" | "spooled"
    order_no: str | None        # None when spooled: no number may be promised yet
    due_at: datetime | None     # aware UTC; show with describe_for_customer / format_beijing
    created: bool               # this call created the order
    replayed: bool = False      # the idempotency key was known: the earlier result, nothing written
    kind: str = "consult"       # vocabulary.KINDS
    contact_due_at: datetime | None = None  # a complaint's first-contact deadline (sla.yml contact_within)


class OrderService:
    def __init__(self, store: OrderStore, spool: Spool, sla: SlaTable,
                 *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.spool = spool
        self.sla = sla
        self.clock = clock
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flusher_lock = threading.Lock()
        self.flush_interval = 2.0  # seconds between background flush attempts while a backlog waits

    @classmethod
    def from_settings(cls, settings: Any = None) -> "OrderService":
        """Build from bot.settings. Cheap and offline: the schema is migrated on first use."""
        if settings is None:
            from bot.settings import load

            settings = load()
        service = cls.from_url(settings.prepared_orders_url(), spool_dir=Path(settings.var_dir) / "spool",
                               sla_file=settings.orders_sla_file)
        service.store.breaker.cooldown = settings.orders_breaker_seconds
        service.store.max_orders_per_day = settings.orders_per_sender_per_day
        return service

    @classmethod
    def from_url(cls, url: str, *, spool_dir: Path, sla_file: Path | None = None,
                 clock: Callable[[], datetime] = utcnow) -> "OrderService":
        return cls(OrderStore.from_url(url, clock=clock), Spool(spool_dir), SlaTable.load(sla_file),
                   clock=clock)

    # -- customer side -------------------------------------------------------------------------
    def open_or_append(self, *, channel: str, sender_id: str, reason: str, topic: str | None,
                       candidates: list[dict], transcript: list[Msg], idempotency_key: str,
                       conversation_id: str | None = None, kind: str | None = None,
                       priority: str = PRIORITY_NORMAL, details: dict[str, Any] | None = None,
                       area: str | None = None, note: str | None = None) -> OpenResult:
        """Open this sender's work order of this kind, or append to the one already open.

        ``kind`` defaults to the reason's (vocabulary.kind_for_reason); ``area`` (城区 / 农村 /
        特殊边远) picks a repair's arrival commitment in sla.yml and is kept in ``details`` (an
        area that arrives after the order was opened re-times it from the order's creation).
        ``note``: what an append records for staff instead of "再次触发" (客户补充地址 …).
        Same ``idempotency_key`` again → the same order, nothing written (replayed=True).
        Database unreachable → spooled: status "spooled", no number, no due time.
        """
        # The vocabulary is validated here, not by CHECK constraints: a new kind needs no migration.
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}; expected one of {REASONS}")
        kind = kind or kind_for_reason(reason)
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}; expected one of {PRIORITIES}")
        details = dict(details or {})
        if area:
            details["area"] = area
        if not idempotency_key:
            raise ValueError("idempotency_key is required: it is what makes retries safe")
        _check_sender(channel, sender_id)
        # Every length is checked here, not by the database: PostgreSQL refuses what SQLite keeps.
        idempotency_key = fit_key(idempotency_key)
        transcript = [_db_msg(m) for m in transcript]
        topic = _db_text(topic)[:32] if topic else topic
        request = {
            "channel": channel, "sender_id": sender_id, "conversation_id": conversation_id,
            "reason": reason, "topic": topic, "candidates": _clean_candidates(candidates),
            "kind": kind, "priority": priority, "details": details or None,
            "transcript": [m.to_dict() for m in transcript], "idempotency_key": idempotency_key,
            "note": note,
            # The customer's moment, kept through an outage: created_at and the SLA count from it.
            "at": self.clock().isoformat(),
        }
        self._flush_quietly()
        try:
            return self._open(request)
        except StoreUnavailable as exc:
            logger.warning("work-order database unreachable, spooling %s: %s", idempotency_key, exc.detail)
        except SQLAlchemyError:
            # Not an outage but still a database failure (a bug, a broken schema). Losing the
            # customer's request would be worse: spool it, shout in the log; flush parks it in
            # spool/failed/ for a person if it cannot be replayed either.
            logger.exception("storing work order %s failed; spooling it", idempotency_key)
        path = self._spool("open", request)
        logger.info("work-order request spooled to %s", path or "memory (the disk refused it)")
        return OpenResult(status="spooled", order_no=None, due_at=None, created=False, kind=kind)

    def sync_transcript(self, *, channel: str, sender_id: str,
                        transcript: list[Msg] | Callable[[], list[Msg]], strict: bool = False) -> int:
        """Append new messages to the sender's open order; how many were added (0 if none open).
        ``transcript`` may be a function: it is called only when an order is open.

        Database unreachable: 0, or StoreUnavailable if ``strict`` (the tracker store then
        remembers to copy that conversation again once the database is back)."""
        _check_sender(channel, sender_id)
        given = transcript
        open_order: list[bool] = []

        def lines() -> list[Msg]:
            open_order.append(True)  # the store asks for the lines only when an order is open
            return [_db_msg(m) for m in (given() if callable(given) else given)]

        self._flush_quietly()
        try:
            added = self.store.sync_transcript(channel=channel, sender_id=sender_id, transcript=lines)
        except StoreUnavailable:
            # Never spooled: the conversation is safe in the tracker store, and the next sync after
            # the outage appends whatever is missing (messages are keyed, so nothing doubles).
            if strict:
                raise
            return 0
        if strict and not open_order and self.spool.has_pending() and self.spool.holds(channel, sender_id):
            # The order was asked for during the outage and still waits in the spool: "no open
            # order" is not yet true. Replayed later, it carries the conversation only up to that
            # request, so the caller must copy again once it is stored (it retries on this error).
            raise StoreUnavailable("本会话的工单请求仍在暂存队列中，尚未写入数据库")
        return added

    def set_phone(self, *, channel: str, sender_id: str, phone_text: str) -> str:
        """Normalise and store the callback number (PhoneError on a bad format).

        Stored on the sender's open order, else on their latest; OrderNotFound if they have none.
        """
        phone = normalise_phone(phone_text)
        _check_sender(channel, sender_id)
        self._flush_quietly()
        at = self.clock()
        record = {"channel": channel, "sender_id": sender_id, "phone": phone, "at": at.isoformat()}
        if self.spool.has_pending():
            # An older request still waits: queue behind it, so an older phone is never applied last.
            self._spool("phone", record)
            return phone
        try:
            self.store.set_phone(channel=channel, sender_id=sender_id, phone=phone, at=at)
        except StoreUnavailable:
            self._spool("phone", record)
        return phone

    def orders_for(self, *, channel: str, sender_id: str) -> list[OrderView]:
        """This sender's orders, newest first (never anyone else's)."""
        self._flush_quietly()
        return self.store.orders_for(channel=channel, sender_id=sender_id)

    def get_for(self, *, channel: str, sender_id: str, order_no: str) -> OrderView | None:
        """The order if it exists AND belongs to this sender; None otherwise (no hint which)."""
        no = _number_or_none(order_no)
        if no is None:
            return None
        self._flush_quietly()
        return self.store.get(no, channel=channel, sender_id=sender_id)

    # -- staff side ----------------------------------------------------------------------------
    def get(self, order_no: str) -> OrderView | None:
        no = _number_or_none(order_no)
        if no is None:
            return None
        self._flush_quietly()
        return self.store.get(no)

    def list(self, *, status: str | Iterable[str] | None = None, topic: str | None = None,
             reason: str | None = None, overdue: bool | None = None,
             since: datetime | date | None = None, until: datetime | date | None = None,
             kind: str | None = None, priority: str | None = None,
             urgent_first: bool = False) -> list[OrderView]:
        """Orders oldest first (urgent ones first of all with ``urgent_first``). A date for
        since/until is a Beijing calendar day (until inclusive)."""
        statuses = [status] if isinstance(status, str) else (list(status) if status is not None else None)
        for s in statuses or ():
            if s not in STATUSES:
                raise OrderError(f"没有「{s}」这个状态；可选：{' / '.join(STATUSES)}。")
        if kind is not None and kind not in KINDS:
            raise OrderError(f"没有「{kind}」这种工单；可选：{' / '.join(KINDS)}。")
        if priority is not None and priority not in PRIORITIES:
            raise OrderError(f"没有「{priority}」这个优先级；可选：{' / '.join(PRIORITIES)}。")
        self._flush_quietly()
        return self.store.query(statuses=statuses, topic=topic, reason=reason, overdue=overdue,
                                since=_bound(since, end=False), until=_bound(until, end=True),
                                kind=kind, priority=priority, urgent_first=urgent_first)

    def assign(self, order_no: str, assignee: str, actor: str, note: str = "") -> OrderView:
        _require(assignee, "请填写处理人（--to）。")
        _require(actor, "请填写操作人（--by）。")
        assignee, actor, note = _name(assignee, "处理人"), _name(actor, "操作人"), _db_text(note)
        self._flush_quietly()
        return self.store.assign(_number(order_no), assignee.strip(), actor.strip(), note.strip())

    def transition(self, order_no: str, to_status: str, actor: str, note: str = "") -> OrderView:
        """Any allowed move (models.TRANSITIONS); TransitionError otherwise."""
        if to_status not in STATUSES:
            raise OrderError(f"没有「{to_status}」这个状态；可选：{' / '.join(STATUSES)}。")
        if to_status == STATUS_CALLED_BACK:
            raise OrderError("回访请用 callback，并填写满意度。")
        _require(actor, "请填写操作人（--by）。")
        actor, note = _name(actor, "操作人"), _db_text(note)
        self._flush_quietly()
        return self.store.transition(_number(order_no), to_status, actor.strip(), note.strip())

    def resolve(self, order_no: str, actor: str, note: str) -> OrderView:
        """处理中 → 已办结, with the answer given to the customer as the note."""
        _require(note, "办结时请填写处理说明（--note），客户查询工单时会看到它。")
        return self.transition(order_no, STATUS_RESOLVED, actor, note)

    def callback(self, order_no: str, actor: str, satisfaction: str, note: str = "") -> OrderView:
        """已办结 → 已回访, recording the customer's satisfaction from the follow-up call."""
        if satisfaction not in SATISFACTIONS:
            raise OrderError(f"回访必须填写满意度：{' / '.join(SATISFACTIONS)}。")
        _require(actor, "请填写操作人（--by）。")
        actor, note = _name(actor, "操作人"), _db_text(note)
        self._flush_quietly()
        return self.store.transition(_number(order_no), STATUS_CALLED_BACK, actor.strip(),
                                     note.strip(), satisfaction=satisfaction)

    def close(self, order_no: str, actor: str, note: str = "") -> OrderView:
        """已回访 or 已办结 → 已关闭. The customer's next failed answer opens a new order."""
        return self.transition(order_no, STATUS_CLOSED, actor, note)

    # -- staff notes (added for the staff console) ---------------------------------------------
    def add_note(self, order_no: str, actor: str, note: str) -> OrderView:
        """A note on the order's history (any status but 已关闭); the customer sees the latest
        person's note as 最新进展 when they ask about their order."""
        _require(note, "请填写备注内容。")
        _require(actor, "请填写操作人（--by）。")
        actor, note = _name(actor, "操作人"), _db_text(note)
        self._flush_quietly()
        return self.store.add_note(_number(order_no), actor.strip(), note.strip())

    # -- spool ---------------------------------------------------------------------------------
    def flush_spool(self, wait: float = 0.0) -> int:
        """Replay spooled requests, oldest first; returns how many were stored and removed.

        ``wait``: how long to wait for a flusher already running (this process's background
        thread, or another process) instead of leaving the work to it — an operator's
        ``orders flush`` waits, a customer's request never does.

        Stops at the first "database unreachable" (the rest wait for the next call). A file that
        fails for any other reason is parked in spool/failed/ with the error, for a person.
        """
        self.spool.clean_stale_tmp()
        self.spool.retry_memory()
        if not self.spool.has_pending():
            return 0
        if not self._flush_lock.acquire(blocking=wait > 0, timeout=wait if wait > 0 else -1):
            return 0  # another thread of this process is flushing right now
        replayed = 0
        process_lock = self.spool.flush_lock(wait=wait)
        if process_lock is None:
            self._flush_lock.release()
            return 0  # another process is flushing: files are replayed in order by one flusher
        try:
            for path in self.spool.pending():
                try:
                    record = self.spool.load(path)
                except FileNotFoundError:
                    continue  # another process replayed it a moment ago
                except (OSError, ValueError) as exc:
                    logger.error("unreadable spool file %s parked: %s", path, exc)
                    self.spool.park(path, f"unreadable: {exc}")
                    continue
                try:
                    self._replay(record)
                except StoreUnavailable:
                    break
                except Exception as exc:  # noqa: BLE001 — park it, keep the rest moving
                    logger.exception("spooled request %s could not be replayed; parked", path)
                    self.spool.park(path, f"{type(exc).__name__}: {exc}")
                    continue
                self.spool.done(path)  # only after the commit above
                replayed += 1
            else:
                # Requests the disk refused, kept in memory: replay them directly.
                for record in self.spool.memory_records():
                    try:
                        self._replay(record)
                    except StoreUnavailable:
                        break
                    except Exception:  # noqa: BLE001
                        logger.exception("a spooled request kept in memory could not be replayed; dropped")
                    self.spool.forget(record)
                    replayed += 1
        finally:
            process_lock.close()
            self._flush_lock.release()
        if replayed:
            logger.info("replayed %d spooled work-order request(s)", replayed)
        return replayed

    def pending_spool(self) -> int:
        """How many requests wait in the spool (for the CLI and health checks)."""
        return sum(1 for _ in self.spool.pending())

    # -- internals -----------------------------------------------------------------------------
    def _open(self, req: dict[str, Any]) -> OpenResult:
        at = datetime.fromisoformat(req["at"])
        kind = req.get("kind") or kind_for_reason(req["reason"])
        details = req.get("details") or None
        rule = self.sla.rule_for(req["reason"], req.get("topic"), kind, (details or {}).get("area"))
        contact_due = rule.contact_due_at(at)
        if contact_due is not None:
            details = {**(details or {}), "contact_due": contact_due.isoformat()}
        stored = self.store.open_or_append(
            channel=req["channel"], sender_id=req["sender_id"],
            conversation_id=req.get("conversation_id"), reason=req["reason"], topic=req.get("topic"),
            candidates=req.get("candidates") or [],
            transcript=[Msg.from_dict(m) for m in req.get("transcript") or []],
            idempotency_key=fit_key(req["idempotency_key"]), at=at,
            due_at=rule.due_at(at), kind=kind, priority=req.get("priority") or PRIORITY_NORMAL,
            details=details, due_for=rule.due_at, note=req.get("note"))
        return OpenResult(status="appended" if stored.appended else "stored", order_no=stored.order_no,
                          due_at=stored.due_at, created=stored.created, replayed=stored.replayed,
                          kind=kind, contact_due_at=contact_due if stored.created else None)

    def _replay(self, record: dict[str, Any]) -> None:
        kind, p = record["kind"], record["payload"]
        if kind == "open":
            self._open(p)
        elif kind == "sync":
            self.store.sync_transcript(channel=p["channel"], sender_id=p["sender_id"],
                                       transcript=[Msg.from_dict(m) for m in p["transcript"]])
        elif kind == "phone":
            at = datetime.fromisoformat(p["at"])
            try:
                self.store.set_phone(channel=p["channel"], sender_id=p["sender_id"], phone=p["phone"], at=at)
            except OrderNotFound:
                # The customer was told the number is kept, but the request it answered never got
                # here (the action server died before storing it): a callback order keeps it for staff.
                self._open({
                    "channel": p["channel"], "sender_id": p["sender_id"], "reason": "request_human",
                    "topic": None, "candidates": [], "transcript": [Msg("user", p["phone"], at).to_dict()],
                    "idempotency_key": fit_key(f"phone|{p['channel']}|{p['sender_id']}|{p['at']}"),
                    "note": "客户留下联系电话，原请求未送达，请回电", "at": p["at"]})
                self.store.set_phone(channel=p["channel"], sender_id=p["sender_id"], phone=p["phone"], at=at)
        else:
            raise ValueError(f"unknown spool record kind {kind!r}")

    def _spool(self, kind: str, payload: dict[str, Any]) -> Path | None:
        """Spool a request (to memory if the disk refuses) and make sure a flusher will replay it."""
        path = self.spool.write(kind, payload)
        self._start_flusher()
        return path

    def _flush_quietly(self) -> None:
        """Before a call: replay a backlog now if the database is believed up (cheap, bounded by
        the breaker); otherwise leave it to the background flusher. Never raises."""
        if not self.spool.has_pending():
            return
        if self.store.breaker.is_open:
            self._start_flusher()
            return
        try:
            self.flush_spool()
        except Exception:  # noqa: BLE001 — a flush problem must never stop the caller's request
            logger.exception("flushing the work-order spool failed")
        if self.spool.has_pending():
            self._start_flusher()

    def _start_flusher(self) -> None:
        """One background thread per service replays the spool, in order, until it is empty."""
        with self._flusher_lock:
            if self._flusher is not None and self._flusher.is_alive():
                return
            self._flusher = threading.Thread(target=self._flush_until_empty, name="order-spool-flusher",
                                             daemon=True)
            self._flusher.start()

    def _flush_until_empty(self) -> None:
        while True:
            try:
                self.flush_spool()
            except Exception:  # noqa: BLE001
                logger.exception("background flush of the work-order spool failed")
            if not self.spool.has_pending():
                return
            _time.sleep(max(self.flush_interval, 0.05))


def describe_for_customer(view: OrderView) -> str:
    """The order as the customer is told it (wording in bot/replies.py, Beijing time)."""
    done = view.status in (STATUS_RESOLVED, STATUS_CALLED_BACK, STATUS_CLOSED)
    return replies.order_status(view.order_no, view.status,
                                received_at=format_beijing(view.created_at) if done else None,
                                due_at=None if done else format_beijing(view.due_at),
                                latest_note=view.latest_note)


def _clean_candidates(candidates: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    # Plain JSON types only (engine confidences may be numpy floats): the row and the spool file
    # must both serialise.
    out = []
    for c in candidates or []:
        item = {"entry_id": str(c.get("entry_id", "")), "question": str(c.get("question", ""))}
        conf = c.get("confidence")
        item["confidence"] = round(float(conf), 4) if conf is not None else None
        out.append(item)
    return out


def _number(order_no: str) -> str:
    try:
        return normalise_order_no(order_no)
    except OrderNumberError as exc:
        raise OrderNotFound(str(exc)) from exc


def _number_or_none(order_no: str) -> str | None:
    try:
        return normalise_order_no(order_no)
    except OrderNumberError:
        return None


MAX_NAME = 64         # models: assignee, actor
MAX_SENDER = 255      # models: sender_id, conversation_id
MAX_CHANNEL = 32
MAX_KEY = 200         # models: idempotency_key is 255; longer keys are hashed (fit_key)


def fit_key(key: str) -> str:
    """An idempotency key that fits its column: long ones keep a readable head and a SHA-256 of
    the whole, so two long keys never collide and the same key always maps the same way."""
    key = _db_text(key)
    if len(key) <= MAX_KEY:
        return key
    return f"{key[:MAX_KEY - 72]}#sha256:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"


def _db_text(value: str | None) -> str:
    """Text PostgreSQL will store: no NUL, no lone surrogates (SQLite takes both, PostgreSQL neither)."""
    if not value:
        return value or ""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _db_msg(m: Msg) -> Msg:
    text, chosen = _db_text(m.text), _db_text(m.chosen_button)[:255] if m.chosen_button else m.chosen_button
    buttons = tuple(_db_text(b) for b in m.buttons)
    if (text, chosen, buttons) == (m.text, m.chosen_button, m.buttons):
        return m
    return replace(m, text=text, chosen_button=chosen, buttons=buttons)  # event_key unchanged


def _check_sender(channel: str, sender_id: str) -> None:
    if not sender_id or len(sender_id) > MAX_SENDER or "\x00" in sender_id:
        raise ValueError(f"sender id must be 1-{MAX_SENDER} characters without NUL")
    if not channel or len(channel) > MAX_CHANNEL:
        raise ValueError(f"channel must be 1-{MAX_CHANNEL} characters")


def _name(value: str, what: str) -> str:
    value = _db_text(value)
    if len(value.strip()) > MAX_NAME:
        raise OrderError(f"{what}最多 {MAX_NAME} 个字符。")
    return value


def _require(value: str, message: str) -> None:
    if not value or not value.strip():
        raise OrderError(message)


def _bound(value: datetime | date | None, *, end: bool) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime or a date")
        return value
    day = value + timedelta(days=1) if end else value
    return day_start_utc(day)
