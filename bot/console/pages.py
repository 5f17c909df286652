"""The console's HTML. Plain strings, no template engine: every value goes through ``h()``.

Times are shown in Beijing time. Pages work without JavaScript.
"""
from __future__ import annotations

import html
from typing import Any, Iterable, Sequence
from urllib.parse import quote, urlencode

from bot.console.auth import (
    LIVE_CHAT, NOTICES_PUBLISH, ORDERS_ACT, ORDERS_VIEW, REVIEW, ROLE_LABELS, ROLES, SEARCH, USERS_MANAGE, can,
)
from bot.orders.models import (
    REASON_LABELS,
    REASONS,
    SATISFACTIONS,
    STATUS_CALLED_BACK,
    STATUS_CLOSED,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    STATUS_RESOLVED,
    STATUSES,
    TOPIC_LABELS,
)
from bot.next_step import plan
from bot.clock import beijing_today, format_beijing, month_start
from bot.replies import OUT_OF_SCOPE_STAFF_NOTE, PERSONAL_STAFF_NOTE, scope_note
from bot.orders.transcript import ROLE_LABELS as MSG_ROLE_LABELS
from bot.orders.vocabulary import KIND_LABELS, PRIORITY_LABELS

TITLE = "电力服务助手 · 工作台"
OUTCOME_LABELS = {"answer": "可直接答复", "clarify": "需确认客户问的是哪一条", "fail": "知识库中没有把握的答案"}
# The default queue: what still needs a person.
OPEN_FILTER = "open"
STATUS_FILTERS = [("", "全部状态"), (OPEN_FILTER, "未办结（待处理＋处理中）")] + [(s, s) for s in STATUSES]
DONE_MESSAGES = {
    "assign": "已指派。", "note": "备注已添加。", "resolve": "已办结。", "callback": "回访已记录。",
    "close": "工单已关闭。", "user_added": "用户已添加。", "user_updated": "用户已更新。",
}


def h(value: Any) -> str:
    """Escape for HTML text and attribute values (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def url(path: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "", False)})
    return path + ("?" + query if query else "")


def pct(confidence: float) -> str:
    return f"{float(confidence) * 100:.0f}%"


def topic_label(topic: str | None) -> str:
    return TOPIC_LABELS.get(topic or "", topic or "-")


# --- frame -----------------------------------------------------------------------------------
def layout(title: str, body: str, *, user: Any = None, csrf: str = "", active: str = "",
           flash: str = "", error: str = "") -> str:
    nav = ""
    if user is not None:
        links = []
        if can(user.role, SEARCH):
            links.append(("search", "/search", "知识查询"))
        if can(user.role, ORDERS_VIEW):
            links.append(("orders", "/orders", "工单"))
        if can(user.role, LIVE_CHAT):
            links.append(("live", "/live", "在线人工"))
        if can(user.role, NOTICES_PUBLISH):
            links.append(("notices", "/notices", "停电公告"))
        if can(user.role, REVIEW):
            links.append(("review", "/review", "对话复盘"))
        if can(user.role, USERS_MANAGE):
            links.append(("users", "/users", "用户管理"))
        items = "".join(f'<a href="{h(href)}"{" class=active aria-current=page" if key == active else ""}>{h(label)}</a>'
                        for key, href, label in links)
        nav = (f'<nav class="nav">{items}</nav>'
               f'<div class="who"><span class="user">{h(user.username)}</span>'
               f'<span class="role">{h(ROLE_LABELS.get(user.role, user.role))}</span>'
               f'<form method="post" action="/logout" class="inline">{csrf_field(csrf)}'
               f'<button type="submit" class="link">退出</button></form></div>')
    notices = ""
    if flash:
        notices += f'<div class="flash" role="status">{h(flash)}</div>'
    if error:
        notices += f'<div class="error" role="alert">{h(error)}</div>'
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{h(title)} · {h(TITLE)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/console.css">
</head>
<body>
<header class="top"><a class="brand" href="/">{h(TITLE)}</a>{nav}</header>
<main class="page">
{notices}
{body}
</main>
</body>
</html>"""


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{h(token)}">'


def error_page(status: int, message: str, user: Any = None, csrf: str = "") -> str:
    titles = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "没有找到", 409: "无法完成",
              500: "出错了", 503: "暂时不可用"}
    body = (f'<section class="card"><h1>{h(titles.get(status, "出错了"))}</h1><p>{h(message)}</p>'
            f'<p><a href="/">返回首页</a></p></section>')
    return layout(titles.get(status, "出错了"), body, user=user, csrf=csrf)


