"""对话复盘 in the staff console, for trainers and admins (issue 16): what customers asked, what the
bot decided, and one-click fixes — a customer's words as an entry's new wording (live through the
engine's hot reload, no retraining), a conversation saved as a Rasa test story — plus the
分类统计 report and the grouped unanswered questions for a date range.
"""
from __future__ import annotations

import base64
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote, unquote

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.clock import beijing_today, day_range_utc, format_beijing
from bot.console.audit import audit
from bot.console.auth import REVIEW
from bot.console.pages import _options, csrf_field, h, layout, pct
from bot.review import index as review_index
from bot.review.hygiene import due_for_review
from bot.review.index import FIXED_TAGS
from bot.review.conversations import (
    OUTCOME_LABELS, OUTCOMES, ensure_review_index, page_conversations, read_events, read_turns,
)
from bot.orders.models import TOPIC_LABELS
from bot.review.editing import (
    EditRefused, add_nlu_example, add_wording, evaluation_rows, save_story, start_draft,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_DAYS = 366
SYNC_INLINE_EVENTS = 5000  # a backlog this small is indexed inside the request (well under a second)
CHANNEL_PREFIXES = {"rest": "rest:", "webchat": "web:", "wechat": "wx:"}


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat((text or "").strip()) if text else default
    except ValueError:
        return default


def _range(request: Request) -> tuple[date, date]:
    today = beijing_today()
    last = _day(request.args.get("until"), today)
    first = _day(request.args.get("since"), last - timedelta(days=6))
    if first > last:
        first, last = last, first
    return max(first, last - timedelta(days=MAX_DAYS - 1)), last


def _range_form(action: str, first: date, last: date, extra: str = "") -> str:
    return (f'<form class="filters" method="get" action="{h(action)}">'
            f'<label>自<input type="date" name="since" value="{first.isoformat()}"></label>'
            f'<label>至<input type="date" name="until" value="{last.isoformat()}"></label>{extra}'
            f'<button type="submit" class="primary">查看</button></form>')


def review_page(rows: Sequence[Any], first: date, last: date, f: dict[str, str], page: int, total: int, *,
                user: Any, csrf: str, note: str = "", tag_counts: Sequence[tuple[str, int]] = (),
                due: Sequence[Any] = ()) -> str:
    extra = (f'<label>渠道<select name="channel">{_options([("", "全部")] + [(c, c) for c in ("rest", "webchat", "wechat")], f["channel"])}</select></label>'
             f'<label>结果<select name="outcome">{_options([("", "全部")] + [(o, OUTCOME_LABELS[o]) for o in OUTCOMES], f["outcome"])}</select></label>'
             f'<label>主题<select name="topic">{_options([("", "全部")] + list(TOPIC_LABELS.items()), f["topic"])}</select></label>'
             f'<label>标签<select name="tag">{_options([("", "全部")] + [(t, f"{t}（{n}）") for t, n in tag_counts], f["tag"])}</select></label>'
             f'<label>条目<input name="entry" value="{h(f["entry"])}" placeholder="条目 id"></label>')
    body = [f"<h2>对话复盘（{first} 至 {last}，北京时间）</h2>", _range_form("/review", first, last, extra),
            f'<p class="summary">共 {total} 个会话（按开始时间，最新的在前）。{h(note)}<a href="/review/report?since={first}&until={last}">分类统计与未答上的问题 →</a></p>']
    trs = []
    for r in rows:
        outcomes = " ".join(f'<span class="badge">{h(OUTCOME_LABELS.get(o, o))}</span>' for o in r.outcomes)
        trs.append(f'<tr data-conversation="{h(r.sender_id)}"><td>{h(format_beijing(r.started, "%m-%d %H:%M"))}</td>'
                   f'<td>{h(r.channel)}</td><td><a href="/review/c/{h(quote(r.sender_id, safe=""))}">{h(r.first_text[:60])}</a></td>'
                   f'<td>{r.turns}</td><td>{outcomes}</td></tr>')
    body.append('<div class="scroll"><table class="table"><thead><tr><th>开始</th><th>渠道</th><th>第一句</th>'
                '<th>消息</th><th>结果</th></tr></thead><tbody>'
                + ("".join(trs) or '<tr><td colspan="5" class="empty">这段时间没有符合条件的会话。</td></tr>')
                + "</tbody></table></div>")
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if pages > 1:
        q = "&".join(f"{k}={quote(v)}" for k, v in {"since": str(first), "until": str(last), **f}.items())
        links = [f'<a href="/review?{q}&page={p}"{" class=active" if p == page else ""}>{p}</a>' for p in range(1, pages + 1)]
        body.append('<nav class="pager">' + " ".join(links) + "</nav>")
    if due:
        items = "".join(f'<li><a href="/kb/{h(d.message.split(":")[0])}">{h(d.message)}</a> <code>{h(d.where)}</code></li>'
                        for d in due)
        body.append(f'<section class="card due"><h3>即将到复核日期的条目（30 天内）</h3><ul>{items}</ul></section>')
    return layout("对话复盘", "".join(body), user=user, csrf=csrf, active="review")


def conversation_page(sender_id: str, turns: Sequence[Any], engine: Any, *, user: Any, csrf: str,
                      flash: str = "", error: str = "", intents: Sequence[str] = (),
                      tags: dict[float, list[str]] | None = None) -> str:
    sid = quote(sender_id, safe="")
    parts = [f"<h2>会话 <code>{h(sender_id)}</code></h2>",
             f'<form method="post" action="/review/c/{h(sid)}/story" class="inline">{csrf_field(csrf)}'
             f'<button type="submit">整段存为测试故事</button></form>'
             f' <span class="hint">写入 tests/ 下的测试故事；运行 <code>make story-test</code> 查看结果。</span>']
    for i, t in enumerate(turns):
        kb = t.kb or {}
        cands = kb.get("candidates") or []
        cand_list = "".join(f'<li><a href="/kb/{h(c.get("entry_id", ""))}">{h(c.get("entry_id", ""))}</a> '
                            f'{h(c.get("question", ""))} <span class="conf">{pct(float(c.get("confidence") or 0))}</span></li>'
                            for c in cands)
        decision = (f'{h(kb.get("kind") or kb.get("outcome") or "")}'
                    + (f' → <a href="/kb/{h(kb["entry_id"])}">{h(kb["entry_id"])}</a>' if kb.get("entry_id") else "")
                    + (f'（{pct(float(kb.get("confidence") or 0))}）' if kb else ""))
        intent = f'{h(t.intent or "-")}' + (f'（{pct(float(t.intent_confidence))}）' if t.intent_confidence is not None else "")
        actions = ""
        if not t.text.startswith("/") and t.text.strip():
            suggested = [c.get("entry_id") for c in cands if c.get("entry_id")]
            if not suggested and engine is not None:
                suggested = [c.entry.id for c in engine.ask(t.text).candidates]
            options = "".join(f'<option value="{h(e)}">{h(e)}</option>' for e in dict.fromkeys(suggested))
            actions = (f'<form method="post" action="/review/c/{h(sid)}/wording" class="wording">{csrf_field(csrf)}'
                       f'<input type="hidden" name="turn" value="{i}">'
                       f'<label>加为条目的新问法<input name="text" value="{h(t.text)}" maxlength="120"></label>'
                       f'<label>条目<input name="entry" list="cands-{i}" value="{h(suggested[0] if suggested else "")}" required>'
                       f'<datalist id="cands-{i}">{options}</datalist></label>'
                       f'<button type="submit">加入知识库</button></form>'
                       f'<details class="more"><summary>其他处理</summary>'
                       f'<form method="post" action="/review/c/{h(sid)}/draft" class="draft">{csrf_field(csrf)}'
                       f'<label>新建草稿条目<input name="text" value="{h(t.text)}" maxlength="120"></label>'
                       f'<label>主题<select name="topic">{_options([(k, v) for k, v in TOPIC_LABELS.items()], t.topic or "")}</select></label>'
                       f'<button type="submit">存为草稿</button></form>'
                       f'<form method="post" action="/review/c/{h(sid)}/nlu" class="nlu">{csrf_field(csrf)}'
                       f'<label>加为意图的 NLU 例句<input name="text" value="{h(t.text)}" maxlength="120"></label>'
                       f'<label>意图<select name="intent">{_options([(i, i) for i in intents], t.intent or "")}</select></label>'
                       f'<button type="submit">加入 NLU 数据</button></form></details>')
        at_key = round(t.at.timestamp(), 3)
        shown_tags = "".join(f'<span class="badge tag">{h(x)}</span>' for x in (tags or {}).get(at_key, []))
        if not t.text.startswith("/") and t.text.strip():
            actions += (f'<form method="post" action="/review/c/{h(sid)}/tag" class="tag">{csrf_field(csrf)}'
                        f'<input type="hidden" name="turn_at" value="{at_key}"><input type="hidden" name="text" value="{h(t.text[:200])}">'
                        f'<label>标签<input name="tag" list="fixed-tags" maxlength="32" placeholder="知识缺失 / 答错 / 意图错 / 应转人工 或自填"></label>'
                        f'<button type="submit">加标签</button></form>')
        replies = "".join(f"<p>{h(x)}</p>" for x in t.bot_texts) or '<p class="empty">（无回复）</p>'
        parts.append(
            f'<section class="card turn" data-turn="{i}" data-outcome="{h(t.outcome)}">'
            f'<p class="meta">{h(format_beijing(t.at, "%m-%d %H:%M:%S"))} · {h(t.channel)} · 意图 {intent}'
            f' · 决定 {decision} · <span class="badge">{h(OUTCOME_LABELS.get(t.outcome, t.outcome))}</span></p>'
            f'<p class="customer">客户：{h(t.text)} {shown_tags}</p>'
            + (f'<details><summary>候选条目</summary><ol>{cand_list}</ol></details>' if cand_list else "")
            + f'<div class="bot">{replies}</div>{actions}</section>')
    parts.append('<datalist id="fixed-tags">' + "".join(f'<option value="{h(x)}">' for x in FIXED_TAGS) + "</datalist>")
    return layout(f"会话 {sender_id}", "".join(parts), user=user, csrf=csrf, active="review", flash=flash, error=error)


def _png(path: Path) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{h(path.stem)}">'


def register(app: Sanic, *, need: Callable, page_error: Callable, html_page: Callable, blocking: Callable) -> None:
    """Add the /review routes (called from views.register, which owns sessions and CSRF)."""
    ctx = app.ctx
    settings = ctx.settings

    def held_out() -> list[str]:
        root = Path(settings.root)
        return evaluation_rows([root / "tests" / "data" / "kb_eval.tsv", root.parent / "shared" / "realq" / "dev.tsv"])

    def turns_of(sender_id: str) -> list[Any]:
        from bot.review.conversations import _turns

        events = read_events(settings.tracker_url, sender_id)
        rows = [(sender_id, e.get("event"), e.get("timestamp"), None, _as_json(e)) for e in events
                if e.get("event") in ("user", "bot")]
        return list(_turns(rows))

    tracker_engine: list[Any] = []

    def current_engine() -> Any:
        kb = getattr(ctx, "kb", None)
        return kb.engine if kb is not None and hasattr(kb, "engine") else kb

    def tracker() -> Any:
        """One pooled engine on the tracker store, with the review's index (created once)."""
        if not tracker_engine:
            import sqlalchemy as sa

            engine = sa.create_engine(settings.tracker_url)
            try:
                ensure_review_index(engine)
            except Exception:  # noqa: BLE001 — a read-only database still lists, more slowly
                logger.warning("could not create the review index on the tracker store", exc_info=True)
            tracker_engine.append(engine)
        return tracker_engine[0]

    def list_from_index(first: date, last: date, f: dict[str, str], page: int) -> tuple[list[Any], int, str]:
        """One page from the conversation summary (bot/review/index.py), brought up to date first:
        at once when a few turns are new, in the background when many are (the first time)."""
        engine = tracker()
        done, top = review_index.backlog(engine)
        note = ""
        if top - done <= SYNC_INLINE_EVENTS:
            review_index.sync(engine)
        else:
            review_index.sync_in_background(engine)
            if done == 0:
                raise RuntimeError("the review index is being built")  # list from the events meanwhile
            note = f"索引正在更新（还有约 {top - done:,} 条事件），最新的会话稍后出现。"
        got = review_index.page(engine, first, last, channel=f["channel"] if f["channel"] in CHANNEL_PREFIXES else "",
                                outcome=f["outcome"], entry=f["entry"], topic=f["topic"], tag=f["tag"],
                                offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        return got.rows, got.total, note

    @app.get("/review", name="review")
    @need(REVIEW)
    async def review(request: Request) -> HTTPResponse:
        first, last = _range(request)
        f = {k: (request.args.get(k) or "").strip()[:80] for k in ("channel", "outcome", "topic", "tag", "entry")}
        try:
            page = max(1, int(request.args.get("page") or 1))
        except ValueError:
            page = 1
        note = ""
        try:
            shown, total, note = await blocking(list_from_index, first, last, f, page)
        except Exception:  # noqa: BLE001 — the summary is an optimisation; the events are the truth
            logger.warning("review index unavailable, listing from the events", exc_info=True)
            total, shown = await blocking(page_conversations, tracker(), first, last,
                                          sender_prefix=CHANNEL_PREFIXES.get(f["channel"], ""),
                                          offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
            if f["outcome"] or f["entry"] or f["topic"] or f["tag"]:
                note = "索引正在建立：暂按原始记录列出，“结果”和“条目”筛选稍后生效。"
        engine = current_engine()
        due = due_for_review(engine.kb, beijing_today()) if engine is not None else []
        counts = await blocking(review_index.tag_counts, tracker())
        return html_page(review_page(shown, first, last, f, page, total, user=request.ctx.user, csrf=request.ctx.csrf,
                                     note=note, tag_counts=counts, due=due))

    async def show_conversation(request: Request, sender_id: str, flash: str = "", error: str = "",
                                status: int = 200) -> HTTPResponse:
        turns = await blocking(turns_of, sender_id)
        if not turns:
            return page_error(request, 404, "没有找到这个会话（可能已按保留期删除）。")
        engine = ctx.kb.engine if getattr(ctx, "kb", None) is not None and hasattr(ctx.kb, "engine") else ctx.kb
        tagged = await blocking(review_index.tags_of, tracker(), sender_id)
        return html_page(conversation_page(sender_id, turns, engine, user=request.ctx.user, csrf=request.ctx.csrf,
                                           flash=flash, error=error, intents=domain_intents(), tags=tagged), status)

    @app.get("/review/c/<sender_id:str>", name="review_conversation")
    @need(REVIEW)
    async def review_conversation(request: Request, sender_id: str) -> HTTPResponse:
        # Sanic 21.12 hands over path parameters still percent-encoded
        return await show_conversation(request, unquote(sender_id), flash=request.args.get("done") or "")

    @app.post("/review/c/<sender_id:str>/wording", name="review_wording")
    @need(REVIEW)
    async def review_wording(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = unquote(sender_id)
        text = (request.form.get("text") or "").strip()
        entry_id = (request.form.get("entry") or "").strip()
        try:
            added = await blocking(add_wording, settings.knowledge_dir, entry_id, text, held_out=held_out())
        except EditRefused as exc:
            return await show_conversation(request, sender_id, error=str(exc), status=400)
        audit(settings.var_dir, request.ctx.user.username, "kb_wording_added", entry=added.entry_id,
              file=added.file.name, text=added.text, conversation=sender_id)
        done = f"已把“{added.text}”加为条目 {added.entry_id} 的问法，几秒钟内生效，无需重新训练。"
        return response.redirect(f"/review/c/{quote(sender_id, safe='')}?done={quote(done)}", status=303)

    def domain_intents() -> list[str]:
        import yaml

        try:
            domain = yaml.safe_load((Path(settings.root) / "domain.yml").read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            return []
        return [i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []]

    @app.post("/review/c/<sender_id:str>/draft", name="review_draft")
    @need(REVIEW)
    async def review_draft(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = unquote(sender_id)
        text = (request.form.get("text") or "").strip()
        topic = (request.form.get("topic") or "").strip()
        try:
            path = await blocking(start_draft, settings.knowledge_dir, topic, text, topics=list(TOPIC_LABELS),
                                  note=f"来自对话 {sender_id}（{request.ctx.user.username}）。")
        except EditRefused as exc:
            return await show_conversation(request, sender_id, error=str(exc), status=400)
        audit(settings.var_dir, request.ctx.user.username, "kb_draft_started", file=path.name, text=text,
              conversation=sender_id)
        done = f"草稿已存到 knowledge/drafts/{path.name}：写好答案和依据后移入 knowledge/{topic}.yml。"
        return response.redirect(f"/review/c/{quote(sender_id, safe='')}?done={quote(done)}", status=303)

    @app.post("/review/c/<sender_id:str>/nlu", name="review_nlu")
    @need(REVIEW)
    async def review_nlu(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = unquote(sender_id)
        text = (request.form.get("text") or "").strip()
        intent = (request.form.get("intent") or "").strip()
        if intent not in domain_intents():
            return await show_conversation(request, sender_id, error=f"没有意图 {intent}。", status=400)
        try:
            path = await blocking(add_nlu_example, Path(settings.root) / "data" / "nlu", intent, text)
        except EditRefused as exc:
            return await show_conversation(request, sender_id, error=str(exc), status=400)
        audit(settings.var_dir, request.ctx.user.username, "nlu_example_added", intent=intent, file=path.name,
              text=text, conversation=sender_id)
        done = f"已把“{text}”加为意图 {intent} 的例句（data/nlu/{path.name}）。需要重新训练才生效：make train。"
        return response.redirect(f"/review/c/{quote(sender_id, safe='')}?done={quote(done)}", status=303)

    @app.post("/review/c/<sender_id:str>/tag", name="review_tag")
    @need(REVIEW)
    async def review_tag(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = unquote(sender_id)
        try:
            turn_at = float(request.form.get("turn_at") or "")
            added = await blocking(review_index.add_tag, tracker(), sender_id, turn_at,
                                   (request.form.get("text") or "").strip(), request.form.get("tag") or "",
                                   request.ctx.user.username)
        except ValueError as exc:
            return await show_conversation(request, sender_id, error=str(exc) or "标签不合格。", status=400)
        done = "已加标签。" if added else "这条消息已经有这个标签了。"
        return response.redirect(f"/review/c/{quote(sender_id, safe='')}?done={quote(done)}", status=303)

    @app.post("/review/c/<sender_id:str>/story", name="review_story")
    @need(REVIEW)
    async def review_story(request: Request, sender_id: str) -> HTTPResponse:
        sender_id = unquote(sender_id)
        events = await blocking(read_events, settings.tracker_url, sender_id)
        name = f"复盘 {sender_id} {format_beijing(_first_time(events), '%Y-%m-%d %H:%M')}"
        try:
            steps = await blocking(save_story, Path(settings.review_stories_file), name, events)
        except EditRefused as exc:
            return await show_conversation(request, sender_id, error=str(exc), status=400)
        audit(settings.var_dir, request.ctx.user.username, "test_story_saved", story=name, steps=steps,
              file=str(settings.review_stories_file), conversation=sender_id)
        done = (f"已存为测试故事“{name}”（{steps} 步）。NLU 和故事的改动需要重新训练：make train，"
                f"然后 make story-test。")
        return response.redirect(f"/review/c/{quote(sender_id, safe='')}?done={quote(done)}", status=303)

    @app.get("/review/report", name="review_report")
    @need(REVIEW)
    async def review_report(request: Request) -> HTTPResponse:
        import tempfile

        from bot.review import report
        from bot.review.misses import format_groups, group_misses, misses_from_turns

        first, last = _range(request)
        engine = ctx.kb.engine if hasattr(ctx.kb, "engine") else ctx.kb
        if engine is None:
            return page_error(request, 503, "知识库正在加载，请几秒钟后刷新。")

        def make() -> str:
            turns = read_turns(settings.tracker_url, first, last)
            groups = group_misses(engine, misses_from_turns(turns))
            orders = ctx.orders.list(since=first, until=last)
            live = ctx.live_desk.chats.finished_between(*day_range_utc(first, last))
            built = report.build(turns, orders, first, last, groups, live)
            with tempfile.TemporaryDirectory(prefix="report-") as tmp:
                page = report.write(built, Path(tmp), dict(TOPIC_LABELS))
                html = page.read_text(encoding="utf-8")
                body = html[html.index("<body>") + 6: html.index("</body>")]
                for png in Path(tmp).glob("*.png"):  # inline: the console's CSP allows data: images only
                    body = body.replace(f'<img src="{png.name}" alt="{png.name}">', _png(png))
            return body + f"<h2>未答上的问题（全部分组）</h2><pre>{h(format_groups(groups, limit=100))}</pre>"

        body = await blocking(make)
        links = (f'<p><a href="/review?since={first}&until={last}">← 对话复盘</a> · '
                 f'命令行：<code>python -m bot report --since {first} --until {last}</code></p>')
        return html_page(layout("分类统计", _range_form("/review/report", first, last) + links + body,
                                user=request.ctx.user, csrf=request.ctx.csrf, active="review"))


def _as_json(event: dict[str, Any]) -> str:
    import json

    return json.dumps(event, ensure_ascii=False)


def _first_time(events: Sequence[dict[str, Any]]) -> Any:
    from datetime import datetime, timezone

    ts = next((e.get("timestamp") for e in events if e.get("timestamp")), None)
    return datetime.fromtimestamp(float(ts), timezone.utc) if ts else None
