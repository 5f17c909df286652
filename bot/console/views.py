"""The console's routes. Handlers are thin: accounts (AccountStore), work orders (OrderService)
and the answer engine (LiveEngine) do the work; pages render it.

Every route except /login, /health and /static/ needs a session: pages redirect to /login,
/api/ answers 401. Every POST needs the session's CSRF token (form field ``csrf`` or header
``X-CSRF-Token``). Blocking work (SQL, scrypt) runs in the default thread pool.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console import pages
from bot.console.audit import audit
from bot.console.auth import (
    EXPORT_PHONES,
    ORDERS_ACT,
    ORDERS_EXPORT,
    ORDERS_VIEW,
    SEARCH,
    USERS_MANAGE,
    AuthError,
    can,
    new_token,
    same_token,
)
from bot.console.export import orders_csv
from bot.orders.models import ACTIVE_STATUSES, REASONS, STATUSES, TOPIC_LABELS
from bot.orders.vocabulary import KINDS, PRIORITIES
from bot.orders.numbering import OrderNumberError, normalise_order_no
from bot.orders.service import OrderError, StoreUnavailable
from bot.clock import format_beijing

logger = logging.getLogger(__name__)

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login_csrf"
STATIC_DIR = Path(__file__).with_name("static")
PUBLIC_PATHS = {"/login", "/health", "/favicon.ico"}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ORDER_ACTIONS = ("assign", "note", "resolve", "callback", "close")
MAX_QUERY_CHARS = 500


async def blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


def html_page(body: str, status: int = 200) -> HTTPResponse:
    return response.html(body, status=status)


def set_cookie(resp: HTTPResponse, name: str, value: str, *, secure: bool, path: str = "/",
               max_age: int | None = None) -> None:
    resp.cookies[name] = value
    resp.cookies[name]["path"] = path
    resp.cookies[name]["httponly"] = True
    resp.cookies[name]["samesite"] = "Lax"
    if secure:
        resp.cookies[name]["secure"] = True
    if max_age is not None:
        resp.cookies[name]["max-age"] = max_age


def clear_cookie(resp: HTTPResponse, name: str, *, secure: bool, path: str = "/") -> None:
    set_cookie(resp, name, "", secure=secure, path=path, max_age=0)


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and "\n" not in value:
        return value
    return "/"


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None


def register(app: Sanic) -> None:
    ctx = app.ctx
    secure = ctx.settings.console_cookie_secure

    def user_of(request: Request) -> Any:
        return request.ctx.user

    def page_error(request: Request, status: int, message: str) -> HTTPResponse:
        return html_page(pages.error_page(status, message, user_of(request), request.ctx.csrf), status)

    def need(permission: str) -> Callable:
        def deco(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
            @functools.wraps(handler)
            async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                if not can(request.ctx.user.role, permission):
                    if request.path.startswith("/api/"):
                        return response.json({"error": "没有权限"}, status=403)
                    return page_error(request, 403, "您的角色没有这个功能的权限。如需开通，请联系管理员。")
                return await handler(request, *args, **kwargs)
            return wrapped
        return deco

    # --- middleware ---------------------------------------------------------------------------
    @app.middleware("request")
    async def authenticate(request: Request) -> HTTPResponse | None:
        request.ctx.user = None
        request.ctx.csrf = ""
        path = request.path
        if path in PUBLIC_PATHS or path.startswith("/static/"):
            return None
        try:
            session = await blocking(ctx.accounts.session_for, request.cookies.get(SESSION_COOKIE), ctx.idle)
        except Exception:  # noqa: BLE001 — database down: say so, do not pretend the user is logged out
            logger.exception("session lookup failed")
            if path.startswith("/api/"):
                return response.json({"error": "数据库暂时无法连接"}, status=503)
            return html_page(pages.error_page(503, "工作台数据库暂时无法连接，请稍后刷新。"), 503)
        if session is None:
            if path.startswith("/api/"):
                return response.json({"error": "请先登录"}, status=401)
            target = path + ("?" + request.query_string if request.query_string else "")
            return response.redirect("/login?next=" + quote(target, safe="/"), status=303)
        request.ctx.user = session.user
        request.ctx.csrf = session.csrf_token
        if request.method == "POST":
            given = request.form.get("csrf") if request.form else None
            given = given or request.headers.get("x-csrf-token")
            if not same_token(given, session.csrf_token):
                logger.warning("POST %s refused: missing or wrong CSRF token (user %s)", path, session.user.username)
                if path.startswith("/api/"):
                    return response.json({"error": "缺少安全校验（CSRF）"}, status=403)
                return page_error(request, 403, "页面已过期或请求来源不明（安全校验未通过）。请刷新页面后重试。")
        return None

    @app.middleware("response")
    async def headers(request: Request, resp: HTTPResponse) -> None:
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if not request.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"

    # --- public -------------------------------------------------------------------------------
    css = (STATIC_DIR / "console.css").read_bytes()

    @app.get("/static/console.css", name="static_css")
    async def static_css(request: Request) -> HTTPResponse:
        return response.raw(css, content_type="text/css; charset=utf-8", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", name="favicon")
    async def favicon(request: Request) -> HTTPResponse:
        return response.empty()

    @app.get("/health", name="health")
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "ok", "knowledge": ctx.kb is not None})

    def login_form(request: Request, *, error: str = "", flash: str = "", username: str = "",
                   status: int = 200) -> HTTPResponse:
        # Reuse the token this browser already holds: another tab (or the browser fetching
        # /favicon.ico) loading the login page must not invalidate the form on screen.
        held = request.cookies.get(LOGIN_COOKIE) or ""
        token = held if 32 <= len(held) <= 64 and held.replace("-", "").replace("_", "").isalnum() else new_token()
        nxt = request.form.get("next") if request.method == "POST" else request.args.get("next")
        resp = html_page(pages.login_page(token, next_url=safe_next(nxt), username=username, error=error,
                                          flash=flash), status)
        set_cookie(resp, LOGIN_COOKIE, token, secure=secure, path="/login", max_age=3600)
        return resp

    @app.get("/login", name="login_get")
    async def login_get(request: Request) -> HTTPResponse:
        session = await blocking(ctx.accounts.session_for, request.cookies.get(SESSION_COOKIE), ctx.idle)
        if session is not None:
            return response.redirect(safe_next(request.args.get("next")), status=303)
        flash = "已退出登录。" if request.args.get("bye") else ""
        if request.args.get("expired"):
            flash = "登录已过期，请重新登录。"
        return login_form(request, flash=flash)

    @app.post("/login", name="login_post")
    async def login_post(request: Request) -> HTTPResponse:
        form = request.form
        username = (form.get("username") or "").strip()
        password = form.get("password") or ""
        if not same_token(form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
            return login_form(request, error="登录页面已过期（安全校验未通过），请重新输入。", username=username, status=403)
        client = request.remote_addr or request.ip
        if ctx.throttle.blocked(username, client):
            return login_form(request, error="登录失败次数过多，请 10 分钟后再试，或联系管理员。", username=username, status=429)
        try:
            user = await asyncio.get_running_loop().run_in_executor(
                ctx.login_pool, functools.partial(ctx.accounts.authenticate, username, password))
        except Exception:  # noqa: BLE001 — database down: say so instead of a bare 500
            logger.exception("login check failed")
            return login_form(request, error="工作台数据库暂时无法连接，请稍后再试。", username=username, status=503)
        if user is None:
            ctx.throttle.failed(username, client)
            # Not the name: a password typed into the wrong box is often what it holds.
            logger.info("console login failed (a name of %d characters) from %s", len(username), client)
            return login_form(request, error="用户名或密码不正确，或账号已停用。", username=username, status=401)
        ctx.throttle.succeeded(username, client)
        token, _csrf = await blocking(ctx.accounts.create_session, user.id, ctx.idle)
        logger.info("console login: %s (%s)", user.username, user.role)
        resp = response.redirect(safe_next(form.get("next")), status=303)
        set_cookie(resp, SESSION_COOKIE, token, secure=secure)
        clear_cookie(resp, LOGIN_COOKIE, secure=secure, path="/login")
        return resp

    @app.post("/logout", name="logout")
    async def logout(request: Request) -> HTTPResponse:
        await blocking(ctx.accounts.end_session, request.cookies.get(SESSION_COOKIE))
        resp = response.redirect("/login?bye=1", status=303)
        clear_cookie(resp, SESSION_COOKIE, secure=secure)
        return resp

    @app.get("/", name="home")
    async def home(request: Request) -> HTTPResponse:
        return response.redirect("/orders" if can(request.ctx.user.role, ORDERS_VIEW) else "/search", status=303)

    # --- knowledge ----------------------------------------------------------------------------
    def ask(q: str) -> tuple[Any, float]:
        started = time.perf_counter()
        answer = ctx.kb.ask(q)
        return answer, (time.perf_counter() - started) * 1000

    def kb_ready(request: Request) -> HTTPResponse | None:
        if ctx.kb is None:
            return page_error(request, 503, "知识库正在加载，请几秒钟后刷新。")
        return None

    @app.get("/search", name="search")
    @need(SEARCH)
    async def search(request: Request) -> HTTPResponse:
        if (busy := kb_ready(request)) is not None:
            return busy
        q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
        answer, ms = ask(q) if q else (None, None)
        return html_page(pages.search_page(q, answer, ms, ctx.kb, user=request.ctx.user, csrf=request.ctx.csrf))

    @app.get("/kb/<entry_id:str>", name="entry")
    @need(SEARCH)
    async def entry(request: Request, entry_id: str) -> HTTPResponse:
        if (busy := kb_ready(request)) is not None:
            return busy
        e = ctx.kb.get(entry_id)
        if e is None:
            return page_error(request, 404, f"知识库里没有条目 {entry_id}（可能已改名或删除）。")
        q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
        return html_page(pages.entry_page(e, ctx.kb, q, user=request.ctx.user, csrf=request.ctx.csrf))

    @app.get("/api/ask", name="api_ask")
    @need(SEARCH)
    async def api_ask(request: Request) -> HTTPResponse:
        if ctx.kb is None:
            return response.json({"error": "知识库正在加载"}, status=503)
        q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
        if not q:
            return response.json({"error": "缺少参数 q"}, status=400)
        answer, ms = ask(q)
        return response.json({"question": q, **answer.to_json(with_entry=True), "ms": round(ms, 3)})

    # --- 停电公告 (bot/console/notices.py) -------------------------------------------------------
    from bot.console import notices as notice_views

    notice_views.register(app, need=need, page_error=page_error, html_page=html_page, blocking=blocking)

    # --- 对话复盘 and 分类统计 (bot/console/review.py) ------------------------------------------
    from bot.console import review as review_views

    review_views.register(app, need=need, page_error=page_error, html_page=html_page, blocking=blocking)

    # --- 在线人工 (bot/console/livechat.py) ------------------------------------------------------
    from bot.console import livechat as live_views

    live_views.register(app, need=need, page_error=page_error, html_page=html_page, blocking=blocking)

    # --- work orders --------------------------------------------------------------------------
    def order_filters(request: Request) -> dict[str, str]:
        args = request.args
        status = args.get("status") if "status" in args else pages.OPEN_FILTER
        if status not in ("", pages.OPEN_FILTER, *STATUSES):
            status = ""
        topic = args.get("topic") or ""
        reason = args.get("reason") or ""
        since, until = _day(args.get("since")), _day(args.get("until"))
        return {"status": status or "", "topic": topic if topic in TOPIC_LABELS else "",
                "reason": reason if reason in REASONS else "", "overdue": "1" if args.get("overdue") else "",
                "kind": args.get("kind") if args.get("kind") in KINDS else "",
                "priority": args.get("priority") if args.get("priority") in PRIORITIES else "",
                "since": since.isoformat() if since else "", "until": until.isoformat() if until else ""}

    def query_orders(f: dict[str, str]) -> list[Any]:
        status: Any = list(ACTIVE_STATUSES) if f["status"] == pages.OPEN_FILTER else (f["status"] or None)
        return ctx.orders.list(status=status, topic=f["topic"] or None, reason=f["reason"] or None,
                               kind=f.get("kind") or None, priority=f.get("priority") or None,
                               overdue=True if f["overdue"] else None, since=_day(f["since"]),
                               until=_day(f["until"]))

    @app.get("/orders", name="orders")
    @need(ORDERS_VIEW)
    async def orders(request: Request) -> HTTPResponse:
        f = order_filters(request)
        try:
            found = await blocking(query_orders, f)
        except StoreUnavailable as exc:
            return page_error(request, 503, str(exc))
        # Newest first on screen; overdue ones stand out by colour.
        found = sorted(found, key=lambda o: (o.created_at, o.id), reverse=True)
        # Urgent repairs (a hazard on site) stand first, whatever their age.
        found = sorted(found, key=lambda o: getattr(o, "priority", "") != "urgent")
        return html_page(pages.orders_page(found, f, user=request.ctx.user, csrf=request.ctx.csrf))

    @app.get("/orders/export.csv", name="orders_export")
    @need(ORDERS_EXPORT)
    async def orders_export(request: Request) -> HTTPResponse:
        since, until = _day(request.args.get("since")), _day(request.args.get("until"))
        if since is None or until is None or until < since:
            return page_error(request, 400, "请给出导出的起止日期（YYYY-MM-DD），且结束日期不早于开始日期。")
        try:
            found = await blocking(ctx.orders.list, since=since, until=until)
        except StoreUnavailable as exc:
            return page_error(request, 503, str(exc))
        cap = ctx.settings.export_max_rows
        if len(found) > cap:
            return page_error(request, 400, f"这段日期内有 {len(found)} 张工单，一次最多导出 {cap} 张：请缩小日期范围。")
        full = can(request.ctx.user.role, EXPORT_PHONES)
        audit(ctx.settings.var_dir, request.ctx.user.username, "export", since=since, until=until,
              rows=len(found), full_phones=full, ip=request.ip)
        name = f"orders_{since:%Y%m%d}-{until:%Y%m%d}.csv"
        cn_name = quote(f"工单_{since:%Y%m%d}-{until:%Y%m%d}.csv")
        return response.raw(orders_csv(found, full).encode("utf-8"), content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{cn_name}"})

    @app.get("/api/orders", name="api_orders")
    @need(ORDERS_VIEW)
    async def api_orders(request: Request) -> HTTPResponse:
        f = order_filters(request)
        try:
            found = await blocking(query_orders, f)
        except StoreUnavailable as exc:  # like the /orders page: a 503 that says why, not a 500
            return response.json({"error": str(exc)}, status=503)
        return response.json([{
            "order_no": o.order_no, "status": o.status, "reason": o.reason, "topic": o.topic,
            "channel": o.channel, "sender_id": o.sender_id, "assignee": o.assignee, "overdue": o.overdue,
            "created_at": o.created_at.isoformat(), "due_at": o.due_at.isoformat(),
            "due_beijing": format_beijing(o.due_at), "satisfaction": o.satisfaction,
            "messages": len(o.transcript)} for o in found])

    async def load_order(request: Request, order_no: str) -> tuple[Any, HTTPResponse | None]:
        try:
            no = normalise_order_no(order_no)
        except OrderNumberError:
            return None, page_error(request, 404, f"工单号 {order_no} 格式不对（应如 GD202611220007）。")
        order = await blocking(ctx.orders.get, no)
        if order is None:
            return None, page_error(request, 404, f"没有找到工单 {no}。")
        return order, None

    @app.get("/orders/<order_no:str>", name="order")
    @need(ORDERS_VIEW)
    async def order(request: Request, order_no: str) -> HTTPResponse:
        o, err = await load_order(request, order_no)
        if err is not None:
            return err
        flash = pages.DONE_MESSAGES.get(request.args.get("done") or "", "")
        if o.phone or (getattr(o, "details", None) or {}).get("phone"):
            # The full number is shown here only, to staff, and each showing is recorded.
            audit(ctx.settings.var_dir, request.ctx.user.username, "phone_shown", order_no=o.order_no,
                  ip=request.ip)
        return html_page(pages.order_page(o, user=request.ctx.user, csrf=request.ctx.csrf, flash=flash))

    @app.post("/orders/<order_no:str>/<action:str>", name="order_action")
    @need(ORDERS_ACT)
    async def order_action(request: Request, order_no: str, action: str) -> HTTPResponse:
        if action not in ORDER_ACTIONS:
            return page_error(request, 404, "没有这个操作。")
        o, err = await load_order(request, order_no)
        if err is not None:
            return err
        form, actor, svc = request.form, request.ctx.user.username, ctx.orders
        note = (form.get("note") or "").strip()
        try:
            if action == "assign":
                await blocking(svc.assign, o.order_no, (form.get("assignee") or "").strip() or actor, actor, note)
            elif action == "note":
                await blocking(svc.add_note, o.order_no, actor, note)
            elif action == "resolve":
                await blocking(svc.resolve, o.order_no, actor, note)
            elif action == "callback":
                await blocking(svc.callback, o.order_no, actor, form.get("satisfaction") or "", note)
            else:
                await blocking(svc.close, o.order_no, actor, note)
        except OrderError as exc:
            fresh = await blocking(svc.get, o.order_no) or o
            status = 503 if isinstance(exc, StoreUnavailable) else 409
            return html_page(pages.order_page(fresh, user=request.ctx.user, csrf=request.ctx.csrf, error=str(exc)), status)
        logger.info("order %s: %s by %s", o.order_no, action, actor)
        return response.redirect(f"/orders/{quote(o.order_no)}?done={action}", status=303)

    # --- users (admin) ------------------------------------------------------------------------
    async def users_view(request: Request, *, flash: str = "", error: str = "", status: int = 200) -> HTTPResponse:
        users = await blocking(ctx.accounts.list_users)
        return html_page(pages.users_page(users, user=request.ctx.user, csrf=request.ctx.csrf,
                                          flash=flash, error=error), status)

    @app.get("/users", name="users")
    @need(USERS_MANAGE)
    async def users(request: Request) -> HTTPResponse:
        return await users_view(request, flash=pages.DONE_MESSAGES.get(request.args.get("done") or "", ""))

    @app.post("/users", name="users_add")
    @need(USERS_MANAGE)
    async def users_add(request: Request) -> HTTPResponse:
        f = request.form
        try:
            await blocking(ctx.accounts.add_user, f.get("username") or "", f.get("role") or "", f.get("password") or "")
        except AuthError as exc:
            return await users_view(request, error=str(exc), status=400)
        return response.redirect("/users?done=user_added", status=303)

    @app.post("/users/<username:str>/<what:str>", name="users_change")
    @need(USERS_MANAGE)
    async def users_change(request: Request, username: str, what: str) -> HTTPResponse:
        from urllib.parse import unquote

        name = unquote(username)
        try:
            if what == "active":
                if name == request.ctx.user.username:
                    raise AuthError("不能停用自己的账号。")
                await blocking(ctx.accounts.set_active, name, request.form.get("active") == "1")
            elif what == "password":
                await blocking(ctx.accounts.set_password, name, request.form.get("password") or "")
            else:
                return page_error(request, 404, "没有这个操作。")
        except AuthError as exc:
            return await users_view(request, error=str(exc), status=400)
        return response.redirect("/users?done=user_updated", status=303)