# --- login -----------------------------------------------------------------------------------
def login_page(csrf: str, *, next_url: str = "", username: str = "", error: str = "", flash: str = "") -> str:
    body = f"""<section class="card login">
<h1>工作台登录</h1>
<form method="post" action="/login">
{csrf_field(csrf)}
<input type="hidden" name="next" value="{h(next_url)}">
<label>用户名<input name="username" value="{h(username)}" autocomplete="username" required autofocus></label>
<label>密码<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="primary">登录</button>
</form>
<p class="hint">没有账号请联系管理员（<code>python -m bot users add 姓名 --role staff</code>）。</p>
</section>"""
    return layout("登录", body, error=error, flash=flash)


# --- knowledge -------------------------------------------------------------------------------
def search_form(q: str) -> str:
    return f"""<form class="search" method="get" action="/search" role="search">
<input name="q" value="{h(q)}" placeholder="输入客户的问题，如：过户要带什么材料" aria-label="客户的问题" autofocus>
<button type="submit" class="primary">查询</button>
</form>"""


def entry_card(entry: Any, engine: Any, *, q: str = "", heading: str = "") -> str:
    facts = []
    if entry.materials:
        facts.append(("所需材料", "<ol>" + "".join(f"<li>{h(m)}</li>" for m in entry.materials) + "</ol>"))
    if entry.fees:
        facts.append(("收费", f'<div class="pre">{h(entry.fees)}</div>'))
    if entry.time_limits:
        facts.append(("办理时限", f'<div class="pre">{h(entry.time_limits)}</div>'))
    if entry.channels:
        facts.append(("办理渠道", "<ul>" + "".join(f"<li>{h(c)}</li>" for c in entry.channels) + "</ul>"))
    review_late = entry.review_by < beijing_today()
    meta = [
        ("依据", h(entry.source)),
        ("生效日期", h(entry.effective_text)),
        ("复核日期", h(entry.review_by.isoformat())
         + (' <span class="badge warn">已过复核期，请向知识维护人员确认</span>' if review_late else "")),
        ("适用范围", h("全国" if entry.scope == "national" else (entry.region or entry.scope))),
        ("条目", f"<code>{h(entry.id)}</code> · <code>{h(entry.file)}:{h(entry.line)}</code>"),
    ]
    related = ""
    if entry.related:
        rows = []
        for rid in entry.related:
            rel = engine.get(rid)
            label = rel.question if rel is not None else rid
            rows.append(f'<li><a href="{h(url("/kb/" + quote(rid), q=q))}">{h(label)}</a></li>')
        related = f'<div class="related"><h3>相关问题</h3><ul>{"".join(rows)}</ul></div>'
    fact_html = "".join(f"<dt>{h(k)}</dt><dd>{v}</dd>" for k, v in facts)
    meta_html = "".join(f"<dt>{h(k)}</dt><dd>{v}</dd>" for k, v in meta)
    head = f'<p class="eyebrow">{h(heading)}</p>' if heading else ""
    return f"""<article class="card entry" data-entry="{h(entry.id)}">
{head}<p class="tags"><span class="badge topic">{h(topic_label(entry.topic))}</span></p>
<h2>{h(entry.question)}</h2>
<div class="answer pre">{h(entry.answer)}</div>
{f'<dl class="facts">{fact_html}</dl>' if facts else ''}
<dl class="meta">{meta_html}</dl>
{related}
</article>"""


def candidates_table(candidates: Sequence[Any], q: str, *, skip: str | None = None, title: str = "其他候选") -> str:
    rows = [c for c in candidates if c.entry.id != skip]
    if not rows:
        return ""
    body = "".join(
        f'<tr><td class="num">{h(pct(c.confidence))}</td><td><a href="{h(url("/kb/" + quote(c.entry.id), q=q))}">'
        f'{h(c.entry.question)}</a></td><td>{h(topic_label(c.entry.topic))}</td><td><code>{h(c.entry.id)}</code></td></tr>'
        for c in rows)
    return (f'<section class="card"><h3>{h(title)}</h3><table class="table candidates"><thead><tr><th>置信度</th>'
            f'<th>问题</th><th>主题</th><th>条目</th></tr></thead><tbody>{body}</tbody></table></section>')


