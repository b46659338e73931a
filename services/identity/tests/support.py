"""Shared by the identity service's and the gateway's tests: photos, the engines, a movable clock.

`real_engine()` is the real FaceEngine, built once per test process (TensorFlow takes seconds to
load): the service tests, the engine tests and the gateway tests share it. `ScriptedEngine` stands
in for it where a test is about the service's rules rather than the model: it answers `inspect`
and `verify` with what the test scripted.
"""

from __future__ import annotations

import io
import struct
import tempfile
import threading
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from services.identity.domain.face import FaceProblem, FaceVerification, ImageRole, Outcome

FACES = Path(__file__).resolve().parents[4] / "shared" / "faces"


@cache
def real_engine():
    """The real engine, loaded once per process with its weights linked into a scratch DEEPFACE_HOME."""
    from services.identity.face import FaceEngine, FaceSettings

    return FaceEngine(FaceSettings(deepface_home=Path(tempfile.mkdtemp(prefix="zsb-deepface-"))))


def face_photo(name: str) -> bytes:
    return (FACES / name).read_bytes()


def jpeg(image: Image.Image | np.ndarray, quality: int = 92, **kwargs) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **kwargs)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def card_back() -> bytes:
    """A stand-in 身份证国徽面: a plain card with an emblem-like disc and text lines, no face."""
    card = Image.new("RGB", (856, 540), (226, 236, 242))
    draw = ImageDraw.Draw(card)
    draw.ellipse((60, 50, 220, 210), fill=(200, 40, 40))
    for row in range(4):
        draw.rectangle((300, 80 + row * 60, 780, 105 + row * 60), fill=(70, 70, 80))
    draw.rectangle((200, 420, 780, 450), fill=(40, 40, 40))
    return jpeg(card)


def no_face() -> bytes:
    """A generated image with no face in it (a colour gradient)."""
    ramp = np.linspace(0, 255, 800, dtype=np.uint8)
    gradient = np.dstack([np.tile(ramp, (600, 1)), np.tile(ramp[::-1], (600, 1)), np.full((600, 800), 90, np.uint8)])
    return jpeg(gradient)


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zero pixels: a few kB on disk, `width` x `height` pixels once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def plain_photo(size: tuple[int, int] = (480, 640), color: str = "#b0a090") -> bytes:
    """A valid photo for tests whose engine is scripted (its content does not matter there)."""
    return jpeg(Image.new("RGB", size, color))


@dataclass
class Inspected:
    problem: FaceProblem | None = None


@dataclass
class ScriptedEngine:
    """Answers like the FaceEngine with scripted verdicts (default: passed at distance 0.30)."""

    verdicts: deque = field(default_factory=deque)
    inspections: deque = field(default_factory=deque)
    calls: list[str] = field(default_factory=list)
    threshold: float = 0.55
    gate: threading.Event | None = None  # verify blocks until set (a comparison in progress)

    def __post_init__(self) -> None:
        self.verdicts, self.inspections = deque(self.verdicts), deque(self.inspections)

    def inspect(self, image: bytes, role: ImageRole) -> Inspected:
        self.calls.append(f"inspect:{role.value}")
        return Inspected(self.inspections.popleft() if self.inspections else None)

    def verify(self, portrait: bytes, id_card: bytes) -> FaceVerification:
        self.calls.append("verify")
        if self.gate is not None:
            self.gate.wait(30)
        verdict = self.verdicts.popleft() if self.verdicts else "passed"
        if isinstance(verdict, Exception):
            raise verdict
        if verdict == "passed":
            return FaceVerification(Outcome.PASSED, self.threshold, 0.30)
        if verdict == "failed":
            return FaceVerification(Outcome.FAILED, self.threshold, 0.91)
        problem, role = verdict  # (FaceProblem, ImageRole)
        return FaceVerification(Outcome.FIXABLE, self.threshold, None, problem, role)


class Clock:
    """A clock the test moves by hand (naive UTC, as the service stores times)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 6, 2, 0, 0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now
