"""The identity service over gRPC, with a scripted engine: consent, uploads, access, the queue, retention.

The real model runs in `test_verification.py`; here the engine only answers what a test scripts,
so that these tests are about the service's own rules and run in a second or two each.
"""

from __future__ import annotations

import io
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from services.identity.domain.face import FaceProblem, ImageRole
from services.identity.tests.harness import CANDIDATE, OTHER, Harness
from services.identity.tests.support import Clock, ScriptedEngine, bomb_png, card_back, jpeg, plain_photo, png
from zsb.common.clock import unix
from zsb.events.v1 import identity_events_pb2 as ev
from zsb.identity.v1 import identity_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
REFUSED = grpc.StatusCode.FAILED_PRECONDITION


def ready(h: Harness, number: str = CANDIDATE) -> None:
    """Confirmed, consented, and the three photos uploaded."""
    h.confirm(number)
    h.consent(number)
    for kind in ("portrait", "id_card", "id_card_back"):
        h.upload(kind, plain_photo(), number)


def test_nothing_before_registration_is_confirmed_or_after_it_is_abandoned(harness: Harness) -> None:
    view = harness.view()
    assert not view.eligible and "信息确认" in view.ineligible_message and not view.can_upload
    code, reason, _ = harness.refused(
        "GiveConsent", pb.GiveConsentRequest(version=view.consent.version), harness.candidate()
    )
    assert (code, reason) == (REFUSED, "NOT_CONFIRMED")
    harness.confirm()
    assert harness.view().eligible
    harness.abandon()
    view = harness.view()
    assert not view.eligible and "放弃报名" in view.ineligible_message
    code, reason, _ = harness.refused(
        "GiveConsent", pb.GiveConsentRequest(version=view.consent.version), harness.candidate()
    )
    assert reason == "ABANDONED"


def test_consent_is_asked_before_the_first_upload_and_recorded_with_its_time(harness: Harness) -> None:
    harness.confirm()
    view = harness.view()
    assert not view.consent_given and view.consent.retention_days == 180
    headings = [s.heading for s in view.consent.sections]
    assert {"采集哪些信息", "为什么采集", "保存多久"} <= set(headings)
    assert "180天" in next(s.text for s in view.consent.sections if s.heading == "保存多久")
    code, reason, message = harness.refused(
        "UploadPhoto", pb.UploadPhotoRequest(kind="id_card_back", data=card_back()), harness.candidate()
    )
    assert (code, reason) == (REFUSED, "CONSENT_REQUIRED") and "同意" in message
    code, reason, _ = harness.refused("GiveConsent", pb.GiveConsentRequest(version="0.9"), harness.candidate())
    assert reason == "CONSENT_OUTDATED"
    given = harness.consent()
    assert given.consent_given and given.consent_at == unix(harness.clock()) and given.can_upload
    assert harness.upload("id_card_back", card_back()).photo.kind_label == "身份证国徽面"
    assert harness.objects(), "nothing stored before consent, the photo after"


