"""Face verification with the real models (MTCNN + Dlib through deepface) on the shared labelled photos.

`engine` is the session's one real engine (conftest.py): TensorFlow loads once for all identity tests.
"""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from services.identity.domain.face import FaceProblem, ImageRole, Outcome
from services.identity.face import FaceEngine
from services.identity.face.weights import RECOGNITION_WEIGHTS, install_weights
from zsb.common.errors import InvalidArgument

FACES = Path(__file__).resolve().parents[4] / "shared" / "faces"
PAIRS = list(csv.DictReader((FACES / "pairs.csv").open()))


def photo(name: str) -> bytes:
    return (FACES / name).read_bytes()


def rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(FACES / name).convert("RGB"))


def jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p['file_x']}-{p['file_y']}-{p['same_person']}")
def test_labelled_pairs(engine: FaceEngine, pair: dict[str, str]) -> None:
    result = engine.verify(photo(pair["file_x"]), photo(pair["file_y"]))
    expected = Outcome.PASSED if pair["same_person"] == "yes" else Outcome.FAILED
    assert result.outcome is expected, result
    assert result.distance is not None and result.threshold == engine.policy.distance_threshold


def test_couple_is_rejected_as_portrait_but_its_largest_face_is_used_on_the_id_card(engine: FaceEngine) -> None:
    result = engine.verify(photo("couple.jpg"), photo("img8.jpg"))
    assert (result.outcome, result.problem, result.problem_role) == (
        Outcome.FIXABLE,
        FaceProblem.MULTIPLE_FACES,
        ImageRole.PORTRAIT,
    )
    assert "多张人脸" in result.message
    card = engine.inspect(photo("couple.jpg"), ImageRole.ID_CARD)
    assert card.problem is None and card.face is not None
    assert card.face.area == max(f.area for f in card.faces) and len(card.faces) >= 2


def test_image_without_a_face_is_rejected(engine: FaceEngine) -> None:
    ramp = np.linspace(0, 255, 800, dtype=np.uint8)
    gradient = np.dstack([np.tile(ramp, (600, 1)), np.tile(ramp[::-1], (600, 1)), np.full((600, 800), 90, np.uint8)])
    result = engine.verify(photo("img8.jpg"), jpeg(gradient))
    assert (result.outcome, result.problem, result.problem_role) == (
        Outcome.FIXABLE,
        FaceProblem.NO_FACE,
        ImageRole.ID_CARD,
    )
    assert result.message.startswith("身份证人像面")


def test_small_face_is_rejected(engine: FaceEngine) -> None:
    small = cv2.resize(rgb("img8.jpg"), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)  # face ~63 px
    inspection = engine.inspect(small, ImageRole.PORTRAIT)
    assert inspection.faces, "the face is still found, it is only too small"
    assert inspection.problem is FaceProblem.FACE_TOO_SMALL


def test_blurred_face_is_rejected(engine: FaceEngine) -> None:
    blurred = cv2.GaussianBlur(rgb("img8.jpg"), (0, 0), 8)
    inspection = engine.inspect(jpeg(blurred), ImageRole.PORTRAIT)
    assert inspection.face is not None and inspection.problem is FaceProblem.TOO_BLURRED
    assert engine.inspect(photo("img8.jpg"), ImageRole.PORTRAIT).problem is None


def head(engine: FaceEngine, name: str, width: int) -> Image.Image:
    """The head and shoulders of a photo (cropped around its detected face), `width` pixels wide."""
    face = engine.inspect(photo(name), ImageRole.PORTRAIT).face
    assert face is not None
    box = (face.x - 0.4 * face.width, face.y - 0.5 * face.height, face.x + 1.4 * face.width, face.y + 1.5 * face.height)
    crop = Image.open(FACES / name).convert("RGB").crop(tuple(round(v) for v in box))
    return crop.resize((width, round(crop.height * width / crop.width)))


def id_card(engine: FaceEngine, big: str, small: str) -> bytes:
    """A mock 身份证人像面: text lines, a large portrait and a small second printed face."""
    card = Image.new("RGB", (1200, 760), (236, 240, 232))
    draw = ImageDraw.Draw(card)
    for row in range(6):
        draw.rectangle((60, 80 + row * 90, 560, 110 + row * 90), fill=(60, 60, 70))
    draw.rectangle((60, 680, 1100, 720), fill=(40, 40, 40))
    card.paste(head(engine, big, 340), (800, 60))
    card.paste(head(engine, small, 130), (620, 420))
    return jpeg(np.asarray(card))


def test_id_card_side_compares_its_largest_face(engine: FaceEngine) -> None:
    card = id_card(engine, big="img8.jpg", small="img13.jpg")
    inspection = engine.inspect(card, ImageRole.ID_CARD)
    assert len([f for f in inspection.faces if f.confidence >= engine.policy.min_confidence]) == 2
    assert engine.verify(photo("img9.jpg"), card).outcome is Outcome.PASSED
    swapped = id_card(engine, big="img13.jpg", small="img8.jpg")
    assert engine.verify(photo("img9.jpg"), swapped).outcome is Outcome.FAILED


def test_bytes_pillow_and_arrays_give_the_same_result(engine: FaceEngine) -> None:
    from_bytes = engine.verify(photo("img18.jpg"), photo("img19.jpg"))
    from_arrays = engine.verify(rgb("img18.jpg"), Image.open(FACES / "img19.jpg"))
    assert from_bytes.outcome is from_arrays.outcome is Outcome.PASSED
    assert from_bytes.distance == pytest.approx(from_arrays.distance, abs=1e-6)


def test_undecodable_bytes_are_a_clear_error(engine: FaceEngine) -> None:
    with pytest.raises(InvalidArgument) as err:
        engine.verify(b"\xff\xd8\xff\xe0 not really a jpeg", photo("img8.jpg"))
    assert err.value.reason == "bad_image"


def test_concurrent_use_gives_the_sequential_results(engine: FaceEngine) -> None:
    jobs = [("img8.jpg", "img9.jpg"), ("img13.jpg", "img18.jpg")] * 3
    expected = {job: engine.verify(photo(job[0]), photo(job[1])).distance for job in set(jobs)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: (job, engine.verify(photo(job[0]), photo(job[1]))), jobs))
    for job, result in results:
        assert result.distance == pytest.approx(expected[job], abs=1e-6)


def test_weights_come_from_the_package_and_deepface_finds_them_without_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))  # before deepface is imported: it makes its folders
    from deepface.commons import weight_utils

    weights = install_weights(tmp_path)
    install_weights(tmp_path)  # idempotent: a second worker starting finds the link in place
    # An address that cannot be reached: deepface must not need it.
    found = weight_utils.download_weights_if_necessary(RECOGNITION_WEIGHTS, "http://127.0.0.1:9/none.bz2", "bz2")
    assert Path(found) == weights / RECOGNITION_WEIGHTS
    assert os.path.getsize(found) > 20_000_000
