"""The platform's audit log: every service's staff actions collected from real Kafka, once each,
masked, and searchable by province staff only (SQLite and MariaDB)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, insert, select, update

from services.auth.adapters.tables import AuditLogRow, Base, SecurityEventRow
from services.auth.domain.audit import SERVICES, AuditQuery, Entry, candidate_of, mask_numbers
from services.auth.main import SPEC
from zsb.auth.v1 import auth_pb2 as pb
from zsb.auth.v1 import auth_pb2_grpc
from zsb.common.db import Database
from zsb.common.errors import InvalidArgument
from zsb.common.migrations import alembic_config, upgrade_to_head
from zsb.common.outbox import OutboxRelay, add_event
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import common_metadata, outbox
from zsb.events.v1 import identity_events_pb2 as identity_ev
from zsb.events.v1 import payment_events_pb2 as payment_ev
from zsb.events.v1 import preferences_events_pb2 as preferences_ev
from zsb.events.v1 import registration_events_pb2 as registration_ev
from zsb.events.v1 import results_events_pb2 as results_ev

CANDIDATE = "21145101130007"
ID_NUMBER = "140105199001011238"


def ts(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def unix(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp())


# ---- rules ----


def test_personal_numbers_are_masked_and_other_numbers_kept() -> None:
    text = f"核对来电 13812345678，身份证{ID_NUMBER}；考生号{CANDIDATE}，订单 ZSB20260305A1B2C3D4E5F6"
    masked = mask_numbers(text)
    assert "13812345678" not in masked and "138****5678" in masked
    assert ID_NUMBER not in masked and "1401**********1238" in masked
    assert CANDIDATE in masked and "ZSB20260305A1B2C3D4E5F6" in masked
    assert mask_numbers("14010519900101123X") == "1401**********123X"
    assert mask_numbers("4200002026030512345678") == "4200002026030512345678"  # a provider's transaction id
    assert candidate_of(CANDIDATE) == CANDIDATE and candidate_of("0113") == "" and candidate_of("run12") == ""


def test_an_entry_keeps_the_column_sizes_and_names_the_candidate() -> None:
    entry = Entry.of("e1", datetime(2026, 3, 1), "registration", "pii_viewed", CANDIDATE, "", "", "x" * 5000)
    assert (entry.candidate_no, entry.actor, len(entry.detail)) == (CANDIDATE, "system", 1000)
    paid = Entry.of("e2", datetime(2026, 3, 1), "payment", "refund_failed", "ZSB1", "", "", "", candidate_no=CANDIDATE)
    assert (paid.subject, paid.candidate_no) == ("ZSB1", CANDIDATE)


def test_a_search_is_checked() -> None:
    q = AuditQuery.parse(" admin ", "", "", "", 0, 0, 0, 0)
    assert (q.actor, q.limit, q.since, q.until) == ("admin", 50, None, None)
    assert AuditQuery.parse("", "", "", "", 0, 0, 10_000, 0).limit == 200
    for args, reason in (
        (("", "", "mail", "", 0, 0, 10, 0), "BAD_SERVICE"),
        (("", "", "", "", 2_000_000_000, 1_000_000_000, 10, 0), "BAD_RANGE"),
        (("", "", "", "", -5, 0, 10, 0), "BAD_TIME"),
        (("", "", "", "", 0, 0, 10, -1), "BAD_OFFSET"),
    ):
        with pytest.raises(InvalidArgument) as err:
            AuditQuery.parse(*args)
        assert err.value.reason == reason


def test_migrations_create_the_audit_log_as_declared(database_url: str) -> None:
    db = Database(database_url)
    upgrade_to_head(SPEC.migrations_dir, db.engine)
    with db.engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def about_the_log(change) -> bool:
        first = change[0] if isinstance(change, list) else change
        if first[0].startswith("modify_") or first[0] in ("add_column", "remove_column"):
            return first[2] == "audit_log"
        item = first[1]
        return getattr(getattr(item, "table", item), "name", "") == "audit_log"

    assert [c for c in found if about_the_log(c)] == []
    db.dispose()


def test_the_migration_copies_earlier_security_events_masked(database_url: str) -> None:
    db = Database(database_url)
    cfg = alembic_config(SPEC.migrations_dir, db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    with db.engine.begin() as conn:
        conn.execute(
            insert(SecurityEventRow.__table__),
            [
                {"at": datetime(2026, 3, 1, 1), "kind": "login_failed", "subject": CANDIDATE, "actor": CANDIDATE,
                 "ip": "10.0.0.9", "detail": ""},
                {"at": datetime(2026, 3, 1, 2), "kind": "staff_created", "subject": "city0101", "actor": "sheng01",
                 "ip": "", "detail": "电话13812345678"},
            ],
        )  # fmt: skip
    upgrade_to_head(SPEC.migrations_dir, db.engine)
    with db.unit_of_work() as session:
        rows = session.scalars(select(AuditLogRow).order_by(AuditLogRow.at)).all()
        copied = [
            (r.event_id[:9], r.service, r.action, r.subject, r.candidate_no, r.actor, r.ip, r.detail) for r in rows
        ]
    assert copied == [
        ("security-", "auth", "login_failed", CANDIDATE, CANDIDATE, CANDIDATE, "10.0.0.9", ""),
        ("security-", "auth", "staff_created", "city0101", "", "sheng01", "", "电话138****5678"),
    ]
    db.dispose()


# ---- collection through Kafka and the search ----


@dataclass
class Platform:
    runtime: ServiceRuntime
    stub: auth_pb2_grpc.AuthServiceStub
    bearer: object
    tmp: Path
    bootstrap: str

    def province(self) -> tuple:
        return self.bearer("province", "sheng01")

    def search(self, **filters: object) -> pb.SearchAuditResponse:
        return self.stub.SearchAudit(pb.SearchAuditRequest(**filters), metadata=self.province())

    def publish(self, service: str, key: str, message: Message) -> tuple[str, Database]:
        """Publish one event as that service does: its outbox, then its relay (acks=all)."""
        db = Database(f"sqlite:///{self.tmp / f'{service}-outbox.db'}")
        common_metadata.create_all(db.engine)
        with db.unit_of_work() as session:
            ce_id = add_event(session, service, key, message)
        assert OutboxRelay(db, service, self.bootstrap).publish_pending() >= 1
        return ce_id, db


def create_topics(bootstrap: str, prefix: str) -> None:
    """Every service's topic under a prefix, made before anything subscribes, as a deployment
    makes them (a kafka-python 2.2 group leader can miss topics that appear during its join)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(f"{prefix}zsb.{s}.v1.events", 3, 1) for s in SERVICES])
    finally:
        admin.close()