def test_uploads_are_checked_by_content_and_stored_re_encoded(harness_factory) -> None:
    engine = ScriptedEngine()
    h = harness_factory(engine, photo_max_bytes=300_000)
    h.confirm()
    h.consent()

    def refused(data: bytes, kind: str = "id_card_back", filename: str = "a.jpg") -> tuple[str, str]:
        code, reason, message = h.refused(
            "UploadPhoto",
            pb.UploadPhotoRequest(kind=kind, filename=filename, declared_type="image/jpeg", data=data),
            h.candidate(),
        )
        assert code == INVALID
        return reason, message

    # Lies about the type: a script named .jpg, a PDF.
    assert refused(b"#!/bin/sh\necho not a photo\n")[0] == "FILE_TYPE"
    assert refused(b"%PDF-1.4\n%%EOF\n", filename="id.pdf") == ("FILE_TYPE", "文件类型不符，只能上传JPG、PNG文件")
    # Too large in bytes, a decompression bomb announced by its header, a truncated JPEG.
    assert refused(b"\xff\xd8\xff" + bytes(400_000))[0] == "FILE_TOO_LARGE"
    bomb = bomb_png(20_000, 20_000)  # 400 megapixels in a few kB
    assert len(bomb) < 100_000
    reason, message = refused(bomb)
    assert reason == "IMAGE_TOO_LARGE" and "20000×20000" in message
    assert refused(card_back()[:2000])[0] == "FILE_CORRUPT"
    assert refused(jpeg(Image.new("RGB", (160, 120), "gray")))[0] == "IMAGE_TOO_SMALL"
    assert refused(b"GIF89a" + bytes(100))[0] == "FILE_TYPE"
    assert h.objects() == [] and engine.calls == [], "refused before the engine and before storage"

    # A PNG named .jpg is taken as a PNG; EXIF orientation is applied and the metadata dropped.
    disguised = h.upload("id_card_back", png(Image.new("RGB", (640, 400), "teal")), filename="国徽面.jpg")
    assert disguised.photo.content_type == "image/png" and "与文件内容（PNG）不符" in disguised.photo.mismatch
    sideways = Image.new("RGB", (600, 400), "white")
    sideways.paste((200, 0, 0), (0, 0, 300, 400))  # left half red before turning
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    exif[0x010F] = "PhoneMaker"
    upload = h.upload("portrait", jpeg(sideways, exif=exif.tobytes()))
    assert (upload.photo.width, upload.photo.height) == (400, 600)
    stored = h.read(upload.photo.id, h.candidate())
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (400, 600) and not image.getexif()
        assert image.convert("RGB").getpixel((200, 20))[0] > 150  # the red half is on top now
    assert engine.calls == ["inspect:portrait"]


def test_the_photo_rules_are_checked_at_upload_and_name_the_failed_rule(harness_factory) -> None:
    engine = ScriptedEngine(inspections=[FaceProblem.MULTIPLE_FACES, FaceProblem.NO_FACE])
    h = harness_factory(engine)
    h.confirm()
    h.consent()
    code, reason, message = h.refused(
        "UploadPhoto", pb.UploadPhotoRequest(kind="portrait", data=plain_photo()), h.candidate()
    )
    assert (code, reason) == (
        INVALID,
        "PHOTO_MULTIPLE_FACES",
    ) and message == "证件照中检测到多张人脸，请上传仅含本人的单人照片"
    code, reason, message = h.refused(
        "UploadPhoto", pb.UploadPhotoRequest(kind="id_card", data=plain_photo()), h.candidate()
    )
    assert reason == "PHOTO_NO_FACE" and message.startswith("身份证人像面")
    assert h.objects() == [] and not h.view().photos
    h.upload("id_card_back", card_back())
    assert engine.calls == ["inspect:portrait", "inspect:id_card"], "the 国徽面 carries no face to check"


def test_a_replaced_photo_leaves_no_copy_behind(harness: Harness) -> None:
    harness.confirm()
    harness.consent()
    first = harness.upload("portrait", plain_photo(color="#806050")).photo
    second = harness.upload("portrait", plain_photo(color="#605080")).photo
    assert [p.id for p in harness.view().photos] == [second.id]
    assert len(harness.objects()) == 1 and second.id in harness.objects()[0]
    code, _reason, _ = harness.refused("ReadPhoto", pb.ReadPhotoRequest(photo_id=first.id), harness.candidate())
    assert code == grpc.StatusCode.NOT_FOUND


def test_start_queues_a_verification_that_the_worker_runs(harness: Harness) -> None:
    ready(harness)
    view = harness.start()
    assert view.status == "verifying" and view.current.state == "queued" and view.current.queue_position == 0
    assert not view.can_upload and not view.can_start
    _, reason, _ = harness.refused("StartVerification", pb.StartVerificationRequest(), harness.candidate())
    assert reason == "VERIFYING"
    assert harness.app.worker.run_once() and not harness.app.worker.run_once()
    view = harness.view()
    assert (view.status, view.message, view.current.state, view.current.outcome) == (
        "passed",
        "身份认证通过",
        "done",
        "passed",
    )
    (event,) = harness.events()
    assert isinstance(event, ev.IdentityVerified) and event.verification_id == view.current.id
    assert event.distance == pytest.approx(0.30) and event.threshold == pytest.approx(0.55)
    _code, reason, _ = harness.refused(
        "UploadPhoto", pb.UploadPhotoRequest(kind="portrait", data=plain_photo()), harness.candidate()
    )
    assert reason == "ALREADY_VERIFIED"


