"""Demo data for `make run`: a few candidate accounts issued through the auth service.

Initial passwords are only ever shown once by the platform; for the local demo they are
kept in var/demo-accounts.txt (owner-only) so that a second `make run` can print them again.
"""

from __future__ import annotations

import grpc

from zsb.auth.v1 import auth_pb2, auth_pb2_grpc
from zsb.common.settings import DEFAULT_PORTS, VAR_DIR

DEMO_CANDIDATES = [
    ("21145101130001", "张晓明", "140105200001011236", "13812340001", "0113"),
    ("21145101130002", "李华", "140106200102021239", "13812340002", "0113"),
    ("21145102050001", "王芳", "140202200203031242", "13812340003", "0205"),
]


def seed_demo(env: dict[str, str]) -> list[str]:
    """Create the demo accounts if they are new; returns lines describing them."""
    path = VAR_DIR / "demo-accounts.txt"
    if not path.exists():
        rows = [
            auth_pb2.CandidateRow(candidate_no=n, name=name, id_number=idn, phone=phone, point_code=point)
            for n, name, idn, phone, point in DEMO_CANDIDATES
        ]
        with grpc.insecure_channel(f"127.0.0.1:{DEFAULT_PORTS['auth']}") as channel:
            resp = auth_pb2_grpc.AuthServiceStub(channel).CreateCandidateAccounts(
                auth_pb2.CreateCandidateAccountsRequest(rows=rows), timeout=30
            )
        if resp.errors:
            return [f"demo accounts not created: {e.message}" for e in resp.errors]
        path.write_text("".join(f"{a.candidate_no} {a.initial_password}\n" for a in resp.accounts))
        path.chmod(0o600)
    lines = ["demo candidates (考生号 初始密码):"]
    lines += [f"  {line}" for line in path.read_text().splitlines()]
    return lines
