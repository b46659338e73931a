"""The platform under load, and what staff do over gRPC around the candidates' journeys.

Six services, two gunicorn gateways, the payment provider sandbox and (optionally) more identity
processes run as separate processes, on MariaDB when the local infrastructure runs (one scratch
database per service, as in production) or SQLite (LOAD_DATABASE=sqlite), with real Kafka on
topics of this run only. Staff calls are made as the province with a token signed by the run's
own key, as bench/preferences.py does: the plan and the filling windows before the run; scores,
settings, admission runs and their publication after stage one; manual identity reviews during it.
"""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import grpc
import requests
from sqlalchemy import create_engine, text

from bench.load.client import Recorder
from bench.preferences import databases as scratch_databases
from services.preferences.tests.helpers import plan_rows, window
from zsb.common.pii import generate_key
from zsb.common.principal import Principal, Role, TokenSigner, generate_keypair
from zsb.common.settings import REPO_ROOT, SERVICE_NAMES, Settings
from zsb.common.supervisor import Platform, free_port
from zsb.identity.v1 import identity_pb2, identity_pb2_grpc
from zsb.preferences.v1 import preferences_pb2, preferences_pb2_grpc
from zsb.results.v1 import results_pb2, results_pb2_grpc

T = TypeVar("T")
SUBJECTS = ("公共课", "专业课")


@contextmanager
def databases() -> Iterator[dict[str, str]]:
    """A database per service: scratch MariaDB databases when the local MariaDB runs, else SQLite."""
    if os.environ.get("LOAD_DATABASE", "").lower() == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield {n: f"sqlite:///{tmp}/{n}.db" for n in SERVICE_NAMES}
        return
    with scratch_databases(list(SERVICE_NAMES)) as urls:
        yield urls


def timed(rec: Recorder, step: str, fn: Callable[[], T]) -> T:
    """A staff call as a timed step; a failure is counted and raised."""
    started = time.perf_counter()
    try:
        out = fn()
    except grpc.RpcError as err:
        rec.request(step, time.perf_counter() - started, False, f"{err.code()} {err.details()}")  # type: ignore[attr-defined]
        raise
    rec.request(step, time.perf_counter() - started, True)
    return out