def test_queue_position_counts_the_verifications_ahead(harness: Harness) -> None:
    ready(harness)
    ready(harness, OTHER)
    harness.start()
    harness.clock.advance(seconds=1)
    assert harness.start(OTHER).current.queue_position == 1
    harness.app.worker.run_once()
    assert harness.view(OTHER).current.queue_position == 0


def test_fixable_problems_count_against_the_retry_limit_then_a_reviewer_takes_over(harness_factory) -> None:
    blurred = (FaceProblem.TOO_BLURRED, ImageRole.ID_CARD)
    engine = ScriptedEngine(verdicts=[blurred, blurred])
    h = harness_factory(engine, max_automatic_attempts=2)
    ready(h)
    h.start()
    h.app.worker.run_once()
    view = h.view()
    assert (view.status, view.retake_kind, view.attempts, view.can_start) == ("retake", "id_card", 1, False)
    assert "身份证人像面中的人脸不清晰" in view.message and "还可自动认证1次" in view.next_step
    _code, reason, _ = h.refused("StartVerification", pb.StartVerificationRequest(), h.candidate())
    assert reason == "RETAKE_REQUIRED"
    h.upload("id_card", plain_photo())
    h.start()
    h.app.worker.run_once()
    view = h.view()
    assert (view.status, view.review_reason) == ("manual_review", "retries_exhausted")
    assert "2次上限" in view.message and not view.can_start and not view.can_upload
    (event,) = h.events()
    assert isinstance(event, ev.IdentityManualReviewRequested) and event.reason_kind == "retries_exhausted"
    assert event.verification_id == view.current.id


def test_manual_review_on_request_and_the_reviewers_decisions(harness: Harness) -> None:
    ready(harness)
    request = pb.RequestManualReviewRequest(reason="")
    assert harness.refused("RequestManualReview", request, harness.candidate())[1] == "REASON_REQUIRED"
    view = harness.call(
        "RequestManualReview",
        pb.RequestManualReviewRequest(reason="面部手术后与身份证照片差异较大"),
        harness.candidate(),
    )
    assert (view.status, view.review_reason, view.request_reason) == (
        "manual_review",
        "requested",
        "面部手术后与身份证照片差异较大",
    )
    requested = harness.events()[-1]
    assert isinstance(requested, ev.IdentityManualReviewRequested) and requested.reason_kind == "requested"
    assert "手术" not in str(requested), "the candidate's own words stay in the service"

    reviewer = harness.staff("city", city="01")
    queue = harness.call("ListReviews", pb.ListReviewsRequest(), reviewer)
    assert [r.candidate_no for r in queue.rows] == [CANDIDATE] and queue.rows[
        0
    ].review_reason_label == "考生申请人工审核"
    assert not queue.rows[0].has_distance
    case = harness.call("GetCase", pb.GetCaseRequest(candidate_no=CANDIDATE), reviewer)
    assert case.decidable and [p.kind for p in case.photos] == ["portrait", "id_card", "id_card_back"]
    no_reason = pb.DecideReviewRequest(candidate_no=CANDIDATE, approve=False, reason=" ")
    assert harness.refused("DecideReview", no_reason, reviewer)[1] == "REASON_REQUIRED"
    rejected = harness.call(
        "DecideReview", pb.DecideReviewRequest(candidate_no=CANDIDATE, reason="证件照背景不符合要求"), reviewer
    )
    assert (rejected.status, rejected.decided_by, rejected.decision_reason) == (
        "rejected",
        "reviewer1",
        "证件照背景不符合要求",
    )
    mine = harness.view()
    assert "证件照背景不符合要求" in mine.message and mine.can_start and mine.can_upload
    decision = harness.events()[-1]
    assert isinstance(decision, ev.IdentityManuallyRejected) and decision.reason == "证件照背景不符合要求"

    # The candidate asks again; this time the reviewer approves with the reason.
    harness.call("RequestManualReview", pb.RequestManualReviewRequest(reason="已更换证件照"), harness.candidate())
    approve = pb.DecideReviewRequest(candidate_no=CANDIDATE, approve=True, reason="已核对身份证原件")
    assert harness.call("DecideReview", approve, reviewer).status == "approved"
    assert harness.refused("DecideReview", approve, reviewer)[1] == "NOT_UNDER_REVIEW"
    approved = harness.events()[-1]
    assert isinstance(approved, ev.IdentityManuallyApproved) and approved.reviewer == "reviewer1"
    assert harness.view().status_label == "人工审核通过"
    audit = harness.call("ListAudit", pb.ListAuditRequest(subject=CANDIDATE), reviewer).entries
    assert [e.action for e in audit if e.action.startswith("identity_")] == ["identity_approved", "identity_rejected"]
    assert all(e.actor == "reviewer1" and e.actor_role == "city" for e in audit if e.action.startswith("identity_"))


