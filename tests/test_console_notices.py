"""停电公告 in the staff console over HTTP (issue 13): who may publish, the form, the all-or-nothing
CSV import with line numbers, ending a notice; and the queue's kind and priority filters."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from console_server import Console, csrf_of, start_console

PW = "notice-pass-1"
ROOT = Path(__file__).resolve().parent.parent
HEADER = "区域,开始时间,结束时间,类型,原因,来源\n"
GOOD = "张家村、李家村,2026-12-08 08:00,2026-12-08 18:00,计划检修,10kV线路检修,城关供电所停电公告第12号\n"
BAD = "幸福小区,2026-12-09 09:00,2026-12-09 07:00,计划检修,更换变压器,城关供电所停电公告第13号\n"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console_notices")
    env = dict(os.environ, BOT_VAR_DIR=str(workdir))
    env.pop("ORDERS_DB_URL", None)
    c = start_console(workdir, env=env)
    c.add_user("staff9", "staff", PW)
    c.add_user("trainer9", "trainer", PW)
    yield c
    c.stop()


def _import(console: Console, s, body: str):  # type: ignore[no-untyped-def]
    token = csrf_of(s.get(f"{console.url}/notices", timeout=30).text)
    return s.post(f"{console.url}/notices/import", data={"csrf": token},
                  files={"file": ("notices.csv", body.encode("utf-8-sig"), "text/csv")}, timeout=30)


def test_a_trainer_cannot_publish_notices(console: Console) -> None:
    s = console.login("trainer9", PW)
    assert s.get(f"{console.url}/notices", timeout=30).status_code == 403


def test_a_csv_with_a_bad_row_is_refused_with_its_line_and_nothing_is_stored(console: Console) -> None:
    s = console.login("staff9", PW)
    r = _import(console, s, HEADER + GOOD + BAD)
    assert r.status_code == 400 and "第 3 行" in r.text and "整个文件未导入" in r.text
    assert "10kV线路检修" not in r.text.split("<h3>发布停电公告")[0]  # the list above the form is empty
    r = _import(console, s, HEADER + GOOD)
    assert r.status_code == 200 and "已导入 1 条停电公告" in r.text and "张家村、李家村" in r.text


def test_a_notice_is_created_with_the_form_and_ended(console: Console) -> None:
    s = console.login("staff9", PW)
    token = csrf_of(s.get(f"{console.url}/notices", timeout=30).text)
    bad = s.post(f"{console.url}/notices", data={"csrf": token, "places": "幸福小区", "starts": "明天早上",
                                                 "ends": "2026-12-10 12:00", "kind": "临时", "reason": "换表",
                                                 "source": "城东供电所"}, timeout=30)
    assert bad.status_code == 400 and "看不懂" in bad.text and "幸福小区" in bad.text  # typed values kept
    r = s.post(f"{console.url}/notices", data={"csrf": token, "places": "幸福小区", "starts": "2026-12-10 09:00",
                                               "ends": "2026-12-10 12:00", "kind": "临时", "reason": "更换变压器",
                                               "source": "城东供电所"}, timeout=30)
    assert r.status_code == 200 and "停电公告已发布" in r.text and "更换变压器" in r.text
    notice_id = r.text.split("更换变压器")[0].rsplit('data-notice="', 1)[1].split('"', 1)[0]
    ended = s.post(f"{console.url}/notices/{notice_id}/end", data={"csrf": token}, timeout=30)
    assert ended.status_code == 200 and "停电公告已结束" in ended.text and "已结束（staff9" in ended.text


def test_the_queue_filters_by_kind_and_priority_with_urgent_repairs_first(console: Console) -> None:
    code = (
        "from datetime import datetime, timezone\n"
        "from bot.orders.service import OrderService\n"
        "from bot.orders.transcript import Msg\n"
        "svc = OrderService.from_settings()\n"
        "now = datetime.now(timezone.utc)\n"
        "a = svc.open_or_append(channel='rest', sender_id='rest:q1', reason='engine_fail', topic='tariff',"
        " candidates=[], transcript=[Msg('user', '电费问题', now)], idempotency_key='q-1')\n"
        "b = svc.open_or_append(channel='rest', sender_id='rest:q2', reason='fault_report', topic='outage',"
        " candidates=[], transcript=[Msg('user', '电线掉地上了', now)], idempotency_key='q-2', priority='urgent',"
        " area='城区', details={'address': '幸福路12号', 'hazard': True})\n"
        "print(a.order_no, b.order_no)\n")
    out = subprocess.run([sys.executable, "-c", code], env=console.env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    consult, repair = out.stdout.split()
    s = console.login("staff9", PW)
    page = s.get(f"{console.url}/orders", timeout=30).text
    assert page.index(repair) < page.index(consult)  # urgent first although newer
    only = s.get(f"{console.url}/orders", params={"kind": "repair"}, timeout=30).text
    assert repair in only and consult not in only
    urgent = s.get(f"{console.url}/orders", params={"priority": "urgent"}, timeout=30).text
    assert repair in urgent and consult not in urgent
    detail = s.get(f"{console.url}/orders/{repair}", timeout=30).text
    assert "故障报修" in detail and "紧急" in detail and "幸福路12号" in detail and "城区" in detail
