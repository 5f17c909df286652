"""停电公告 in the staff console: list, create, edit, end, and import a CSV (issue 13).

Staff and admins (permission notices.publish) publish; the bot answers "我们村明天停电吗" from
what is here. A CSV import is all or nothing: the first bad row is named by its line number and
nothing of the file is stored. The format is in README.md and bot/orders/notices.py.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.clock import format_beijing
from bot.console.auth import NOTICES_PUBLISH
from bot.console.pages import _options, csrf_field, h, layout
from bot.orders.notices import CSV_COLUMNS, NOTICE_KINDS, NoticeBoard, NoticeError, parse_csv, validate
from bot.orders.store import OrderNotFound, StoreUnavailable

logger = logging.getLogger(__name__)

CSV_EXAMPLE = ("区域,开始时间,结束时间,类型,原因,来源\n"
               "张家村、李家村,2026-12-08 08:00,2026-12-08 18:00,计划检修,10kV线路检修,城关供电所停电公告第12号")
MAX_CSV_BYTES = 512 * 1024


def _form(action: str, csrf: str, n: Any = None, values: dict[str, str] | None = None, button: str = "发布") -> str:
    v = values or ({} if n is None else {
        "places": "、".join(n.places), "starts": format_beijing(n.starts_at), "ends": format_beijing(n.ends_at),
        "kind": n.kind, "reason": n.reason, "source": n.source})
    return f"""<form method="post" action="{h(action)}" class="card notice-form">{csrf_field(csrf)}
<label>停电区域（村、小区、街道、路段，多个用“、”隔开）<input name="places" required value="{h(v.get("places", ""))}"></label>
<label>开始时间（北京时间）<input name="starts" required placeholder="2026-12-08 08:00" value="{h(v.get("starts", ""))}"></label>
<label>结束时间（北京时间）<input name="ends" required placeholder="2026-12-08 18:00" value="{h(v.get("ends", ""))}"></label>
<label>类型<select name="kind">{_options([(k, k) for k in NOTICE_KINDS], v.get("kind", NOTICE_KINDS[0]))}</select></label>
<label>原因<input name="reason" required value="{h(v.get("reason", ""))}"></label>
<label>来源（公告编号、发布单位）<input name="source" required value="{h(v.get("source", ""))}"></label>
<button type="submit" class="primary">{h(button)}</button>
</form>"""


def notices_page(notices: Sequence[Any], *, user: Any, csrf: str, flash: str = "", error: str = "",
                 values: dict[str, str] | None = None) -> str:
    rows = []
    for n in notices:
        state = f"已结束（{h(n.ended_by or '')} {h(format_beijing(n.ended_at))}）" if n.ended_at else "有效"
        end_form = "" if n.ended_at else (
            f'<form method="post" action="/notices/{n.id}/end" class="inline">{csrf_field(csrf)}'
            f'<button type="submit">已来电，结束</button></form>')
        rows.append(f'<tr data-notice="{n.id}"><td>{n.id}</td><td>{h("、".join(n.places))}</td>'
                    f'<td>{h(format_beijing(n.starts_at))} 至 {h(format_beijing(n.ends_at))}</td><td>{h(n.kind)}</td>'
                    f'<td>{h(n.reason)}</td><td>{h(n.source)}</td><td>{h(n.published_by)}</td><td>{state}</td>'
                    f'<td><a href="/notices/{n.id}">编辑</a> {end_form}</td></tr>')
    table = ('<div class="scroll"><table class="table notices"><thead><tr><th>编号</th><th>区域</th><th>时间</th>'
             '<th>类型</th><th>原因</th><th>来源</th><th>发布人</th><th>状态</th><th></th></tr></thead><tbody>'
             + ("".join(rows) or '<tr><td colspan="9" class="empty">目前没有未结束的停电公告。</td></tr>')
             + "</tbody></table></div>")
    create = "<h3>发布停电公告</h3>" + _form("/notices", csrf, values=values)
    upload = f"""<section class="card"><h3>批量导入 CSV</h3>
