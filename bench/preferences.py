"""Preference submissions per second through the gateway, against the same gateway answering
/healthz, with the same number of concurrent clients in the same run.

The platform runs as processes (auth, preferences, gunicorn gateway) on MariaDB when the local
infrastructure is up (var/infra.env), else on SQLite. Each client thread holds the sessions of
its own candidates and posts the 志愿 form (确认提交) with a fresh submission id each time, so
every request saves one new version whole: the service locks the candidate, checks the plan and
writes the version, its items and the outbox event in one transaction. The candidates log in
through the JSON API with the captcha side channel, as bench/login.py does.
Ratio = submissions/s ÷ healthz/s.
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import requests
from sqlalchemy import create_engine, text

from services.preferences.service import eligibility
from services.preferences.tests.helpers import EIGHT, plan_rows, window
from zsb.common.db import Database
from zsb.common.pii import generate_key
from zsb.common.principal import Principal, Role, TokenSigner, generate_keypair
from zsb.common.settings import VAR_DIR, Settings
from zsb.common.supervisor import Platform, free_port, load_env_file
from zsb.common.testing import captcha_answer
from zsb.events.v1 import payment_events_pb2, registration_events_pb2
from zsb.preferences.v1 import preferences_pb2 as pb
from zsb.preferences.v1 import preferences_pb2_grpc

SECONDS = 15
CLIENTS = 16  # concurrent client threads, each with its own candidates
CANDIDATES = 96
PASSWORD = "Bench2026!pref"  # noqa: S105 - the benchmark candidates' new password
# Point 0199 is used by no test, so no event on the shared topics concerns these candidates.
NUMBERS = [f"2114510199{i:04d}" for i in range(1, CANDIDATES + 1)]


@contextmanager
def databases(names: list[str]) -> Iterator[dict[str, str]]:
    """A scratch MariaDB database per service when the local MariaDB runs, else SQLite files."""
    admin_url = load_env_file(VAR_DIR / "infra.env").get("MARIADB_ADMIN_URL") or os.environ.get("MARIADB_ADMIN_URL")
    if not admin_url:
        with tempfile.TemporaryDirectory() as tmp:
            yield {n: f"sqlite:///{tmp}/{n}.db" for n in names}
        return
    admin = create_engine(admin_url)
    scratch = {n: f"bench_{n}_{uuid.uuid4().hex[:8]}" for n in names}
    with admin.begin() as conn:
        for db in scratch.values():
            conn.execute(text(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    try:
        yield {n: admin_url.rstrip("/") + f"/{db}?charset=utf8mb4" for n, db in scratch.items()}
    finally:
        with admin.begin() as conn:
            for db in scratch.values():
                conn.execute(text(f"DROP DATABASE IF EXISTS `{db}`"))
        admin.dispose()


def seed_accounts(env: dict[str, str]) -> list[tuple[str, str]]:
    """Candidate accounts through the auth service's own use case (as its CLI does)."""
    import subprocess
    import sys

    code = f"""
from services.auth.cli import _accounts
rows = [dict(candidate_no=n, name="考生", id_number="140105199001011238", phone=f"139{{i:08d}}", point_code="0199")
        for i, n in enumerate({NUMBERS!r})]
created, problems = _accounts().create_candidate_accounts(rows)
assert not problems, problems
for n, p in created: print(n, p)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)  # noqa: S603 - our own code
    return [tuple(line.split()) for line in out.stdout.splitlines()]  # type: ignore[misc]


def seed_preferences(address: str, signer: TokenSigner, database_url: str) -> None:
    """The plan and an open window (as the province would), and eligible candidates (as the events would)."""
    token = signer.sign(Principal("bench", Role.PROVINCE))
    meta = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(address) as channel:
        stub = preferences_pb2_grpc.PreferencesServiceStub(channel)
        assert not stub.ImportPlan(pb.ImportPlanRequest(rows=plan_rows()), metadata=meta).errors
        opens, closes = window(-1, 2)
        stub.ScheduleBatch(pb.ScheduleBatchRequest(code="ordinary", opens_at=opens, closes_at=closes), metadata=meta)
    db = Database(database_url)
    with db.unit_of_work() as session:
        for n in NUMBERS:
            eligibility.on_confirmed(
                session,
                registration_events_pb2.RegistrationConfirmed(
                    candidate_no=n, name="考生", major_category="01", city_code="01", point_code="0199"
                ),
            )
            eligibility.on_identity(session, n, True, None)
            eligibility.on_paid(session, payment_events_pb2.PaymentSucceeded(candidate_no=n, order_no=f"b{n}"))
            eligibility.on_qualification(session, n, True, None)
    db.dispose()


def sign_in(gateway: str, number: str, initial: str, answers: Path) -> tuple[requests.Session, str]:
    """Log in through the JSON API and change the initial password; returns the session and its CSRF token."""
    s = requests.Session()
    csrf = s.get(f"{gateway}/api/v1/csrf", timeout=30).json()["csrf_token"]
    cap = s.get(f"{gateway}/api/v1/captcha", timeout=30).json()
    body = {"candidate_no": number, "password": initial, "captcha_id": cap["id"],
            "captcha": captcha_answer(answers, cap["id"])}  # fmt: skip
    s.post(f"{gateway}/api/v1/session", json=body, headers={"X-CSRF-Token": csrf}, timeout=30).raise_for_status()
    csrf = s.get(f"{gateway}/api/v1/csrf", timeout=30).json()["csrf_token"]
    change = {"old_password": initial, "new_password": PASSWORD}
    s.post(f"{gateway}/api/v1/password", json=change, headers={"X-CSRF-Token": csrf}, timeout=30).raise_for_status()
    return s, s.get(f"{gateway}/api/v1/csrf", timeout=30).json()["csrf_token"]


def submission(csrf: str) -> dict[str, str]:
    """A valid form: 1 to 8 distinct category-01 preferences from A, and a fresh submission id."""
    picks = random.sample(EIGHT, random.randint(1, 8))
    data = {"csrf_token": csrf, "submission_id": uuid.uuid4().hex, "action": "submit"}
    for slot, (inst, major) in zip("ABCDEFGH", picks, strict=False):
        data[f"inst_{slot}"], data[f"major_{slot}"] = inst, f"{inst}|{major}"
    return data


def rate(clients: int, work: Callable[[int], bool]) -> tuple[float, int, int]:
    """Run work(client) in `clients` threads for SECONDS; returns (successes/s, successes, failures)."""
    deadline = time.perf_counter() + SECONDS
    counts = [[0, 0] for _ in range(clients)]

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            counts[i][0 if work(i) else 1] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ok, failed = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return ok / elapsed, ok, failed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, databases(["auth", "preferences"]) as urls:
        private, public = generate_keypair()
        answers = Path(tmp) / "answers.txt"
        answers.touch()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": Settings().kafka_bootstrap_servers,
            "KAFKA_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-",
            "PII_ENCRYPTION_KEY": generate_key(),
            "PII_HMAC_KEY": generate_key(),
            "ACCESS_TOKEN_SIGNING_KEY": private,
            "ACCESS_TOKEN_PUBLIC_KEY": public,
            "CAPTCHA_ANSWER_SINK": str(answers),
            "SECRET_KEY": uuid.uuid4().hex,
            "READY_SERVICES": "auth,preferences",
            "LOG_LEVEL": "WARNING",
        }
        ports = {"auth": free_port(), "preferences": free_port()}
        platform = Platform(
            base_env=env,
            log_dir=Path(tmp) / "log",
            service_ports=ports,
            gateway_ports=[free_port()],
            service_env={name: {"DATABASE_URL": url} for name, url in urls.items()},
        )
        platform.start_all()
        gateway = f"http://127.0.0.1:{platform.gateway_ports[0]}"
        try:
            accounts = seed_accounts({**platform.procs["auth"].env, "PYTHONPATH": f"{os.getcwd()}/libs:{os.getcwd()}"})
            seed_preferences(f"127.0.0.1:{ports['preferences']}", TokenSigner(private), urls["preferences"])
            sessions = [sign_in(gateway, n, p, answers) for n, p in accounts]
            per_client = [sessions[i::CLIENTS] for i in range(CLIENTS)]
            turns = [0] * CLIENTS
            probes = [requests.Session() for _ in range(CLIENTS)]

            def healthz(i: int) -> bool:
                return probes[i].get(f"{gateway}/healthz", timeout=30).status_code == 200

            def submit(i: int) -> bool:
                s, csrf = per_client[i][turns[i] % len(per_client[i])]
                turns[i] += 1
                resp = s.post(
                    f"{gateway}/preferences/ordinary", data=submission(csrf), allow_redirects=False, timeout=30
                )
                return resp.status_code == 302 and "submitted=" in resp.headers.get("Location", "")

            baseline, _, base_failed = rate(CLIENTS, healthz)
            submitted, saved, failed = rate(CLIENTS, submit)
        finally:
            platform.stop_all()
    engine = "MariaDB" if urls["preferences"].startswith("mysql") else "SQLite"
    print(f"gateway /healthz ({CLIENTS} clients):                  {baseline:8.1f}/s  failures: {base_failed}")
    print(f"preference submissions ({CLIENTS} clients, {CANDIDATES} candidates, {engine}): {submitted:8.1f}/s  "
          f"saved: {saved}  failures: {failed}")  # fmt: skip
    print(f"ratio submissions / healthz:                        {submitted / baseline:8.3f}")
