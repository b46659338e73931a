"""Settings of the identity service (beside the shared ones and the face engine's IDENTITY_FACE_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.identity.domain.case import CasePolicy
from zsb.common.uploads import MB, FileKind, UploadLimits


class IdentitySettings(BaseSettings):
    """IDENTITY_* environment variables; the defaults are documented in docs/face-verification.md."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", case_sensitive=False, extra="ignore")

    photo_retention_days: int = Field(180, ge=1, description="days photos are kept after the case concludes")
    max_automatic_attempts: int = Field(3, ge=1, description="automatic verifications ending in a fixable problem")
    photo_max_bytes: int = Field(8 * MB, ge=64 * 1024, description="largest upload accepted")
    photo_max_pixels: int = Field(40_000_000, ge=1_000_000, description="decompression-bomb guard")
    photo_min_side: int = Field(200, ge=1, description="shorter side of an upload, in pixels")

    worker_enabled: bool = Field(True, description="run the verification worker in this process")
    worker_poll_seconds: float = Field(0.5, gt=0)
    job_lease_seconds: int = Field(120, ge=5, description="a running job whose worker went silent is taken over")
    job_max_tries: int = Field(3, ge=1, description="tries of one verification before it goes to manual review")
    job_retry_seconds: int = Field(30, ge=0, description="wait before retrying a verification that errored")
    engine_wait_seconds: float = Field(60.0, ge=0, description="how long an upload waits for the models to load")
    retention_interval_seconds: int = Field(3600, ge=1, description="how often the retention job runs")

    def policy(self) -> CasePolicy:
        return CasePolicy(max_automatic_attempts=self.max_automatic_attempts)

    def upload_limits(self) -> UploadLimits:
        return UploadLimits(
            max_bytes=self.photo_max_bytes,
            max_pixels=self.photo_max_pixels,
            kinds=frozenset({FileKind.JPEG, FileKind.PNG}),
        )
