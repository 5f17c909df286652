"""Console accounts without a server: password hashing, sessions and their expiry, roles, the
login brake, the users command, and the CSV export."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.console import auth
from bot.console.accounts import AccountStore, ConsoleSession, ConsoleUser
from bot.console.auth import AuthError, LoginThrottle
from bot.console.export import orders_csv, safe_cell

ROOT = Path(__file__).resolve().parent.parent
IDLE = timedelta(hours=8)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def store(tmp_path: Path):
    clock = Clock()
    s = AccountStore.from_url(f"sqlite:///{tmp_path / 'orders.db'}", clock=clock)
    s.clock_ = clock  # type: ignore[attr-defined]
    yield s
    s.dispose()


def test_passwords_are_stored_as_salted_scrypt_hashes_never_plaintext(store) -> None:
    store.add_user("张三", "staff", "correct horse battery")
    store.add_user("李四", "staff", "correct horse battery")
    with store.engine.connect() as conn:
        hashes = [row.password_hash for row in conn.execute(select(ConsoleUser.password_hash))]
    assert all(h.startswith("scrypt$") for h in hashes)
    assert all("correct horse" not in h for h in hashes)
    assert hashes[0] != hashes[1]  # per-user salt: the same password, different hashes
    assert auth.verify_password("correct horse battery", hashes[0])
    assert not auth.verify_password("correct horse batterY", hashes[0])
    assert not auth.verify_password("anything", "not-a-hash")


def test_authenticate_accepts_only_the_right_password_of_an_active_user(store) -> None:
    store.add_user("张三", "staff", "correct horse battery")
    assert store.authenticate("张三", "correct horse battery").role == "staff"
    assert store.authenticate(" 张三 ", "correct horse battery") is not None  # trimmed like at creation
    assert store.authenticate("张三", "wrong password") is None
    assert store.authenticate("nobody", "correct horse battery") is None
    store.set_active("张三", False)
    assert store.authenticate("张三", "correct horse battery") is None


@pytest.mark.parametrize("name,role,password,message", [
    ("", "staff", "long enough", "用户名不能为空"),
    ("a b", "staff", "long enough", "空格"),
    ("张三", "boss", "long enough", "角色只能是"),
    ("张三", "staff", "short", "至少 8 个字符"),
    ("zhangsan1", "staff", "ZhangSan1", "不能与用户名相同"),
])
def test_bad_accounts_are_refused_in_chinese(store, name, role, password, message) -> None:
    with pytest.raises(AuthError, match=message):
        store.add_user(name, role, password)


def test_a_name_can_be_added_only_once(store) -> None:
    store.add_user("张三", "staff", "correct horse battery")
    with pytest.raises(AuthError, match="已存在"):
        store.add_user("张三", "admin", "another password")


def test_sessions_expire_after_the_idle_time_and_are_kept_alive_by_use(store) -> None:
    user = store.add_user("张三", "staff", "correct horse battery")
    store.max_session_age = timedelta(hours=24)  # the absolute lifetime is tested below
    token, csrf = store.create_session(user.id, IDLE)
    clock = store.clock_
    clock.now += timedelta(hours=7)
    seen = store.session_for(token, IDLE)
    assert seen is not None and seen.csrf_token == csrf and seen.user.username == "张三"
    clock.now += timedelta(hours=7)  # 14 h after login, but only 7 h after the last request
    assert store.session_for(token, IDLE) is not None
    clock.now += timedelta(hours=8, seconds=1)
    assert store.session_for(token, IDLE) is None
    assert store.session_for(token, IDLE) is None  # and it is gone for good
    assert store.session_for("made-up-token", IDLE) is None
    assert store.session_for(None, IDLE) is None


def test_a_session_ends_after_its_absolute_lifetime_however_active(store) -> None:
    user = store.add_user("张三", "staff", "correct horse battery")
    token, _csrf = store.create_session(user.id, IDLE)
    for _ in range(11):
        store.clock_.now += timedelta(hours=1)
        assert store.session_for(token, IDLE) is not None  # kept busy all day
    store.clock_.now += timedelta(hours=1, seconds=1)
    assert store.session_for(token, IDLE) is None  # 12 h after login (CONSOLE_SESSION_MAX_HOURS)


def test_only_a_hash_of_the_session_token_is_stored(store) -> None:
    user = store.add_user("张三", "staff", "correct horse battery")
    token, _ = store.create_session(user.id, IDLE)
    with store.engine.connect() as conn:
        stored = conn.execute(select(ConsoleSession.token_hash)).scalar_one()
    assert stored != token and stored == auth.token_hash(token)


def test_disabling_a_user_or_changing_the_password_ends_their_sessions(store) -> None:
    user = store.add_user("张三", "staff", "correct horse battery")
    t1, _ = store.create_session(user.id, IDLE)
    store.set_password("张三", "a new password!")
    assert store.session_for(t1, IDLE) is None
    assert store.authenticate("张三", "a new password!") is not None
    t2, _ = store.create_session(user.id, IDLE)
    store.set_active("张三", False)
    assert store.session_for(t2, IDLE) is None


def test_logout_ends_the_session(store) -> None:
    user = store.add_user("张三", "staff", "correct horse battery")
    token, _ = store.create_session(user.id, IDLE)
    store.end_session(token)
    assert store.session_for(token, IDLE) is None


def test_roles_staff_handle_orders_trainers_only_search_admins_everything() -> None:
    assert auth.can("staff", auth.ORDERS_ACT) and auth.can("staff", auth.SEARCH)
    assert not auth.can("staff", auth.USERS_MANAGE)
    assert auth.can("trainer", auth.SEARCH)
    assert not auth.can("trainer", auth.ORDERS_VIEW) and not auth.can("trainer", auth.ORDERS_ACT)
    assert all(auth.can("admin", p) for p in (auth.SEARCH, auth.ORDERS_VIEW, auth.ORDERS_ACT, auth.USERS_MANAGE))
    assert not auth.can(None, auth.SEARCH) and not auth.can("guest", auth.SEARCH)


def test_csrf_tokens_compare_in_constant_time_and_empty_never_matches() -> None:
    t = auth.new_token()
    assert auth.same_token(t, t)
    assert not auth.same_token(t, auth.new_token())
    assert not auth.same_token("", "")
    assert not auth.same_token(None, t)


def test_login_brake_after_five_failures_for_a_name() -> None:
    now = [0.0]
    brake = LoginThrottle(limit=5, window=600, clock=lambda: now[0])
    for _ in range(4):
        brake.failed("张三")
    assert not brake.blocked("张三")
    brake.failed("张三")
    assert brake.blocked("张三") and not brake.blocked("李四")
    now[0] += 601
    assert not brake.blocked("张三")
    brake.failed("张三")
    brake.succeeded("张三")
    assert not brake.blocked("张三")


@pytest.mark.parametrize("variant", ["Staff1", "ＳＴＡＦＦ１", "ｓｔａｆｆ１", "staff1 ", "ＳｔａＦＦ1"])
def test_the_brake_counts_unicode_and_case_variants_of_a_name_as_one(variant: str) -> None:
    brake = LoginThrottle(limit=5, window=600, clock=lambda: 0.0)
    for name in ["staff1", "STAFF1", "ｓｔａｆｆ１", "Ｓｔａｆｆ１"]:
        brake.failed(name)
    brake.failed(variant)
    assert brake.blocked("staff1") and brake.blocked(variant)


def test_the_brake_limits_an_address_and_everyone_and_stays_small() -> None:
    brake = LoginThrottle(limit=5, per_ip=20, overall=100, window=600, clock=lambda: 0.0, max_keys=1000)
    for i in range(20):
        brake.failed(f"name{i}", "203.0.113.9")
    assert brake.blocked("someone-new", "203.0.113.9") and not brake.blocked("someone-new", "198.51.100.1")
    for i in range(5000):  # a distributed guesser with megabyte names
        brake.failed(("x" * 1_000_000) + str(i), f"10.0.{i // 250}.{i % 250}")
    assert len(brake) <= 1000
    assert brake.blocked("staff1", "198.51.100.1")  # over the overall limit: everyone waits


def test_users_command_adds_and_lists_with_password_from_stdin(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SQLALCHEMY_SILENCE_UBER_WARNING="1", BOT_VAR_DIR=str(tmp_path))
    env.pop("ORDERS_DB_URL", None)

    def bot(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    out = bot("users", "add", "王五", "--role", "trainer", "--password-stdin", stdin="trainer-pass-1\n")
    assert out.returncode == 0, out.stderr
    assert "已添加用户 王五" in out.stdout
    out = bot("users", "add", "王五", "--role", "staff", "--password-stdin", stdin="trainer-pass-1\n")
    assert out.returncode == 1 and "已存在" in out.stderr
    out = bot("users", "add", "赵六", "--role", "staff", "--password-stdin", stdin="short\n")
    assert out.returncode == 1 and "至少 8 个字符" in out.stderr
    out = bot("users", "list")
    assert out.returncode == 0 and "王五" in out.stdout and "trainer" in out.stdout and "赵六" not in out.stdout
    store = AccountStore.from_url(f"sqlite:///{tmp_path / 'orders.db'}")
    assert store.authenticate("王五", "trainer-pass-1") is not None
    store.dispose()


# --- CSV -------------------------------------------------------------------------------------
@dataclass
class _Msg:
    role: str
    text: str


@dataclass
class _Order:
    order_no: str = "GD202611280001"
    status: str = "待处理"
    reason: str = "not_helpful"
    topic: str | None = "tariff"
    channel: str = "webchat"
    sender_id: str = "web-1"
    phone: str | None = None
    assignee: str | None = None
    created_at: datetime = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)
    due_at: datetime = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)
    overdue: bool = False
    closed_at: datetime | None = None
    satisfaction: str | None = None
    latest_note: str = ""
    transcript: list = field(default_factory=list)


def test_csv_has_a_bom_chinese_headers_beijing_times_and_defused_formulas() -> None:
    order = _Order(transcript=[_Msg("user", "=HYPERLINK(\"http://evil\",\"点我\")"), _Msg("bot", "您好")],
                   latest_note="+86 电话已回访")
    data = orders_csv([order])
    assert data.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(data[1:])))
    assert rows[0][:3] == ["工单号", "状态", "原因"]
    row = dict(zip(rows[0], rows[1]))
    assert row["工单号"] == "GD202611280001"
    assert row["原因"] == "客户反馈答复没帮助" and row["主题"] == "电价电费"
    assert row["创建时间"] == "2026-11-28 09:00:00"  # Beijing time
    assert row["客户问题"].startswith("'=")  # Excel shows it, never runs it
    assert row["最新进展"].startswith("'+")
    assert safe_cell("-1") == "'-1" and safe_cell("正常文字") == "正常文字" and safe_cell(None) == ""
