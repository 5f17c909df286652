"""Reading what customers type in a fault report, and the outage notices (issue 13), without Rasa."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.clock import BEIJING
from bot.conversations import fault_report as fr
from bot.orders.notices import NoticeBoard, NoticeError, parse_csv, place_in_question, validate, window_for
from bot.orders.store import OrderStore


@pytest.mark.parametrize("text, kind", [
    ("我家门口电线杆被车撞歪了 电线都快掉地上了", "line"),
    ("变压器一直冒火花", "line"),
    ("楼道电箱冒烟了", "line"),
    ("电视着火了", "fire"),
    ("有人触电了 快来人", "shock"),
])
def test_a_hazard_is_recognised_with_the_safety_entry_to_show(text: str, kind: str) -> None:
    found = fr.hazard_kind(text)
    assert found is not None and found[0] == kind and found[1].startswith("safety.")


@pytest.mark.parametrize("text, entry", [
    ("路口那根电线杆倾斜得很厉害", "safety.fallen_wire"),
    ("河边有几个人在高压线底下钓鱼", "safety.fishing_under_lines"),
])
def test_what_the_answer_engine_calls_an_emergency_is_a_hazard_in_the_form_too(text: str, entry: str) -> None:
    found = fr.hazard_kind(text)
    assert found is not None and found[1] == entry


@pytest.mark.parametrize("text", ["我家停电了", "停电一般多久恢复", "跳闸了怎么办"])
def test_a_plain_outage_is_not_a_hazard(text: str) -> None:
    assert fr.hazard_kind(text) is None


@pytest.mark.parametrize("text, past", [
    ("我们这条街从前天晚上停电到现在，打了好几次电话都没人来修！", True),
    ("楼下新装的变压器天天嗡嗡响，吵得老人孩子整夜睡不着", True),
    ("我家停电了", False),
    ("家里没电了 是不是跳闸了", False),
])
def test_a_report_of_days_without_power_or_a_noisy_transformer_needs_no_self_check(text: str, past: bool) -> None:
    assert fr.past_self_help(text) is past


@pytest.mark.parametrize("text, value", [
    ("邻居家也没电", fr.CHECK_AREA), ("我们小区停电三个小时了还没来电", fr.CHECK_AREA),
    ("只有我家没电，开关没跳", fr.CHECK_HOME), ("总开关跳了", fr.CHECK_BREAKER),
    ("可能是余额用完了", fr.CHECK_BALANCE), ("只有部分房间没电", fr.CHECK_PART), ("跳过，直接报修", fr.CHECK_SKIP),
    ("不知道", fr.CHECK_SKIP),
])
def test_the_self_check_answers_are_read(text: str, value: str) -> None:
    assert fr.read_check(text) == value


def test_after_self_help_yes_and_no_are_read() -> None:
    assert fr.read_go_on("还是要报修") is True and fr.read_go_on("还是没电") is True
    assert fr.read_go_on("已经来电了，不用报修") is False and fr.read_go_on("算了") is False
    assert fr.read_go_on("阶梯电价怎么算") is None


@pytest.mark.parametrize("text, address", [
    ("幸福小区3栋2单元", "幸福小区3栋2单元"),
    ("地址是幸福路12号 电话13812345678", "幸福路12号"),
    ("城关镇张家村三组", "城关镇张家村三组"),
])
def test_an_address_is_taken_without_the_phone_in_it(text: str, address: str) -> None:
    assert fr.read_address(text, asked=True) == (address, None)


@pytest.mark.parametrize("text, problem", [("我家", "vague"), ("3栋", "short"), ("", "empty"), ("幸福路" * 30, "long")])
def test_a_bad_address_says_what_is_wrong(text: str, problem: str) -> None:
    assert fr.read_address(text, asked=True) == (None, problem)


def test_a_question_is_not_an_address_and_an_unasked_address_needs_a_clear_lead() -> None:
    assert fr.read_address("停电了怎么办", asked=True) == (None, None)
    assert fr.read_address("我们小区停电了", asked=False) == (None, None)
    assert fr.read_address("地址说错了，地址是幸福路15号", asked=False)[0] == "幸福路15号"


def test_phones_are_found_anywhere_and_bad_ones_noticed() -> None:
    assert fr.find_phone("电话 138 1234 5678 谢谢") == ("13812345678", True)
    assert fr.find_phone("0371-12345678") == ("0371-12345678", True)
    assert fr.find_phone("12345678901") == (None, True)
    assert fr.find_phone("没有电话") == (None, False)


def test_stop_words_are_recognised() -> None:
    assert all(fr.is_stop(t) for t in ("算了", "不用了谢谢", "那算了吧", "取消"))
    assert not any(fr.is_stop(t) for t in ("算了一下电费", "幸福路12号"))


@pytest.mark.parametrize("address, area", [
    ("城东区幸福路12号幸福小区3栋", "城区"), ("城关镇张家村三组", "农村"), ("某县海岛渔村", "特殊边远"), ("学校旁边", "农村"),
])
def test_the_area_class_of_an_address_picks_the_arrival_commitment(address: str, area: str) -> None:
    assert fr.area_of(address) == area


# --- outage notices ---------------------------------------------------------------------------
HEADER = "区域,开始时间,结束时间,类型,原因,来源\n"
ROW = "张家村、李家村,2026-12-08 08:00,2026-12-08 18:00,计划检修,10kV线路检修,城关供电所停电公告第12号\n"


def test_a_csv_import_names_the_first_bad_line_and_keeps_nothing() -> None:
    assert len(parse_csv((HEADER + ROW).encode("utf-8-sig"))) == 1
    bad_rows = {
        "幸福小区,2026-12-09 09:00,2026-12-09 07:00,计划检修,换表,公告13\n": "结束时间",
        "幸福小区,明天上午,2026-12-09 07:00,计划检修,换表,公告13\n": "看不懂",
        "幸福小区,2026-12-09 08:00,2026-12-09 17:00,随便停,换表,公告13\n": "类型",
        "幸福小区,2026-12-09 08:00\n": "列",
    }
    for bad, why in bad_rows.items():
        with pytest.raises(NoticeError, match=f"第 3 行.*{why}"):
            parse_csv(HEADER + ROW + bad)
    with pytest.raises(NoticeError, match="第 1 行"):
        parse_csv("地方,时间\n" + ROW)


def test_notices_are_found_by_place_and_time_window(tmp_path: Path) -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING)
    board = NoticeBoard(OrderStore.from_url(f"sqlite:///{tmp_path / 'o.db'}"), clock=lambda: now)
    [notice] = board.import_all(parse_csv(HEADER + ROW), by="李四")
    known = board.known_places(now=now)
    assert place_in_question("张家村明天停电吗", known) == "张家村"
    assert place_in_question("我们村明天停电吗", known) is None
    # a time word before "我们小区" is not part of a place: ask which 小区
    assert place_in_question("明天我们小区会停电吗", known) is None
    assert place_in_question("明天幸福小区停电吗", known) == "幸福小区"
    assert place_in_question("幸福小区什么时候来电", known) == "幸福小区"
    start, end, label = window_for("张家村明天停电吗", now)
    assert label == "明天" and board.find("张家村", start, end) == [notice]
    start, end, label = window_for("张家村今天停电吗", now)
    assert board.find("张家村", start, end) == []
    # ended early by staff: not current any more
    ended = board.end(notice.id, by="王五", at=datetime(2026, 12, 8, 12, 0, tzinfo=BEIJING))
    assert ended.power_back_at == datetime(2026, 12, 8, 12, 0, tzinfo=BEIJING)
    assert board.find("张家村", datetime(2026, 12, 8, 13, 0, tzinfo=BEIJING),
                      datetime(2026, 12, 8, 14, 0, tzinfo=BEIJING)) == []
    edited = board.update(notice.id, validate("张家村", "2026-12-09 08:00", "2026-12-09 12:00", "临时", "抢修", "公告"),
                          by="王五")
    assert edited.kind == "临时" and edited.places == ("张家村",)
