"""Settings of the face-verification engine, from IDENTITY_FACE_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.identity.domain.face import FacePolicy
from zsb.common.settings import VAR_DIR

_DEFAULT = FacePolicy()


class FaceSettings(BaseSettings):
    """Rule thresholds (see `FacePolicy`) and the engine's own knobs."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_FACE_", case_sensitive=False, extra="ignore")

    distance_threshold: float = _DEFAULT.distance_threshold
    min_confidence: float = _DEFAULT.min_confidence
    other_face_min_ratio: float = _DEFAULT.other_face_min_ratio
    min_face_px: int = _DEFAULT.min_face_px
    min_sharpness: float = _DEFAULT.min_sharpness
    max_yaw: float = _DEFAULT.max_yaw

    detect_max_side: int = Field(480, ge=160, description="longest side an image is downscaled to for detection")
    fallback_max_side: int = Field(
        1600, ge=160, description="second, larger detection pass when the downscaled image shows no face"
    )
    deepface_home: Path = Field(VAR_DIR / "deepface", description="DEEPFACE_HOME: where deepface looks for weights")

    def policy(self) -> FacePolicy:
        return FacePolicy(
            distance_threshold=self.distance_threshold,
            min_confidence=self.min_confidence,
            other_face_min_ratio=self.other_face_min_ratio,
            min_face_px=self.min_face_px,
            min_sharpness=self.min_sharpness,
            max_yaw=self.max_yaw,
        )