def search_page(q: str, answer: Any, ms: float | None, engine: Any, *, user: Any, csrf: str) -> str:
    parts = [search_form(q)]
    if answer is not None:
        outcome = answer.outcome
        step = plan(answer)  # the same next step the customer's chat takes (bot/next_step.py)
        kind = answer.kind
        label = OUTCOME_LABELS.get(outcome, outcome) if kind in ("answer", "clarify", "no_match") else step.staff_label
        summary = (f'<p class="outcome {h(outcome)}"><strong>{h(label)}</strong>'
                   f'<span>置信度 {h(pct(answer.confidence))}</span>'
                   f'<span class="ms">检索用时 <span data-testid="search-ms">{ms:.1f}</span> 毫秒</span></p>')
        parts.append(summary)
        if kind == "emergency" and step.staff_note:
            parts.append(f'<section class="card"><p>{h(step.staff_note)}</p></section>')
        if outcome == "answer" and answer.entry is not None:
            parts.append(entry_card(answer.entry, engine, q=q))
            parts.append(candidates_table(answer.candidates, q, skip=answer.entry.id, title="其他候选（备选答案）"))
        elif outcome == "clarify" and answer.candidates:
            parts.append('<p class="hint">置信度不够高，请先和客户确认是哪一个问题；下面是最可能的条目。</p>')
            top = answer.candidates[0]
            parts.append(entry_card(top.entry, engine, q=q, heading=f"最可能的条目（置信度 {pct(top.confidence)}）"))
            parts.append(candidates_table(answer.candidates, q, skip=top.entry.id, title="其他候选"))
        elif kind == "out_of_domain":
            note = " ".join(m["text"] for m in scope_note(answer.detail))
            parts.append(f'<section class="card"><p>{h(OUT_OF_SCOPE_STAFF_NOTE)}</p>{f"<p>{h(note)}</p>" if note else ""}</section>')
        elif kind == "personal_data":
            parts.append(f'<section class="card"><p>{h(PERSONAL_STAFF_NOTE)}</p></section>')
            parts.append(candidates_table(answer.candidates, q, title="告诉客户怎么自己查"))
        elif kind == "incident_report":
            parts.append(f'<section class="card"><p>{h(step.staff_note or "")}</p></section>')
            parts.append(candidates_table(answer.candidates, q, title="相关条目"))
        else:
            parts.append('<section class="card"><p>知识库里没有把握回答这个问题。按<strong>首问负责</strong>：'
                         '记下客户的问题和联系电话，转人工工单处理；紧急情况请客户拨打 95598。</p></section>')
            parts.append(candidates_table(answer.candidates, q, title="相近但把握很低的条目"))
    else:
        parts.append('<p class="hint">输入客户的原话即可，与客户在网页聊天、微信里得到的答案来自同一个答题引擎。</p>')
    return layout(f"知识查询：{q}" if q else "知识查询", "\n".join(parts), user=user, csrf=csrf, active="search")


def entry_page(entry: Any, engine: Any, q: str, *, user: Any, csrf: str) -> str:
    back = f'<p><a href="{h(url("/search", q=q))}">← 返回查询结果</a></p>' if q else ""
    return layout(entry.question, back + search_form(q) + entry_card(entry, engine, q=q),
                  user=user, csrf=csrf, active="search")


# --- work orders -----------------------------------------------------------------------------
def _options(pairs: Iterable[tuple[str, str]], selected: str) -> str:
    return "".join(f'<option value="{h(v)}"{" selected" if v == selected else ""}>{h(label)}</option>'
                   for v, label in pairs)


def first_question(order: Any) -> str:
    for m in order.transcript:
        if m.role == "user" and not m.text.startswith("/"):
            return m.text
    return ""


def _urgent_badge(o: Any) -> str:
    return ' <span class="badge danger">紧急</span>' if getattr(o, "priority", "") == "urgent" else ""


def _details(o: Any) -> str:
    """What the conversation collected for this kind (a repair's address, hazard, area …)."""
    d = getattr(o, "details", None) or {}
    labels = {"address": "地址", "area": "地区类别", "phone": "报修电话", "hazard": "危险情况",
              "self_check": "自查结果", "description": "客户描述", "contact_due": "首次联系时限",
              "complaint": "投诉内容", "suggestion": "建议", "praise": "表扬"}
    rows = []
    for key, label in labels.items():
        if key in d and d[key] not in (None, ""):
            value = {True: "是", False: "否"}.get(d[key], d[key]) if isinstance(d[key], bool) else d[key]
            rows.append(f"<dt>{h(label)}</dt><dd>{h(value)}</dd>")
    return "".join(rows)


