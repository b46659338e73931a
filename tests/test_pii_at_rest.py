"""Personal data at rest: read every database, topic and log directly; no ID number or phone in clear."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import MetaData, create_engine, select

from services.registration.tests.helpers import age_notices, basic_info, form, make_id
from tests.conftest import System, wait_for
from zsb.common.db import Database
from zsb.common.settings import SERVICE_NAMES
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc

pytestmark = pytest.mark.system
NOTICES = ("instructions", "discipline", "pledge")


@pytest.fixture(scope="module")
def registered(system: System) -> dict[str, str]:
    """A candidate with an account and a saved 填写基本信息: the secrets to look for."""
    seq = uuid.uuid4().int % 400 * 2 + 101
    phone = f"135{uuid.uuid4().int % 10**8:08d}"
    recipient_phone = f"136{uuid.uuid4().int % 10**8:08d}"
    number, _ = system.import_candidate(name="郑十一", phone=phone)
    token = system.bearer("candidate", number, "01", "0113")
    db = Database(system.database_url("registration"))
    with system.channel("registration") as ch:
        stub = registration_pb2_grpc.RegistrationServiceStub(ch)

        def opened() -> bool:
            try:
                stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=token, timeout=5)
                return True
            except Exception:  # noqa: BLE001 - not there until the account event arrives
                return False

        wait_for(opened)
        for notice in NOTICES:
            stub.ShowNotice(pb.ShowNoticeRequest(notice=notice), metadata=token)
            age_notices(db, number)
            stub.AcknowledgeNotice(pb.AcknowledgeNoticeRequest(notice=notice), metadata=token)
        raw = form(seq, phone=phone, recipient_phone=recipient_phone)
        saved = stub.SaveBasicInfo(pb.SaveBasicInfoRequest(info=basic_info(raw)), metadata=token)
        assert saved.saved, saved.errors
    db.dispose()
    return {"id_number": make_id(seq), "phone": phone, "recipient_phone": recipient_phone}


def test_databases_hold_no_clear_id_numbers_or_phones(system: System, registered: dict[str, str]) -> None:
    checked_tables = 0
    for service in SERVICE_NAMES:
        engine = create_engine(system.database_url(service))
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                checked_tables += 1
                for row in conn.execute(select(table)):
                    text = " ".join(str(v) for v in row if v is not None)
                    for name, secret in registered.items():
                        assert secret not in text, f"{name} in clear in {service}.{table.name}"
        engine.dispose()
    assert checked_tables > 20


def test_events_carry_no_id_numbers_or_phones(system: System, registered: dict[str, str], kafka_bootstrap: str) -> None:
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    topics = [t for t in consumer.topics() if t.startswith(system.topic_prefix) and t.endswith(".v1.events")]
    parts = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
    end = consumer.end_offsets(parts)
    remaining = {tp for tp in parts if end[tp] > 0}
    consumer.assign(list(remaining))
    consumer.seek_to_beginning(*remaining)
    seen = 0
    deadline = time.monotonic() + 120
    while remaining and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=1000, max_records=5000).items():
            for r in records:
                seen += 1
                blob = (r.value or b"") + b"".join(v or b"" for _, v in r.headers or [])
                for name, secret in registered.items():
                    assert secret.encode() not in blob, f"{name} in clear in {r.topic}"
                if r.offset + 1 >= end[tp]:
                    remaining.discard(tp)
    consumer.close()
    assert not remaining, "topics not read to their end"
    assert seen > 0


def test_logs_carry_no_id_numbers_or_phones(system: System, registered: dict[str, str]) -> None:
    logs = list(system.platform.log_dir.glob("*.log"))
    assert logs
    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, secret in registered.items():
            assert secret not in text, f"{name} in clear in {path.name}"
