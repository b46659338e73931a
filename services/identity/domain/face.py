"""Face-verification rules: which face is compared, when an image must be retaken, and the verdict.

Pure: the adapter (`services.identity.face`) measures faces with the models and this module
decides. Sizes are in pixels of the uploaded image, so the rules do not depend on how far the
adapter downscales an image before detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from zsb.common.errors import InvalidArgument


class ImageRole(StrEnum):
    PORTRAIT = "portrait"  # 证件照
    ID_CARD = "id_card"  # 身份证人像面

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {ImageRole.PORTRAIT: "证件照", ImageRole.ID_CARD: "身份证人像面"}


class Outcome(StrEnum):
    PASSED = "passed"  # same person: the step turns green
    FAILED = "failed"  # different people (or not sure enough): manual review
    FIXABLE = "fixable"  # an image the candidate must upload again, with the reason


class FaceProblem(StrEnum):
    """Why an image cannot be compared; each one is something the candidate can fix."""

    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    TOO_BLURRED = "too_blurred"
    NOT_FRONTAL = "not_frontal"

    def message(self, role: ImageRole) -> str:
        """The sentence the candidate reads (Chinese), naming the image."""
        return f"{role.label}{_PROBLEM_MESSAGES[self]}"


_PROBLEM_MESSAGES = {
    FaceProblem.NO_FACE: "中未检测到人脸，请重新上传清晰、完整的人像照片",
    FaceProblem.MULTIPLE_FACES: "中检测到多张人脸，请上传仅含本人的单人照片",
    FaceProblem.FACE_TOO_SMALL: "中的人脸过小，请上传分辨率更高或人脸更大的照片",
    FaceProblem.TOO_BLURRED: "中的人脸不清晰，请在光线充足处对焦后重新拍摄",
    FaceProblem.NOT_FRONTAL: "中的人脸不是正面，请正对镜头重新拍摄",
}


@dataclass(frozen=True)
class DetectedFace:
    """One detection: box in pixels of the original image and the detector's confidence (0..1)."""

    x: float
    y: float
    width: float
    height: float
    confidence: float

    @property
    def area(self) -> float:
        return self.width * self.height


@dataclass(frozen=True)
class FacePolicy:
    """Thresholds of the rules; the defaults and the reasons for them are in docs/face-verification.md."""

    # Euclidean distance between Dlib embeddings at or below which two faces are the same person.
    # dlib's own operating point is 0.6 (LFW); lower here because a false accept is worse than a
    # false reject (a rejected candidate goes to manual review).
    distance_threshold: float = 0.55
    # Detections below this confidence are not faces (MTCNN reports texture with low scores).
    min_confidence: float = 0.90
    # On the portrait, another face counts ("more than one face") when it is at least this
    # fraction of the largest face's width: a smaller one is background or a detector artefact.
    other_face_min_ratio: float = 0.25
    # Minimum face width in pixels of the uploaded image; the Dlib model sees a 150 px chip.
    min_face_px: int = 80
    # Minimum variance of the Laplacian of the 150 px aligned face chip (grey levels squared).
    min_sharpness: float = 30.0
    # Maximum head turn on the portrait: horizontal offset of the nose from the middle of the
    # eyes, in units of the distance between the eyes (0 = frontal).
    max_yaw: float = 0.30

    def __post_init__(self) -> None:
        if not 0 < self.distance_threshold < 2:
            raise InvalidArgument("人脸比对阈值应在 0 与 2 之间", field="distance_threshold")
        if not 0 <= self.min_confidence <= 1 or not 0 < self.other_face_min_ratio <= 1:
            raise InvalidArgument("人脸检测置信度参数应在 0 与 1 之间", field="min_confidence")
        if self.min_face_px < 1 or self.min_sharpness < 0 or self.max_yaw <= 0:
            raise InvalidArgument("人脸质量参数不正确", field="min_face_px")


def select_face(faces: list[DetectedFace], role: ImageRole, policy: FacePolicy) -> DetectedFace | FaceProblem:
    """The face to compare, or why there is none.

    The portrait must show one person. The ID card side may carry other printed elements
    (and small ghost images), so its largest face is taken.
    """
    confident = sorted((f for f in faces if f.confidence >= policy.min_confidence), key=lambda f: f.area, reverse=True)
    if not confident:
        return FaceProblem.NO_FACE
    largest = confident[0]
    if role is ImageRole.PORTRAIT:
        others = [f for f in confident[1:] if f.width >= policy.other_face_min_ratio * largest.width]
        if others:
            return FaceProblem.MULTIPLE_FACES
    if largest.width < policy.min_face_px:
        return FaceProblem.FACE_TOO_SMALL
    return largest


def check_quality(sharpness: float, yaw: float, role: ImageRole, policy: FacePolicy) -> FaceProblem | None:
    """Quality of the aligned face: blur on both images, head turn on the portrait only.

    The ID card is photographed at an angle more often than not, which skews the landmarks
    without the face being turned, and its portrait is frontal by law.
    """
    if sharpness < policy.min_sharpness:
        return FaceProblem.TOO_BLURRED
    if role is ImageRole.PORTRAIT and abs(yaw) > policy.max_yaw:
        return FaceProblem.NOT_FRONTAL
    return None


@dataclass(frozen=True)
class FaceVerification:
    """Result of comparing the portrait with the ID card."""

    outcome: Outcome
    threshold: float
    distance: float | None = None
    problem: FaceProblem | None = None
    problem_role: ImageRole | None = None
    # Seconds per stage (decode, detect, align, embed), for metrics and the benchmark.
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def message(self) -> str:
        """What the candidate reads."""
        if self.outcome is Outcome.PASSED:
            return "身份认证通过"
        if self.outcome is Outcome.FAILED:
            return "身份认证失败：证件照与身份证照片不一致，已转人工审核，请留意审核结果"
        assert self.problem is not None and self.problem_role is not None
        return self.problem.message(self.problem_role)


def decide(distance: float, policy: FacePolicy) -> Outcome:
    """Same person when the distance is at or below the threshold."""
    return Outcome.PASSED if distance <= policy.distance_threshold else Outcome.FAILED
