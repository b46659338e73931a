"""Image helpers of the face engine: decoding to RGB arrays, downscaling, sharpness."""

from __future__ import annotations

import io

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from zsb.common.errors import InvalidArgument

RGBImage = NDArray[np.uint8]  # height x width x 3, RGB order (what Pillow gives)
FaceImage = bytes | Image.Image | RGBImage


def to_rgb(image: FaceImage) -> RGBImage:
    """An RGB uint8 array from JPEG/PNG bytes, a Pillow image or an array (RGB, grey or RGBA).

    Bytes are expected to have passed the upload checks; EXIF orientation is applied anyway
    because detection fails on a portrait lying on its side.
    """
    if isinstance(image, bytes | bytearray | memoryview):
        try:
            with Image.open(io.BytesIO(image)) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
            raise InvalidArgument("图片无法识别，请上传 JPEG 或 PNG 格式的照片", reason="bad_image") from err
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or min(array.shape[:2]) < 1:
        raise InvalidArgument("图片格式不正确", reason="bad_image")
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
    elif array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2RGB)
    elif array.shape[2] != 3:
        raise InvalidArgument("图片格式不正确", reason="bad_image")
    # dlib needs C-contiguous memory; Pillow arrays are read-only views, which is fine.
    return np.ascontiguousarray(array)


def downscale(image: RGBImage, max_side: int) -> tuple[RGBImage, float]:
    """The image with its longest side at most max_side, and the scale factor applied (<= 1)."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # INTER_AREA averages source pixels: no aliasing, which would invent edges for the detector.
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA)), scale


def sharpness(chip: RGBImage) -> float:
    """Variance of the Laplacian of the grey chip: low when the face is out of focus or smeared."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
