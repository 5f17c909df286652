"""CSV formula defusing for every formula form, masked phones, and audit lines."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.console.audit import audit, read
from bot.console.export import safe_cell
from bot.orders.phone import mask_phone

FORMULA_STARTS = ["=", "+", "-", "@", "＝", "＋", "－", "＠"]
BLANKS = ["", " ", "  ", "\t", "\n", "\r", "\r\n", "\u3000", "\u00a0", " \n\t", "\u200b", "\ufeff"]
BODIES = ['HYPERLINK("http://evil","点我")', "1+1", 'cmd|" /C calc"!A0', "SUM(A1:A9)"]


@pytest.mark.parametrize("blank", BLANKS, ids=repr)
@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_form_is_defused_after_any_leading_blank(blank: str, start: str) -> None:
    for body in BODIES:
        cell = safe_cell(blank + start + body)
        assert cell.startswith("'"), repr(cell)
        # what a spreadsheet reads back through csv is the same text, shown, never run
        [[read_back]] = list(csv.reader(io.StringIO(_csv_line(cell))))
        assert read_back == cell


@pytest.mark.parametrize("text", ["电费怎么交", "13812345678", "GD202611280001", "a=b", "１＋１", "", "停电 - 急"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert safe_cell(text) == text


def test_a_leading_line_break_or_tab_is_defused_even_without_a_formula() -> None:
    assert safe_cell("\n你好") == "'\n你好" and safe_cell("\t你好") == "'\t你好"


def test_phones_are_masked_for_lists_logs_and_staff_exports() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0371-12345678") == "0371-****5678"
    assert mask_phone(None) is None and mask_phone("") == ""


def test_audit_lines_are_appended_to_a_private_file(tmp_path: Path) -> None:
    audit(tmp_path, "张三", "export", rows=3)
    audit(tmp_path, "李四", "phone_shown", order_no="GD202611280001")
    assert [(a["actor"], a["action"]) for a in read(tmp_path)] == [("张三", "export"), ("李四", "phone_shown")]
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600


def _csv_line(cell: str) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([cell])
    return buf.getvalue()


def test_logs_mask_phones_and_pseudonymise_customer_ids() -> None:
    import logging

    from bot import log_privacy

    records: list = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        log_privacy.install()
        logging.getLogger("bot.test").warning("order for %s phone %s, web:%s", "wx:oAbCdEf123456", "13812345678",
                                              "Zx9-Qm")
    finally:
        root.removeHandler(handler)
    [line] = records
    assert "13812345678" not in line and "138****5678" in line
    assert "oAbCdEf123456" not in line and log_privacy.pseudonym("wx:oAbCdEf123456") in line
    assert "Zx9-Qm" not in line


def test_var_secrets_and_endpoints_are_private(tmp_path: Path) -> None:
    import yaml

    from bot.action_server import action_token
    from bot.endpoints import write_endpoints
    from bot.local_secrets import local_secret
    from bot.settings import Settings

    var = tmp_path / "var"
    first = local_secret(var, "webchat-cookie-key")
    assert local_secret(var, "webchat-cookie-key") == first and len(first) >= 40
    assert local_secret(var, "webchat-cookie-key", "configured") == "configured"
    assert (var / "secrets").stat().st_mode & 0o777 == 0o700
    assert (var / "secrets" / "webchat-cookie-key").stat().st_mode & 0o777 == 0o600
    settings = Settings(var_dir=var)
    path = write_endpoints(settings, var / "endpoints.yml")
    assert path.stat().st_mode & 0o777 == 0o600 and var.stat().st_mode & 0o777 == 0o700
    headers = yaml.safe_load(path.read_text())["action_endpoint"]["headers"]
    assert headers == {"Authorization": f"Bearer {action_token(settings)}"}
