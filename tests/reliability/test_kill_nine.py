"""kill -9 each service and each gateway in turn while candidates act through the gateways.

The stream: a registration point issues accounts (auth's import), each new candidate logs in
through one of the two gunicorn gateways and changes the initial password. After every process
has been killed and restarted: each confirmed password change holds (the new password logs in),
each confirmed account reached registration exactly once (its consumer was killed mid-stream
too), and on Kafka each confirmed action has exactly one event id.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import grpc
import pytest
import requests
from kafka import KafkaConsumer
from sqlalchemy import create_engine, text

from tests.conftest import System, wait_for
from tests.security.client import NEW_PASSWORD, api_login, csrf
from zsb.common.settings import SERVICE_NAMES
from zsb.events.v1 import auth_events_pb2

pytestmark = pytest.mark.system

VICTIMS = [*SERVICE_NAMES, "gateway", "gateway2"]


@dataclass
class Stream:
    system: System
    accounts: list[str] = field(default_factory=list)  # import confirmed
    changed: list[str] = field(default_factory=list)  # password change confirmed
    refusals: list[requests.Response] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def act_once(self) -> None:
        try:
            number, password = self.system.import_candidate(name="韩梅梅")
        except grpc.RpcError:
            return  # not confirmed: the caller sees the failure and imports again
        self.accounts.append(number)
        gateway = random.randrange(2)
        base = self.system.url("", gateway)
        s = requests.Session()
        try:
            login = api_login(self.system, s, base, number, password)
            if login.status_code != 200:
                self.refusals.append(login)
                return
            body = {"old_password": password, "new_password": NEW_PASSWORD}
            resp = s.post(f"{base}/api/v1/password", json=body, headers={"X-CSRF-Token": csrf(s, base)}, timeout=20)
        except (requests.RequestException, ValueError, KeyError):
            return  # the gateway process is gone (or answered with its 502 before dying): nothing confirmed
        if resp.status_code == 200:
            self.changed.append(number)
        else:
            self.refusals.append(resp)

    def run(self) -> None:
        while not self.stop.is_set():
            self.act_once()


def events_by_subject(
    kafka_bootstrap: str, topic: str, wanted: set[str], since_ms: int
) -> dict[tuple[str, str], set[str]]:
    """{(subject, kind): ce_ids} of the auth events about `wanted` accounts written since `since_ms`.

    The topic is shared with earlier platform runs, whose random 考生号 may repeat ours."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap.split(","),
        group_id=f"reliability-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        metadata_max_age_ms=1000,
    )
    seen: dict[tuple[str, str], set[str]] = {}
    for record in consumer:
        if record.timestamp < since_ms:
            continue
        headers = {k: v.decode() for k, v in record.headers}
        ce_type = headers.get("ce_type", "")
        if ce_type.endswith("CandidateAccountCreated"):
            created = auth_events_pb2.CandidateAccountCreated.FromString(record.value)
            key = (created.candidate_no, "created")
        elif ce_type.endswith("SecurityEventRecorded"):
            recorded = auth_events_pb2.SecurityEventRecorded.FromString(record.value)
            key = (recorded.subject, recorded.kind)
        else:
            continue
        if key[0] in wanted:
            seen.setdefault(key, set()).add(headers["ce_id"])
    consumer.close()
    return seen


def test_kill_nine_every_process_in_turn_loses_and_doubles_nothing(system: System, kafka_bootstrap: str) -> None:
    stream = Stream(system)
    since_ms = int(time.time() * 1000) - 5000
    workers = [threading.Thread(target=stream.run, daemon=True) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for victim in VICTIMS:
            time.sleep(2.0)
            system.platform.kill(victim, signal.SIGKILL)
            time.sleep(0.5)
            system.platform.start(victim)
            system.platform.wait_ready([victim], timeout=90)
        time.sleep(2.0)
    finally:
        stream.stop.set()
        for w in workers:
            w.join(timeout=60)
    system.platform.wait_ready(list(system.platform.procs), timeout=60)

    print(f"confirmed: {len(stream.accounts)} accounts, {len(stream.changed)} password changes; "
          f"{len(stream.refusals)} clean refusals")  # fmt: skip
    assert len(stream.changed) >= 10, (len(stream.accounts), len(stream.changed))
    # Requests that failed while a process was down failed with a JSON reason, never a trace.
    for resp in stream.refusals:
        assert resp.status_code >= 400 and resp.json()["error"]["message"], resp.text
        assert "Traceback" not in resp.text

    # Every confirmed password change holds.
    for number in stream.changed:
        s = requests.Session()
        assert api_login(system, s, system.url(""), number, NEW_PASSWORD).status_code == 200, number

    # Every confirmed account reached registration, once, although its consumer was killed.
    engine = create_engine(system.database_url("registration"))

    def all_projected() -> bool:
        with engine.connect() as conn:
            rows = set(conn.execute(text("SELECT candidate_no FROM candidates")).scalars())
        return set(stream.accounts) <= rows

    wait_for(all_projected, timeout=90)
    engine.dispose()

    # On Kafka: one event id per confirmed action (redeliveries repeat an id; a second id would be a double).
    seen = wait_for(
        lambda: (s := events_by_subject(kafka_bootstrap, system.topic("auth"), set(stream.accounts), since_ms))
        and all((n, "created") in s for n in stream.accounts)
        and all((n, "password_changed") in s for n in stream.changed)
        and s,
        timeout=90,
    )
    for number in stream.accounts:
        assert len(seen[(number, "created")]) == 1, number
    for number in stream.changed:
        assert len(seen[(number, "password_changed")]) == 1, number
