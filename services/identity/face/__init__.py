"""Face verification with deepface (TensorFlow MTCNN detector, Dlib recognition model), fully offline.

`FaceEngine` loads the models once on construction; build one per worker process and reuse it.
"""

from services.identity.face.engine import FaceEngine, FaceInspection
from services.identity.face.settings import FaceSettings

__all__ = ["FaceEngine", "FaceInspection", "FaceSettings"]
