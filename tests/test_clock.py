"""One notion of "today": the Beijing day, whatever the server's clock zone (issue 11).

The clock is frozen with time-machine at the edges of a Beijing day (23:59 / 00:01) and of a
month, with the process's TZ set to UTC and to Asia/Shanghai. Between 00:00 and 08:00 Beijing
time the UTC date is still yesterday: code that used the server's local day fails here.
"""
from __future__ import annotations

import argparse
import ast
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.clock import BEIJING, beijing_today, day_range_utc, month_start
from bot.console.accounts import UserView
from bot.console.pages import orders_page
from bot.orders import Msg, OrderService
from bot.orders.cli import add_orders

ROOT = Path(__file__).resolve().parent.parent


def bj(text: str) -> datetime:
    """A Beijing wall-clock time, as a UTC instant."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING).astimezone(timezone.utc)


@pytest.fixture(params=["UTC", "Asia/Shanghai"])
def process_tz(request: pytest.FixtureRequest) -> str:
    """The process's local zone while the clock is frozen, as a server's TZ would set it."""
    return request.param


def frozen(at: str, zone: str) -> "time_machine.travel":
    """Freeze at a Beijing wall-clock time, with the process's local zone set to ``zone``.

    time-machine sets TZ from the destination's ZoneInfo (and to UTC otherwise), so the same
    instant expressed in ``zone`` is what makes date.today() and naive now() that zone's.
    """
    return time_machine.travel(bj(at).astimezone(ZoneInfo(zone)), tick=False)


# A Beijing day's last and first minute, and a month's.
EDGES = [
    ("2026-12-06 23:59", date(2026, 12, 6)),
    ("2026-12-07 00:01", date(2026, 12, 7)),
    ("2026-11-30 23:59", date(2026, 11, 30)),
    ("2026-12-01 00:01", date(2026, 12, 1)),
    ("2026-12-07 04:30", date(2026, 12, 7)),  # the hour the export test used to fail
]


@pytest.mark.parametrize("at,day", EDGES)
def test_today_is_the_beijing_day_in_any_process_zone(process_tz: str, at: str, day: date) -> None:
    with frozen(at, process_tz):
        assert beijing_today() == day
        # The process's own zone is the one asked for: under UTC its local day is yesterday
        # until 08:00 Beijing time, which is the trap.
        assert datetime.now().hour == bj(at).astimezone(ZoneInfo(process_tz)).hour


@pytest.fixture
def service(tmp_path: Path) -> Iterator[OrderService]:
    svc = OrderService.from_url(f"sqlite:///{tmp_path / 'orders.db'}", spool_dir=tmp_path / "spool")
    yield svc
    svc.store.dispose()


def _open(svc: OrderService, key: str, text: str = "电费怎么这么高") -> str:
    convo = [Msg("user", text, datetime.now(timezone.utc))]
    view = svc.open_or_append(channel="rest", sender_id=f"u-{key}", reason="engine_fail", topic="tariff",
                              candidates=[], transcript=convo, idempotency_key=key)
    return view.order_no


@pytest.mark.parametrize("at,day", EDGES)
def test_order_numbers_carry_the_beijing_day(process_tz: str, service: OrderService, at: str, day: date) -> None:
    # The service's default clock, not an injected one: what production uses.
    with frozen(at, process_tz):
        no = _open(service, f"k-{at}")
    assert no == f"GD{day:%Y%m%d}0001"


def test_daily_sequence_restarts_at_beijing_midnight_not_utc_midnight(process_tz: str, service: OrderService) -> None:
    with frozen("2026-12-06 23:59", process_tz):
        a = _open(service, "a")
    with frozen("2026-12-07 00:01", process_tz):  # still 2026-12-06 in UTC
        b = _open(service, "b")
    with frozen("2026-12-07 09:00", process_tz):  # 2026-12-07 in UTC too
        c = _open(service, "c")
    assert (a, b, c) == ("GD202612060001", "GD202612070001", "GD202612070002")


def test_orders_list_date_filters_are_beijing_days(process_tz: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    db = f"sqlite:///{tmp_path / 'orders.db'}"
    svc = OrderService.from_url(db, spool_dir=tmp_path / "var" / "spool")
    with frozen("2026-11-30 23:59", process_tz):
        november = _open(svc, "nov", "十一月最后一分钟的问题")
    with frozen("2026-12-01 00:01", process_tz):
        december = _open(svc, "dec", "十二月第一分钟的问题")
    svc.store.dispose()

    parser = argparse.ArgumentParser(prog="python -m bot")
    add_orders(parser.add_subparsers(dest="command"))

    def listed(*argv: str) -> str:
        args = parser.parse_args(["orders", "--db", db, "list", *argv])
        assert args.func(args) == 0
        return capsys.readouterr().out

    only_dec = listed("--since", "2026-12-01", "--until", "2026-12-01")
    assert december in only_dec and november not in only_dec
    only_nov = listed("--since", "2026-11-30", "--until", "2026-11-30")
    assert november in only_nov and december not in only_nov
    both = listed("--since", "2026-11-30", "--until", "2026-12-01")
    assert november in both and december in both


def test_sla_counts_working_days_from_the_beijing_day(process_tz: str) -> None:
    """00:01 Saturday Beijing time is still Friday in UTC: the due day must follow Beijing's Saturday."""
    from bot.orders.sla import SlaTable

    table = SlaTable.load()
    sat_0001, sat_noon = bj("2026-12-05 00:01"), bj("2026-12-05 12:00")
    fri_2359 = bj("2026-12-04 23:59")
    due = {name: table.due_at(at, "engine_fail", "tariff").astimezone(BEIJING)
           for name, at in (("sat_0001", sat_0001), ("sat_noon", sat_noon), ("fri_2359", fri_2359))}
    # Two moments of the same non-working Beijing day are due on the same day.
    assert due["sat_0001"].date() == due["sat_noon"].date()
    # Nothing is due on a weekend; both Saturday orders fall due on Monday 2026-12-07.
    assert all(d.weekday() < 5 for d in due.values())
    assert due["sat_0001"].date() == date(2026, 12, 7)
    # The answer does not depend on the process's zone: same instant under the other TZ.
    with time_machine.travel(sat_0001.astimezone(ZoneInfo(process_tz)), tick=False):
        assert table.due_at(datetime.now(timezone.utc), "engine_fail", "tariff") == due["sat_0001"]


