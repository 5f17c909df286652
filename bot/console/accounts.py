"""Console accounts and login sessions, stored in the work-order database (ORDERS_DB_URL).

The tables are in tables.py and migrated by the one Alembic tree (bot/migrations/, 0005);
transactions go through bot/db.py like the work orders', so an unreachable database is a
DatabaseUnavailable here too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.console.auth import (
    AuthError,
    burn_time,
    check_password,
    check_role,
    check_username,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from bot.clock import utcnow
from bot.console.tables import ConsoleSession, ConsoleUser  # noqa: F401 — tests import them from here
from bot.db import Transactions, make_engine

T = TypeVar("T")

# A session's last_seen_at is written at most this often, not on every page view.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class SessionView:
    user: UserView
    csrf_token: str
    last_seen_at: datetime


def _user_view(u: ConsoleUser) -> UserView:
    return UserView(u.id, u.username, u.role, bool(u.active), u.created_at, u.last_login_at)


class AccountStore:
    """Users and sessions. Every method is one short transaction."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self._db = Transactions(engine)
        # A session also ends this long after login, however active (CONSOLE_SESSION_MAX_HOURS).
        self.max_session_age = timedelta(hours=12)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "AccountStore":
        return cls(make_engine(url), **kwargs)

    @classmethod
    def from_settings(cls, settings: Any = None) -> "AccountStore":
        if settings is None:
            from bot.settings import load

            settings = load()
        return cls.from_url(settings.prepared_orders_url())

    def dispose(self) -> None:
        self.engine.dispose()

    # -- plumbing ------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Migrate the database to head (the console's tables are in the one Alembic tree)."""
        self._db.ensure_schema()

    def _tx(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        return self._db.run(work, read_only=read_only)

    @staticmethod
    def _by_name(s: Session, username: str) -> ConsoleUser | None:
        return s.execute(select(ConsoleUser).where(ConsoleUser.username == username)).scalar_one_or_none()

    # -- users ---------------------------------------------------------------------------------
    def add_user(self, username: str, role: str, password: str) -> UserView:
        name = check_username(username)
        check_role(role)
        check_password(password, name)
        hashed = hash_password(password)  # slow on purpose: outside the transaction

        def work(s: Session) -> UserView:
            if self._by_name(s, name) is not None:
                raise AuthError(f"用户 {name} 已存在。要改密码请用 users passwd {name}。")
            now = self.clock()
            user = ConsoleUser(username=name, role=role, password_hash=hashed, active=True,
                               created_at=now, password_changed_at=now)
            s.add(user)
            s.flush()
            return _user_view(user)

        try:
            return self._tx(work)
        except IntegrityError as exc:  # a concurrent add of the same name
            raise AuthError(f"用户 {name} 已存在。") from exc

    def list_users(self) -> list[UserView]:
        return self._tx(lambda s: [_user_view(u) for u in s.execute(
            select(ConsoleUser).order_by(ConsoleUser.username)).scalars()], read_only=True)

    def get_user(self, username: str) -> UserView | None:
        def work(s: Session) -> UserView | None:
            u = self._by_name(s, check_username(username))
            return None if u is None else _user_view(u)

        return self._tx(work, read_only=True)

    def set_password(self, username: str, password: str) -> UserView:
        """New password; every session of that user ends (they log in again)."""
        name = check_username(username)
        check_password(password, name)
        hashed = hash_password(password)

        def work(s: Session) -> UserView:
            u = self._require(s, name)
            u.password_hash = hashed
            u.password_changed_at = self.clock()
            s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == u.id))
            return _user_view(u)

        return self._tx(work)

    def set_active(self, username: str, active: bool) -> UserView:
        """Enable or disable an account; disabling ends its sessions at once."""
        name = check_username(username)

        def work(s: Session) -> UserView:
            u = self._require(s, name)
            u.active = active
            if not active:
                s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == u.id))
            return _user_view(u)

        return self._tx(work)

    def set_role(self, username: str, role: str) -> UserView:
        name = check_username(username)
        check_role(role)

        def work(s: Session) -> UserView:
            u = self._require(s, name)
            u.role = role
            return _user_view(u)

        return self._tx(work)

    def _require(self, s: Session, name: str) -> ConsoleUser:
        u = self._by_name(s, name)
        if u is None:
            raise AuthError(f"没有用户 {name}。")
        return u

    def authenticate(self, username: str, password: str) -> UserView | None:
        """The user if the name exists, is active and the password matches; else None."""
        try:
            name = check_username(username)
        except AuthError:
            burn_time(password or "")
            return None
        found = self._tx(lambda s: (lambda u: None if u is None else (u.id, u.password_hash, bool(u.active)))(
            self._by_name(s, name)), read_only=True)
        if found is None:
            burn_time(password or "")
            return None
        user_id, stored, active = found
        if not verify_password(password or "", stored) or not active:
            return None
        return self._tx(lambda s: _user_view(s.get(ConsoleUser, user_id)), read_only=True)

    # -- sessions ------------------------------------------------------------------------------
    def create_session(self, user_id: int, idle: timedelta) -> tuple[str, str]:
        """(cookie token, csrf token) of a new session; also clears expired sessions."""
        token, csrf = new_token(), new_token()

        def work(s: Session) -> None:
            now = self.clock()
            s.execute(delete(ConsoleSession).where(ConsoleSession.last_seen_at < now - idle))
            s.add(ConsoleSession(token_hash=token_hash(token), user_id=user_id, csrf_token=csrf,
                                 created_at=now, last_seen_at=now))
            u = s.get(ConsoleUser, user_id)
            u.last_login_at = now

        self._tx(work)
        return token, csrf

    def session_for(self, token: str | None, idle: timedelta) -> SessionView | None:
        """The live session of this cookie value, or None (unknown, expired, user disabled)."""
        if not token or len(token) > 128:
            return None
        key = token_hash(token)

        def read(s: Session) -> tuple[ConsoleSession, ConsoleUser] | None:
            row = s.execute(select(ConsoleSession, ConsoleUser)
                            .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
                            .where(ConsoleSession.token_hash == key)).first()
            return None if row is None else (row[0], row[1])

        found = self._tx(read, read_only=True)
        if found is None:
            return None
        sess, user = found
        now = self.clock()
        if not user.active or sess.last_seen_at < now - idle or sess.created_at < now - self.max_session_age:
            self.end_session(token)
            return None
        last_seen = sess.last_seen_at
        if now - last_seen >= TOUCH_EVERY:
            def touch(s: Session) -> None:
                s.execute(ConsoleSession.__table__.update()
                          .where(ConsoleSession.token_hash == key).values(last_seen_at=now))

            self._tx(touch)
            last_seen = now
        return SessionView(_user_view(user), sess.csrf_token, last_seen)

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        key = token_hash(token)
        self._tx(lambda s: s.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == key)))