def _due_cell(o: Any) -> str:
    due = h(format_beijing(o.due_at, "%m-%d %H:%M"))
    return f'{due} <span class="badge danger">已超时</span>' if o.overdue else due


def orders_page(orders: Sequence[Any], filters: dict[str, str], *, user: Any, csrf: str,
                error: str = "") -> str:
    f = filters
    form = f"""<form class="filters" method="get" action="/orders">
<label>状态<select name="status">{_options(STATUS_FILTERS, f.get("status", ""))}</select></label>
<label>主题<select name="topic">{_options([("", "全部主题")] + sorted(TOPIC_LABELS.items()), f.get("topic", ""))}</select></label>
<label>类型<select name="kind">{_options([("", "全部类型")] + list(KIND_LABELS.items()), f.get("kind", ""))}</select></label>
<label>优先级<select name="priority">{_options([("", "全部")] + list(PRIORITY_LABELS.items()), f.get("priority", ""))}</select></label>
<label>原因<select name="reason">{_options([("", "全部原因")] + [(r, REASON_LABELS[r]) for r in REASONS], f.get("reason", ""))}</select></label>
<label class="check"><input type="checkbox" name="overdue" value="1"{" checked" if f.get("overdue") else ""}>只看超时</label>
<label>创建自<input type="date" name="since" value="{h(f.get("since", ""))}"></label>
<label>至<input type="date" name="until" value="{h(f.get("until", ""))}"></label>
<button type="submit" class="primary">筛选</button>
<a class="button" href="/orders?status=">全部</a>
</form>"""
    overdue = sum(1 for o in orders if o.overdue)
    summary = f'<p class="summary">共 {len(orders)} 张工单' + (f'，其中 <strong class="danger-text">超时 {overdue} 张</strong>' if overdue else "") + "（时间为北京时间）</p>"
    rows = []
    for o in orders:
        cls = ' class="overdue"' if o.overdue else ""
        rows.append(
            f'<tr{cls} data-order="{h(o.order_no)}"><td><a href="/orders/{h(quote(o.order_no))}">{h(o.order_no)}</a></td>'
            f'<td><span class="badge status">{h(o.status)}</span></td>'
            f'<td>{h(KIND_LABELS.get(o.kind, o.kind))}{_urgent_badge(o)}</td><td>{h(REASON_LABELS.get(o.reason, o.reason))}</td>'
            f'<td>{h(topic_label(o.topic))}</td><td class="question">{h(first_question(o)[:60])}</td>'
            f'<td>{h(o.channel)}</td><td>{h(format_beijing(o.created_at, "%m-%d %H:%M"))}</td>'
            f'<td>{_due_cell(o)}</td><td>{h(o.assignee or "-")}</td></tr>')
    table = ('<div class="scroll"><table class="table orders"><thead><tr><th>工单号</th><th>状态</th><th>类型</th><th>原因</th><th>主题</th>'
             '<th>客户问题</th><th>渠道</th><th>创建</th><th>答复时限</th><th>处理人</th></tr></thead><tbody>'
             + ("".join(rows) or '<tr><td colspan="10" class="empty">没有符合条件的工单。</td></tr>')
             + "</tbody></table></div>")
    # The Beijing day: on a UTC server date.today() is yesterday until 08:00 Beijing time.
    today = beijing_today()
    export = f"""<section class="card export"><h3>导出 CSV（Excel 可直接打开）</h3>
<form method="get" action="/orders/export.csv">
<label>创建自<input type="date" name="since" value="{h(f.get("since") or month_start(today).isoformat())}" required></label>
<label>至<input type="date" name="until" value="{h(f.get("until") or today.isoformat())}" required></label>
<button type="submit">导出</button>
</form></section>"""
    return layout("工单", form + summary + table + export, user=user, csrf=csrf, active="orders", error=error)


def _event_move(e: Any) -> str:
    if e.from_status is None:
        return f"新建 → {e.to_status}"
    if e.from_status != e.to_status:
        return f"{e.from_status} → {e.to_status}"
    return e.to_status


