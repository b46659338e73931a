"""奖励加分 granted by the qualification review: required and range-checked for claimants, refused
for others, audited, carried on QualificationApproved, capped by the province's reference data.
Runs on SQLite and on MariaDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from services.registration.adapters import AuditRow, Candidate
from services.registration.domain.reference import SEED_DICT
from services.registration.main import SPEC
from services.registration.service.facts import open_registration, record
from services.registration.tests.helpers import age_notices, basic_info, form, pdf_bytes
from zsb.common.grpc_server import FIELD_KEY, REASON_KEY
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import outbox
from zsb.events.v1 import registration_events_pb2 as ev
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc

CLAIMANT = "21145101130011"
VETERAN = "21145101130012"
NOTICES = ("instructions", "discipline", "pledge")
AWARDS = "2023年全国职业院校技能大赛会计技能赛项一等奖"


@dataclass
class Review:
    runtime: ServiceRuntime
    stub: registration_pb2_grpc.RegistrationServiceStub
    bearer: Any

    @property
    def db(self):
        return self.runtime.ctx.db

    def md(self, number: str):
        return self.bearer("candidate", number, number[6:8], number[6:10])

    @property
    def reviewer(self):
        return self.bearer("reviewer", "审核员乙", "01", "")

    def under_review(self, number: str, raw: dict[str, Any]) -> None:
        """Through the candidate's use cases up to 审核中, with every required material uploaded."""
        with self.db.unit_of_work() as session:
            open_registration(session, number, raw["name"], raw["point_code"])
        me = self.md(number)
        for notice in NOTICES:
            self.stub.ShowNotice(pb.ShowNoticeRequest(notice=notice), metadata=me)
            age_notices(self.db, number)
            self.stub.AcknowledgeNotice(pb.AcknowledgeNoticeRequest(notice=notice), metadata=me)
        assert self.stub.SaveBasicInfo(pb.SaveBasicInfoRequest(info=basic_info(raw)), metadata=me).saved
        confirmed = self.stub.ConfirmRegistration(pb.ConfirmRegistrationRequest(), metadata=me)
        with self.db.unit_of_work() as session:
            record(session, number, lambda r: r.record_identity_verified(r.confirmed_at))
            record(session, number, lambda r: r.record_payment_succeeded(r.confirmed_at))
        for kind in confirmed.qualification.required:
            upload = pb.UploadDocumentRequest(kind=kind, filename="证明.pdf", data=pdf_bytes())
            self.stub.UploadDocument(upload, metadata=me)
        assert self.stub.SubmitDocuments(pb.SubmitDocumentsRequest(), metadata=me).qualification.label == "审核中"

    def approve(self, number: str, bonus_points: str) -> pb.Registration:
        request = pb.DecideReviewRequest(candidate_no=number, approve=True, bonus_points=bonus_points)
        return self.stub.DecideReview(request, metadata=self.reviewer)

    def refused(self, number: str, bonus_points: str, reason: str) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.approve(number, bonus_points)
        err = info.value
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
        trailers = dict(err.trailing_metadata())
        assert (trailers[REASON_KEY], trailers[FIELD_KEY]) == (reason, "bonus_points")
        return err

    def events(self, number: str) -> list[Any]:
        with self.db.unit_of_work() as session:
            rows = session.execute(
                select(outbox.c.ce_type, outbox.c.payload).where(outbox.c.key == number).order_by(outbox.c.seq)
            ).all()
        return [getattr(ev, t.rsplit(".", 1)[-1]).FromString(p) for t, p in rows]

    def audit(self, number: str) -> list[tuple[str, str]]:
        with self.db.unit_of_work() as session:
            query = select(AuditRow.action, AuditRow.detail).where(AuditRow.subject == number).order_by(AuditRow.id)
            return [tuple(r) for r in session.execute(query).all()]


@pytest.fixture
def review(service_settings, database_url: str, minio_url: str, bearer) -> Iterator[Review]:
    runtime = ServiceRuntime(SPEC, service_settings("registration", database_url, object_store_url=minio_url))
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Review(runtime, registration_pb2_grpc.RegistrationServiceStub(channel), bearer)
    runtime.stop(grace=0)


