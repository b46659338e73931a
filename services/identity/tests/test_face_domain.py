"""Rules of face verification (pure): which face is compared, which images must be retaken, verdicts."""

from __future__ import annotations

import pytest

from services.identity.domain.face import (
    DetectedFace,
    FacePolicy,
    FaceProblem,
    FaceVerification,
    ImageRole,
    Outcome,
    check_quality,
    decide,
    select_face,
)
from zsb.common.errors import InvalidArgument

POLICY = FacePolicy()


def face(width: float, confidence: float = 0.99, x: float = 0.0) -> DetectedFace:
    return DetectedFace(x=x, y=0.0, width=width, height=width * 1.3, confidence=confidence)


def test_no_detection_or_only_unsure_ones_is_no_face() -> None:
    assert select_face([], ImageRole.PORTRAIT, POLICY) is FaceProblem.NO_FACE
    assert select_face([face(300, confidence=0.85)], ImageRole.ID_CARD, POLICY) is FaceProblem.NO_FACE


def test_portrait_with_two_comparable_faces_is_rejected() -> None:
    faces = [face(300), face(200, x=400)]
    assert select_face(faces, ImageRole.PORTRAIT, POLICY) is FaceProblem.MULTIPLE_FACES


def test_portrait_ignores_tiny_and_unsure_extra_detections() -> None:
    main = face(300)
    faces = [face(60, x=500), main, face(280, confidence=0.5, x=900)]
    assert select_face(faces, ImageRole.PORTRAIT, POLICY) == main


def test_id_card_takes_the_largest_face_whatever_else_is_printed() -> None:
    large = face(240, x=700)
    assert select_face([face(150), large, face(90, x=300)], ImageRole.ID_CARD, POLICY) == large


def test_face_below_minimum_width_is_too_small() -> None:
    assert select_face([face(POLICY.min_face_px - 1)], ImageRole.PORTRAIT, POLICY) is FaceProblem.FACE_TOO_SMALL
    assert isinstance(select_face([face(POLICY.min_face_px)], ImageRole.PORTRAIT, POLICY), DetectedFace)


def test_blur_is_checked_on_both_images_and_head_turn_on_the_portrait_only() -> None:
    sharp = POLICY.min_sharpness + 1
    assert check_quality(POLICY.min_sharpness - 1, 0.0, ImageRole.ID_CARD, POLICY) is FaceProblem.TOO_BLURRED
    assert check_quality(sharp, -(POLICY.max_yaw + 0.05), ImageRole.PORTRAIT, POLICY) is FaceProblem.NOT_FRONTAL
    assert check_quality(sharp, POLICY.max_yaw + 0.05, ImageRole.ID_CARD, POLICY) is None
    assert check_quality(sharp, POLICY.max_yaw, ImageRole.PORTRAIT, POLICY) is None


def test_threshold_is_inclusive_and_configurable() -> None:
    assert decide(POLICY.distance_threshold, POLICY) is Outcome.PASSED
    assert decide(POLICY.distance_threshold + 1e-6, POLICY) is Outcome.FAILED
    assert decide(0.58, FacePolicy(distance_threshold=0.6)) is Outcome.PASSED


@pytest.mark.parametrize(
    "kwargs", [{"distance_threshold": 0}, {"min_confidence": 1.5}, {"min_face_px": 0}, {"max_yaw": 0}]
)
def test_nonsense_policy_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument):
        FacePolicy(**kwargs)  # type: ignore[arg-type]


def test_messages_name_the_image_and_the_rule() -> None:
    fixable = FaceVerification(
        Outcome.FIXABLE, 0.55, problem=FaceProblem.MULTIPLE_FACES, problem_role=ImageRole.PORTRAIT
    )
    assert fixable.message.startswith("证件照") and "多张人脸" in fixable.message
    assert FaceProblem.NO_FACE.message(ImageRole.ID_CARD).startswith("身份证人像面")
    assert "人工审核" in FaceVerification(Outcome.FAILED, 0.55, distance=0.9).message
    assert len({p.message(ImageRole.PORTRAIT) for p in FaceProblem}) == len(FaceProblem)
