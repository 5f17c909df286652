"""The flood phase of `make soak`: many new senders typing 转人工 against the product's default limits.

Against a server set started with ``product_limits=True`` (tests/servers.py), from one client
address per channel, concurrently:

- REST: ``senders`` distinct sender ids, one 转人工 each (RATE_LIMIT_IP_PER_MINUTE caps them);
- web chat: ``senders`` requests without a cookie, so each asks for a new id (capped by
  WEBCHAT_NEW_IDS_PER_IP_PER_HOUR, then the per-address limit), each with a forged
  X-Forwarded-For that the product must not believe;
- optionally one REST sender typing 转人工 again and again (the per-sender limit, and one order).

The server trusts no forwarding header, so "another address" is another loopback address
(127.0.0.2 …: Linux routes all of 127/8 to lo), bound as the client's source address.
Afterwards a normal customer from another address must still be answered, and the orders in
the database must be no more than the limits allow for the time the flood took.
"""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

import requests
from requests.adapters import HTTPAdapter

from bot.channels.limits import NO_REPLY_TEXT, RATE_LIMITED_TEXT, UNAVAILABLE_TEXT
from bot.settings import Settings
from servers import Servers

FLOOD_REST_ADDRESS = "127.0.0.1"
FLOOD_WEBCHAT_ADDRESS = "127.0.0.3"
REPEAT_ADDRESS = "127.0.0.4"
NORMAL_ADDRESS = "127.0.0.2"
HANDOFF = "转人工"


class SourceAddress(HTTPAdapter):
    """Connections from a chosen local address (the server sees it as the client's)."""

    def __init__(self, address: str, **kwargs: Any) -> None:
        self.address = address  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    s = requests.Session()
    s.mount("http://", SourceAddress(address))
    return s


def settings_of(env: Dict[str, str]) -> Settings:
    """The settings a server with this environment runs with (its limits)."""
    with mock.patch.dict("os.environ", env, clear=True):
        return Settings()


