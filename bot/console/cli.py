"""``python -m bot console`` and ``python -m bot users …``.

    python -m bot console [--host 0.0.0.0] [--port 5010]
    python -m bot users add 张三 --role staff            # password asked twice (not echoed)
    echo 'a-long-password' | python -m bot users add 李四 --role trainer --password-stdin
    python -m bot users list
    python -m bot users passwd 张三 [--password-stdin]   # also logs 张三 out everywhere
    python -m bot users disable 张三 | enable 张三 | role 张三 admin
"""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys

from bot.console.auth import ROLE_LABELS, ROLES, AuthError


def _settings(args: argparse.Namespace):
    from bot.settings import load

    settings = load()
    if getattr(args, "db", None):
        settings = dataclasses.replace(settings, orders_db_url=args.db)
    return settings


def _accounts(args: argparse.Namespace):
    from bot.console.accounts import AccountStore

    return AccountStore.from_settings(_settings(args))


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码（至少 8 位）：")
    if getpass.getpass("再输一次：") != first:
        raise AuthError("两次输入的密码不一致。")
    return first


def _guard(fn):
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except AuthError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, EOFError):
            print("\n已取消。", file=sys.stderr)
            return 1
    return run


@_guard
def cmd_console(args: argparse.Namespace) -> int:
    from bot.console.app import serve

    return serve(_settings(args), host=args.host, port=args.port)


@_guard
def cmd_users_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    u = _accounts(args).add_user(args.name, args.role, password)
    print(f"已添加用户 {u.username}（{ROLE_LABELS[u.role]}）。")
    return 0


@_guard
def cmd_users_list(args: argparse.Namespace) -> int:
    from bot.clock import format_beijing

    users = _accounts(args).list_users()
    if not users:
        print("还没有用户。添加：python -m bot users add 姓名 --role staff")
        return 0
    for u in users:
        state = "正常" if u.active else "已停用"
        last = format_beijing(u.last_login_at) or "从未登录"
        print(f"{u.username}\t{u.role}（{ROLE_LABELS[u.role]}）\t{state}\t上次登录：{last}")
    return 0


@_guard
def cmd_users_passwd(args: argparse.Namespace) -> int:
    u = _accounts(args).set_password(args.name, _read_password(args))
    print(f"已修改 {u.username} 的密码；TA 在各处的登录已失效。")
    return 0


@_guard
def cmd_users_active(args: argparse.Namespace) -> int:
    u = _accounts(args).set_active(args.name, args.active)
    print(f"已{'启用' if u.active else '停用'}用户 {u.username}。")
    return 0


@_guard
def cmd_users_role(args: argparse.Namespace) -> int:
    u = _accounts(args).set_role(args.name, args.role)
    print(f"{u.username} 的角色改为 {u.role}（{ROLE_LABELS[u.role]}）。")
    return 0


def add_console(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="start the staff console (工作台) web app",
                       description="工作台：知识查询、工单处理、CSV 导出。默认 http://localhost:5010/")
    p.add_argument("--host", help="listen address (default CONSOLE_HOST, 0.0.0.0)")
    p.add_argument("--port", type=int, help="port (default CONSOLE_PORT, 5010)")
    p.add_argument("--db", metavar="URL", help="orders database SQLAlchemy URL (default ORDERS_DB_URL or var/orders.db)")
    p.set_defaults(func=cmd_console)


def add_users(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="工作台账号：添加、列出、改密码、停用",
                       description="工作台账号。角色：staff 柜台人员（查询＋工单）、trainer 培训/知识维护（查询）、"
                                   "admin 管理员（全部）。")
    p.add_argument("--db", metavar="URL", help="orders database SQLAlchemy URL (default ORDERS_DB_URL or var/orders.db)")
    p.set_defaults(func=lambda _args: (p.print_help(), 2)[1])
    usub = p.add_subparsers(dest="users_command", metavar="ACTION")

    c = usub.add_parser("add", help="添加用户（密码会提示输入，不回显）")
    c.add_argument("name")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码（脚本用）")
    c.set_defaults(func=cmd_users_add)

    c = usub.add_parser("list", help="列出用户")
    c.set_defaults(func=cmd_users_list)

    c = usub.add_parser("passwd", help="修改密码（该用户需重新登录）")
    c.add_argument("name")
    c.add_argument("--password-stdin", action="store_true", help="从标准输入读一行作为密码")
    c.set_defaults(func=cmd_users_passwd)

    c = usub.add_parser("disable", help="停用（立即退出登录）")
    c.add_argument("name")
    c.set_defaults(func=cmd_users_active, active=False)

    c = usub.add_parser("enable", help="启用")
    c.add_argument("name")
    c.set_defaults(func=cmd_users_active, active=True)

    c = usub.add_parser("role", help="改角色")
    c.add_argument("name")
    c.add_argument("role", choices=ROLES)
    c.set_defaults(func=cmd_users_role)
