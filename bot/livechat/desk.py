"""The agent's side of 在线人工, for the console: status, accept, send, 转交, 结束, and the sweep.

Order of writes, so that no message is lost and the bot is never left silent:
- accept: the hold (a database constraint decides who gets it), then Rasa's pause; if Rasa cannot
  be reached the hold is released and the agent told to try again.
- send: the message is stored first (the outbox the web chat polls and WeChat is sent from), then
  written to the tracker; a tracker write that failed is retried by the sweep.
- 结束 and a dropped agent: Rasa's resume first, then the database; if Rasa cannot be reached the
  chat stays held (and is retried), never "ended" with the bot still paused.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional

from bot import replies
from bot.clock import utcnow
from bot.livechat.rasa_api import RasaApi, RasaUnavailable, bot_event
from bot.orders.livechat import ChatTaken, ChatView, LiveChatStore, MessageView
from bot.orders.store import OrderError
from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_AGENT_TEXT = 1500
HEARTBEAT_EVERY = timedelta(seconds=5)   # well inside gone_after (at least 10 s)
NO_AGENT_GRACE = timedelta(seconds=20)   # nobody present at all: the queue is closed this soon
# WeChat 客服消息: after the customer's last message, at most 5 messages within 48 hours (rules of
# 2023-06; WeChat answers 45047 / 45015 past them).
WECHAT_QUOTA = 5
WECHAT_WINDOW = timedelta(hours=48)
# The sweep retries an out message only after a failed attempt, or when its first send (made by
# LiveDesk.send itself) has not finished within this time (the process died mid-send): a sweep that
# ran while the first send was on its way sent the message twice.
FIRST_SEND_GRACE = timedelta(seconds=30)
TIMEOUT_INTENT = "EXTERNAL_livechat_timeout"
ENDED_INTENT = "EXTERNAL_livechat_ended"


class DeskError(Exception):
    """A refusal the agent reads (Chinese)."""


async def _blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def _text_of(message: Dict[str, Any]) -> str:
    return str(message.get("text") or "")


def order_no_of(messages: List[Dict[str, Any]]) -> Optional[str]:
    for m in messages:
        custom = m.get("custom") if isinstance(m.get("custom"), dict) else {}
        if custom.get("type") == "work_order" and custom.get("order_no"):
            return str(custom["order_no"])
    return None


def _sent_to_wechat(m: MessageView, since: datetime) -> bool:
    """A 客服消息 that went out since ``since`` (a web-only payload marked delivered did not)."""
    return (m.direction == "out" and m.delivered_at is not None and m.delivered_at >= since
            and bool(m.text.strip() or (m.payload or {}).get("buttons")))


@dataclass
class SweepReport:
    ordered: int = 0
    requeued: int = 0
    synced: int = 0
    delivered: int = 0


class LiveDesk:
    def __init__(self, chats: LiveChatStore, rasa: RasaApi, settings: Settings,
                 wechat_send: Optional[Callable[[str, str], Awaitable[None]]] = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.chats = chats
        self.rasa = rasa
        self.settings = settings
        self.wechat_send = wechat_send  # (openid, text) → None; raises on failure
        self.clock = clock
        # Agents' consoles poll this process: right after it (re)starts nobody has polled it yet,
        # which must not read as everyone having dropped.
        self.started_at = clock()
        self._beats: Dict[str, datetime] = {}

    def heartbeat(self, agent: str) -> None:
        """The agent's page polled. Written at most every HEARTBEAT_EVERY per agent: each poll
        writing would serialise every agent's page on the database's write lock."""
        now = self.clock()
        last = self._beats.get(agent)
        if last is not None and now - last < HEARTBEAT_EVERY:
            return
        self.chats.heartbeat(agent)
        self._beats[agent] = now

    @property
    def gone_after(self) -> timedelta:
        return timedelta(seconds=max(10, self.settings.livechat_agent_gone_seconds))  # > 2 heartbeats

    # -- what the agent does -------------------------------------------------------------------
    async def accept(self, chat_id: int, agent: str) -> ChatView:
        chat = await _blocking(self.chats.accept, chat_id, agent)  # ChatTaken for the loser
        text = replies.LIVE_JOINED_TEXT.format(agent=f" {agent}")
        try:
            await self.rasa.append(chat.sender_id, [
                bot_event(text, livechat={"agent": agent, "chat": chat.id, "kind": "joined"}),
                {"event": "pause"}])
        except RasaUnavailable as exc:
            logger.error("live chat %s: Rasa unreachable at accept (%s); released", chat.id, exc)
            await _blocking(self.chats.release, chat.id)
            raise DeskError("助手服务暂时连不上，未能接入。请稍后再试。") from exc
        await self._notice(chat, text, author="system", synced=True)
        return chat

    async def send(self, chat_id: int, agent: str, text: str, source: Optional[str] = None) -> MessageView:
        text = (text or "").strip()
        if not text:
            raise DeskError("消息不能为空。")
        if len(text) > MAX_AGENT_TEXT:
            raise DeskError(f"消息太长（{len(text)} 字），请分几条发送（每条最多 {MAX_AGENT_TEXT} 字）。")
        chat = await self._held_by(chat_id, agent)
        shown = f"{text}\n（依据：{source}）" if source else text
        message = await _blocking(self.chats.add_message, chat.id, sender_id=chat.sender_id, direction="out",
                                  author=agent, text=shown, source=source)
        await self._sync(message)
        if chat.sender_id.startswith("wx:"):
            await self._deliver_wechat(message)
        return message

    async def transfer(self, chat_id: int, agent: str, to_agent: str) -> ChatView:
        if to_agent == agent:
            raise DeskError("不能转交给自己。")
        on_duty = await _blocking(self.chats.on_duty, self.gone_after)
        if to_agent not in on_duty:
            raise DeskError(f"{to_agent} 现在不在线，不能转交。")
        chat = await _blocking(self.chats.transfer, chat_id, agent, to_agent)
        await self._notice(chat, replies.LIVE_TRANSFERRED_TEXT.format(agent=f" {to_agent}"), author="system")
        return chat

    async def end(self, chat_id: int, agent: str) -> ChatView:
        chat = await self._held_by(chat_id, agent)
        try:
            await self.rasa.append(chat.sender_id, [{"event": "resume"}])
            rating = await self.rasa.trigger(chat.sender_id, ENDED_INTENT)
        except RasaUnavailable as exc:
            raise DeskError("助手服务暂时连不上，会话未结束（客户仍由您接待）。请稍后再点“结束”。") from exc
        ended = await _blocking(self.chats.finish, chat.id, state="ended", end_reason="agent", agent=agent,
                                from_states=("held",))
        for m in rating:
            await self._notice(chat, _text_of(m), author="system", payload=m, synced=True)
        return ended or chat

    async def _held_by(self, chat_id: int, agent: str) -> ChatView:
        chat = await _blocking(self.chats.get, chat_id)
        if chat.state != "held" or chat.holder != agent:
            raise DeskError("您没有接入这个会话（可能已结束或已转交）。")
        return chat

    async def _notice(self, chat: ChatView, text: str, *, author: str, payload: Optional[dict] = None,
                      synced: bool = False) -> MessageView:
        """A message to the customer that is not an agent's words (joined, transferred, rating …)."""
        message = await _blocking(self.chats.add_message, chat.id, sender_id=chat.sender_id, direction="out",
                                  author=author, text=text, payload=payload, tracker_synced=synced)
        if not synced:
            await self._sync(message)
        if chat.sender_id.startswith("wx:"):
            await self._deliver_wechat(message)
        return message

    async def _sync(self, message: MessageView) -> bool:
        """Write a message to the tracker; False (retried by the sweep) if Rasa is away. An out
        message is a bot event; a customer's (Rasa failed on it while held) a user event."""
        meta = {"agent": message.author, "chat": message.chat_id, "message": message.id, "source": message.source}
        if message.direction == "in":
            event = {"event": "user", "text": message.text, "timestamp": message.created_at.timestamp(),
                     "metadata": {"livechat": meta}}
        else:
            event = bot_event(message.text, timestamp=message.created_at.timestamp(), livechat=meta)
        try:
            await self.rasa.append(message.sender_id, [event])
        except RasaUnavailable as exc:
            logger.warning("live chat message %s not in the tracker yet: %s", message.id, exc)
            return False
        await _blocking(self.chats.mark_synced, message.id)
        return True

    # -- WeChat 客服消息 ---------------------------------------------------------------------------
    async def _deliver_wechat(self, message: MessageView) -> bool:
        if self.wechat_send is None:
            await _blocking(self.chats.mark_delivered, message.id, "微信公众号未配置，消息未发出")
            return False
        text = message.text
        buttons = (message.payload or {}).get("buttons") or []
        if buttons:  # numbered choices: the WeChat channel maps a reply "1" to the first
            text += "\n" + "\n".join(f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, 1))
        if not text.strip():
            # A payload for the web page only (the live_chat state): nothing for WeChat to show,
            # and an empty 客服消息 would be refused and retried forever.
            await _blocking(self.chats.mark_delivered, message.id, None)
            return True
        blocked = await _blocking(self._wechat_blocked, message)
        if blocked:
            await _blocking(self.chats.mark_delivered, message.id, blocked)
            return False
        try:
            await self.wechat_send(message.sender_id[3:], text)
        except Exception as exc:  # noqa: BLE001 — WeChatApiError, network: kept and retried
            code = getattr(exc, "errcode", None)
            why = {45015: "客户超过 48 小时未发消息，微信不允许再发送；请等客户再次发消息",
                   45047: "已达微信客服消息条数上限；请等客户再次发消息"}.get(code, f"发送失败：{exc}")
            await _blocking(self.chats.mark_delivered, message.id, why)
            return False
        await _blocking(self.chats.mark_delivered, message.id, None)
        return True

    def _wechat_blocked(self, message: MessageView) -> Optional[str]:
        """Why WeChat would refuse this message now (its 48-hour window and 5-message quota), or None."""
        left = self._wechat_left(self.chats.get(message.chat_id))
        if left is None:
            return "客户超过 48 小时未发消息，微信不允许再发送；请等客户再次发消息"
        if left == 0:
            return f"客户上次发消息后已发 {WECHAT_QUOTA} 条，达到微信上限；请等客户再次发消息"
        return None

    def wechat_quota_left(self, chat: ChatView) -> Optional[int]:
        """Messages the agent may still send before the customer writes again (WeChat only)."""
        if not chat.sender_id.startswith("wx:"):
            return None
        return self._wechat_left(chat) or 0

    def _wechat_left(self, chat: ChatView) -> Optional[int]:
        """客服消息 WeChat still allows since the customer's last message; None past the 48-hour window."""
        history = self.chats.messages(chat.id)
        last_in = max([m.created_at for m in history if m.direction == "in"] + [chat.queued_at])
        if self.clock() - last_in > WECHAT_WINDOW:
            return None
        return max(0, WECHAT_QUOTA - sum(1 for m in history if _sent_to_wechat(m, last_in)))

    # -- the sweep (the console runs it every couple of seconds) ------------------------------
    async def sweep(self) -> SweepReport:
        report = SweepReport()
        for step in (self._expire, self._requeue_dropped, self._retry_tracker, self._retry_wechat):
            try:
                await step(report)
            except OrderError as exc:
                logger.warning("live chat sweep: %s skipped (%s)", step.__name__, exc)
        return report

    async def _expire(self, report: SweepReport) -> None:
        """A wait past the limit, or a queue nobody is left to take: the work order, as before."""
        now = self.clock()
        present = await _blocking(self.chats.on_duty, self.gone_after)
        busy = [a for a in await _blocking(self.chats.agents)
                if a.status == "busy" and a.seen_at >= now - self.gone_after]
        limit = timedelta(seconds=self.settings.livechat_max_wait_seconds)
        cutoff = now - (NO_AGENT_GRACE if not present and not busy else limit)
        for chat in await _blocking(self.chats.expired, cutoff):
            claimed = await _blocking(self.chats.finish, chat.id, state="ordered",
                                      end_reason="timeout" if present or busy else "no_agent",
                                      from_states=("waiting",))
            if claimed is None:
                continue  # taken or left meanwhile
            minutes = max(1, round((now - chat.queued_at).total_seconds() / 60))
            try:
                messages = await self.rasa.trigger(chat.sender_id, TIMEOUT_INTENT, {"wait_minutes": str(minutes)})
            except RasaUnavailable as exc:
                logger.error("live chat %s: Rasa unreachable, back to the queue (%s)", chat.id, exc)
                await _blocking(self.chats.requeue, chat.id)
                continue
            for m in messages:
                await self._notice(chat, _text_of(m), author="system", payload=m, synced=True)
            # the number goes on the chat once the customer's copy of it is in their outbox, so a
            # chat that shows its order has told the customer (the console and the tests read it so)
            order_no = order_no_of(messages)
            if order_no:
                await _blocking(self.chats.set_order, chat.id, order_no)
            report.ordered += 1

    async def _requeue_dropped(self, report: SweepReport) -> None:
        """An agent whose console stopped polling: the customer is told and goes back to the queue."""
        if self.clock() - self.started_at < self.gone_after:
            return
        for chat in await _blocking(self.chats.dropped, self.clock() - self.gone_after):
            try:
                await self.rasa.append(chat.sender_id, [{"event": "resume"}])
            except RasaUnavailable:
                continue  # still paused: try again next sweep rather than free a silent bot
            released = await _blocking(self.chats.release, chat.id)
            if released is None:
                continue
            ahead = max(0, await _blocking(self.chats.position, chat.id) - 1)
            await self._notice(released, replies.LIVE_DROPPED_TEXT.format(ahead=ahead), author="system")
            report.requeued += 1

    async def _retry_tracker(self, report: SweepReport) -> None:
        for message in await _blocking(self.chats.unsynced, 50):
            if not await self._sync(message):
                break  # Rasa is away: the rest waits for the next sweep
            report.synced += 1

    async def _retry_wechat(self, report: SweepReport) -> None:
        if self.wechat_send is None:
            return
        fresh = self.clock() - FIRST_SEND_GRACE
        for message in await _blocking(self.chats.undelivered, "wx:", 50):
            if message.delivery_error is None and message.created_at > fresh:
                continue  # its first send (LiveDesk.send) may still be on its way: not a retry yet
            if await self._deliver_wechat(message):
                report.delivered += 1
