"""Operator commands of the auth service, run where its database is reachable.

  python -m services.auth.cli create-staff --username admin --name 省招生考试管理中心 --role province
  python -m services.auth.cli seed-demo     # make run: demo staff and candidates, printed once

Accounts made here are audited with the actor 'cli'.
"""

from __future__ import annotations

import argparse
import sys

from services.auth.main import SPEC
from services.auth.service.accounts import AccountsService
from zsb.common.errors import DomainError
from zsb.common.migrations import upgrade_to_head
from zsb.common.principal import Principal, Role, set_principal
from zsb.common.runtime import ServiceRuntime
from zsb.common.settings import VAR_DIR, Settings

DEMO_STAFF = [
    ("admin", "省招生考试管理中心", "province", "", ""),
    ("taiyuan", "太原市招生考试中心", "city", "01", ""),
    ("point0113", "太原报名点0113", "point", "", "0113"),
]
DEMO_CANDIDATES = [
    ("21145101130001", "张晓明", "140105200001011233", "13812340001", "0113"),
    ("21145101130002", "李华", "140106200102021234", "13812340002", "0113"),
    ("21145102050001", "王芳", "140202200203031247", "13812340003", "0205"),
]


def _accounts() -> AccountsService:
    runtime = ServiceRuntime(SPEC, Settings(service_name="auth"))
    upgrade_to_head(SPEC.migrations_dir, runtime.ctx.db.engine)
    set_principal(Principal("cli", Role.PROVINCE))
    return AccountsService(runtime.ctx)


def seed_demo() -> list[str]:
    """Create the demo accounts once; their initial passwords are kept in var/ for the local demo only."""
    path = VAR_DIR / "demo-accounts.txt"
    if path.exists():
        return path.read_text().splitlines()
    accounts = _accounts()
    lines = ["demo staff (admin side, 用户名 初始密码):"]
    for username, name, role, city, point in DEMO_STAFF:
        lines.append(f"  {username} {accounts.create_staff_account(username, name, role, city, point, actor='cli')}")
    rows = [
        dict(zip(("candidate_no", "name", "id_number", "phone", "point_code"), c, strict=True)) for c in DEMO_CANDIDATES
    ]
    created, problems = accounts.create_candidate_accounts(rows)
    if problems:
        raise SystemExit(f"demo candidates not created: {[p.message for p in problems]}")
    lines.append("demo candidates (考生号 初始密码):")
    lines += [f"  {number} {password}" for number, password in created]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.auth.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    staff = sub.add_parser("create-staff", help="create a staff account and print its initial password")
    staff.add_argument("--username", required=True)
    staff.add_argument("--name", required=True)
    staff.add_argument("--role", required=True, choices=["province", "city", "point", "reviewer"])
    staff.add_argument("--city-code", default="")
    staff.add_argument("--point-code", default="")
    sub.add_parser("seed-demo", help="create the demo accounts of make run once and print them")
    args = parser.parse_args(argv)
    try:
        if args.command == "create-staff":
            password = _accounts().create_staff_account(
                args.username, args.name, args.role, args.city_code, args.point_code, actor="cli"
            )
            print(f"{args.username} {password}")
        else:
            print("\n".join(seed_demo()))
    except DomainError as err:
        raise SystemExit(f"error: {err.message}") from err


if __name__ == "__main__":
    main(sys.argv[1:])
