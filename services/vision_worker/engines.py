"""Loads each catalog model once per process and hands out the loaded engine."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import numpy as np

from services.vision_worker.model_files import ModelNotInstalled
from shared.kinds.vision import catalog
from shared.kinds.vision.catalog import ModelInfo

LOGGER = logging.getLogger(__name__)

_LOCK = threading.Lock()
_LOADED: dict[tuple[int, str | None], Any] = {}
WARM_SIZE = 64


def _loader(model: ModelInfo) -> Callable[[], Any]:
    # Engine modules are imported on first use so that a worker pays only for the models it runs.
    if model.id == catalog.SSD_ID:
        from services.vision_worker import ssd
        return ssd.load
    if model.id == catalog.EFFICIENTNET_ID:
        from services.vision_worker import classify
        return classify.load
    if model.id == catalog.FACES_ID:
        from services.vision_worker import faces
        return faces.load
    if model.id == catalog.TEXT_ID:
        from services.vision_worker import ocr
        return ocr.load
    if model.id == catalog.PRIMITIVES_ID:
        from services.vision_worker import primitives
        return primitives.load
    if model.path:
        from services.vision_worker import yolo
        return lambda: yolo.load(model.path)
    raise catalog.UnknownModel(f"no engine for model {model.id} ({model.name})")


def engine_for(model: ModelInfo) -> Any:
    """The loaded engine of a catalog model, loading it on first use (once per process)."""
    key = (model.id, model.path)
    with _LOCK:
        engine = _LOADED.get(key)
        if engine is None:
            started = time.perf_counter()
            engine = _loader(model)()
            _LOADED[key] = engine
            LOGGER.info("loaded vision model %s (%s) in %.2f s", model.id, model.name,
                        time.perf_counter() - started)
        return engine


def loaded_count() -> int:
    """How many engines this process holds."""
    with _LOCK:
        return len(_LOADED)


def warm(models: list[ModelInfo]) -> list[ModelInfo]:
    """Load each model and run it once on a small blank image; return those that work here."""
    blank = np.full((WARM_SIZE, WARM_SIZE, 3), 255, np.uint8)
    ready = []
    for model in models:
        try:
            engine = engine_for(model)
            # One pass allocates the runtimes' buffers, so the first job is not the slow one.
            if model.kind == catalog.CLASSIFICATION:
                engine.classify(blank, 1)
            else:
                engine.detect(blank, 0.5, 1)
        except ModelNotInstalled as exc:
            LOGGER.warning("vision model %s (%s) is not installed here; not offered: %s",
                           model.id, model.name, exc)
            continue
        # A user's YOLO file may be anything (corrupt, another layout): skip it, not the worker.
        except Exception:  # noqa: BLE001
            if model.path is None:
                raise
            LOGGER.exception("vision model %s (%s, %s) does not run; not offered", model.id,
                             model.name, model.path)
            continue
        ready.append(model)
    return ready