@pytest.fixture
def platform(service_settings, database_url: str, bearer, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Platform]:
    # Topics of this test only, so the consumer reads just what the test publishes.
    prefix = f"audit{uuid.uuid4().hex[:8]}."
    create_topics(kafka_bootstrap, prefix)
    settings = service_settings("auth", database_url, kafka_topic_prefix=prefix)
    runtime = ServiceRuntime(SPEC, settings)
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Platform(runtime, auth_pb2_grpc.AuthServiceStub(channel), bearer, tmp_path, kafka_bootstrap)
    runtime.stop(grace=0)


def wait_for_total(p: Platform, total: int, **filters: object) -> pb.SearchAuditResponse:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = p.search(**filters)
        if found.total >= total:
            return found
        time.sleep(0.3)
    raise AssertionError(f"the log holds {found.total} entries, not {total}")


def test_staff_actions_of_every_service_are_collected_once_and_searchable(platform: Platform) -> None:
    p = platform
    day = datetime(2026, 3, 5, 2, 0)
    later = datetime(2026, 3, 9, 2, 0)
    reveal, reveal_db = p.publish(
        "registration",
        CANDIDATE,
        registration_ev.RegistrationStaffAction(
            action="pii_viewed",
            subject=CANDIDATE,
            actor="point0113",
            actor_role="point",
            detail=f"考生来电 13812345678 核对身份证 {ID_NUMBER}",
            at=ts(day),
        ),
    )
    p.publish(
        "identity",
        CANDIDATE,
        identity_ev.IdentityStaffAction(
            action="identity_approved", subject=CANDIDATE, actor="rev01", actor_role="reviewer", at=ts(day)
        ),
    )
    p.publish(
        "payment",
        CANDIDATE,
        payment_ev.PaymentStaffAction(
            action="refund_failed",
            subject="ZSB20260305A1B2C3D4E5F6",
            order_no="ZSB20260305A1B2C3D4E5F6",
            candidate_no=CANDIDATE,
            level="alert",
            provider="wechat",
            remote_addr="203.0.113.9",
            detail="渠道拒绝",
            at=ts(later),
        ),
    )
    p.publish(
        "preferences",
        "plan",
        preferences_ev.PreferencesStaffAction(
            action="plan_imported", subject="plan", actor="sheng01", actor_role="province", at=ts(later)
        ),
    )
    p.publish(
        "results",
        "run12",
        results_ev.ResultsStaffAction(
            action="run_published", subject="run12", actor="sheng01", actor_role="province", at=ts(later)
        ),
    )
    # auth's own security events join the log in their own transaction (no Kafka round trip).
    created = p.stub.CreateStaffAccount(
        pb.CreateStaffAccountRequest(username="city0199", name="王五", role="city", city_code="01"),
        metadata=p.province(),
    )
    assert created.initial_password

    # Redelivery (the relay republishing after a crash before marking) keeps one entry.
    with reveal_db.unit_of_work() as session:
        session.execute(update(outbox).where(outbox.c.id == reveal).values(published_at=None))
    assert OutboxRelay(reveal_db, "registration", p.bootstrap).publish_pending() == 1

    # A later event on the same topic and key proves the redelivered one was handled before it.
    p.publish(
        "registration",
        CANDIDATE,
        registration_ev.RegistrationStaffAction(
            action="review_approved", subject=CANDIDATE, actor="point0113", actor_role="point", at=ts(later)
        ),
    )
    wait_for_total(p, 1, action="review_approved")
    everything = wait_for_total(p, 7, with_actions=True)
    assert everything.total == 7
    by_action = {e.action: e for e in everything.entries}
    assert set(by_action) == {
        "pii_viewed",
        "identity_approved",
        "refund_failed",
        "plan_imported",
        "run_published",
        "review_approved",
        "staff_created",
    }
    seen = by_action["pii_viewed"]
    assert (seen.service, seen.subject, seen.candidate_no, seen.actor, seen.actor_role, seen.at) == (
        "registration",
        CANDIDATE,
        CANDIDATE,
        "point0113",
        "point",
        unix(day),
    )
    assert "138****5678" in seen.detail and "1401**********1238" in seen.detail
    assert "13812345678" not in seen.detail and ID_NUMBER not in seen.detail
    alert = by_action["refund_failed"]
    assert (alert.service, alert.level, alert.ip, alert.actor, alert.candidate_no) == (
        "payment",
        "alert",
        "203.0.113.9",
        "system",
        CANDIDATE,
    )
    staff = by_action["staff_created"]
    assert (staff.service, staff.subject, staff.actor, staff.actor_role) == ("auth", "city0199", "sheng01", "province")
    assert ("registration", "pii_viewed") in {(a.service, a.action) for a in everything.actions}
    with p.runtime.ctx.db.unit_of_work() as session:
        assert session.scalar(select(func.count()).where(AuditLogRow.action == "pii_viewed")) == 1

    # Newest first; each filter narrows the result.
    assert [e.at for e in everything.entries] == sorted((e.at for e in everything.entries), reverse=True)
    by_candidate = p.search(subject=CANDIDATE)
    assert sorted(e.action for e in by_candidate.entries) == [
        "identity_approved",
        "pii_viewed",
        "refund_failed",
        "review_approved",
    ]
    assert [e.action for e in p.search(subject="ZSB20260305A1B2C3D4E5F6").entries] == ["refund_failed"]
    assert {e.action for e in p.search(actor="sheng01").entries} == {"plan_imported", "run_published", "staff_created"}
    assert [e.action for e in p.search(service="identity").entries] == ["identity_approved"]
    assert [e.action for e in p.search(action="run_published").entries] == ["run_published"]
    window = p.search(since=unix(day), until=unix(day) + 3600)
    assert sorted(e.action for e in window.entries) == ["identity_approved", "pii_viewed"]

    # Pages: 3 + 3 + 1, no entry twice, the total on every page.
    pages = [p.search(limit=3, offset=k) for k in (0, 3, 6)]
    assert [len(page.entries) for page in pages] == [3, 3, 1] and {page.total for page in pages} == {7}
    assert len({e.id for page in pages for e in page.entries}) == 7


def test_only_province_staff_search_the_log(platform: Platform) -> None:
    p = platform
    for role, scope in (
        ("city", ("01", "")),
        ("point", ("01", "0113")),
        ("reviewer", ("01", "")),
        ("candidate", ("01", "0113")),
    ):
        with pytest.raises(grpc.RpcError) as err:
            p.stub.SearchAudit(pb.SearchAuditRequest(), metadata=p.bearer(role, "someone", *scope))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        p.stub.SearchAudit(pb.SearchAuditRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A city's staff learn nothing from a malformed request either: the role is checked first.
    with pytest.raises(grpc.RpcError) as err:
        p.stub.SearchAudit(pb.SearchAuditRequest(service="x"), metadata=p.bearer("city", "c", "01"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        p.search(since=2_000_000_000, until=1_000_000_000)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
