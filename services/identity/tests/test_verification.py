"""The service with the real face engine (MTCNN + Dlib) on the labelled photos in ../shared/faces.

One engine serves every test of the session (`engine` fixture); the verification runs on the
service's own worker thread, as in production, and the test polls like the page does.
"""

from __future__ import annotations

import time

import grpc
import pytest

from services.identity.tests.harness import CANDIDATE, OTHER, Harness
from services.identity.tests.support import card_back, face_photo, no_face
from zsb.events.v1 import identity_events_pb2 as ev
from zsb.identity.v1 import identity_pb2 as pb


def wait_for_result(h: Harness, number: str) -> pb.IdentityView:
    deadline = time.monotonic() + 120
    view = h.view(number)
    while view.status == "verifying" and time.monotonic() < deadline:
        time.sleep(0.1)
        view = h.view(number)
    return view


def submit(h: Harness, number: str, portrait: str, card: str) -> pb.IdentityView:
    h.confirm(number)
    h.consent(number)
    h.upload("portrait", face_photo(portrait), number, filename=portrait)
    h.upload("id_card", face_photo(card), number, filename=card)
    h.upload("id_card_back", card_back(), number)
    return h.start(number)


@pytest.fixture(params=["sqlite+directory", "mariadb+minio"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    """The embedded defaults, or the production parts (set up before the service, torn down after it)."""
    if request.param == "sqlite+directory":
        return {}
    return {
        "database_url": request.getfixturevalue("mariadb_url"),
        "object_store_url": request.getfixturevalue("minio_url"),
    }


def test_same_person_passes_and_different_people_go_to_manual_review(
    backend: dict[str, str], harness_factory, engine
) -> None:
    h = harness_factory(engine, worker_enabled=True, worker_poll_seconds=0.05, **backend)
    assert submit(h, CANDIDATE, "img8.jpg", "img9.jpg").status == "verifying"
    assert submit(h, OTHER, "img13.jpg", "img18.jpg").status == "verifying"

    same = wait_for_result(h, CANDIDATE)
    assert (same.status, same.message, same.current.outcome) == ("passed", "身份认证通过", "passed")
    assert same.current.distance <= same.current.threshold == pytest.approx(0.55)
    (verified,) = h.events(CANDIDATE)
    assert isinstance(verified, ev.IdentityVerified) and verified.distance == pytest.approx(same.current.distance)

    different = wait_for_result(h, OTHER)
    assert (different.status, different.review_reason) == ("manual_review", "faces_differ")
    assert different.message == "身份认证失败：证件照与身份证照片不一致，已转人工审核"
    assert "审核人员将核对" in different.next_step
    assert different.current.distance > 0.55
    (failed,) = h.events(OTHER)
    assert isinstance(failed, ev.IdentityVerificationFailed) and failed.verification_id == different.current.id

    # The reviewer of the candidate's point sees the case with its score and the three photos.
    reviewer = h.staff("point", point=OTHER[6:10])
    queue = h.call("ListReviews", pb.ListReviewsRequest(), reviewer)
    assert [r.candidate_no for r in queue.rows] == [OTHER] and queue.rows[0].distance == pytest.approx(
        different.current.distance
    )
    case = h.call("GetCase", pb.GetCaseRequest(candidate_no=OTHER), reviewer)
    assert [p.kind_label for p in case.photos] == ["证件照", "身份证人像面", "身份证国徽面"]
    assert case.verifications[0].has_distance and case.verifications[0].outcome == "failed"
    for photo in case.photos:
        assert h.read(photo.id, reviewer)[:2] == b"\xff\xd8"
    h.call("DecideReview", pb.DecideReviewRequest(candidate_no=OTHER, approve=False, reason="非本人照片"), reviewer)
    assert isinstance(h.events(OTHER)[-1], ev.IdentityManuallyRejected)


def test_a_couple_or_no_face_is_refused_at_upload_with_the_rule(harness_factory, engine) -> None:
    h = harness_factory(engine)
    h.confirm()
    h.consent()

    def refused(kind: str, data: bytes) -> tuple[str, str]:
        code, reason, message = h.refused("UploadPhoto", pb.UploadPhotoRequest(kind=kind, data=data), h.candidate())
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        return reason, message

    assert refused("portrait", face_photo("couple.jpg")) == (
        "PHOTO_MULTIPLE_FACES",
        "证件照中检测到多张人脸，请上传仅含本人的单人照片",
    )
    assert refused("portrait", no_face()) == ("PHOTO_NO_FACE", "证件照中未检测到人脸，请重新上传清晰、完整的人像照片")
    reason, message = refused("id_card", no_face())
    assert reason == "PHOTO_NO_FACE" and message.startswith("身份证人像面")
    assert h.objects() == [] and not h.view().photos
    # The same photos are fine where they belong.
    assert h.upload("portrait", face_photo("img8.jpg")).photo.kind == "portrait"
    assert h.upload("id_card", face_photo("couple.jpg")).photo.kind == "id_card"  # the largest face is compared