def test_photos_are_shown_only_to_their_owner_and_to_staff_in_scope(harness: Harness) -> None:
    ready(harness)
    ready(harness, OTHER)
    harness.call("RequestManualReview", pb.RequestManualReviewRequest(reason="申请人工"), harness.candidate())
    photo = harness.view().photos[0]
    own = harness.read(photo.id, harness.candidate())
    assert own.startswith(b"\xff\xd8") and len(own) == photo.size
    # Another candidate: as if the photo did not exist.
    code, reason, _ = harness.refused("ReadPhoto", pb.ReadPhotoRequest(photo_id=photo.id), harness.candidate(OTHER))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_PHOTO")
    # Staff of another city or point: refused, and the case is not in their list.
    for outsider in (
        harness.staff("city", city="02"),
        harness.staff("point", point="0102"),
        harness.staff("reviewer", city="05"),
    ):
        assert harness.refused("ReadPhoto", pb.ReadPhotoRequest(photo_id=photo.id), outsider)[1] == "OUT_OF_SCOPE"
        assert harness.refused("GetCase", pb.GetCaseRequest(candidate_no=CANDIDATE), outsider)[1] == "OUT_OF_SCOPE"
        decide = pb.DecideReviewRequest(candidate_no=CANDIDATE, approve=True, reason="x")
        assert harness.refused("DecideReview", decide, outsider)[1] == "OUT_OF_SCOPE"
        assert harness.call("ListReviews", pb.ListReviewsRequest(status="all"), outsider).total == 0
        assert harness.call("ListAudit", pb.ListAuditRequest(), outsider).entries == []
    # Staff of the point, the city and the province: yes, and each view is audited.
    for insider in (harness.staff("point", point="0113"), harness.staff("city", city="01"), harness.staff("province")):
        assert harness.read(photo.id, insider).startswith(b"\xff\xd8")
    views = harness.call("ListAudit", pb.ListAuditRequest(action="photo_viewed"), harness.staff("province")).entries
    assert len(views) == 3 and {e.subject for e in views} == {CANDIDATE}
    # A candidate cannot use the staff methods, even on themself.
    assert (
        harness.refused("GetCase", pb.GetCaseRequest(candidate_no=CANDIDATE), harness.candidate())[1] == "ROLE_REQUIRED"
    )
    assert harness.refused("ListReviews", pb.ListReviewsRequest(), harness.candidate())[1] == "ROLE_REQUIRED"
    # No token at all.
    with pytest.raises(grpc.RpcError) as err:
        harness.stub.ReadPhoto(pb.ReadPhotoRequest(photo_id=photo.id), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_retention_job_deletes_expired_photos_and_spares_pending_cases(harness_factory) -> None:
    clock = Clock()
    h = harness_factory(ScriptedEngine(), clock=clock, photo_retention_days=30)
    ready(h)  # will pass
    ready(h, OTHER)  # will wait for a reviewer
    h.start()
    h.app.worker.run_once()
    h.call("RequestManualReview", pb.RequestManualReviewRequest(reason="申请人工"), h.candidate(OTHER))
    assert len(h.objects()) == 6
    assert h.app.retention.purge(clock.advance(days=30)) == 0  # not past 30 days yet
    assert h.app.retention.purge(clock.advance(days=1)) == 3  # the passed case's photos
    assert len(h.objects()) == 3 and all(k.startswith(OTHER) for k in h.objects())
    mine = h.view()
    assert mine.status == "passed" and all(p.deleted for p in mine.photos)
    code, reason, message = h.refused("ReadPhoto", pb.ReadPhotoRequest(photo_id=mine.photos[0].id), h.candidate())
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "PHOTO_DELETED") and "保存期限" in message
    assert h.app.retention.purge(clock.advance(days=400)) == 0, "a case under review keeps its photos"
    audit = h.call("ListAudit", pb.ListAuditRequest(action="photos_deleted"), h.staff("province")).entries
    assert len(audit) == 1 and audit[0].actor == "system" and "30天" in audit[0].detail
    # Once decided, the reviewed case's photos expire 30 days after the decision.
    decide = pb.DecideReviewRequest(candidate_no=OTHER, approve=False, reason="照片不清晰")
    h.call("DecideReview", decide, h.staff("province"))
    assert h.app.retention.purge(clock.advance(days=29)) == 0
    assert h.app.retention.purge(clock.advance(days=2)) == 3 and h.objects() == []
    # An open case whose photos expired needs new ones before 开始认证.
    code, reason, message = h.refused("StartVerification", pb.StartVerificationRequest(), h.candidate(OTHER))
    assert reason == "PHOTOS_MISSING" and "证件照" in message