<p>UTF-8 编码（Excel 另存为“CSV UTF-8”），第一行是表头；有一行不对，整个文件都不导入，并提示是第几行。</p>
<pre>{h(CSV_EXAMPLE)}</pre>
<form method="post" action="/notices/import" enctype="multipart/form-data">{csrf_field(csrf)}
<input type="file" name="file" accept=".csv,text/csv" required> <button type="submit">导入</button></form></section>"""
    return layout("停电公告", "<h2>停电公告（未结束的，时间为北京时间）</h2>" + table + create + upload,
                  user=user, csrf=csrf, active="notices", flash=flash, error=error)


def register(app: Sanic, *, need: Callable, page_error: Callable, html_page: Callable, blocking: Callable) -> None:
    """Add the /notices routes (called from views.register, which owns the session middleware)."""
    board = NoticeBoard(app.ctx.orders.store)
    app.ctx.notices = board

    async def show(request: Request, *, flash: str = "", error: str = "", values: dict[str, str] | None = None,
                   status: int = 200) -> HTTPResponse:
        try:
            found = await blocking(board.current_and_upcoming, include_past_days=1)
        except StoreUnavailable as exc:
            return page_error(request, 503, str(exc))
        return html_page(notices_page(found, user=request.ctx.user, csrf=request.ctx.csrf, flash=flash,
                                      error=error, values=values), status)

    def form_values(request: Request) -> dict[str, str]:
        return {k: (request.form.get(k) or "").strip() for k in ("places", "starts", "ends", "kind", "reason", "source")}

    @app.get("/notices", name="notices")
    @need(NOTICES_PUBLISH)
    async def notices(request: Request) -> HTTPResponse:
        done = {"created": "停电公告已发布。", "updated": "停电公告已修改。", "ended": "停电公告已结束。"}
        return await show(request, flash=done.get(request.args.get("done") or "", ""))

    @app.post("/notices", name="notices_create")
    @need(NOTICES_PUBLISH)
    async def notices_create(request: Request) -> HTTPResponse:
        v = form_values(request)
        try:
            notice = validate(v["places"], v["starts"], v["ends"], v["kind"], v["reason"], v["source"])
            await blocking(board.create, notice, by=request.ctx.user.username)
        except NoticeError as exc:
            return await show(request, error=str(exc), values=v, status=400)
        return response.redirect("/notices?done=created", status=303)

    @app.post("/notices/import", name="notices_import")
    @need(NOTICES_PUBLISH)
    async def notices_import(request: Request) -> HTTPResponse:
        upload = request.files.get("file") if request.files else None
        if upload is None or not upload.body:
            return await show(request, error="请选择要导入的 CSV 文件。", status=400)
        if len(upload.body) > MAX_CSV_BYTES:
            return await show(request, error="文件太大（最多 512 KB），请分成几个文件导入。", status=400)
        try:
            parsed = parse_csv(upload.body)
            stored = await blocking(board.import_all, parsed, by=request.ctx.user.username)
        except UnicodeDecodeError:
            return await show(request, error="文件不是 UTF-8 编码：请在 Excel 里另存为“CSV UTF-8”。整个文件未导入。",
                              status=400)
        except NoticeError as exc:
            return await show(request, error=str(exc), status=400)
        logger.info("%s imported %d outage notices", request.ctx.user.username, len(stored))
        return await show(request, flash=f"已导入 {len(stored)} 条停电公告。")

    @app.get("/notices/<notice_id:int>", name="notice")
    @need(NOTICES_PUBLISH)
    async def notice(request: Request, notice_id: int) -> HTTPResponse:
        n = await blocking(board.get, notice_id)
        if n is None:
            return page_error(request, 404, f"没有找到编号为 {notice_id} 的停电公告。")
        body = f"<h2>修改停电公告 {n.id}</h2>" + _form(f"/notices/{n.id}", request.ctx.csrf, n, button="保存")
        return html_page(layout("修改停电公告", body, user=request.ctx.user, csrf=request.ctx.csrf, active="notices"))

    @app.post("/notices/<notice_id:int>", name="notice_update")
    @need(NOTICES_PUBLISH)
    async def notice_update(request: Request, notice_id: int) -> HTTPResponse:
        v = form_values(request)
        try:
            notice = validate(v["places"], v["starts"], v["ends"], v["kind"], v["reason"], v["source"])
            await blocking(board.update, notice_id, notice, by=request.ctx.user.username)
        except NoticeError as exc:
            body = f"<h2>修改停电公告 {notice_id}</h2>" + _form(f"/notices/{notice_id}", request.ctx.csrf,
                                                            values=v, button="保存")
            return html_page(layout("修改停电公告", body, user=request.ctx.user, csrf=request.ctx.csrf,
                                    active="notices", error=str(exc)), 400)
        except OrderNotFound as exc:
            return page_error(request, 404, str(exc))
        return response.redirect("/notices?done=updated", status=303)

    @app.post("/notices/<notice_id:int>/end", name="notice_end")
    @need(NOTICES_PUBLISH)
    async def notice_end(request: Request, notice_id: int) -> HTTPResponse:
        try:
            await blocking(board.end, notice_id, by=request.ctx.user.username)
        except OrderNotFound as exc:
            return page_error(request, 404, str(exc))
        return response.redirect("/notices?done=ended", status=303)


__all__ = ["register", "notices_page", "CSV_COLUMNS"]
