"""Phone numbers, order numbers and the SLA table: the rules a work order is built from."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.orders.numbering import OrderNumberError, day_key, format_order_no, normalise_order_no, parse_order_no
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


def test_the_day_of_an_order_is_its_beijing_date() -> None:
    assert day_key(datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc)) == "20261123"
    assert day_key(datetime(2026, 11, 22, 15, 59, tzinfo=timezone.utc)) == "20261122"


# --- SLA -------------------------------------------------------------------------------------
def test_one_working_day_from_friday_evening_is_monday_evening() -> None:
    assert add_working_days(bj("2026-11-20 18:00"), 1) == bj("2026-11-23 18:00")  # Fri → Mon
    assert add_working_days(bj("2026-11-21 10:00"), 1) == bj("2026-11-23 10:00")  # Sat → Mon
    assert add_working_days(bj("2026-11-22 23:59"), 1) == bj("2026-11-23 23:59")  # Sun → Mon
    assert add_working_days(bj("2026-11-19 09:00"), 1) == bj("2026-11-20 09:00")  # Thu → Fri
    assert add_working_days(bj("2026-11-19 09:00"), 3) == bj("2026-11-24 09:00")  # Thu → Tue


def test_the_default_table_gives_consultations_a_working_day_and_outages_four_hours() -> None:
    sla = SlaTable.load()
    friday_evening = bj("2026-11-20 18:00")
    for reason in ("engine_fail", "not_helpful", "nlu_fallback", "request_human"):
        assert sla.due_at(friday_evening, reason, "tariff") == bj("2026-11-23 18:00")
    assert sla.due_at(friday_evening, "not_helpful", "outage") == bj("2026-11-20 22:00")
    assert sla.due_at(friday_evening, "error", None) == bj("2026-11-20 22:00")
    assert sla.due_at(friday_evening, "request_human", None) == bj("2026-11-23 18:00")
    assert sla.due_at(friday_evening, "error", None).tzinfo is not None


def test_the_sla_file_comes_from_settings_and_a_broken_one_says_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "sla.yml"
    custom.write_text("rules:\n  - reason: not_helpful\n    within: {hours: 2}\n"
                      "default:\n  within: {working_days: 2}\n", encoding="utf-8")
    monkeypatch.setenv("ORDERS_SLA_FILE", str(custom))
    sla = SlaTable.load(Settings().orders_sla_file)
    assert sla.due_at(bj("2026-11-20 18:00"), "not_helpful", None) == bj("2026-11-20 20:00")
    assert sla.due_at(bj("2026-11-20 18:00"), "error", None) == bj("2026-11-24 18:00")
    monkeypatch.delenv("ORDERS_SLA_FILE")
    assert Settings().orders_sla_file.name == "sla.yml"
    custom.write_text("rules:\n  - reason: no_such_reason\n    within: {hours: 2}\n", encoding="utf-8")
    with pytest.raises(SlaError, match="no_such_reason"):
        SlaTable.load(custom)
    with pytest.raises(SlaError, match="不存在"):
        SlaTable.load(tmp_path / "missing.yml")
