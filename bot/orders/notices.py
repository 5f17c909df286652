"""停电公告 (outage notices): what staff publish, and how the bot finds the ones a customer asks about.

A notice names its area as place names (村, 小区, 街道, 路段 …), a start and end time, the kind
(计划检修 / 故障抢修 / 临时), the reason, the source (e.g. the notice's number or where it was
posted) and who published it. It lives in the work-order database (migration 0003). Staff create,
edit and end notices in the console or import a CSV (``parse_csv``): a bad row is refused with
its line number and nothing of that file is stored.

The only module that queries the outage_notices table.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import BEIJING, beijing_day, day_start_utc, format_beijing, to_beijing, utcnow
from bot.orders.models import OutageNotice
from bot.orders.store import OrderError, OrderNotFound, OrderStore

NOTICE_KINDS = ("计划检修", "故障抢修", "临时")
CSV_COLUMNS = ("区域", "开始时间", "结束时间", "类型", "原因", "来源")
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
_PLACE_SPLIT = re.compile(r"[、,，;；/\n]+")
MAX_PLACES = 50


class NoticeError(OrderError):
    """A notice (or a CSV row) that cannot be stored; the message is Chinese, for staff."""


@dataclass(frozen=True)
class NoticeView:
    id: int
    places: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    kind: str
    reason: str
    source: str
    published_by: str
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    ended_by: str | None

    @property
    def power_back_at(self) -> datetime:
        """When power returns: the end staff recorded, else the announced end."""
        return self.ended_at or self.ends_at

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.power_back_at


@dataclass(frozen=True)
class NoticeInput:
    places: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    kind: str
    reason: str
    source: str


# --- validation (shared by the console form and the CSV import) --------------------------------
def parse_time(text: str) -> datetime:
    """'2026-12-08 08:00' (Beijing time) → aware datetime; NoticeError otherwise."""
    value = (text or "").strip().replace("T", " ")
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    raise NoticeError(f"时间「{text}」看不懂，请写成 2026-12-08 08:00（北京时间）")


def parse_places(text: str) -> tuple[str, ...]:
    places = tuple(dict.fromkeys(p.strip() for p in _PLACE_SPLIT.split(text or "") if p.strip()))
    if not places:
        raise NoticeError("请填写停电区域（村、小区、街道、路段的名称，多个用“、”隔开）")
    if len(places) > MAX_PLACES or any(len(p) > 40 or len(p) < 2 for p in places):
        raise NoticeError(f"停电区域的每个地名应为 2–40 个字，最多 {MAX_PLACES} 个")
    return places


def validate(places: str | Sequence[str], starts: str | datetime, ends: str | datetime, kind: str,
             reason: str, source: str) -> NoticeInput:
    place_list = parse_places(places if isinstance(places, str) else "、".join(places))
    start = parse_time(starts) if isinstance(starts, str) else starts
    end = parse_time(ends) if isinstance(ends, str) else ends
    if end <= start:
        raise NoticeError("结束时间应晚于开始时间")
    if end - start > timedelta(days=31):
        raise NoticeError("一次停电公告最长 31 天，请核对时间")
    kind = (kind or "").strip()
    if kind not in NOTICE_KINDS:
        raise NoticeError(f"类型「{kind}」不对，可选：{' / '.join(NOTICE_KINDS)}")
    reason, source = (reason or "").strip(), (source or "").strip()
    if not reason:
        raise NoticeError("请填写停电原因（如：线路检修、设备更换）")
    if not source or len(source) > 255:
        raise NoticeError("请填写公告来源（如公告编号、发布单位），255 字以内")
    return NoticeInput(place_list, start, end, kind, reason[:500], source)


def parse_csv(data: bytes | str) -> list[NoticeInput]:
    """Every row of a CSV import, or NoticeError naming the first bad line (nothing is stored).

    Format (UTF-8, with or without BOM; the header row is line 1):
        区域,开始时间,结束时间,类型,原因,来源
        张家村、李家村,2026-12-08 08:00,2026-12-08 18:00,计划检修,10kV线路检修,城关供电所公告〔2026〕12号
    """
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise NoticeError("文件是空的")
    header = [h.strip() for h in rows[0]]
    if header[:len(CSV_COLUMNS)] != list(CSV_COLUMNS):
        raise NoticeError(f"第 1 行应为表头：{','.join(CSV_COLUMNS)}")
    notices = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(CSV_COLUMNS):
            raise NoticeError(f"第 {line_no} 行：应有 {len(CSV_COLUMNS)} 列（{','.join(CSV_COLUMNS)}），实际 {len(row)} 列；整个文件未导入")
        try:
            notices.append(validate(*row[:len(CSV_COLUMNS)]))
        except NoticeError as exc:
            raise NoticeError(f"第 {line_no} 行：{exc}；整个文件未导入") from exc
    if not notices:
        raise NoticeError("文件里没有公告行")
    return notices


# --- what a customer's question names ----------------------------------------------------------
_PLACE_IN_TEXT = re.compile(
    r"([\u4e00-\u9fffA-Za-z0-9]{1,14}?(?:新村|小区|社区|街道|花园|家园|公寓|大厦|开发区|工业园|村|屯|寨|庄|堡|营|湾|坪|坝|沟|岭|组|镇|乡|大道|大街|路|街|巷|弄|苑|园|里))")
# what may stand before a place name and is not part of it: greetings, pronouns, and when ("明天我们小区")
_PRONOUNS = re.compile(r"^(?:请问|问下|问一下|你好|您好|大后天|后天|明天|今天|今晚|明早|明晚|明儿|后儿|今儿|下周|这周|本周|"
                       r"最近|近期|这几天|我们|我家|俺们|俺|咱们|咱|我|这个|那个|这|那|你们|本|咱家|家里|我住的|我在|在|的)+")
_GENERIC = re.compile(r"^(?:新村|小区|社区|街道|花园|家园|公寓|大厦|开发区|工业园|村|屯|寨|庄|堡|营|湾|坪|坝|沟|岭|组|镇|乡|大道|大街|路|街|巷|弄|苑|园|里|那里|这里)$")


def place_in_question(text: str, known: Iterable[str] = ()) -> str | None:
    """The place the customer asks about: a published notice's place name first, else a word that
    looks like a place ("张家村", "幸福小区"); None for "我们村" / "我们小区" (ask which)."""
    compact = re.sub(r"\s+", "", text or "")
    for name in sorted(set(known), key=len, reverse=True):
        if name and name in compact:
            return name
    for m in _PLACE_IN_TEXT.finditer(compact):
        candidate = _PRONOUNS.sub("", m.group(1))
        if candidate and not _GENERIC.match(candidate) and len(candidate) >= 2:
            return candidate
    return None


def window_for(text: str, now: datetime) -> tuple[datetime, datetime, str]:
    """The time window a question asks about, in UTC, and how to say it ("明天", "近 7 天")."""
    today = beijing_day(now)
    compact = re.sub(r"\s+", "", text or "")

    def days(first: date, last: date, label: str) -> tuple[datetime, datetime, str]:
        return day_start_utc(first), day_start_utc(last + timedelta(days=1)), label

    if re.search(r"大后天", compact):
        return days(today + timedelta(days=3), today + timedelta(days=3), "大后天")
    if re.search(r"后天|后儿", compact):
        return days(today + timedelta(days=2), today + timedelta(days=2), "后天")
    if re.search(r"明天|明儿|明早|明晚|明日|明个", compact):
        return days(today + timedelta(days=1), today + timedelta(days=1), "明天")
    if re.search(r"下周|下礼拜|下星期", compact):
        monday = today + timedelta(days=7 - today.weekday())
        return days(monday, monday + timedelta(days=6), "下周")
    if re.search(r"这周|本周|这礼拜|这星期|这几天|最近|近期", compact):
        return days(today, today + timedelta(days=6), "近 7 天")
    if re.search(r"今天|今晚|今儿|今日|上午|下午|晚上", compact):
        return days(today, today, "今天")
    if re.search(r"现在|为什么停电|为啥停电|怎么停电|咋停电|停电了|没电了|什么时候来电|啥时候来电|几点来电|何时来电|多久来电|来电", compact):
        return now, now + timedelta(minutes=1), "现在"
    return days(today, today + timedelta(days=6), "近 7 天")


# --- the store -------------------------------------------------------------------------------
class NoticeBoard:
    """Create, edit, end, import and look up notices (one short transaction each)."""

    def __init__(self, store: OrderStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Any = None) -> "NoticeBoard":
        if settings is None:
            from bot.settings import load

            settings = load()
        return cls(OrderStore.from_url(settings.prepared_orders_url()))

    def create(self, notice: NoticeInput, *, by: str) -> NoticeView:
        return self.import_all([notice], by=by)[0]

    def import_all(self, notices: Sequence[NoticeInput], *, by: str) -> list[NoticeView]:
        """All or nothing: one transaction for every notice of a CSV file."""
        if not (by or "").strip():
            raise NoticeError("请填写发布人")
        now = self.clock()

        def work(s: Session) -> list[NoticeView]:
            rows = [OutageNotice(places=list(n.places), places_text="、".join(n.places), starts_at=n.starts_at,
                                 ends_at=n.ends_at, kind=n.kind, reason=n.reason, source=n.source,
                                 published_by=by.strip(), created_at=now, updated_at=now) for n in notices]
            s.add_all(rows)
            s.flush()
            return [_view(r) for r in rows]

        return self.store._tx(work)

    def update(self, notice_id: int, notice: NoticeInput, *, by: str) -> NoticeView:
        def work(s: Session) -> NoticeView:
            row = _locked(s, notice_id)
            row.places, row.places_text = list(notice.places), "、".join(notice.places)
            row.starts_at, row.ends_at, row.kind = notice.starts_at, notice.ends_at, notice.kind
            row.reason, row.source, row.published_by = notice.reason, notice.source, by.strip() or row.published_by
            row.updated_at = self.clock()
            s.flush()
            return _view(row)

        return self.store._tx(work)

    def end(self, notice_id: int, *, by: str, at: datetime | None = None) -> NoticeView:
        """Power is back: the notice ends now (or at ``at``)."""
        def work(s: Session) -> NoticeView:
            row = _locked(s, notice_id)
            when = at or self.clock()
            row.ended_at = max(when, row.starts_at)
            row.ended_by = by.strip() or "工作人员"
            row.updated_at = self.clock()
            s.flush()
            return _view(row)

        return self.store._tx(work)

    def get(self, notice_id: int) -> NoticeView | None:
        def work(s: Session) -> NoticeView | None:
            row = s.get(OutageNotice, notice_id)
            return _view(row) if row else None

        return self.store._tx(work, read_only=True)

    def current_and_upcoming(self, *, now: datetime | None = None, include_past_days: int = 0) -> list[NoticeView]:
        """Notices not over yet (and those ended in the last ``include_past_days``), by start time."""
        since = (now or self.clock()) - timedelta(days=include_past_days)

        def work(s: Session) -> list[NoticeView]:
            q = (select(OutageNotice).where(OutageNotice.ends_at > since)
                 .order_by(OutageNotice.starts_at, OutageNotice.id))
            return [_view(r) for r in s.execute(q).scalars()]

        return [n for n in self.store._tx(work, read_only=True) if n.power_back_at > since]

    def known_places(self, *, now: datetime | None = None) -> list[str]:
        return sorted({p for n in self.current_and_upcoming(now=now) for p in n.places}, key=len, reverse=True)

    def find(self, place: str, start: datetime, end: datetime) -> list[NoticeView]:
        """Notices whose area names ``place`` (either contains the other) and that overlap [start, end)."""
        key = place.strip()
        if not key:
            return []

        def work(s: Session) -> list[NoticeView]:
            q = (select(OutageNotice).where(OutageNotice.starts_at < end, OutageNotice.ends_at > start)
                 .order_by(OutageNotice.starts_at, OutageNotice.id))
            return [_view(r) for r in s.execute(q).scalars()]

        found = []
        for n in self.store._tx(work, read_only=True):
            if n.power_back_at <= start:
                continue  # ended early, before the window
            if any(key in p or p in key for p in n.places):
                found.append(n)
        return found


def _locked(s: Session, notice_id: int) -> OutageNotice:
    row = s.execute(select(OutageNotice).where(OutageNotice.id == notice_id).with_for_update()).scalar_one_or_none()
    if row is None:
        raise OrderNotFound(f"没有找到编号为 {notice_id} 的停电公告。")
    return row


def _view(r: OutageNotice) -> NoticeView:
    return NoticeView(id=r.id, places=tuple(r.places or ()), starts_at=r.starts_at, ends_at=r.ends_at,
                      kind=r.kind, reason=r.reason, source=r.source, published_by=r.published_by,
                      created_at=r.created_at, updated_at=r.updated_at, ended_at=r.ended_at,
                      ended_by=r.ended_by)


def describe_window(n: NoticeView) -> str:
    return f"{format_beijing(n.starts_at)} 至 {format_beijing(n.power_back_at)}"


__all__ = ["NOTICE_KINDS", "CSV_COLUMNS", "NoticeBoard", "NoticeError", "NoticeInput", "NoticeView",
           "parse_csv", "parse_time", "place_in_question", "validate", "window_for", "to_beijing"]