def test_a_verification_survives_a_worker_that_died(harness_factory) -> None:
    clock = Clock()
    h = harness_factory(ScriptedEngine(), clock=clock, job_lease_seconds=60)
    ready(h)
    h.start()
    dead = h.app.worker
    claimed = dead.claim()  # claimed, then the process died before finishing
    assert claimed is not None and h.view().current.state == "running"
    from services.identity.service.worker import VerificationWorker

    successor = VerificationWorker(h.app.deps)
    assert successor.claim() is None, "the lease still holds"
    clock.advance(seconds=61)
    assert successor.run_once()
    view = h.view()
    assert view.status == "passed" and view.current.state == "done"
    dead.finish(claimed, h.engine.verify(b"", b""))  # the old worker wakes up: its result is dropped
    assert [type(e).__name__ for e in h.events()] == ["IdentityVerified"]


def test_a_verification_that_keeps_failing_goes_to_a_reviewer(harness_factory) -> None:
    clock = Clock()
    engine = ScriptedEngine(verdicts=[RuntimeError("model crashed")] * 2)
    h = harness_factory(engine, clock=clock, job_max_tries=2, job_retry_seconds=10)
    ready(h)
    h.start()
    assert h.app.worker.run_once()
    view = h.view()
    assert view.status == "verifying" and view.current.state == "queued"
    assert not h.app.worker.run_once(), "retried only after its delay"
    clock.advance(seconds=11)
    assert h.app.worker.run_once()
    view = h.view()
    assert (view.status, view.review_reason, view.current.state) == ("manual_review", "system_error", "error")
    assert "暂时无法完成" in view.message
    (event,) = h.events()
    assert isinstance(event, ev.IdentityManualReviewRequested) and event.reason_kind == "system_error"


def test_the_server_is_healthy_while_the_engine_loads_and_the_worker_runs_off_the_request_path(harness_factory) -> None:
    loaded = threading.Event()
    engine = ScriptedEngine(gate=threading.Event())  # a comparison lasts until the test opens the gate

    def slow_engine() -> ScriptedEngine:
        loaded.wait(30)  # TensorFlow loading, as far as the service can tell
        return engine

    h = harness_factory(
        engine, engine_factory=slow_engine, worker_enabled=True, engine_wait_seconds=0.2, worker_poll_seconds=0.05
    )
    with grpc.insecure_channel(f"127.0.0.1:{h.runtime.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING and not h.app.deps.engines.ready
    h.confirm()
    h.consent()
    h.upload("id_card_back", card_back())  # no face to check: no need to wait for the engine
    code, reason, message = h.refused(
        "UploadPhoto", pb.UploadPhotoRequest(kind="portrait", data=plain_photo()), h.candidate()
    )
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "ENGINE_LOADING") and "稍后" in message
    loaded.set()
    h.upload("portrait", plain_photo())
    h.upload("id_card", plain_photo())
    # 开始认证 answers while the comparison is still blocked in the engine: it only queued it.
    assert h.start().status == "verifying"
    deadline = time.monotonic() + 30
    while h.view().current.state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    view = h.view()
    assert view.current.state == "running" and view.status == "verifying"
    engine.gate.set()
    while h.view().status == "verifying" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.view().status == "passed"


