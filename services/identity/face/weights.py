"""Model weights from installed packages, so that nothing is downloaded at run time.

deepface fetches the Dlib weights from the web unless the file is already in
DEEPFACE_HOME/.deepface/weights/; the `face-recognition-models` package ships the same file.
The MTCNN weights ship inside the `mtcnn` wheel and need nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

RECOGNITION_WEIGHTS = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARK_WEIGHTS = "shape_predictor_5_face_landmarks.dat"


def package_models_dir() -> Path:
    """The models/ folder of `face-recognition-models`.

    Found without importing the package: its __init__ imports pkg_resources, which recent
    setuptools no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed: `pip install -r requirements.txt`")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def packaged_weight(name: str) -> Path:
    path = package_models_dir() / name
    if not path.is_file():
        raise RuntimeError(f"{name} is missing from face-recognition-models ({path})")
    return path


def install_weights(deepface_home: Path) -> Path:
    """Link the packaged Dlib weights where deepface looks for them; returns the weights folder."""
    weights_dir = deepface_home / ".deepface" / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    source = packaged_weight(RECOGNITION_WEIGHTS)
    target = weights_dir / RECOGNITION_WEIGHTS
    if target.is_symlink() and target.resolve() == source.resolve():
        return weights_dir
    # Link under a temporary name, then rename over the target: other workers may be starting too.
    tmp = weights_dir / f".{RECOGNITION_WEIGHTS}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(source)
    except OSError:  # no symlinks on this filesystem
        shutil.copyfile(source, tmp)
    tmp.replace(target)
    return weights_dir
