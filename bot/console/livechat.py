"""在线人工 in the staff console (issue 15): the agent's status, the queue, and the chats they hold.

The page (/live) is a shell; static/livechat.js polls /api/live/state every second (which also
tells the desk the agent is still there) and posts the agent's actions. Every POST carries the
session's CSRF token (X-CSRF-Token) and writes an audit line; only roles with LIVE_CHAT (staff,
admin) can read or send. The work is bot.livechat.desk.LiveDesk's.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.clock import format_beijing, utcnow
from bot.console.audit import audit
from bot.console.auth import LIVE_CHAT
from bot.console.pages import csrf_field, h, layout
from bot.livechat.desk import DeskError, LiveDesk
from bot.orders.livechat import ChatNotFound, ChatTaken, ChatView, MessageView
from bot.orders.store import OrderError, StoreUnavailable

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
SWEEP_EVERY = 2.0  # seconds between sweeps (expired waits, dropped agents, retries)
STATUS_LABELS = {"online": "在线", "busy": "忙碌", "away": "离开"}
CHANNEL_LABELS = {"web:": "网页", "wx:": "微信", "rest:": "接口"}
PRIORITY_LABELS = {2: "紧急", 1: "投诉", 0: ""}


def customer_label(sender_id: str) -> str:
    """Enough to tell customers apart on screen; not the id itself (shown to staff, exported …)."""
    for prefix, label in CHANNEL_LABELS.items():
        if sender_id.startswith(prefix):
            return f"{label}客户 #{sender_id[-6:]}"
    return f"客户 #{sender_id[-6:]}"


def _chat_json(chat: ChatView, now: Any) -> Dict[str, Any]:
    return {"id": chat.id, "customer": customer_label(chat.sender_id), "state": chat.state,
            "priority": PRIORITY_LABELS.get(chat.priority, ""), "reason": chat.reason,
            "holder": chat.holder, "queued_at": format_beijing(chat.queued_at, "%H:%M:%S"),
            "waited_s": int((now - chat.queued_at).total_seconds())}


def _message_json(m: MessageView) -> Dict[str, Any]:
    return {"id": m.id, "direction": m.direction, "author": m.author, "text": m.text, "source": m.source,
            "at": format_beijing(m.created_at, "%H:%M:%S"), "delivery_error": m.delivery_error}


# What a customer's button press looks like to staff (the tracker keeps the payload, "/request_human").
BUTTON_LABELS = {"request_human": "转人工", "leave_message": "留言/转工单", "feedback_positive": "有帮助",
                 "feedback_negative": "没帮助", "rate_service": "评价"}


def _shown(event: Dict[str, Any]) -> str:
    text = event.get("text") or ""
    if not text.startswith("/"):
        return text
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or text[1:].split("{")[0]
    return f"（点选：{BUTTON_LABELS.get(intent, intent)}）"


def history(events: List[Dict[str, Any]], before: Optional[float]) -> List[Dict[str, Any]]:
    """The conversation before the agent took it (the live part comes from the chat's messages)."""
    out = []
    for e in events:
        ts = float(e.get("timestamp") or 0)
        if before is not None and ts >= before:
            break
        if e.get("event") == "user":
            out.append({"role": "customer", "text": _shown(e), "at": ts})
        elif e.get("event") == "bot" and (e.get("text") or "").strip() \
                and not (e.get("metadata") or {}).get("livechat"):
            out.append({"role": "bot", "text": e.get("text") or "", "at": ts})
    for item in out:
        item["at"] = format_beijing(datetime.fromtimestamp(item["at"], tz=timezone.utc), "%H:%M:%S")
    return out[-100:]


def live_page(user: Any, csrf: str) -> str:
    body = f"""
<h1>在线人工</h1>
<div id="live" data-user="{h(user.username)}">
  <form id="status-form" class="filters">{csrf_field(csrf)}
    <label>我的状态
      <select id="status" name="status">
        <option value="online">在线（接待客户）</option>
        <option value="busy">忙碌（暂不接新会话）</option>
        <option value="away" selected>离开</option>
      </select></label>
    <span id="duty" class="muted"></span>
  </form>
  <p id="live-error" class="error" role="alert" hidden></p>
  <div class="live-grid">
    <section class="live-queue">
      <h2>排队中 <span id="queue-count" class="muted"></span></h2>
      <ul id="queue" class="live-list" data-testid="queue"></ul>
      <h2>我接待的会话</h2>
      <ul id="mine" class="live-list" data-testid="mine"></ul>
    </section>
    <section class="live-chat">
      <div id="chat-head" class="chat-head">选择左侧的会话。</div>
      <div id="chat-log" class="chat-log" data-testid="chat-log" aria-live="polite"></div>
      <p id="quota" class="muted"></p>
      <form id="send-form" class="send-form" hidden>
        <textarea id="reply" rows="3" maxlength="1500" placeholder="输入回复，Enter 发送，Shift+Enter 换行"></textarea>
        <div class="send-actions">
          <button type="submit" id="send">发送</button>
          <select id="transfer-to" aria-label="转交给"></select>
          <button type="button" id="transfer" class="secondary">转交</button>
          <button type="button" id="end" class="danger">结束</button>
        </div>
      </form>
    </section>
    <section class="live-kb">
      <h2>知识查询</h2>
      <form id="kb-form" class="kb-form"><input id="kb-q" type="search" placeholder="输入关键词" maxlength="200">
        <button type="submit">查</button></form>
      <div id="kb-results" data-testid="kb-results"></div>
    </section>
  </div>
</div>
<script src="/static/livechat.js" defer></script>
"""
    return layout("在线人工", body, user=user, csrf=csrf, active="live")


def register(app: Sanic, *, need: Callable, page_error: Callable, html_page: Callable, blocking: Callable) -> None:
    """Add /live and /api/live/… (called from views.register, which owns sessions and CSRF)."""
    ctx = app.ctx
    settings = ctx.settings

    def desk() -> LiveDesk:
        return ctx.live_desk

    def refused(exc: Exception, status: int = 409) -> HTTPResponse:
        return response.json({"error": str(exc)}, status=status)

    async def guarded(request: Request, action: str, work: Callable, **detail: Any) -> HTTPResponse:
        user = request.ctx.user
        try:
            result = await work()
        except (DeskError, ChatTaken) as exc:
            audit(settings.var_dir, user.username, f"live.{action}", refused=str(exc), **detail)
            return refused(exc)
        except ChatNotFound as exc:
            return refused(exc, 404)
        except StoreUnavailable:
            return refused(Exception("工单数据库暂时无法连接，请稍后再试。"), 503)
        except OrderError as exc:
            return refused(exc, 400)
        audit(settings.var_dir, user.username, f"live.{action}", **detail)
        return response.json({"ok": True, **(result or {})})

    @app.get("/static/livechat.js", name="static_livechat_js")
    async def static_js(request: Request) -> HTTPResponse:
        return response.raw((STATIC / "livechat.js").read_bytes(),
                            content_type="application/javascript; charset=utf-8")

    @app.get("/live", name="live")
    @need(LIVE_CHAT)
    async def live(request: Request) -> HTTPResponse:
        return html_page(live_page(request.ctx.user, request.ctx.csrf))

    @app.get("/api/live/state", name="api_live_state")
    @need(LIVE_CHAT)
    async def state(request: Request) -> HTTPResponse:
        me = request.ctx.user.username
        chats = desk().chats
        try:
            chat_id = int(request.args.get("chat", "0") or 0)
            after = int(request.args.get("after", "0") or 0)
        except ValueError:
            return response.json({"error": "chat/after 必须是数字。"}, status=400)
        try:
            await blocking(desk().heartbeat, me)
            agents = await blocking(chats.agents)
            waiting = await blocking(chats.waiting)
            held = await blocking(chats.held, me)
        except StoreUnavailable:
            return response.json({"error": "工单数据库暂时无法连接，正在重试……"}, status=503)
        now = utcnow()
        fresh = [a for a in agents if (now - a.seen_at).total_seconds() <= settings.livechat_agent_gone_seconds]
        mine = next((a for a in agents if a.username == me), None)
        body: Dict[str, Any] = {
            "me": {"username": me, "status": mine.status if mine else "away"},
            "on_duty": [{"username": a.username, "status": a.status} for a in fresh if a.status != "away"],
            "queue": [_chat_json(c, now) for c in waiting],
            "mine": [_chat_json(c, now) for c in held],
        }
        if chat_id:
            try:
                chat = await blocking(chats.get, chat_id)
            except ChatNotFound:
                return response.json({**body, "chat": None})
            if chat.holder != me:
                body["chat"] = {"id": chat.id, "state": chat.state, "holder": chat.holder, "gone": True}
                return response.json(body)
            view: Dict[str, Any] = {"id": chat.id, "state": chat.state, "holder": chat.holder,
                                    "customer": customer_label(chat.sender_id),
                                    "messages": [_message_json(m) for m in await blocking(chats.messages, chat.id, after)],
                                    "quota_left": await blocking(desk().wechat_quota_left, chat)}
            if after == 0:
                from bot.review.conversations import read_events

                events = await blocking(read_events, settings.tracker_url, chat.sender_id)
                view["history"] = history(events, chat.accepted_at.timestamp() if chat.accepted_at else None)
            body["chat"] = view
        return response.json(body)

    def _json(request: Request) -> Dict[str, Any]:
        try:
            data = request.json
        except Exception:  # noqa: BLE001
            data = None
        return data if isinstance(data, dict) else {}

    @app.post("/api/live/status", name="api_live_status")
    @need(LIVE_CHAT)
    async def set_status(request: Request) -> HTTPResponse:
        status = str(_json(request).get("status") or "")

        async def work() -> Dict[str, Any]:
            view = await blocking(desk().chats.set_status, request.ctx.user.username, status)
            return {"status": view.status}
        return await guarded(request, "status", work, status=status)

    @app.post("/api/live/<chat_id:int>/<what:str>", name="api_live_action")
    @need(LIVE_CHAT)
    async def act(request: Request, chat_id: int, what: str) -> HTTPResponse:
        me = request.ctx.user.username
        data = _json(request)
        d = desk()
        if what == "accept":
            async def work() -> Dict[str, Any]:
                chat = await d.accept(chat_id, me)
                return {"chat": chat.id}
            return await guarded(request, "accept", work, chat=chat_id)
        if what == "send":
            text, source = str(data.get("text") or ""), (str(data.get("source") or "") or None)

            async def work() -> Dict[str, Any]:
                m = await d.send(chat_id, me, text, source=source)
                return {"message": _message_json(m)}
            return await guarded(request, "send", work, chat=chat_id, chars=len(text), source=source)
        if what == "transfer":
            to = str(data.get("to") or "")

            async def work() -> Dict[str, Any]:
                await d.transfer(chat_id, me, to)
                return {}
            return await guarded(request, "transfer", work, chat=chat_id, to=to)
        if what == "end":
            async def work() -> Dict[str, Any]:
                await d.end(chat_id, me)
                return {}
            return await guarded(request, "end", work, chat=chat_id)
        return response.json({"error": "未知的操作"}, status=404)

    async def sweeper(app: Sanic) -> None:
        """Expired waits → work orders, dropped agents → queue, tracker and WeChat retries."""
        while True:
            try:
                report = await desk().sweep()
                if report.ordered or report.requeued:
                    logger.info("live chat sweep: %s", report)
            except Exception:  # noqa: BLE001 — keep sweeping; the next round retries
                logger.exception("live chat sweep failed")
            await asyncio.sleep(SWEEP_EVERY)

    @app.listener("after_server_start")
    async def start_sweeper(app: Sanic, _loop: Any) -> None:
        app.add_task(sweeper(app))