def _transcript(order: Any) -> str:
    if not order.transcript:
        return '<p class="empty">（没有对话记录）</p>'
    rows = []
    for m in order.transcript:
        extra = ""
        if m.buttons:
            extra += ('<div class="shown">显示按钮：' + "".join(f'<span class="chip">{h(b)}</span>' for b in m.buttons)
                      + "</div>")
        if m.chosen_button:
            extra += f'<div class="chosen">点击了按钮：<span class="chip on">{h(m.chosen_button)}</span></div>'
        text = m.text if not (m.chosen_button and m.text.startswith("/")) else f"{m.chosen_button}（{m.text}）"
        rows.append(f'<li class="msg {h(m.role)}"><div class="who">{h(MSG_ROLE_LABELS.get(m.role, m.role))}'
                    f' <time>{h(format_beijing(m.at, "%Y-%m-%d %H:%M:%S"))}</time></div>'
                    f'<div class="text pre">{h(text)}</div>{extra}</li>')
    return f'<ol class="transcript">{"".join(rows)}</ol>'


def _action_forms(o: Any, user: Any, csrf: str) -> str:
    if not can(user.role, ORDERS_ACT):
        return '<p class="hint">您的角色只能查看工单。</p>'
    if o.status == STATUS_CLOSED:
        return '<p class="hint">工单已关闭。客户再次转人工时会生成新工单。</p>'
    base = f"/orders/{quote(o.order_no)}"
    forms = []
    if o.status in (STATUS_NEW, STATUS_IN_PROGRESS):
        label = "受理并指派" if o.status == STATUS_NEW else "改派"
        forms.append(f"""<form method="post" action="{h(base)}/assign" class="action" data-action="assign">
<h3>{h(label)}</h3>{csrf_field(csrf)}
<label>处理人<input name="assignee" value="{h(o.assignee or user.username)}" required maxlength="64"></label>
<label>备注<input name="note" maxlength="500" placeholder="可不填"></label>
<button type="submit" class="primary">{h(label)}</button></form>""")
    if o.status == STATUS_IN_PROGRESS:
        forms.append(f"""<form method="post" action="{h(base)}/resolve" class="action" data-action="resolve">
<h3>办结</h3>{csrf_field(csrf)}
<label>处理说明（客户查询工单时会看到）<textarea name="note" required rows="3" maxlength="2000"></textarea></label>
<button type="submit" class="primary">办结</button></form>""")
    if o.status == STATUS_RESOLVED:
        radios = "".join(f'<label class="check"><input type="radio" name="satisfaction" value="{h(s)}" required>{h(s)}</label>'
                         for s in SATISFACTIONS)
        forms.append(f"""<form method="post" action="{h(base)}/callback" class="action" data-action="callback">
<h3>回访</h3>{csrf_field(csrf)}
<fieldset><legend>客户满意度</legend>{radios}</fieldset>
<label>回访记录<textarea name="note" rows="2" maxlength="2000" placeholder="如：电话回访，客户表示问题已解决"></textarea></label>
<button type="submit" class="primary">记录回访</button></form>""")
    if o.status in (STATUS_RESOLVED, STATUS_CALLED_BACK):
        hint = "客户联系不上时也可直接关闭。" if o.status == STATUS_RESOLVED else ""
        forms.append(f"""<form method="post" action="{h(base)}/close" class="action" data-action="close">
<h3>关闭</h3>{csrf_field(csrf)}{f"<p class=hint>{h(hint)}</p>" if hint else ""}
<label>备注<input name="note" maxlength="500" placeholder="可不填"></label>
<button type="submit">关闭工单</button></form>""")
    forms.append(f"""<form method="post" action="{h(base)}/note" class="action" data-action="note">
<h3>添加备注 / 处理进展</h3>{csrf_field(csrf)}
<label>内容（客户查询工单时会看到最新一条）<textarea name="note" required rows="2" maxlength="2000"></textarea></label>
<button type="submit">添加备注</button></form>""")
    return "".join(forms)


