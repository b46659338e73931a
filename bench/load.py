"""Many simulated candidates through the journey steps that exist, against the whole platform.

Six services, two gunicorn gateways and the payment sandbox start as separate processes (Kafka
real, databases SQLite). CANDIDATES accounts are issued through auth's own use case; then WORKERS
threads each take candidates in turn through: captcha + login, the forced password change, and the
pages a candidate reads (me, registration, preferences, results, payment). Reported: per step
throughput, latency percentiles and errors; per process peak RSS (VmHWM, gunicorn workers summed)
and CPU seconds, whose largest share is what saturates first. Env: LOAD_CANDIDATES, LOAD_WORKERS.
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from zsb.common.pii import generate_key
from zsb.common.principal import generate_keypair
from zsb.common.settings import REPO_ROOT, SERVICE_NAMES, Settings
from zsb.common.supervisor import Platform, free_port
from zsb.common.testing import captcha_answer

CANDIDATES = int(os.environ.get("LOAD_CANDIDATES", "300"))
WORKERS = int(os.environ.get("LOAD_WORKERS", str(4 * (os.cpu_count() or 2))))
NEW_PASSWORD = "Load2026!secure"  # noqa: S105 - the simulated candidates' new password
PAGES = {"me": "/api/v1/me", "registration": "/registration", "preferences": "/preferences",
         "results": "/results", "payment": "/payment"}  # fmt: skip


class Recorder:
    """Latencies and errors per step, shared by the worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.first_error: dict[str, str] = {}

    def timed(self, step: str, fn, ok=lambda r: r.status_code == 200):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            resp = fn()
            good = ok(resp)
            detail = f"{resp.status_code} {' '.join(re.sub(r'<[^>]+>', ' ', resp.text).split())[:200]}"
        except requests.RequestException as exc:
            resp, good, detail = None, False, repr(exc)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latency[step].append(elapsed)
            if not good:
                self.errors[step] += 1
                self.first_error.setdefault(step, detail)
        return resp


def seed(env: dict[str, str], n: int) -> list[tuple[str, str]]:
    """Candidate accounts through the auth service's own use case (as its CLI does)."""
    code = f"""
from services.auth.cli import _accounts
rows = [dict(candidate_no=f"2114510113{{i:04d}}", name="考生", id_number="140105199001011238",
             phone=f"138{{i:08d}}", point_code="0113") for i in range(1, {n + 1})]
created, problems = _accounts().create_candidate_accounts(rows)
assert not problems, problems
for number, password in created: print(number, password)
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if out.returncode:
        raise RuntimeError(f"seeding failed: {out.stderr[-2000:]}")
    return [tuple(line.split()) for line in out.stdout.splitlines()]  # type: ignore[misc]


def wait_projected(registration_db: Path, n: int, timeout: float = 180.0) -> None:
    """Registration learns of accounts from auth's events; the journey starts once it knows them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(registration_db) as conn:
            if conn.execute("SELECT COUNT(*) FROM candidates").fetchone()[0] >= n:
                return
        time.sleep(0.5)
    raise TimeoutError("registration did not receive every account")


def journey(rec: Recorder, base: str, answers: Path, number: str, password: str) -> None:
    s = requests.Session()
    csrf = rec.timed("csrf", lambda: s.get(f"{base}/api/v1/csrf", timeout=30))
    cap = rec.timed("captcha", lambda: s.get(f"{base}/api/v1/captcha", timeout=30))
    if csrf is None or cap is None or cap.status_code != 200:
        return
    token, cap_id = csrf.json()["csrf_token"], cap.json()["id"]
    body = {"candidate_no": number, "password": password, "captcha_id": cap_id,
            "captcha": captcha_answer(answers, cap_id)}  # fmt: skip
    login = rec.timed("login", lambda: s.post(f"{base}/api/v1/session", json=body, headers={"X-CSRF-Token": token},
                                              timeout=30))  # fmt: skip
    if login is None or login.status_code != 200:
        return
    token = s.get(f"{base}/api/v1/csrf", timeout=30).json()["csrf_token"]
    change = {"old_password": password, "new_password": NEW_PASSWORD}
    rec.timed("password_change", lambda: s.post(f"{base}/api/v1/password", json=change,
                                                headers={"X-CSRF-Token": token}, timeout=30))  # fmt: skip
    # Registration opens the candidate's record from auth's events after the first password change;
    # until then its page says "正在开通，请稍后刷新". Timed here: how long that lag is under load.
    rec.timed("registration_open", lambda: open_registration(s, base))
    for step, path in PAGES.items():
        # A page is fine when it renders or sends the candidate on to the step that is open.
        rec.timed(step, lambda p=path: s.get(f"{base}{p}", timeout=30, allow_redirects=False),
                  ok=lambda r: r.status_code in (200, 302, 303))  # fmt: skip