@dataclass
class LoadPlatform:
    tmp: Path
    urls: dict[str, str]
    identity_processes: int = 1
    platform: Platform = field(init=False)
    signer: TokenSigner = field(init=False)

    def __post_init__(self) -> None:
        private, public = generate_keypair()
        self.signer = TokenSigner(private)
        self.answers.touch()
        env = {
            "PATH": "/usr/bin:/bin",
            "KAFKA_BOOTSTRAP_SERVERS": Settings().kafka_bootstrap_servers,
            "KAFKA_GROUP_PREFIX": f"load{uuid.uuid4().hex[:8]}-",
            # Topics of this run only: consumers start on empty topics, not on the shared broker's history.
            "KAFKA_TOPIC_PREFIX": f"load{uuid.uuid4().hex[:8]}.",
            "OBJECT_STORE_URL": f"file://{self.tmp / 'objects'}",
            "PII_ENCRYPTION_KEY": generate_key(),
            "PII_HMAC_KEY": generate_key(),
            "ACCESS_TOKEN_SIGNING_KEY": private,
            "ACCESS_TOKEN_PUBLIC_KEY": public,
            "CAPTCHA_ANSWER_SINK": str(self.answers),
            "SMS_SINK_PATH": str(self.tmp / "sms.jsonl"),
            "SECRET_KEY": uuid.uuid4().hex,
            "LOG_LEVEL": "WARNING",
        }
        service_env = {name: {"DATABASE_URL": url} for name, url in self.urls.items()}
        service_env["identity"]["LOG_LEVEL"] = "INFO"  # its "face engine ready" line says when uploads are fair
        self.platform = Platform(
            base_env=env,
            log_dir=self.tmp / "log",
            service_ports={name: free_port() for name in SERVICE_NAMES},
            gateway_ports=[free_port(), free_port()],
            service_env=service_env,
        )
        self.platform.add_payment_sandbox(port=free_port(), state_dir=self.tmp / "sandbox")

    @property
    def answers(self) -> Path:
        return self.tmp / "captcha-answers.txt"

    @property
    def gateways(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.platform.gateway_ports]

    def start(self) -> None:
        self.platform.start_all(timeout=240)
        # More verification workers: identity replicas on the same database (they claim jobs with
        # SKIP LOCKED on MariaDB); the gateway reaches the first, the others only run their workers.
        first = self.platform.procs["identity"]
        for k in range(2, self.identity_processes + 1):
            port = free_port()
            env = {**first.env, "GRPC_PORT": str(port), "MIGRATE_ON_START": "false"}
            self.platform.add_process(f"identity{k}", first.argv, f"grpc:127.0.0.1:{port}", env)
            self.platform.start(f"identity{k}")
            self.platform.wait_ready([f"identity{k}"], timeout=120)
        self.wait_face_engines()

    def wait_face_engines(self, timeout: float = 300.0) -> None:
        names = [n for n in self.platform.procs if n.startswith("identity")]
        deadline = time.monotonic() + timeout
        while not all("face engine ready" in self.platform.procs[n].log_path.read_text() for n in names):
            if time.monotonic() > deadline:
                raise TimeoutError(f"face engines not loaded after {timeout:.0f} s; see {self.platform.log_dir}")
            time.sleep(1)

    def stop(self) -> None:
        self.platform.stop_all()

    def pids(self) -> dict[str, int]:
        return {name: p.popen.pid for name, p in self.platform.procs.items() if p.popen is not None}

    def staff(self) -> tuple:
        """Province credentials; signed per call, as tokens live five minutes."""
        return (("authorization", "Bearer " + self.signer.sign(Principal("load-province", Role.PROVINCE))),)

    def channel(self, service: str) -> grpc.Channel:
        return grpc.insecure_channel(f"127.0.0.1:{self.platform.service_ports[service]}")

    # ---- before the run ----

    def seed_accounts(self, n: int) -> list[tuple[str, str]]:
        """Candidate accounts through the auth service's own use case (as its CLI does), point 0113.
        考生号 have four digits for the candidate: at most 9999."""
        if n > 9999:
            raise ValueError("at most 9999 candidates")
        code = f"""
from services.auth.cli import _accounts
accounts = _accounts()
numbers = range(1, {n + 1})
for start in range(0, len(numbers), 5000):  # the import's limit per list
    rows = [dict(candidate_no=f"2114510113{{i:04d}}", name="考生", id_number="140105199001011238",
                 phone=f"138{{i:08d}}", point_code="0113") for i in numbers[start:start + 5000]]
    created, problems = accounts.create_candidate_accounts(rows)
    assert not problems, problems
    for number, password in created: print(number, password)
"""
        env = {**self.platform.procs["auth"].env, "PYTHONPATH": f"{REPO_ROOT / 'libs'}:{REPO_ROOT}"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if out.returncode:
            raise RuntimeError(f"seeding failed: {out.stderr[-2000:]}")
        return [tuple(line.split()) for line in out.stdout.splitlines()]  # type: ignore[misc]

    def wait_count(self, service: str, sql: str, n: int, timeout: float = 600.0) -> float:
        """Wait until a projection of `service` holds n rows (read-only look at its database)."""
        engine = create_engine(self.urls[service])
        started = time.monotonic()
        try:
            while True:
                with engine.connect() as conn:
                    if conn.execute(text(sql)).scalar_one() >= n:
                        return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{service}: fewer than {n} rows for {sql!r} after {timeout:.0f} s")
                time.sleep(0.5)
        finally:
            engine.dispose()

    def open_preferences(self) -> None:
        """The province imports the plan and opens both batches' filling windows."""
        with self.channel("preferences") as ch:
            stub = preferences_pb2_grpc.PreferencesServiceStub(ch)
            plan = preferences_pb2.ImportPlanRequest(rows=plan_rows())
            resp = stub.ImportPlan(plan, metadata=self.staff(), timeout=60)
            assert not resp.errors, resp.errors
            opens, closes = window(-1, 12)
            for code in ("jdlk", "ordinary"):
                stub.ScheduleBatch(
                    preferences_pb2.ScheduleBatchRequest(code=code, opens_at=opens, closes_at=closes),
                    metadata=self.staff(),
                    timeout=30,
                )

    # ---- during stage one ----

    @contextmanager
    def reviewer(self, rec: Recorder) -> Iterator[None]:
        """A reviewer approving requested manual reviews (the admin page's decision, over gRPC)."""
        stop = threading.Event()

        def work() -> None:
            with self.channel("identity") as ch:
                stub = identity_pb2_grpc.IdentityServiceStub(ch)
                while not stop.is_set():
                    try:
                        rows = timed(
                            rec,
                            "staff_review_list",
                            lambda: stub.ListReviews(
                                identity_pb2.ListReviewsRequest(status="manual_review", limit=100),
                                metadata=self.staff(),
                                timeout=30,
                            ).rows,
                        )
                        for row in rows:
                            timed(
                                rec,
                                "staff_review_decide",
                                lambda no=row.candidate_no: stub.DecideReview(
                                    identity_pb2.DecideReviewRequest(
                                        candidate_no=no, approve=True, reason="照片与身份证人像面为同一人"
                                    ),
                                    metadata=self.staff(),
                                    timeout=30,
                                ),
                            )
                    except grpc.RpcError:
                        pass  # counted by timed(); the next round tries again
                    stop.wait(2.0)

        thread = threading.Thread(target=work, name="reviewer")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # ---- after stage one ----

    def payment_notifications(self, rec: Recorder) -> dict[str, object]:
        """How the payments were learnt: the sandbox's notification deliveries (each attempt and the
        platform's reply; a refused or timed-out reply is an error of the platform) and the orders'
        `paid_via` (notify, or query when the service asked the provider itself)."""
        sandbox = self.platform.procs["payment-sandbox"].ready_check.removesuffix("/health")
        deliveries = requests.get(f"{sandbox}/deliveries", timeout=60).json()["deliveries"]
        attempts = [a for d in deliveries if d["kind"] == "payment" for a in d["attempts"]]
        for a in attempts:
            if not a["ok"]:
                rec.fail("provider_notification", f"{a['status']} {a['body'][:200]}")
        firsts = sorted(datetime.fromisoformat(d["attempts"][0]["at"]) for d in deliveries if d["attempts"])
        engine = create_engine(self.urls["payment"])
        try:
            with engine.connect() as conn:
                via = dict(conn.execute(text("SELECT paid_via, COUNT(*) FROM orders GROUP BY paid_via")).all())
        finally:
            engine.dispose()
        return {
            "deliveries": len(deliveries),
            "attempts": len(attempts),
            "refused": sum(1 for a in attempts if not a["ok"]),
            "first attempts span s": round((firsts[-1] - firsts[0]).total_seconds(), 1) if firsts else 0,
            "orders paid via": via,
        }

    def publish_admission(self, rec: Recorder, numbers: list[str]) -> None:
        """Scores imported and published, settings saved, both phases run and published."""
        n = len(numbers)
        if not n:
            raise rec.fail("import_scores", "no candidate submitted preferences")
        seen = self.wait_count(
            "results", "SELECT COUNT(*) FROM preferences WHERE batch_code = 'ordinary' AND withdrawn = 0", n
        )
        rec.lag("results_has_every_preference", seen)
        rng = random.Random(2026)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["考生号", "总分", *SUBJECTS])
        for number in numbers:
            public, professional = rng.randint(60, 150), rng.randint(60, 150)
            writer.writerow([number, public + professional, public, professional])
        content = out.getvalue().encode("utf-8-sig")
        with self.channel("results") as ch:
            stub = results_pb2_grpc.ResultsServiceStub(ch)
            imported = timed(
                rec,
                "import_scores",
                lambda: stub.ImportScores(
                    results_pb2.ImportScoresRequest(filename="scores.csv", content=content, mode=results_pb2.REPLACE),
                    metadata=self.staff(),
                    timeout=300,
                ),
            )
            if imported.errors:
                raise rec.fail("import_scores", str(list(imported.errors)[:3]))
            version = imported.imported.version
            timed(
                rec,
                "publish_scores",
                lambda: stub.PublishScores(
                    results_pb2.PublishScoresRequest(version=version), metadata=self.staff(), timeout=300
                ),
            )
            batches = [
                results_pb2.BatchSettings(
                    code=code,
                    name=name,
                    jdlk_only=code == "jdlk",
                    ratio_percent=100,
                    solicitation=False,
                    control_lines=[results_pb2.ControlLine(major_category="01", line=150)],
                )
                for code, name in (("jdlk", "建档立卡专项批本科"), ("ordinary", "普通批本科"))
            ]
            tie_break = list(reversed(SUBJECTS))  # 专业课, then 公共课
            settings = results_pb2.AdmissionSettings(batches=batches, tie_break=tie_break, random_seed="load")
            timed(rec, "save_settings", lambda: stub.SaveAdmissionSettings(settings, metadata=self.staff(), timeout=60))
            for _phase in range(len(batches)):
                run = timed(
                    rec,
                    "admission_run",
                    lambda: stub.StartRun(results_pb2.StartRunRequest(), metadata=self.staff(), timeout=600),
                )
                timed(
                    rec,
                    "publish_run",
                    lambda run_id=run.id: stub.PublishRun(
                        results_pb2.PublishRunRequest(run_id=run_id), metadata=self.staff(), timeout=600
                    ),
                )
