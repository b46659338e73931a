"""The face engine of this process: loaded once, lazily, and shared by the worker and the upload checks.

Loading TensorFlow and the models takes seconds, so the service starts serving gRPC at once and
the worker thread loads the engine in the background. An upload that needs the photo rules before
the engine is ready waits for it, up to a limit, then asks the candidate to try again shortly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from services.identity.domain.face import FaceProblem, FaceVerification, ImageRole
from zsb.common.errors import ResourceExhausted

log = logging.getLogger(__name__)


class Inspection(Protocol):
    problem: FaceProblem | None


class Engine(Protocol):
    """What the service needs of `services.identity.face.FaceEngine` (tests may give a stand-in)."""

    def verify(self, portrait: bytes, id_card: bytes) -> FaceVerification: ...

    def inspect(self, image: bytes, role: ImageRole) -> Inspection: ...


def default_engine() -> Engine:
    """The real engine with IDENTITY_FACE_* settings (imports TensorFlow: seconds)."""
    from services.identity.face import FaceEngine

    return FaceEngine()


class EngineHolder:
    """One engine per process, built on first use by whichever thread gets there first."""

    def __init__(self, factory: Callable[[], Engine] = default_engine) -> None:
        self._factory = factory
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._engine is not None

    def load(self) -> Engine:
        """Build the engine now if it is not built yet (blocking); errors propagate."""
        with self._lock:
            return self._build_locked()

    def get(self, timeout: float) -> Engine:
        """The engine, waiting at most `timeout` seconds for a load in progress."""
        engine = self._engine
        if engine is not None:
            return engine
        if not self._lock.acquire(timeout=timeout):
            raise ResourceExhausted("人脸识别服务正在启动，请稍后再试", reason="ENGINE_LOADING")
        try:
            return self._build_locked()
        finally:
            self._lock.release()

    def _build_locked(self) -> Engine:
        if self._engine is None:
            log.info("loading the face engine")
            self._engine = self._factory()
            log.info("face engine ready")
        return self._engine