def open_registration(s: requests.Session, base: str, timeout: float = 60.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        resp = s.get(f"{base}/registration", timeout=30, allow_redirects=False)
        if resp.status_code != 404 or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def pids(root: int) -> list[int]:
    """A process and its descendants (gunicorn's workers), from /proc."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            todo.extend(int(c) for c in task.read_text().split())
    return out


def peak_rss_mb(pid: int) -> float:
    total = 0
    for p in pids(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in pids(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def platform_for(tmp: Path) -> tuple[Platform, Path]:
    private, public = generate_keypair()
    answers = tmp / "answers.txt"
    answers.touch()
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": Settings().kafka_bootstrap_servers,
        "KAFKA_GROUP_PREFIX": f"load{uuid.uuid4().hex[:8]}-",
        "OBJECT_STORE_URL": f"file://{tmp / 'objects'}",
        "PII_ENCRYPTION_KEY": generate_key(),
        "PII_HMAC_KEY": generate_key(),
        "ACCESS_TOKEN_SIGNING_KEY": private,
        "ACCESS_TOKEN_PUBLIC_KEY": public,
        "CAPTCHA_ANSWER_SINK": str(answers),
        "SMS_SINK_PATH": str(tmp / "sms.jsonl"),
        "SECRET_KEY": uuid.uuid4().hex,
        "LOG_LEVEL": "WARNING",
    }
    platform = Platform(
        base_env=env,
        log_dir=tmp / "log",
        service_ports={name: free_port() for name in SERVICE_NAMES},
        gateway_ports=[free_port(), free_port()],
        service_env={name: {"DATABASE_URL": f"sqlite:///{tmp / name}.db"} for name in SERVICE_NAMES},
    )
    platform.add_payment_sandbox(port=free_port(), state_dir=tmp / "sandbox")
    return platform, answers


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        platform, answers = platform_for(tmp)
        platform.start_all(timeout=180)
        try:
            seed_env = {**platform.procs["auth"].env, "PYTHONPATH": f"{REPO_ROOT / 'libs'}:{REPO_ROOT}"}
            accounts = seed(seed_env, CANDIDATES)
            wait_projected(tmp / "registration.db", len(accounts))
            procs = {name: p.popen.pid for name, p in platform.procs.items() if p.popen is not None}
            cpu_before = {name: cpu_seconds(pid) for name, pid in procs.items()}
            rec = Recorder()
            bases = [f"http://127.0.0.1:{port}" for port in platform.gateway_ports]
            started = time.perf_counter()
            with ThreadPoolExecutor(WORKERS) as pool:
                for i, (number, password) in enumerate(accounts):
                    pool.submit(journey, rec, bases[i % len(bases)], answers, number, password)
            wall = time.perf_counter() - started
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in procs.items()}
            memory = {name: peak_rss_mb(pid) for name, pid in procs.items()}
        finally:
            platform.stop_all()
    print(f"{CANDIDATES} candidates, {WORKERS} concurrent, {os.cpu_count()} cores, {wall:.1f}s wall")
    print(f"{'step':<16}{'n':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for step, values in rec.latency.items():
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
        rate = len(values) / wall
        print(f"{step:<16}{len(values):>6}{rate:>9.1f}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}{rec.errors[step]:>8}")
    for step, detail in rec.first_error.items():
        print(f"first error in {step}: {detail}")
    journeys = len(rec.latency.get("password_change", []))
    print(f"journeys per second: {journeys / wall:.1f}")
    print(f"{'process':<18}{'peak RSS MB':>12}{'CPU s':>8}{'CPU share of wall·cores':>26}")
    cores = os.cpu_count() or 1
    for name in sorted(cpu, key=cpu.get, reverse=True):  # type: ignore[arg-type]
        print(f"{name:<18}{memory[name]:>12.0f}{cpu[name]:>8.1f}{cpu[name] / (wall * cores):>26.2f}")
    busiest = max(cpu, key=cpu.get)  # type: ignore[arg-type]
    print(f"saturates first: {busiest} ({cpu[busiest] / wall:.2f} of one core; machine total "
          f"{sum(cpu.values()) / (wall * cores):.2f} of all cores)")  # fmt: skip
    print(f"total errors: {sum(rec.errors.values())}")


if __name__ == "__main__":
    main()
