"""`build.py users`: reviewer accounts.

    python3 build.py users add NAME --role reviewer|admin [--password-stdin]
    python3 build.py users passwd NAME [--password-stdin]
    python3 build.py users disable NAME | enable NAME
    python3 build.py users role NAME reviewer|admin
    python3 build.py users list

Passwords come from a prompt (typed twice) or, with --password-stdin, from the first line of standard input; they are
stored as scrypt hashes. Every change is written to the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from server import build_state, load_config
from server.reports.accounts import ROLES, AccountError, Accounts
from server.audit import AuditLog


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise AccountError("the passwords differ")
    return first


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py users", description="Reviewer accounts")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true")
    pw = sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    for name in ("disable", "enable"):
        sub.add_parser(name).add_argument("name")
    role = sub.add_parser("role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    sub.add_parser("list")
    args = parser.parse_args(argv)

    storage = build_state(load_config()).storage
    accounts = Accounts(storage, AuditLog(storage))
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.cmd == "add":
            user = accounts.add_user(args.name, args.role, _password(args.password_stdin), actor=actor)
            print(f"added {user.name} ({user.role})")
        elif args.cmd == "passwd":
            accounts.set_password(args.name, _password(args.password_stdin), actor=actor)
            print(f"password changed for {args.name}")
        elif args.cmd in ("disable", "enable"):
            accounts.set_disabled(args.name, args.cmd == "disable", actor=actor)
            print(f"{args.cmd}d {args.name}")
        elif args.cmd == "role":
            accounts.set_role(args.name, args.role, actor=actor)
            print(f"{args.name} is now {args.role}")
        else:
            for u in accounts.users():
                print(f"{u.name}\t{u.role}\t{'disabled' if u.disabled else 'active'}")
    except AccountError as exc:
        print(f"build.py users: {exc}", file=sys.stderr)
        return 1
    finally:
        storage.close()  # run in-process too (tests): a connection left to the collector fails whatever runs next
    return 0
