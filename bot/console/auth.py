"""Passwords, session tokens, CSRF tokens, roles, and the brake on password guessing.

- Passwords: scrypt (hashlib, RFC 7914) with a random 16-byte salt per password; only
  ``scrypt$N$r$p$salt$hash`` is stored. Verification compares in constant time.
- Sessions: a random 32-byte token in an HttpOnly, SameSite=Lax cookie; the database keeps only
  its SHA-256, so a copy of the database does not log anyone in.
- CSRF: every session has its own random token, put in a hidden field of every POST form and
  checked on every POST. The login form (no session yet) uses a double-submit cookie.
- Roles (simple on purpose):

  | role    | 知识查询 | 工单：查看/导出 | 工单：指派、备注、办结、回访、关闭 | 用户管理 |
  | ------- | -------- | --------------- | ---------------------------------- | -------- |
  | trainer | ✓        |                 |                                    |          |
  | staff   | ✓        | ✓               | ✓                                  |          |
  | admin   | ✓        | ✓               | ✓                                  | ✓        |
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
import unicodedata

ROLES = ("staff", "trainer", "admin")
ROLE_LABELS = {"staff": "柜台人员", "trainer": "培训/知识维护", "admin": "管理员"}

SEARCH = "search"
ORDERS_VIEW = "orders.view"
ORDERS_ACT = "orders.act"
USERS_MANAGE = "users.manage"
# Exports are audited and capped (EXPORT_MAX_ROWS); staff get masked phones, admins full ones.
ORDERS_EXPORT = "orders.export"
EXPORT_PHONES = "orders.export_phones"
# 停电公告: create, edit, end and import the outage notices the bot answers from (issue 13).
NOTICES_PUBLISH = "notices.publish"
# 对话复盘: read conversations, the 分类统计 report, and turn misses into wordings and test stories (issue 16).
REVIEW = "review"
# 在线人工: set one's status, take chats from the queue, read and write in the chats one holds (issue 15).
LIVE_CHAT = "live_chat"
PERMISSIONS: dict[str, frozenset[str]] = {
    "trainer": frozenset({SEARCH, REVIEW}),
    "staff": frozenset({SEARCH, ORDERS_VIEW, ORDERS_ACT, ORDERS_EXPORT, NOTICES_PUBLISH, LIVE_CHAT}),
    "admin": frozenset({SEARCH, ORDERS_VIEW, ORDERS_ACT, ORDERS_EXPORT, EXPORT_PHONES, USERS_MANAGE,
                        NOTICES_PUBLISH, REVIEW, LIVE_CHAT}),
}

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_USERNAME_LENGTH = 32

# scrypt cost: 16 MiB and about 50 ms per check on one core — cheap for a login, dear for a guesser.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2 ** 14, 8, 1, 32


class AuthError(ValueError):
    """A refusal a person reads (Chinese)."""


def can(role: str | None, permission: str) -> bool:
    return bool(role) and permission in PERMISSIONS.get(role or "", frozenset())


# --- names and passwords ---------------------------------------------------------------------
def check_username(name: str) -> str:
    """The name as stored (trimmed, NFC); AuthError if it cannot be a login name."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name:
        raise AuthError("用户名不能为空。")
    if len(name) > MAX_USERNAME_LENGTH:
        raise AuthError(f"用户名最多 {MAX_USERNAME_LENGTH} 个字符。")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in name):
        raise AuthError("用户名不能包含空格或控制字符。")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"角色只能是：{' / '.join(ROLES)}。")
    return role


def check_password(password: str, username: str = "") -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AuthError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AuthError(f"密码最多 {MAX_PASSWORD_LENGTH} 个字符。")
    if username and password.strip().lower() == username.strip().lower():
        raise AuthError("密码不能与用户名相同。")
    return password


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=128 * r * (n + p + 2) + 1024 * 1024)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest_hex)
        got = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A real hash to check against when the user does not exist, so that "no such user" and "wrong
# password" take the same time and a guesser cannot tell which names exist. Made on first use:
# importing this module (every `python -m bot …`) must stay cheap.
_dummy_hash: list[str] = []


def burn_time(password: str) -> None:
    if not _dummy_hash:
        _dummy_hash.append(hash_password(secrets.token_hex(8)))
    verify_password(password, _dummy_hash[0])


# --- tokens ----------------------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; empty never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# --- password guessing -----------------------------------------------------------------------
def throttle_key(username: str) -> str:
    """The name as the brake counts it: NFKC and case folded, so ｓｔａｆｆ１, Staff1 and staff1
    are one name; anything longer than a login name can be counts as one junk name."""
    key = unicodedata.normalize("NFKC", (username or "")[:MAX_USERNAME_LENGTH * 4]).strip().casefold()
    return key if len(key) <= MAX_USERNAME_LENGTH else "\x00too-long"


class LoginThrottle:
    """The brake on password guessing (per console process; a restart forgets):

    - a name: ``limit`` failures within ``window`` seconds refuse that name for the window;
    - a client address: ``per_ip`` failures refuse that address (whatever names it tries);
    - everyone: ``overall`` failures refuse all logins for the window (a distributed guesser).

    Memory is bounded: at most ``max_keys`` names and addresses are remembered; when more arrive,
    the oldest are forgotten first.
    """

    def __init__(self, limit: int = 5, window: float = 600.0, clock=time.monotonic, *,
                 per_ip: int = 20, overall: int = 200, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.per_ip = per_ip
        self.overall = overall
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, list[float]] = {}
        self._all: list[float] = []
        self._lock = threading.Lock()

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def _record(self, key: str) -> None:
        times = self._recent(key)
        times.append(self.clock())
        self._failures.pop(key, None)
        self._failures[key] = times[-max(self.limit, self.per_ip, 1):]  # newest last (dict order)
        while len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]

    def blocked(self, username: str, ip: str | None = None) -> bool:
        with self._lock:
            now = self.clock()
            self._all = [t for t in self._all if now - t < self.window]
            if len(self._all) >= self.overall:
                return True
            if ip is not None and len(self._recent("ip:" + ip)) >= self.per_ip:
                return True
            return len(self._recent("name:" + throttle_key(username))) >= self.limit

    def failed(self, username: str, ip: str | None = None) -> None:
        with self._lock:
            self._record("name:" + throttle_key(username))
            if ip is not None:
                self._record("ip:" + ip)
            self._all.append(self.clock())
            del self._all[:-self.overall]

    def succeeded(self, username: str, ip: str | None = None) -> None:
        with self._lock:
            self._failures.pop("name:" + throttle_key(username), None)

    def __len__(self) -> int:
        return len(self._failures)