STAFF = UserView(1, "柜台小王", "staff", True, datetime(2026, 1, 1, tzinfo=timezone.utc), None)


def _export_defaults(html: str) -> tuple[str, str]:
    form = html[html.index('action="/orders/export.csv"'):]
    since = re.search(r'name="since" value="([^"]*)"', form).group(1)
    until = re.search(r'name="until" value="([^"]*)"', form).group(1)
    return since, until


@pytest.mark.parametrize("at,day", EDGES)
def test_export_form_defaults_to_this_beijing_month_up_to_today(process_tz: str, at: str, day: date) -> None:
    with frozen(at, process_tz):
        since, until = _export_defaults(orders_page([], {}, user=STAFF, csrf="t"))
    assert (since, until) == (month_start(day).isoformat(), day.isoformat())


def test_export_defaults_select_the_order_opened_a_minute_after_beijing_midnight(
        process_tz: str, service: OrderService) -> None:
    """What the clerk saw: at 00:01 on the 1st, the default range must hold that minute's order."""
    with frozen("2026-12-01 00:01", process_tz):
        no = _open(service, "first-minute")
        since, until = _export_defaults(orders_page([], {}, user=STAFF, csrf="t"))
    found = service.list(since=date.fromisoformat(since), until=date.fromisoformat(until))
    assert [o.order_no for o in found] == [no]


def test_day_range_covers_exactly_the_beijing_days() -> None:
    start, end = day_range_utc(date(2026, 12, 1), date(2026, 12, 1))
    assert start == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
    assert end - start == timedelta(days=1)


# --- no second notion of "today" comes back ------------------------------------------------------
# Calls that read the machine's local zone: the date they give is the server's, not Beijing's.
_LOCAL_DAY_CALLS = {("date", "today"), ("datetime", "today"), ("datetime", "utcnow"),
                    ("datetime", "utcfromtimestamp"), ("time", "localtime"), ("dt.date", "today"),
                    ("dt.datetime", "today"), ("dt.datetime", "utcnow")}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def local_day_calls(source: str, filename: str) -> list[str]:
    """file:line of each call that takes the day or time from the server's local zone."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner, name = _dotted(node.func.value), node.func.attr
        naive_now = (name in ("now", "fromtimestamp") and owner.split(".")[-1] == "datetime"
                     and len(node.args) < (1 if name == "now" else 2)
                     and not any(k.arg == "tz" for k in node.keywords))
        if (owner, name) in _LOCAL_DAY_CALLS or naive_now:
            found.append(f"{filename}:{node.lineno}: {owner}.{name}()")
    return found


def test_the_scanner_catches_each_form() -> None:
    bad = ("from datetime import date, datetime\nimport datetime as dt\nimport time\n"
           "a = date.today()\nb = datetime.now()\nc = dt.date.today()\nd = datetime.utcnow()\n"
           "e = time.localtime()\nf = datetime.fromtimestamp(0)\n")
    assert len(local_day_calls(bad, "x.py")) == 6
    good = "from datetime import datetime, timezone\na = datetime.now(timezone.utc)\nb = datetime.now(tz=X)\n" \
           "c = datetime.fromtimestamp(0, timezone.utc)\n"
    assert local_day_calls(good, "y.py") == []


def test_no_code_takes_the_day_from_the_servers_zone() -> None:
    files = [p for d in ("bot", "actions", "scripts") for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 30
    offenders = [hit for p in files if p != ROOT / "bot" / "clock.py"
                 for hit in local_day_calls(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert offenders == [], "use bot.clock (beijing_today / utcnow / to_beijing) instead:\n" + "\n".join(offenders)
