"""The face engine: MTCNN detection and Dlib embeddings through deepface, models loaded once.

Per image: decode, downscale for detection (detection cost grows with pixels, the embedding's
does not), detect with MTCNN, map the box back to the full-size image, align with dlib's
5-point landmarks (the alignment the Dlib model was trained with; deepface's eye-line rotation
leaves much less margin between same and different people, see docs/face-verification.md), then
embed both faces in one batch and compare with deepface's euclidean distance.

Thread-safe: the detector and the recogniser each have a lock, so two threads overlap one's
detection with the other's embedding. Throughput beyond that comes from more worker processes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

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
from services.identity.face.images import FaceImage, RGBImage, downscale, sharpness, to_rgb
from services.identity.face.settings import FaceSettings
from services.identity.face.weights import LANDMARK_WEIGHTS, install_weights, packaged_weight

CHIP_SIZE = 150  # input size of the Dlib model
CHIP_PADDING = 0.25  # dlib's own padding for face_recognition_model_v1


@dataclass
class FaceInspection:
    """One image looked at: the chosen face and its aligned chip, or the problem to fix."""

    role: ImageRole
    problem: FaceProblem | None = None
    faces: list[DetectedFace] = field(default_factory=list)  # every detection, confident or not
    face: DetectedFace | None = None
    chip: RGBImage | None = None
    sharpness: float = 0.0
    yaw: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ and Python logs to errors (set before TensorFlow is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


class FaceEngine:
    """Loads the models on construction (seconds); `verify` and `inspect` then reuse them."""

    def __init__(self, settings: FaceSettings | None = None) -> None:
        started = perf_counter()
        self.settings = settings or FaceSettings()
        self.policy: FacePolicy = self.settings.policy()
        # deepface reads DEEPFACE_HOME when imported and when it looks for weights.
        install_weights(self.settings.deepface_home)
        os.environ["DEEPFACE_HOME"] = str(self.settings.deepface_home)
        _quiet_tensorflow()
        import dlib
        from deepface import DeepFace
        from deepface.modules.verification import find_distance

        self._find_distance = find_distance
        self._dlib = dlib
        imported = perf_counter()
        self._detector: Any = DeepFace.build_model(model_name="mtcnn", task="face_detector")
        self._recognizer: Any = DeepFace.build_model(model_name="Dlib")
        self._landmarks = dlib.shape_predictor(str(packaged_weight(LANDMARK_WEIGHTS)))
        self._detect_lock = threading.Lock()
        self._embed_lock = threading.Lock()
        built = perf_counter()
        self._warm_up()
        done = perf_counter()
        # Seconds: importing TensorFlow and deepface (once per process), building the models, first calls.
        self.load_timings = {"import": imported - started, "models": built - imported, "warm_up": done - built}
        self.load_seconds = done - started

    def _warm_up(self) -> None:
        """Run each model once: TensorFlow sets up its kernels on the first call."""
        blank = np.full((CHIP_SIZE * 2, CHIP_SIZE * 2, 3), 128, dtype=np.uint8)
        self._detect(blank, CHIP_SIZE * 2)
        self._embed([blank[:CHIP_SIZE, :CHIP_SIZE]])

    # -- public use cases -------------------------------------------------------------------

    def verify(self, portrait: FaceImage, id_card: FaceImage) -> FaceVerification:
        """Compare the face on the portrait with the largest face on the ID card side."""
        threshold = self.policy.distance_threshold
        first = self.inspect(portrait, ImageRole.PORTRAIT)
        timings = dict(first.timings)
        if first.problem is not None:
            return FaceVerification(Outcome.FIXABLE, threshold, None, first.problem, first.role, timings)
        second = self.inspect(id_card, ImageRole.ID_CARD)
        for stage, seconds in second.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        if second.problem is not None:
            return FaceVerification(Outcome.FIXABLE, threshold, None, second.problem, second.role, timings)
        assert first.chip is not None and second.chip is not None
        started = perf_counter()
        portrait_vector, card_vector = self._embed([first.chip, second.chip])
        timings["embed"] = perf_counter() - started
        distance = float(self._find_distance(portrait_vector, card_vector, "euclidean"))
        return FaceVerification(decide(distance, self.policy), threshold, distance, timings=timings)

    def inspect(self, image: FaceImage, role: ImageRole) -> FaceInspection:
        """Find and check the face of one image (also usable alone, e.g. right after an upload)."""
        started = perf_counter()
        rgb = to_rgb(image)
        result = FaceInspection(role)
        result.timings["decode"] = perf_counter() - started

        started = perf_counter()
        faces = self._detect(rgb, self.settings.detect_max_side)
        if not self._confident(faces) and max(rgb.shape[:2]) > self.settings.detect_max_side:
            # A face too small to be found at the downscaled size may still be large enough in
            # the original: look again, larger (the uncommon case pays for it).
            faces = self._detect(rgb, max(self.settings.fallback_max_side, self.settings.detect_max_side))
        result.timings["detect"] = perf_counter() - started
        result.faces = faces

        chosen = select_face(faces, role, self.policy)
        if isinstance(chosen, FaceProblem):
            result.problem = chosen
            return result
        started = perf_counter()
        result.face = chosen
        result.chip, result.yaw = self._align(rgb, chosen)
        result.sharpness = sharpness(result.chip)
        result.problem = check_quality(result.sharpness, result.yaw, role, self.policy)
        result.timings["align"] = perf_counter() - started
        return result

    # -- model steps -----------------------------------------------------------------------

    def _confident(self, faces: list[DetectedFace]) -> bool:
        return any(face.confidence >= self.policy.min_confidence for face in faces)

    def _detect(self, rgb: RGBImage, max_side: int) -> list[DetectedFace]:
        small, scale = downscale(rgb, max_side)
        with self._detect_lock:
            # deepface detectors take OpenCV's BGR order.
            regions = self._detector.detect_faces(small[:, :, ::-1])
        return [
            DetectedFace(
                x=r.x / scale, y=r.y / scale, width=r.w / scale, height=r.h / scale, confidence=float(r.confidence)
            )
            for r in regions
        ]

    def _align(self, rgb: RGBImage, face: DetectedFace) -> tuple[RGBImage, float]:
        """dlib's 5-point alignment into a 150 px chip, and the head-turn measure (see FacePolicy.max_yaw)."""
        box = self._dlib.rectangle(
            round(face.x), round(face.y), round(face.x + face.width), round(face.y + face.height)
        )
        shape = self._landmarks(rgb, box)
        chip = np.asarray(self._dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        # 5-point model: 0-1 and 2-3 are the corners of each eye, 4 the base of the nose.
        eye_a, eye_b, nose = points[0:2].mean(axis=0), points[2:4].mean(axis=0), points[4]
        eye_distance = float(np.linalg.norm(eye_b - eye_a)) or 1.0
        along_eyes = (eye_b - eye_a) / eye_distance
        yaw = float(np.dot(nose - (eye_a + eye_b) / 2, along_eyes) / eye_distance)
        return chip, yaw

    def _embed(self, chips: list[RGBImage]) -> list[NDArray[np.float64]]:
        batch = np.stack([chip[:, :, ::-1] for chip in chips])  # deepface's Dlib client takes BGR
        with self._embed_lock:
            vectors = self._recognizer.forward(batch)
        if len(chips) == 1:
            vectors = [vectors]
        return [np.asarray(v, dtype=np.float64) for v in vectors]
