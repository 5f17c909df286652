"""Phone numbers, order numbers and the SLA table: the rules a work order is built from."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.orders.numbering import (OrderNumberError, day_key, find_order_no, format_order_no, normalise_order_no,
                                  parse_order_no)
from bot.orders.phone import PhoneError, normalise_phone
from bot.clock import BEIJING
from bot.orders.sla import SlaError, SlaTable, add_working_days
from bot.settings import Settings


def bj(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)


# --- phone -----------------------------------------------------------------------------------
@pytest.mark.parametrize("typed, canonical", [
    ("13812345678", "13812345678"),
    ("138 1234 5678", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("86-19912345678", "19912345678"),
    ("１３８１２３４５６７８", "13812345678"),   # full-width digits from a Chinese keyboard
    ("0371-12345678", "0371-12345678"),
    ("037112345678", "0371-12345678"),
    ("0371 1234567", "0371-1234567"),
    ("010-12345678", "010-12345678"),
    ("02112345678", "021-12345678"),
    ("(0755)12345678", "0755-12345678"),
])
def test_good_mobile_and_landline_numbers_are_normalised(typed: str, canonical: str) -> None:
    assert normalise_phone(typed) == canonical


@pytest.mark.parametrize("typed", ["12812345678", "1381234567", "138123456789", "95598", "0371-123456",
                                   "371-12345678", "电话是13812345678", "", "   ", "+1 415 555 0100"])
def test_bad_numbers_are_refused_with_a_chinese_message_for_the_customer(typed: str) -> None:
    with pytest.raises(PhoneError) as err:
        normalise_phone(typed)
    assert "手机号" in str(err.value) and "0371-12345678" in str(err.value)


# --- order numbers ---------------------------------------------------------------------------
def test_order_numbers_format_and_parse() -> None:
    assert format_order_no("20261122", 7) == "GD202611220007"
    assert format_order_no("20261122", 12345) == "GD2026112212345"  # a busy day grows, never fails
    assert parse_order_no("gd 2026 1122 0007") == (datetime(2026, 11, 22).date(), 7)
    assert normalise_order_no(" gd202611220007 ") == "GD202611220007"
    for bad in ("GD2026112207", "XX202611220007", "GD202613220007", "工单"):
        with pytest.raises(OrderNumberError, match="工单号"):
            normalise_order_no(bad)


def test_an_order_number_is_found_in_what_a_customer_or_the_bot_wrote() -> None:
    assert find_order_no("我的工单gd202611220007进度怎么样") == "GD202611220007"
    # a busy day's fifth digit belongs to the number (it used to be cut to twelve digits)
    assert find_order_no("工单号：GD2026112212345，预计") == "GD2026112212345"
    assert find_order_no("工单GD2026112207呢") is None and find_order_no("") is None


def test_the_day_of_an_order_is_its_beijing_date() -> None:
    assert day_key(datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc)) == "20261123"
    assert day_key(datetime(2026, 11, 22, 15, 59, tzinfo=timezone.utc)) == "20261122"


# --- SLA -------------------------------------------------------------------------------------
def test_one_working_day_from_friday_evening_is_monday_evening() -> None:
    # Without business hours: the same wall-clock time, working days only.
    assert add_working_days(bj("2026-11-20 18:00"), 1) == bj("2026-11-23 18:00")  # Fri → Mon
    assert add_working_days(bj("2026-11-21 10:00"), 1) == bj("2026-11-23 10:00")  # Sat → Mon
    assert add_working_days(bj("2026-11-22 23:59"), 1) == bj("2026-11-23 23:59")  # Sun → Mon
    assert add_working_days(bj("2026-11-19 09:00"), 1) == bj("2026-11-20 09:00")  # Thu → Fri
    assert add_working_days(bj("2026-11-19 09:00"), 3) == bj("2026-11-24 09:00")  # Thu → Tue


def test_working_days_skip_public_holidays_and_count_make_up_weekends() -> None:
    # 2026 (国务院办公厅 schedule, in chinesecalendar): 1–7 October off for National Day; Friday
    # 25 September off for Mid-autumn; Sunday 20 September and Saturday 10 October are make-up days.
    assert add_working_days(bj("2026-09-30 10:00"), 1) == bj("2026-10-08 10:00")
    assert add_working_days(bj("2026-09-18 10:00"), 1) == bj("2026-09-20 10:00")  # Fri → make-up Sun
    assert add_working_days(bj("2026-09-24 10:00"), 1) == bj("2026-09-28 10:00")  # Thu → (holiday Fri) Mon
    assert add_working_days(bj("2026-10-09 10:00"), 1) == bj("2026-10-10 10:00")  # Fri → make-up Sat


def test_a_year_beyond_the_calendar_data_counts_monday_to_friday() -> None:
    import chinese_calendar

    from bot.orders.workdays import is_working_day

    beyond = max(chinese_calendar.holidays).year + 1
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(datetime(beyond, 1, 5).date())
    days = [datetime(beyond, 3, d).date() for d in range(1, 15)]
    assert [is_working_day(d) for d in days] == [d.weekday() < 5 for d in days]


def test_working_day_due_times_end_within_business_hours() -> None:
    from bot.orders.workdays import BusinessHours

    hours = BusinessHours.parse("08:30-17:30")
    # Made at 04:42 on a Wednesday: due Thursday at opening time, not at 04:42.
    assert add_working_days(bj("2026-12-02 04:42"), 1, hours) == bj("2026-12-03 08:30")
    # After closing on Friday: due Monday at closing time.
    assert add_working_days(bj("2026-11-20 18:00"), 1, hours) == bj("2026-11-23 17:30")
    # Saturday night: Monday at opening time.
    assert add_working_days(bj("2026-11-21 23:00"), 1, hours) == bj("2026-11-23 17:30")
    assert add_working_days(bj("2026-11-22 06:00"), 1, hours) == bj("2026-11-23 08:30")
    # Inside business hours: the same time one working day later.
    assert add_working_days(bj("2026-12-02 14:05"), 1, hours) == bj("2026-12-03 14:05")
    for bad in ("8-17", "17:30-08:30", "25:00-26:00", ""):
        with pytest.raises(ValueError):
            BusinessHours.parse(bad)


def test_the_default_table_gives_consultations_a_working_day_and_outages_four_hours() -> None:
    sla = SlaTable.load()
    assert sla.business_hours.describe() == "08:30-17:30"
    friday_evening = bj("2026-11-20 18:00")
    for reason in ("engine_fail", "not_helpful", "nlu_fallback", "request_human"):
        assert sla.due_at(friday_evening, reason, "tariff") == bj("2026-11-23 17:30")
    assert sla.due_at(friday_evening, "not_helpful", "outage") == bj("2026-11-20 22:00")
    assert sla.due_at(friday_evening, "error", None) == bj("2026-11-20 22:00")
    assert sla.due_at(bj("2026-11-20 10:00"), "request_human", None) == bj("2026-11-23 10:00")
    assert sla.due_at(friday_evening, "error", None).tzinfo is not None


def test_repairs_are_due_by_the_arrival_commitment_around_the_clock() -> None:
    sla = SlaTable.load()
    sunday_night = bj("2026-11-22 23:30")
    assert sla.due_at(sunday_night, "fault_report", None, "repair", "城区") == bj("2026-11-23 00:15")
    assert sla.due_at(sunday_night, "fault_report", None, "repair", "农村") == bj("2026-11-23 01:00")
    assert sla.due_at(sunday_night, "fault_report", None, "repair", "特殊边远") == bj("2026-11-23 01:30")
    assert sla.due_at(sunday_night, "fault_report", None, "repair", None) == bj("2026-11-23 01:00")
    rule = sla.rule_for("fault_report", None, "repair", "城区")
    assert rule.describe() == "45 分钟" and "十项承诺" in rule.source


def test_complaints_have_a_contact_and_an_answer_limit_in_working_days() -> None:
    sla = SlaTable.load()
    rule = sla.rule_for("complaint", None)
    assert rule.describe() == "7 个工作日" and rule.contact is not None and rule.source
    made = bj("2026-12-02 10:00")  # a Wednesday
    assert rule.contact_due_at(made) == bj("2026-12-03 10:00")
    assert rule.due_at(made) == bj("2026-12-11 10:00")


def test_the_sla_file_comes_from_settings_and_a_broken_one_says_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "sla.yml"
    custom.write_text("rules:\n  - reason: not_helpful\n    within: {hours: 2}\n"
                      "default:\n  within: {working_days: 2}\n", encoding="utf-8")
    monkeypatch.setenv("ORDERS_SLA_FILE", str(custom))
    sla = SlaTable.load(Settings().orders_sla_file)
    assert sla.due_at(bj("2026-11-20 18:00"), "not_helpful", None) == bj("2026-11-20 20:00")
    assert sla.due_at(bj("2026-11-20 16:00"), "error", None) == bj("2026-11-24 16:00")
    assert sla.due_at(bj("2026-11-20 18:00"), "error", None) == bj("2026-11-24 17:30")
    monkeypatch.delenv("ORDERS_SLA_FILE")
    assert Settings().orders_sla_file.name == "sla.yml"
    custom.write_text("rules:\n  - reason: no_such_reason\n    within: {hours: 2}\n", encoding="utf-8")
    with pytest.raises(SlaError, match="no_such_reason"):
        SlaTable.load(custom)
    with pytest.raises(SlaError, match="不存在"):
        SlaTable.load(tmp_path / "missing.yml")