def order_page(o: Any, *, user: Any, csrf: str, flash: str = "", error: str = "") -> str:
    status = f'<span class="badge status">{h(o.status)}</span>' + (' <span class="badge danger">已超时</span>' if o.overdue else "")
    fields = [
        ("状态", status),
        ("类型", h(KIND_LABELS.get(getattr(o, "kind", ""), getattr(o, "kind", ""))) + _urgent_badge(o)),
        ("原因", h(f"{REASON_LABELS.get(o.reason, o.reason)}（{o.reason}）")),
        ("主题", h(topic_label(o.topic))),
        ("渠道 / 客户", h(f"{o.channel} / {o.sender_id}")),
        ("联系电话", h(o.phone or "未留")),
        ("处理人", h(o.assignee or "未指派")),
        ("创建时间", h(format_beijing(o.created_at, "%Y-%m-%d %H:%M:%S"))),
        ("答复时限", h(format_beijing(o.due_at, "%Y-%m-%d %H:%M"))),
        ("关闭时间", h(format_beijing(o.closed_at, "%Y-%m-%d %H:%M:%S") or "-")),
        ("满意度", h(o.satisfaction or "-")),
    ]
    info = "".join(f"<dt>{h(k)}</dt><dd>{v}</dd>" for k, v in fields) + _details(o)
    cands = ""
    if o.candidates:
        items = "".join(
            f'<li><span class="num">{h(pct(c["confidence"])) if c.get("confidence") is not None else "-"}</span> '
            f'<a href="/kb/{h(quote(str(c.get("entry_id") or "")))}">{h(c.get("question") or c.get("entry_id"))}</a></li>'
            for c in o.candidates)
        cands = f'<section class="card"><h3>答题引擎当时的候选</h3><ul class="plain">{items}</ul></section>'
    events = "".join(
        f'<tr><td>{h(format_beijing(e.at, "%m-%d %H:%M:%S"))}</td><td>{h(e.actor)}</td><td>{h(_event_move(e))}</td>'
        f'<td class="pre">{h(e.note)}</td></tr>' for e in o.events)
    body = f"""<p><a href="/orders">← 返回工单列表</a></p>
<h1 class="order-title">工单 <span data-testid="order-no">{h(o.order_no)}</span> {status}</h1>
<div class="columns">
<div class="main-col">
<section class="card"><dl class="info">{info}</dl><p class="hint">时间均为北京时间。</p></section>
<section class="card"><h2>对话记录（{len(o.transcript)} 条）</h2>{_transcript(o)}</section>
{cands}
<section class="card"><h2>处理记录</h2><div class="scroll"><table class="table events"><thead><tr><th>时间</th><th>操作人</th><th>状态</th><th>说明</th></tr></thead>
<tbody>{events}</tbody></table></div></section>
</div>
<aside class="side-col card"><h2>处理</h2>{_action_forms(o, user, csrf)}</aside>
</div>"""
    return layout(f"工单 {o.order_no}", body, user=user, csrf=csrf, active="orders", flash=flash, error=error)


# --- users -----------------------------------------------------------------------------------
def users_page(users: Sequence[Any], *, user: Any, csrf: str, flash: str = "", error: str = "") -> str:
    rows = []
    for u in users:
        toggle = "停用" if u.active else "启用"
        rows.append(
            f'<tr><td>{h(u.username)}</td><td>{h(ROLE_LABELS.get(u.role, u.role))}</td>'
            f'<td>{"正常" if u.active else "已停用"}</td><td>{h(format_beijing(u.last_login_at, "%Y-%m-%d %H:%M") or "从未")}</td>'
            f'<td><form method="post" action="/users/{h(quote(u.username))}/active" class="inline">{csrf_field(csrf)}'
            f'<input type="hidden" name="active" value="{"0" if u.active else "1"}">'
            f'<button type="submit"{" disabled" if u.username == user.username else ""}>{h(toggle)}</button></form> '
            f'<form method="post" action="/users/{h(quote(u.username))}/password" class="inline">{csrf_field(csrf)}'
            f'<input name="password" type="password" minlength="8" placeholder="新密码" autocomplete="new-password" required>'
            f'<button type="submit">重设密码</button></form></td></tr>')
    roles = _options([(r, ROLE_LABELS[r]) for r in ROLES], "staff")
    body = f"""<h1>用户管理</h1>
<div class="scroll"><table class="table"><thead><tr><th>用户名</th><th>角色</th><th>状态</th><th>上次登录</th><th>操作</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>
<section class="card"><h3>添加用户</h3>
<form method="post" action="/users" class="filters">{csrf_field(csrf)}
<label>用户名<input name="username" required maxlength="32"></label>
<label>角色<select name="role">{roles}</select></label>
<label>初始密码<input name="password" type="password" minlength="8" autocomplete="new-password" required></label>
<button type="submit" class="primary">添加</button>
</form>
<p class="hint">柜台人员：知识查询＋工单处理；培训/知识维护：知识查询；管理员：全部，含用户管理。</p></section>"""
    return layout("用户管理", body, user=user, csrf=csrf, active="users", flash=flash, error=error)
