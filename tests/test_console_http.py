"""The staff console over HTTP (no browser, no Rasa): login, sessions, CSRF, roles, the JSON
API, and the CSV export — against `python -m bot console` on its own database."""
from __future__ import annotations

import os
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import requests

from console_server import Console, csrf_of, start_console

PW = "console-pass-1"


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console_http")
    env = dict(os.environ, BOT_VAR_DIR=str(workdir))
    env.pop("ORDERS_DB_URL", None)
    c = start_console(workdir, env=env)
    for name, role in (("staff1", "staff"), ("trainer1", "trainer"), ("admin1", "admin")):
        c.add_user(name, role, PW)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def order_no(standalone: Console) -> str:
    """One work order in the console's database, opened the way the action server opens them."""
    import subprocess
    import sys

    code = (
        "from datetime import datetime, timezone\n"
        "from bot.orders.service import OrderService\n"
        "from bot.orders.transcript import Msg\n"
        "now = datetime.now(timezone.utc)\n"
        "r = OrderService.from_settings().open_or_append(channel='webchat', sender_id='web-http', reason='engine_fail',"
        " topic='business', candidates=[], transcript=[Msg('user', '=1+1 <b>问题</b>', now)], idempotency_key='http-1')\n"
        "print(r.order_no)\n")
    out = subprocess.run([sys.executable, "-c", code], env=standalone.env, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_health_is_public(standalone: Console) -> None:
    assert requests.get(f"{standalone.url}/health", timeout=10).json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/", "/orders", "/search?q=电费", "/users", "/orders/GD202611280001"])
def test_pages_without_a_session_redirect_to_login(standalone: Console, path: str) -> None:
    r = requests.get(standalone.url + path, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/api/orders", "/api/ask?q=电费"])
def test_api_without_a_session_is_401(standalone: Console, path: str) -> None:
    r = requests.get(standalone.url + path, timeout=10)
    assert r.status_code == 401 and r.json()["error"]


def test_a_forged_session_cookie_is_not_a_session(standalone: Console) -> None:
    r = requests.get(standalone.url + "/api/orders", cookies={"console_session": "x" * 43}, timeout=10)
    assert r.status_code == 401


def test_login_sets_an_httponly_samesite_cookie_and_logout_ends_it(standalone: Console) -> None:
    s = requests.Session()
    token = csrf_of(s.get(f"{standalone.url}/login", timeout=10).text)
    r = s.post(f"{standalone.url}/login", data={"csrf": token, "username": "staff1", "password": PW},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303
    cookie = next(c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("console_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert s.get(f"{standalone.url}/api/orders", timeout=10).status_code == 200
    page = s.get(f"{standalone.url}/orders", timeout=10).text
    r = s.post(f"{standalone.url}/logout", data={"csrf": csrf_of(page)}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert s.get(f"{standalone.url}/api/orders", timeout=10).status_code == 401


def test_old_session_cookie_is_useless_after_logout(standalone: Console) -> None:
    s = standalone.login("staff1", PW)
    cookie = s.cookies.get("console_session")
    page = s.get(f"{standalone.url}/orders", timeout=10).text
    s.post(f"{standalone.url}/logout", data={"csrf": csrf_of(page)}, timeout=10)
    r = requests.get(f"{standalone.url}/api/orders", cookies={"console_session": cookie}, timeout=10)
    assert r.status_code == 401


def test_wrong_password_and_unknown_user_are_refused_alike(standalone: Console) -> None:
    for name, pw in (("staff1", "wrong-password"), ("nobody", PW)):
        s = requests.Session()
        token = csrf_of(s.get(f"{standalone.url}/login", timeout=10).text)
        r = s.post(f"{standalone.url}/login", data={"csrf": token, "username": name, "password": pw},
                   allow_redirects=False, timeout=30)
        assert r.status_code == 401
        assert "用户名或密码不正确" in r.text
        assert "console_session=" not in r.headers.get("Set-Cookie", "")


def test_login_without_its_csrf_token_is_refused(standalone: Console) -> None:
    r = requests.post(f"{standalone.url}/login", data={"username": "staff1", "password": PW},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert "console_session=" not in r.headers.get("Set-Cookie", "")


def test_login_never_redirects_to_another_site(standalone: Console) -> None:
    s = requests.Session()
    token = csrf_of(s.get(f"{standalone.url}/login?next=//evil.example/x", timeout=10).text)
    r = s.post(f"{standalone.url}/login", data={"csrf": token, "username": "staff1", "password": PW,
                                                "next": "https://evil.example/"}, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"] == "/"


def test_every_post_needs_the_session_csrf_token(standalone: Console, order_no: str) -> None:
    s = standalone.login("staff1", PW)
    url = f"{standalone.url}/orders/{order_no}/note"
    assert s.post(url, data={"note": "无令牌"}, allow_redirects=False, timeout=10).status_code == 403
    other = standalone.login("admin1", PW)  # another user's valid token is not this session's
    other_token = csrf_of(other.get(f"{standalone.url}/orders", timeout=10).text)
    assert s.post(url, data={"note": "别人的令牌", "csrf": other_token}, allow_redirects=False, timeout=10).status_code == 403
    page = s.get(f"{standalone.url}/orders/{order_no}", timeout=10).text
    assert "无令牌" not in page and "别人的令牌" not in page
    r = s.post(url, data={"note": "有令牌", "csrf": csrf_of(page)}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert "有令牌" in s.get(f"{standalone.url}/orders/{order_no}", timeout=10).text


def test_trainer_can_search_but_not_see_orders_or_users(standalone: Console, order_no: str) -> None:
    s = standalone.login("trainer1", PW)
    assert s.get(f"{standalone.url}/search?q=电费怎么交", timeout=10).status_code == 200
    own = s.get(f"{standalone.url}/search", params={"q": "我家户号是多少"}, timeout=10).text
    assert "本人账户的数据" in own and "告诉客户怎么自己查" in own and "business.account_number_where" in own
    gas = s.get(f"{standalone.url}/search", params={"q": "燃气费在哪交"}, timeout=10).text
    assert "不属于供电服务" in gas and "没有把握" not in gas
    assert s.get(f"{standalone.url}/orders", timeout=10).status_code == 403
    assert s.get(f"{standalone.url}/orders/{order_no}", timeout=10).status_code == 403
    assert s.get(f"{standalone.url}/api/orders", timeout=10).status_code == 403
    assert s.get(f"{standalone.url}/users", timeout=10).status_code == 403
    r = s.get(f"{standalone.url}/", allow_redirects=False, timeout=10)
    assert r.headers["Location"] == "/search"


def test_staff_cannot_manage_users_admin_can(standalone: Console) -> None:
    staff = standalone.login("staff1", PW)
    assert staff.get(f"{standalone.url}/users", timeout=10).status_code == 403
    admin = standalone.login("admin1", PW)
    page = admin.get(f"{standalone.url}/users", timeout=10)
    assert page.status_code == 200 and "staff1" in page.text
    r = admin.post(f"{standalone.url}/users", data={"csrf": csrf_of(page.text), "username": "新同事",
                                                  "role": "staff", "password": "new-colleague-1"},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert standalone.login("新同事", "new-colleague-1") is not None


def test_order_page_escapes_what_the_customer_typed(standalone: Console, order_no: str) -> None:
    s = standalone.login("staff1", PW)
    html = s.get(f"{standalone.url}/orders/{order_no}", timeout=10).text
    assert "&lt;b&gt;问题&lt;/b&gt;" in html and "<b>问题</b>" not in html
    r = s.get(f"{standalone.url}/orders/{order_no}", timeout=10)
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"


def test_a_refused_workflow_step_says_why(standalone: Console, order_no: str) -> None:
    s = standalone.login("staff1", PW)
    page = s.get(f"{standalone.url}/orders/{order_no}", timeout=10).text
    # 待处理 cannot be called back
    r = s.post(f"{standalone.url}/orders/{order_no}/callback", data={"csrf": csrf_of(page), "satisfaction": "满意"},
               timeout=10)
    assert r.status_code == 409 and "不能改为" in r.text


def test_csv_export_for_a_date_range(standalone: Console, order_no: str) -> None:
    s = standalone.login("staff1", PW)
    today = datetime.now(timezone(timedelta(hours=8))).date()
    r = s.get(f"{standalone.url}/orders/export.csv", params={"since": str(today - timedelta(days=1)), "until": str(today)},
              timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    body = r.content.decode("utf-8-sig")
    assert order_no in body and "'=1+1" in body
    r = s.get(f"{standalone.url}/orders/export.csv", params={"since": str(today + timedelta(days=1)), "until": str(today + timedelta(days=2))},
              timeout=30)
    assert order_no not in r.content.decode("utf-8-sig")
    assert s.get(f"{standalone.url}/orders/export.csv", params={"since": "x"}, timeout=30).status_code == 400


def test_api_ask_returns_the_engine_result_and_its_time(standalone: Console) -> None:
    s = standalone.login("trainer1", PW)
    times = []
    for _ in range(50):
        started = time.perf_counter()
        r = s.get(f"{standalone.url}/api/ask", params={"q": "峰谷电价怎么申请"}, timeout=10)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200
    data = r.json()
    assert data["outcome"] in ("answer", "clarify", "fail")
    assert data["ms"] >= 0 and isinstance(data["candidates"], list)
    # A benchmark is not a test: print the figure (pytest -s), assert only that it is interactive.
    print(f"\n/api/ask over HTTP, 50 searches: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms; engine time median {data['ms']:.2f} ms")
    assert statistics.median(times) < 1000