def windows(elapsed: float, window: float) -> int:
    """How many fixed windows (limits.RateLimiter) requests spread over ``elapsed`` seconds can
    touch: each window starts at its first request, so at most one more than the full ones."""
    return int(elapsed // window) + 1


def classify(code: int, body: Any) -> str:
    """refused (429, or 200 with the polite rate-limit text), order, answered, error, other."""
    if code == 0 or code >= 500:
        return "server_error"
    messages = body if isinstance(body, list) else []
    said = "\n".join(m.get("text") or "" for m in messages if isinstance(m, dict))
    if RATE_LIMITED_TEXT in said:
        return "refused_429" if code == 429 else "refused_200"
    if code != 200:
        return f"status_{code}"
    if any((m.get("custom") or {}).get("type") == "work_order" for m in messages if isinstance(m, dict)):
        return "order"
    if not said.strip() or NO_REPLY_TEXT in said or UNAVAILABLE_TEXT in said:
        return "no_answer"
    return "answered"


def post(session: requests.Session, url: str, payload: Dict[str, Any],
         headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
    try:
        r = session.post(url, json=payload, headers=headers, timeout=120)
    except requests.RequestException:
        return 0, None
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, None


def _run(count: int, threads: int, address: str, one: Any) -> Dict[str, Any]:
    """``one(session, i) -> (kind, payload)`` for i in range(count), from ``address``."""
    local = threading.local()
    tally: Dict[str, int] = {}
    lock = threading.Lock()

    def call(i: int) -> None:
        if not hasattr(local, "session"):
            local.session = session_from(address)
        kind = one(local.session, i)
        with lock:
            tally[kind] = tally.get(kind, 0) + 1

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(call, range(count)))
    return {"requests": count, "seconds": round(time.monotonic() - started, 1), "replies": tally}


def flood_rest(servers: Servers, senders: int, run: str, threads: int) -> Dict[str, Any]:
    url = f"{servers.url}/webhooks/rest/webhook"

    def one(session: requests.Session, i: int) -> str:
        return classify(*post(session, url, {"sender": f"flood-{run}-{i}", "message": HANDOFF}))

    return _run(senders, threads, FLOOD_REST_ADDRESS, one)


def flood_webchat(servers: Servers, senders: int, threads: int) -> Dict[str, Any]:
    url = f"{servers.url}/webhooks/webchat/webhook"

    def one(session: requests.Session, i: int) -> str:
        session.cookies.clear()  # no cookie: every request is a new customer asking for an id
        forged = {"X-Forwarded-For": f"203.0.113.{i % 250 + 1}", "X-Real-IP": f"198.51.100.{i % 250 + 1}"}
        return classify(*post(session, url, {"message": HANDOFF}, forged))

    return _run(senders, threads, FLOOD_WEBCHAT_ADDRESS, one)


def repeat_sender(servers: Servers, times: int, run: str) -> Dict[str, Any]:
    """One REST customer typing 转人工 ``times`` times in a row."""
    url = f"{servers.url}/webhooks/rest/webhook"
    sender = f"flood-{run}-repeat"
    figures = _run(times, 1, REPEAT_ADDRESS,
                   lambda s, i: classify(*post(s, url, {"sender": sender, "message": HANDOFF})))
    figures["sender"] = "rest:" + sender
    return figures


def normal_customer(servers: Servers) -> Dict[str, bool]:
    """A customer from another address, on REST and on web chat, asking an ordinary question."""
    s = session_from(NORMAL_ADDRESS)
    rest = classify(*post(s, f"{servers.url}/webhooks/rest/webhook",
                          {"sender": "flood-normal", "message": "电费怎么交"}))
    web = classify(*post(s, f"{servers.url}/webhooks/webchat/webhook", {"message": "电费怎么交"}))
    return {"rest": rest == "answered", "webchat": web == "answered", "rest_reply": rest, "webchat_reply": web}


def count_orders(orders_url: str, workdir: Path, run: str) -> Dict[str, int]:
    from bot.orders import OrderService

    svc = OrderService.from_url(orders_url, spool_dir=workdir / "reader-spool")
    try:
        views = svc.store.query()
    finally:
        svc.store.dispose()
    flood_prefix, repeat_id = f"rest:flood-{run}-", f"rest:flood-{run}-repeat"
    return {
        "rest": sum(1 for v in views if v.sender_id.startswith(flood_prefix) and v.sender_id != repeat_id),
        "webchat": sum(1 for v in views if v.channel == "webchat"),
        "repeat_sender": sum(1 for v in views if v.sender_id == repeat_id),
        "total": len(views),
    }


def flood(servers: Servers, senders: int, orders_url: str, threads: int = 8, repeat: int = 0) -> Dict[str, Any]:
    """Run the flood and return its figures; ``ok`` says whether the cap held."""
    limits = settings_of(servers.env)
    run = uuid.uuid4().hex[:6]
    with ThreadPoolExecutor(2) as pool:
        rest_job = pool.submit(flood_rest, servers, senders, run, threads)
        web_job = pool.submit(flood_webchat, servers, senders, threads)
        rest, web = rest_job.result(), web_job.result()
    repeated = repeat_sender(servers, repeat, run) if repeat else None
    normal = normal_customer(servers)
    time.sleep(1)  # a turn's order write lands before its reply; this is only for slow disks
    spool = servers.workdir / "spool"
    orders = count_orders(orders_url, servers.workdir, run)

    per_ip = limits.rate_ip_per_minute
    rest["orders_created"] = orders["rest"]
    rest["orders_allowed"] = per_ip * windows(rest["seconds"], 60)
    web["orders_created"] = orders["webchat"]
    web["orders_allowed"] = min(limits.webchat_new_ids_per_ip_per_hour * windows(web["seconds"], 3600),
                                per_ip * windows(web["seconds"], 60))
    figures: Dict[str, Any] = {
        "limits": {"ip_per_minute": per_ip, "sender_per_minute": limits.rate_sender_per_minute,
                   "webchat_new_ids_per_ip_per_hour": limits.webchat_new_ids_per_ip_per_hour,
                   "orders_per_sender_per_day": limits.orders_per_sender_per_day},
        "rest": rest, "webchat": web, "normal_customer": normal,
        "server_errors": sum(p["replies"].get("server_error", 0) for p in (rest, web)),
        "orders_in_database": orders["total"],
        "spool_left": len(list(spool.glob("*.json"))) if spool.exists() else 0,
    }
    if repeated is not None:
        repeated["orders_created"] = orders["repeat_sender"]
        figures["repeat_sender"] = repeated
        figures["server_errors"] += repeated["replies"].get("server_error", 0)
    checks: List[bool] = [
        figures["server_errors"] == 0,
        rest["orders_created"] <= rest["orders_allowed"],
        web["orders_created"] <= web["orders_allowed"],
        # every acknowledged order is in the database (none lost under the flood)
        rest["orders_created"] == rest["replies"].get("order", 0),
        web["orders_created"] == web["replies"].get("order", 0),
        normal["rest"] and normal["webchat"],
        figures["spool_left"] == 0,
    ]
    if repeated is not None:
        checks.append(repeated["orders_created"] == 1)
    figures["ok"] = all(checks)
    return figures
