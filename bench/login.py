"""Logins per second through the gateway against the raw Argon2id hash rate of this machine.

Both run with the same concurrency (one worker per core). Each login is what a candidate
does: fetch a captcha, then post 考生号, password and captcha to the JSON API; the captcha
answer comes from the auth service's test side channel. Ratio = logins/s ÷ hashes/s.

Why the ratio is what it is: the CPU each login costs per process (auth, gateway, and this
client, which shares the cores) is printed beside the hash's own cost. When the logins keep the
cores busy, the ratio is the hash's share of that total; the CPU-bound ceiling (cores ÷ CPU per
login) shows whether anything else (waiting, not computing) holds the logins back.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.load.report import cpu_seconds, own_cpu_seconds
from services.auth.service.hashing import PASSWORD_HASHER
from zsb.common.pii import generate_key
from zsb.common.principal import generate_keypair
from zsb.common.settings import Settings
from zsb.common.supervisor import Platform, free_port
from zsb.common.testing import captcha_answer

SECONDS = 20
WORKERS = os.cpu_count() or 2
CANDIDATES = 200


def hash_rate() -> tuple[float, float]:
    """Argon2id verifications per second with WORKERS threads (argon2-cffi releases the GIL), and
    the CPU seconds of one."""
    stored = PASSWORD_HASHER.hash("Bench2026!pass")
    deadline = time.perf_counter() + SECONDS / 2

    def worker() -> int:
        n = 0
        while time.perf_counter() < deadline:
            PASSWORD_HASHER.verify(stored, "Bench2026!pass")
            n += 1
        return n

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(WORKERS) as pool:
        total = sum(pool.map(lambda _: worker(), range(WORKERS)))
    return total / (time.perf_counter() - started), (time.process_time() - cpu) / total


def seed(env: dict[str, str]) -> list[tuple[str, str]]:
    """Candidate accounts through the auth service's own use case (as its CLI does)."""
    import subprocess
    import sys

    code = f"""
from services.auth.cli import _accounts
rows = [dict(candidate_no=f"2114510113{{i:04d}}", name="考生", id_number="140105199001011238",
             phone=f"138{{i:08d}}", point_code="0113") for i in range(1, {CANDIDATES + 1})]
created, problems = _accounts().create_candidate_accounts(rows)
assert not problems, problems
for n, p in created: print(n, p)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    return [tuple(line.split()) for line in out.stdout.splitlines()]  # type: ignore[misc]


def login_rate(gateway: str, accounts: list[tuple[str, str]], answers: Path) -> tuple[float, int, int]:
    deadline = time.perf_counter() + SECONDS
    lock = threading.Lock()
    errors = 0

    def worker(offset: int) -> int:
        nonlocal errors
        s = requests.Session()
        csrf = s.get(f"{gateway}/api/v1/csrf", timeout=10).json()["csrf_token"]
        n = 0
        while time.perf_counter() < deadline:
            number, password = accounts[(offset + n * WORKERS) % len(accounts)]
            cap = s.get(f"{gateway}/api/v1/captcha", timeout=10).json()
            body = {"candidate_no": number, "password": password, "captcha_id": cap["id"],
                    "captcha": captcha_answer(answers, cap["id"])}  # fmt: skip
            resp = s.post(f"{gateway}/api/v1/session", json=body, headers={"X-CSRF-Token": csrf}, timeout=10)
            # Each login starts logged out, as from a fresh page: drop the session cookie.
            s.cookies.pop("zsb_session", None)
            if resp.status_code != 200:
                with lock:
                    errors += 1
                    if errors == 1:
                        print(f"first error: {resp.status_code} {resp.text[:200]}")
            n += 1
        return n

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS * 2) as pool:
        total = sum(pool.map(worker, range(WORKERS * 2)))
    return total / (time.perf_counter() - started), errors, total


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        private, public = generate_keypair()
        answers = Path(tmp) / "answers.txt"
        answers.touch()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": Settings().kafka_bootstrap_servers,
            "DATABASE_URL": f"sqlite:///{tmp}/auth.db",
            "PII_ENCRYPTION_KEY": generate_key(),
            "PII_HMAC_KEY": generate_key(),
            "ACCESS_TOKEN_SIGNING_KEY": private,
            "ACCESS_TOKEN_PUBLIC_KEY": public,
            "CAPTCHA_ANSWER_SINK": str(answers),
            "SECRET_KEY": uuid.uuid4().hex,
            "READY_SERVICES": "auth",
            "LOG_LEVEL": "WARNING",
        }
        platform = Platform(base_env=env, log_dir=Path(tmp) / "log", service_ports={"auth": free_port()},
                            gateway_ports=[free_port()])  # fmt: skip
        platform.start_all()
        try:
            accounts = seed({**platform.procs["auth"].env, "PYTHONPATH": f"{os.getcwd()}/libs:{os.getcwd()}"})
            ceiling, hash_cpu = hash_rate()
            procs = {name: p.popen.pid for name, p in platform.procs.items() if p.popen is not None}
            before = {name: cpu_seconds(pid) for name, pid in procs.items()} | {"client": own_cpu_seconds()}
            rate, errors, logins = login_rate(f"http://127.0.0.1:{platform.gateway_ports[0]}", accounts, answers)
            after = {name: cpu_seconds(pid) for name, pid in procs.items()} | {"client": own_cpu_seconds()}
        finally:
            platform.stop_all()
    per_login = {name: (after[name] - before[name]) / logins * 1000 for name in after}
    total, hashing = sum(per_login.values()), hash_cpu * 1000
    print(f"argon2id verifications ({WORKERS} threads): {ceiling:.1f}/s  ({hashing:.1f} ms of CPU each)")
    print(f"logins through the gateway:              {rate:.1f}/s  errors: {errors}")
    print(f"ratio to the hash-bound ceiling:         {rate / ceiling:.2f}")
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(per_login.items(), key=lambda kv: -kv[1]))
    print(f"CPU ms per login: {parts}; total {total:.1f}, of which the hash {hashing / total:.0%}")
    print(f"CPU-bound ceiling ({WORKERS} cores ÷ CPU per login): {WORKERS / total * 1000:.1f}/s, "
          f"reached {rate / (WORKERS / total * 1000):.2f}")  # fmt: skip
