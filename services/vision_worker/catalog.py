"""The vision models this worker has: the built-ins and the YOLO files of a directory.

YOLO files come from the directory named by ``CONVEYOR_VISION_MODELS_DIR``: the first one in name
order is id 1 ("YOLO"), further ones get ids 100, 101, ... in name order. A YOLO file's labels come
from ``<stem>.names`` (one label a line) beside it, else from the ``names`` entry of its ONNX
metadata (as Ultralytics exports write it), else the decoder infers the class count from the output
(see yolo.py) and the catalog reports it as unknown. The entries' shape is the kind's contract,
``shared.kinds.vision.catalog``.
"""
from __future__ import annotations

import ast
import logging
from functools import lru_cache
from pathlib import Path

from shared.config import Config
from shared.kinds.vision.catalog import BUILTIN_MODELS, DETECTION, EXTRA_YOLO_FIRST_ID, YOLO_ID, ModelInfo, find_model

LOGGER = logging.getLogger(__name__)

MODELS_DIR_SETTING = "CONVEYOR_VISION_MODELS_DIR"


def models_dir() -> Path | None:
    """The directory of user-supplied ONNX models (Config.VISION_MODELS_DIR), if set."""
    return Config().VISION_MODELS_DIR


def list_models(directory: Path | None = None) -> list[ModelInfo]:
    """All models: the built-ins and the YOLO files in ``directory`` (default: from the env)."""
    directory = models_dir() if directory is None else directory
    found = _yolo_models(directory) if directory else []
    return sorted([*found, *BUILTIN_MODELS], key=lambda m: m.id)


def get_model(model_id: int, kind: str, directory: Path | None = None) -> ModelInfo:
    """The installed entry for ``model_id`` of ``kind``; UnknownModel listing them otherwise."""
    return find_model(list_models(directory), model_id, kind)


def _yolo_models(directory: Path) -> list[ModelInfo]:
    if not directory.is_dir():
        LOGGER.warning("%s=%s is not a directory; no YOLO models listed", MODELS_DIR_SETTING, directory)
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