def test_staff_lists_filter_by_status_and_reason(harness_factory) -> None:
    engine = ScriptedEngine(verdicts=["failed"])
    h = harness_factory(engine)
    ready(h)
    ready(h, OTHER)
    h.start()
    h.app.worker.run_once()
    h.clock.advance(minutes=5)
    h.call("RequestManualReview", pb.RequestManualReviewRequest(reason="申请人工"), h.candidate(OTHER))
    province = h.staff("province")
    queue = h.call("ListReviews", pb.ListReviewsRequest(), province)
    assert [r.candidate_no for r in queue.rows] == [CANDIDATE, OTHER], "oldest first"
    assert queue.rows[0].has_distance and queue.rows[0].distance == pytest.approx(0.91)
    assert queue.rows[0].review_reason_label == "人脸比对不一致"
    by_reason = h.call("ListReviews", pb.ListReviewsRequest(review_reason="requested"), province)
    assert [r.candidate_no for r in by_reason.rows] == [OTHER]
    h.call("DecideReview", pb.DecideReviewRequest(candidate_no=CANDIDATE, approve=True, reason="本人"), province)
    assert [r.candidate_no for r in h.call("ListReviews", pb.ListReviewsRequest(), province).rows] == [OTHER]
    assert h.call("ListReviews", pb.ListReviewsRequest(status="approved"), province).rows[0].candidate_no == CANDIDATE
    assert h.call("ListReviews", pb.ListReviewsRequest(status="all"), province).total == 2
    assert h.refused("ListReviews", pb.ListReviewsRequest(status="bogus"), province)[0] == INVALID


def test_replicas_claim_different_verifications_on_mariadb(harness_factory, mariadb_url: str) -> None:
    from sqlalchemy import select

    from services.identity.adapters import JobRow
    from services.identity.service.worker import VerificationWorker

    h = harness_factory(ScriptedEngine(), database_url=mariadb_url)
    ready(h)
    ready(h, OTHER)
    h.start()
    h.clock.advance(seconds=1)
    h.start(OTHER)
    first_job = h.view().current.id
    # Another replica is in the middle of claiming the oldest job: its row is locked.
    with h.runtime.ctx.db.unit_of_work() as session:
        session.scalars(select(JobRow).where(JobRow.id == first_job).with_for_update()).one()
        claimed = VerificationWorker(h.app.deps).claim()  # skips the locked row instead of waiting
        assert claimed is not None and claimed.candidate_no == OTHER
    assert h.view().current.state == "queued" and h.view(OTHER).current.state == "running"


def test_the_verified_portrait_is_given_to_the_forms_of_its_owner_and_staff_in_scope(harness: Harness) -> None:
    harness.confirm()
    harness.consent()
    big = png(Image.new("RGB", (1200, 1600), "#c08060"))  # a PNG upload comes back as a JPEG
    harness.upload("portrait", big, filename="me.png", declared="image/png")
    harness.upload("id_card", plain_photo())
    harness.upload("id_card_back", card_back())
    request = pb.GetPortraitRequest(candidate_no=CANDIDATE)
    code, reason, _ = harness.refused("GetPortrait", request, harness.candidate())
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_PORTRAIT"), "not before the identity is verified"
    harness.start()
    harness.app.worker.run_once()
    portrait = harness.call("GetPortrait", request, harness.candidate())
    assert portrait.jpeg[:2] == b"\xff\xd8" and (portrait.width, portrait.height) == (600, 800)
    assert harness.call("GetPortrait", request, harness.staff("point", point="0113")).jpeg == portrait.jpeg
    assert harness.refused("GetPortrait", request, harness.candidate(OTHER))[1] == "NOT_THIS_CANDIDATE"
    assert harness.refused("GetPortrait", request, harness.staff("city", city="02"))[1] == "OUT_OF_SCOPE"
    views = harness.call("ListAudit", pb.ListAuditRequest(action="photo_viewed"), harness.staff("province")).entries
    assert [e.detail for e in views] == ["证件照（表格）"]