def test_a_claimant_is_granted_checked_points_audited_and_published(review: Review) -> None:
    review.under_review(CLAIMANT, form(seq=211, phone="13812340011", claims_bonus_points="1", awards=AWARDS))
    shown = review.stub.GetCandidateRegistration(
        pb.GetCandidateRegistrationRequest(candidate_no=CLAIMANT), metadata=review.reviewer
    ).qualification
    assert (shown.claims_bonus_points, shown.bonus_points, shown.bonus_points_max) == (True, 0, 10)

    # Forgetting the points, or typing something that is not whole points within 0..10, is refused
    # with a message for the field, and nothing is decided, stored, audited or published.
    err = review.refused(CLAIMANT, "", "BONUS_POINTS_REQUIRED")
    assert err.details() == "请填写认定的奖励加分（不予加分请填0）"
    for bad in ("十", "abc", "-1", "2.5", "11", "1000", "1e1"):
        err = review.refused(CLAIMANT, bad, "BAD_BONUS_POINTS")
        assert err.details() == "奖励加分须为0至10之间的整数（单位：分）", bad
    mine = review.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=review.md(CLAIMANT))
    assert mine.qualification.status == "under_review" and mine.qualification.bonus_points == 0
    assert review.audit(CLAIMANT) == []
    assert not any(isinstance(e, ev.QualificationApproved) for e in review.events(CLAIMANT))

    # Full-width digits, as an IME types them, are whole points too.
    approved = review.approve(CLAIMANT, " １０ ")
    assert approved.qualification.status == "approved" and approved.qualification.bonus_points == 10
    with review.db.unit_of_work() as session:
        assert session.get(Candidate, CLAIMANT).review_bonus_points == 10
    granted = "认定奖励加分10分（上限10分）"
    assert review.audit(CLAIMANT) == [("review_approved", granted)]
    published = review.events(CLAIMANT)[-2:]
    assert isinstance(published[0], ev.RegistrationStaffAction) and published[0].detail == granted
    assert isinstance(published[1], ev.QualificationApproved)
    assert (published[1].bonus_points, published[1].reviewer, published[1].automatic) == (10, "审核员乙", False)
    # The candidate reads the grant; a second decision is refused (the grant is final).
    mine = review.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=review.md(CLAIMANT))
    assert mine.qualification.bonus_points == 10
    with pytest.raises(grpc.RpcError) as again:
        review.approve(CLAIMANT, "3")
    assert dict(again.value.trailing_metadata())[REASON_KEY] == "REVIEW_NOT_PENDING"


def test_no_points_for_a_candidate_who_did_not_claim_them(review: Review) -> None:
    review.under_review(VETERAN, form(seq=213, phone="13812340012", candidate_type="5"))  # 义务兵材料 only
    shown = review.stub.GetCandidateRegistration(
        pb.GetCandidateRegistrationRequest(candidate_no=VETERAN), metadata=review.reviewer
    ).qualification
    assert not shown.claims_bonus_points
    err = review.refused(VETERAN, "5", "BONUS_NOT_CLAIMED")
    assert err.details() == "该考生未申请奖励加分，不能认定加分"
    approved = review.approve(VETERAN, "")
    assert approved.qualification.status == "approved" and approved.qualification.bonus_points == 0
    assert review.audit(VETERAN) == [("review_approved", "")]
    decision = review.events(VETERAN)[-1]
    assert isinstance(decision, ev.QualificationApproved) and decision.bonus_points == 0


def test_the_province_sets_the_cap_in_the_reference_data(review: Review) -> None:
    province = review.bearer("province", "sheng", "", "")
    for bad in (101, -1, "5", True):
        data = {**json.loads(json.dumps(SEED_DICT)), "bonus_points_max": bad}
        with pytest.raises(grpc.RpcError) as info:
            review.stub.ReplaceReferenceData(
                pb.ReplaceReferenceDataRequest(data_json=json.dumps(data)), metadata=province
            )
        assert dict(info.value.trailing_metadata())[REASON_KEY] == "BAD_REFERENCE", bad
        assert "bonus_points_max" in info.value.details()
    lowered = {**json.loads(json.dumps(SEED_DICT)), "bonus_points_max": 5}
    review.stub.ReplaceReferenceData(pb.ReplaceReferenceDataRequest(data_json=json.dumps(lowered)), metadata=province)
    served = review.stub.GetReferenceData(pb.GetReferenceDataRequest(), metadata=province)
    assert json.loads(served.data_json)["bonus_points_max"] == 5

    review.under_review(CLAIMANT, form(seq=215, phone="13812340013", claims_bonus_points="1", awards=AWARDS))
    assert review.refused(CLAIMANT, "6", "BAD_BONUS_POINTS").details() == "奖励加分须为0至5之间的整数（单位：分）"
    approved = review.approve(CLAIMANT, "0")  # the reviewer found the award does not qualify
    assert approved.qualification.bonus_points == 0 and approved.qualification.bonus_points_max == 5
    assert review.audit(CLAIMANT)[-1] == ("review_approved", "认定奖励加分0分（上限5分）")
