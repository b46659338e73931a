"""The registration service through its gRPC API, on SQLite and MariaDB, documents in MinIO."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.registration.adapters import AuditRow, BasicInfoRow, Candidate
from services.registration.api import form_from_pb
from services.registration.domain.reference import SEED_DICT
from services.registration.main import SPEC
from services.registration.service.facts import open_registration, record
from services.registration.tests.helpers import age_notices, basic_info, form, jpeg_bytes, make_id, pdf_bytes, png_bytes
from zsb.common.grpc_server import REASON_KEY
from zsb.common.principal import TokenSigner
from zsb.common.runtime import ServiceRuntime
from zsb.common.tables import outbox
from zsb.events.v1 import registration_events_pb2 as ev
from zsb.registration.v1 import registration_pb2 as pb
from zsb.registration.v1 import registration_pb2_grpc

ME = "21145101130001"
OTHER = "21145101130002"
NOTICES = ("instructions", "discipline", "pledge")


@dataclass
class Reg:
    runtime: ServiceRuntime
    stub: registration_pb2_grpc.RegistrationServiceStub
    bearer: Any

    @property
    def db(self):
        return self.runtime.ctx.db

    def candidate(self, number: str = ME, point: str = "0113", name: str = "张晓明") -> None:
        with self.db.unit_of_work() as session:
            open_registration(session, number, name, point)

    def md(self, number: str = ME):
        return self.bearer("candidate", number, number[6:8], number[6:10])

    def staff(self, role: str, city: str = "", point: str = "", name: str = ""):
        return self.bearer(role, name or f"{role}-{city}{point}", city, point)

    def read_notices(self, number: str = ME) -> None:
        for notice in NOTICES:
            self.stub.ShowNotice(pb.ShowNoticeRequest(notice=notice), metadata=self.md(number))
            age_notices(self.db, number)
            self.stub.AcknowledgeNotice(pb.AcknowledgeNoticeRequest(notice=notice), metadata=self.md(number))

    def save(self, raw: dict[str, Any], number: str = ME) -> pb.SaveBasicInfoResponse:
        return self.stub.SaveBasicInfo(pb.SaveBasicInfoRequest(info=basic_info(raw)), metadata=self.md(number))

    def confirmed(self, raw: dict[str, Any], number: str = ME) -> pb.Registration:
        self.read_notices(number)
        assert self.save(raw, number).saved
        return self.stub.ConfirmRegistration(pb.ConfirmRegistrationRequest(), metadata=self.md(number))

    def events(self) -> list[tuple[str, str, Any]]:
        with self.db.unit_of_work() as session:
            rows = session.execute(select(outbox.c.key, outbox.c.ce_type, outbox.c.payload).order_by(outbox.c.seq))
            out = []
            for key, ce_type, payload in rows:
                name = ce_type.rsplit(".", 1)[-1]
                out.append((key, name, getattr(ev, name).FromString(payload)))
            return out


@pytest.fixture
def reg(service_settings, database_url: str, minio_url: str, bearer) -> Iterator[Reg]:
    runtime = ServiceRuntime(SPEC, service_settings("registration", database_url, object_store_url=minio_url))
    port = runtime.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Reg(runtime, registration_pb2_grpc.RegistrationServiceStub(channel), bearer)
    runtime.stop(grace=0)


def refused(call, code: grpc.StatusCode, reason: str = "") -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, info.value.details()
    if reason:
        assert dict(info.value.trailing_metadata())[REASON_KEY] == reason
    return info.value


def states(r: pb.Registration) -> dict[str, str]:
    return {s.step: s.state for s in r.steps}


def test_notices_then_form_then_confirmation(reg: Reg) -> None:
    reg.candidate()
    me = reg.md()
    mine = reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=me)
    assert mine.status == "not_started" and states(mine)["notice"] == "available"
    assert states(mine)["basic_info"] == "locked"
    # The form before the notices: the step is not open.
    refused(lambda: reg.save(form()), grpc.StatusCode.FAILED_PRECONDITION, "STEP_NOT_OPEN")
    # The second text before the first is acknowledged.
    refused(
        lambda: reg.stub.ShowNotice(pb.ShowNoticeRequest(notice="discipline"), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "STEP_NOT_OPEN",
    )
    shown = reg.stub.ShowNotice(pb.ShowNoticeRequest(notice="instructions"), metadata=me)
    assert shown.button == "我已知晓" and 9 <= shown.seconds_remaining <= 10 and shown.shown_at > 0
    # Reloading keeps the first time; acknowledging at once is refused by the server's clock.
    again = reg.stub.ShowNotice(pb.ShowNoticeRequest(notice="instructions"), metadata=me)
    assert again.shown_at == shown.shown_at
    err = refused(
        lambda: reg.stub.AcknowledgeNotice(pb.AcknowledgeNoticeRequest(notice="instructions"), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOTICE_TOO_SOON",
    )
    assert "秒后才能确认" in err.details()
    refused(
        lambda: reg.stub.ShowNotice(pb.ShowNoticeRequest(notice="nonsense"), metadata=me),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_NOTICE",
    )
    reg.read_notices()
    mine = reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=me)
    assert states(mine)["notice"] == "done" and states(mine)["basic_info"] == "available" and mine.editable

    # Every field error at once, in the response.
    bad = reg.save(form(id_number="140105200309151310", phone="12345", postal_code="99", resume=[]))
    assert not bad.saved
    errors = {e.field: e.message for e in bad.errors}
    assert set(errors) >= {"id_number", "phone", "postal_code", "resume"}
    assert "校验位" in errors["id_number"]
    ok = reg.save(form())
    assert ok.saved and not ok.errors
    assert states(ok.registration)["confirm"] == "available"
    assert ok.registration.basic_info.id_number == make_id(131)  # the owner sees the full number
    # Stored encrypted: neither number appears in the row.
    with reg.db.unit_of_work() as session:
        row = session.get(BasicInfoRow, ME)
        assert make_id(131) not in row.id_number_enc + row.data_json and "13812345678" not in row.phone_enc
        assert "13812345678" not in row.data_json and "13912345678" not in row.data_json
    display = {f.key: f.value for f in ok.registration.display}
    assert display["major_category"] == "财经类(01)" and display["point_code"] == "山西工程职业学院"
    # Every coded field is printed as its name, never as its code.
    assert (display["ethnicity"], display["city_code"], display["household_province"]) == ("汉族", "太原市", "山西省")

    confirmed = reg.stub.ConfirmRegistration(pb.ConfirmRegistrationRequest(), metadata=me)
    assert confirmed.status == "confirmed" and confirmed.qualification.automatic
    assert states(confirmed)["confirm"] == "done" and states(confirmed)["identity"] == "available"
    assert not confirmed.editable
    refused(lambda: reg.save(form()), grpc.StatusCode.FAILED_PRECONDITION, "ALREADY_CONFIRMED")
    kinds = [(k, n) for k, n, _ in reg.events()]
    assert kinds == [(ME, "RegistrationSubmitted"), (ME, "RegistrationConfirmed"), (ME, "QualificationApproved")]
    facts = reg.events()[1][2]
    assert (facts.candidate_type, facts.major_category, facts.point_code, facts.city_code) == ("2", "01", "0113", "01")
    assert not facts.poverty_registered and not facts.claims_bonus_points and not facts.required_documents


def test_one_id_number_and_one_phone_per_registration(reg: Reg) -> None:
    reg.candidate(ME)
    reg.candidate(OTHER)
    reg.read_notices(ME)
    reg.read_notices(OTHER)
    assert reg.save(form(131), ME).saved
    taken = reg.save(form(131, phone="13800000000"), OTHER)
    assert {e.field for e in taken.errors} == {"id_number"} and "已被其他考生" in taken.errors[0].message
    phone = reg.save(form(133), OTHER)
    assert {e.field for e in phone.errors} == {"phone"}
    assert reg.save(form(133, phone="13800000000"), OTHER).saved
    # The candidate's own numbers may be saved again.
    assert reg.save(form(131, graduated_school="山西职业技术学院"), ME).saved
    # The database refuses a duplicate HMAC even when the use case's check is bypassed.
    with pytest.raises(IntegrityError), reg.db.unit_of_work() as session:
        row = session.get(BasicInfoRow, ME)
        session.add(
            BasicInfoRow(
                candidate_no="21145101130009",
                data_json="{}",
                id_number_enc="x",
                id_number_hmac=row.id_number_hmac,
                phone_enc="x",
                phone_hmac="other",
                recipient_phone_enc="x",
                updated_at=row.updated_at,
            )
        )


@pytest.mark.parametrize("field", ["id_number", "phone"])
def test_racing_registrations_with_one_number_cannot_both_win(
    service_settings, mariadb_url: str, minio_url: str, bearer, field: str
) -> None:
    runtime = ServiceRuntime(SPEC, service_settings("registration", mariadb_url, object_store_url=minio_url))
    port = runtime.start()
    try:
        racers = [f"2114510113{i:04d}" for i in range(1, 7)]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            r = Reg(runtime, registration_pb2_grpc.RegistrationServiceStub(channel), bearer)
            for number in racers:
                r.candidate(number)
                r.read_notices(number)
            gate = threading.Barrier(len(racers))
            results: dict[str, pb.SaveBasicInfoResponse] = {}

            def submit(i: int, number: str) -> None:
                # The contested number is shared; the other one is each racer's own.
                if field == "id_number":
                    raw = form(131, phone=f"137000000{i:02d}")
                else:
                    raw = form(2 * i + 1, phone="13700000000")
                gate.wait()
                results[number] = r.save(raw, number)

            threads = [threading.Thread(target=submit, args=(i, n)) for i, n in enumerate(racers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        winners = [n for n, res in results.items() if res.saved]
        assert len(winners) == 1, results
        for number, res in results.items():
            if number not in winners:
                assert [e.field for e in res.errors] == [field]
        with runtime.ctx.db.unit_of_work() as session:
            assert session.scalars(select(BasicInfoRow.candidate_no)).all() == winners
    finally:
        runtime.stop(grace=0)


def test_reports_lock_the_form_and_withdrawal_needs_the_province(reg: Reg) -> None:
    reg.candidate()
    reg.read_notices()
    assert reg.save(form()).saved
    point, city, province = reg.staff("point", "01", "0113"), reg.staff("city", "01"), reg.staff("province")
    other_point = reg.staff("point", "01", "0102")
    refused(
        lambda: reg.stub.Report(pb.ReportRequest(scope="point", code="0113"), metadata=other_point),
        grpc.StatusCode.PERMISSION_DENIED,
        "OUT_OF_SCOPE",
    )
    refused(
        lambda: reg.stub.Report(pb.ReportRequest(scope="point", code="0113"), metadata=reg.md()),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    status = reg.stub.Report(pb.ReportRequest(scope="point", code="0113"), metadata=point)
    assert status.reported and status.candidates == 1 and status.name == "山西工程职业学院"
    mine = reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=reg.md())
    assert mine.report_locked and not mine.editable and "已上报" in mine.lock_message
    refused(
        lambda: reg.save(form(graduated_school="山西职业技术学院")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REPORT_LOCKED",
    )
    refused(
        lambda: reg.stub.Report(pb.ReportRequest(scope="point", code="0113"), metadata=point),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ALREADY_REPORTED",
    )
    refused(
        lambda: reg.stub.WithdrawReport(pb.ReportRequest(scope="point", code="0113"), metadata=point),
        grpc.StatusCode.PERMISSION_DENIED,
        "WITHDRAWAL_NOT_ALLOWED",
    )
    refused(
        lambda: reg.stub.SetWithdrawalAllowed(
            pb.SetWithdrawalAllowedRequest(scope="point", code="0113", allowed=True), metadata=city
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "ROLE_REQUIRED",
    )
    reg.stub.SetWithdrawalAllowed(
        pb.SetWithdrawalAllowedRequest(scope="point", code="0113", allowed=True), metadata=province
    )
    assert not reg.stub.WithdrawReport(pb.ReportRequest(scope="point", code="0113"), metadata=point).reported
    assert reg.save(form(graduated_school="山西职业技术学院")).saved
    # A city's report locks every point of the city.
    reg.stub.Report(pb.ReportRequest(scope="city", code="01"), metadata=city)
    refused(lambda: reg.save(form()), grpc.StatusCode.FAILED_PRECONDITION, "REPORT_LOCKED")
    listed = reg.stub.ListReports(pb.ListReportsRequest(scope="point"), metadata=city).reports
    assert {r.code for r in listed} == {"0101", "0102", "0113"}
    assert [r.code for r in reg.stub.ListReports(pb.ListReportsRequest(), metadata=point).reports] == ["0113"]
    names = [n for _, n, _ in reg.events()]
    assert names.count("PointReported") == 1 and "PointReportWithdrawn" in names and "CityReported" in names
    audit = reg.stub.ListAudit(pb.ListAuditRequest(), metadata=province).entries
    assert [a.action for a in audit][:4] == [
        "city_reported",
        "point_report_withdrawn",
        "withdrawal_allowed",
        "point_reported",
    ]
    assert {a.action for a in reg.stub.ListAudit(pb.ListAuditRequest(), metadata=point).entries} == {
        "point_reported",
        "point_report_withdrawn",
    }


def test_documents_review_and_scope(reg: Reg) -> None:
    reg.candidate(ME)
    reg.candidate(OTHER)
    veteran = form(candidate_type="5", claims_bonus_points="1", awards="2022年获省级技能大赛二等奖")
    confirmed = reg.confirmed(veteran)
    assert confirmed.qualification.status == "pending_upload"
    assert list(confirmed.qualification.required) == ["conscript", "bonus_points"]
    # The review step opens only after identity and payment.
    upload = pb.UploadDocumentRequest(
        kind="conscript", filename="退役证.png", declared_type="image/png", data=png_bytes()
    )
    refused(
        lambda: reg.stub.UploadDocument(upload, metadata=reg.md()), grpc.StatusCode.FAILED_PRECONDITION, "STEP_NOT_OPEN"
    )
    with reg.db.unit_of_work() as session:
        record(session, ME, lambda r: r.record_identity_verified(r.confirmed_at))
        record(session, ME, lambda r: r.record_payment_succeeded(r.confirmed_at))
    me = reg.md()
    refused(
        lambda: reg.stub.UploadDocument(
            pb.UploadDocumentRequest(kind="poverty_registered", filename="a.png", data=png_bytes()), metadata=me
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DOCUMENT_NOT_REQUIRED",
    )
    # A file that lies about its type: a text file named .pdf is refused by its content.
    lie = pb.UploadDocumentRequest(
        kind="conscript", filename="证明.pdf", declared_type="application/pdf", data=b"MZ\x90\x00not a pdf"
    )
    refused(lambda: reg.stub.UploadDocument(lie, metadata=me), grpc.StatusCode.INVALID_ARGUMENT, "FILE_TYPE")
    # A JPEG named .pdf is stored as what it is, with a note.
    disguised = reg.stub.UploadDocument(
        pb.UploadDocumentRequest(
            kind="conscript", filename="证明.pdf", declared_type="application/pdf", data=jpeg_bytes()
        ),
        metadata=me,
    ).document
    assert disguised.content_type == "image/jpeg" and "不符" in disguised.mismatch
    refused(
        lambda: reg.stub.SubmitDocuments(pb.SubmitDocumentsRequest(), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DOCUMENTS_MISSING",
    )
    pdf = reg.stub.UploadDocument(
        pb.UploadDocumentRequest(kind="bonus_points", filename="获奖证书.pdf", data=pdf_bytes(2)), metadata=me
    ).document
    assert pdf.page_count == 2
    under = reg.stub.SubmitDocuments(pb.SubmitDocumentsRequest(), metadata=me)
    assert under.qualification.label == "审核中" and states(under)["qualification"] == "available"
    refused(
        lambda: reg.stub.UploadDocument(upload, metadata=me), grpc.StatusCode.FAILED_PRECONDITION, "REVIEW_NOT_EDITABLE"
    )

    # Files: the owner reads them; another candidate cannot learn they exist; staff need the scope.
    stored = reg.stub.ReadDocument(pb.ReadDocumentRequest(document_id=pdf.id), metadata=me)
    assert stored.data.startswith(b"%PDF-") and stored.total_size == len(stored.data)
    refused(
        lambda: reg.stub.ReadDocument(pb.ReadDocumentRequest(document_id=pdf.id), metadata=reg.md(OTHER)),
        grpc.StatusCode.NOT_FOUND,
    )
    outsider = reg.staff("point", "02", "0201")
    refused(
        lambda: reg.stub.ReadDocument(pb.ReadDocumentRequest(document_id=pdf.id), metadata=outsider),
        grpc.StatusCode.PERMISSION_DENIED,
        "OUT_OF_SCOPE",
    )
    reviewer = reg.staff("reviewer", "01", name="审核员甲")
    part = reg.stub.ReadDocument(pb.ReadDocumentRequest(document_id=pdf.id, offset=10, limit=20), metadata=reviewer)
    assert part.data == stored.data[10:30]

    # The queue, by scope and filters.
    assert reg.stub.ListReviews(pb.ListReviewsRequest(), metadata=outsider).total == 0
    queue = reg.stub.ListReviews(pb.ListReviewsRequest(status="under_review", candidate_type="5"), metadata=reviewer)
    assert [(r.candidate_no, r.documents, r.status_label) for r in queue.rows] == [(ME, 2, "审核中")]
    assert reg.stub.ListReviews(pb.ListReviewsRequest(status="approved"), metadata=reviewer).total == 0
    refused(lambda: reg.stub.ListReviews(pb.ListReviewsRequest(), metadata=me), grpc.StatusCode.PERMISSION_DENIED)
    detail = reg.stub.GetCandidateRegistration(pb.GetCandidateRegistrationRequest(candidate_no=ME), metadata=reviewer)
    assert detail.basic_info.id_number == "1401**********" + make_id(131)[-4:] and "****" in detail.basic_info.phone
    refused(
        lambda: reg.stub.DecideReview(pb.DecideReviewRequest(candidate_no=ME, approve=True), metadata=outsider),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    refused(
        lambda: reg.stub.DecideReview(pb.DecideReviewRequest(candidate_no=ME, approve=False), metadata=reviewer),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    rejected = reg.stub.DecideReview(
        pb.DecideReviewRequest(candidate_no=ME, approve=False, reason="义务兵材料不清晰，请重新上传"), metadata=reviewer
    )
    assert rejected.qualification.status == "rejected"
    mine = reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=me)
    step = next(s for s in mine.steps if s.step == "qualification")
    assert step.state == "failed" and step.note == "义务兵材料不清晰，请重新上传"
    # After a rejection: remove the unclear file, upload again, submit again; then approval.
    reg.stub.DeleteDocument(pb.DeleteDocumentRequest(document_id=disguised.id), metadata=me)
    refused(
        lambda: reg.stub.ReadDocument(pb.ReadDocumentRequest(document_id=disguised.id), metadata=me),
        grpc.StatusCode.NOT_FOUND,
    )
    reg.stub.UploadDocument(upload, metadata=me)
    reg.stub.SubmitDocuments(pb.SubmitDocumentsRequest(), metadata=me)
    approved = reg.stub.DecideReview(
        pb.DecideReviewRequest(candidate_no=ME, approve=True, bonus_points="6"), metadata=reviewer
    )
    assert approved.qualification.label == "审核通过" and approved.status == "completed"
    assert approved.qualification.bonus_points == 6
    refused(
        lambda: reg.stub.DecideReview(pb.DecideReviewRequest(candidate_no=ME, approve=True), metadata=reviewer),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REVIEW_NOT_PENDING",
    )
    with reg.db.unit_of_work() as session:
        actions = session.scalars(select(AuditRow.action).where(AuditRow.subject == ME).order_by(AuditRow.id)).all()
    assert actions == ["review_rejected", "review_approved"]
    names = [n for k, n, _ in reg.events() if k == ME]
    assert names[-4:] == [
        "RegistrationStaffAction",
        "QualificationRejected",
        "RegistrationStaffAction",
        "QualificationApproved",
    ]
    # The objects live in the private bucket under the candidate's prefix; a deleted one is gone.
    keys = reg.runtime.ctx.object_store("documents").list(f"{ME}/")
    assert any(pdf.id in k for k in keys) and not any(disguised.id in k for k in keys)


def test_reference_data_is_served_and_replaced_by_the_province(reg: Reg) -> None:
    reg.candidate()
    seed = reg.stub.GetReferenceData(pb.GetReferenceDataRequest(), metadata=reg.md())
    assert seed.version == 0 and json.loads(seed.data_json)["cities"][0] == {"code": "01", "name": "太原市"}
    changed = json.loads(json.dumps(SEED_DICT))
    changed["points"].append({"code": "0199", "name": "太原旅游职业学院", "city_code": "01"})
    refused(
        lambda: reg.stub.ReplaceReferenceData(
            pb.ReplaceReferenceDataRequest(data_json=json.dumps(changed)), metadata=reg.staff("city", "01")
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    broken = json.loads(json.dumps(changed))
    broken["points"].append({"code": "9901", "name": "不存在的城市", "city_code": "99"})
    err = refused(
        lambda: reg.stub.ReplaceReferenceData(
            pb.ReplaceReferenceDataRequest(data_json=json.dumps(broken)), metadata=reg.staff("province")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_REFERENCE",
    )
    assert "9901" in err.details()
    refused(
        lambda: reg.stub.ReplaceReferenceData(
            pb.ReplaceReferenceDataRequest(data_json="[1"), metadata=reg.staff("province")
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    new = reg.stub.ReplaceReferenceData(
        pb.ReplaceReferenceDataRequest(data_json=json.dumps(changed)), metadata=reg.staff("province", name="sheng")
    )
    assert new.version == 1 and new.updated_by == "sheng"
    reg.read_notices()
    assert reg.save(form(point_code="0199")).saved
    # The form is checked against the current lists: a removed point is refused.
    changed["points"] = [p for p in changed["points"] if p["code"] != "0102"]
    reg.stub.ReplaceReferenceData(
        pb.ReplaceReferenceDataRequest(data_json=json.dumps(changed)), metadata=reg.staff("province")
    )
    wrong = reg.save(form(point_code="0102"))
    assert [e.field for e in wrong.errors] == ["point_code"]
    assert ("reference", "ReferenceDataReplaced") in [(k, n) for k, n, _ in reg.events()]


def test_abandoning_ends_the_registration_and_tells_payment(reg: Reg, token_keys: dict[str, str]) -> None:
    reg.candidate()
    reg.confirmed(form())
    with reg.db.unit_of_work() as session:
        record(session, ME, lambda r: r.record_payment_succeeded(r.confirmed_at))
    me = reg.md()
    signer = TokenSigner(token_keys["access_token_signing_key"])
    for proof in ("", "forged", signer.sign_action("21145101130099", "abandon"), signer.sign_action(ME, "other")):
        refused(
            lambda p=proof: reg.stub.AbandonRegistration(pb.AbandonRegistrationRequest(action_proof=p), metadata=me),
            grpc.StatusCode.PERMISSION_DENIED,
            "ACTION_NOT_CONFIRMED",
        )
    expired = signer.sign_action(ME, "abandon", now=time.time() - 600)
    refused(
        lambda: reg.stub.AbandonRegistration(pb.AbandonRegistrationRequest(action_proof=expired), metadata=me),
        grpc.StatusCode.PERMISSION_DENIED,
        "ACTION_NOT_CONFIRMED",
    )
    proof = signer.sign_action(ME, "abandon")
    done = reg.stub.AbandonRegistration(pb.AbandonRegistrationRequest(action_proof=proof), metadata=me)
    assert done.status == "abandoned" and done.abandoned_at > 0
    refused(
        lambda: reg.stub.AbandonRegistration(pb.AbandonRegistrationRequest(action_proof=proof), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ABANDONED",
    )
    refused(
        lambda: reg.stub.ShowNotice(pb.ShowNoticeRequest(notice="instructions"), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ABANDONED",
    )
    abandoned = [e for k, n, e in reg.events() if n == "RegistrationAbandoned"]
    assert len(abandoned) == 1 and abandoned[0].payment_made and abandoned[0].point_code == "0113"
    with reg.db.unit_of_work() as session:
        assert session.get(Candidate, ME).status == "abandoned"


def test_callers_without_a_token_or_of_another_candidate(reg: Reg) -> None:
    reg.candidate(ME)
    refused(lambda: reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest()), grpc.StatusCode.UNAUTHENTICATED)
    refused(
        lambda: reg.stub.GetCandidate(pb.GetCandidateRequest(candidate_no=ME), metadata=reg.md(OTHER)),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    # A candidate whose account event has not arrived yet is told to wait.
    refused(
        lambda: reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=reg.md(OTHER)),
        grpc.StatusCode.NOT_FOUND,
        "NO_REGISTRATION",
    )
    refused(
        lambda: reg.stub.GetMyRegistration(pb.GetMyRegistrationRequest(), metadata=reg.staff("province")),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert form_from_pb(pb.BasicInfo())["resume"] == []
