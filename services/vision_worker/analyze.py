"""The vision job: detect objects with the chosen detector, classify the scene, draw the result.

``process(job, io)`` reads the params ``detection_model_id`` (default SSD),
``classification_model_id`` (default EfficientNet-Lite3), ``score_threshold`` (default 0.3) and
``max_detections`` (default 100) and returns ``{image_class, class_scores, detections, width,
height, detection_model_id, classification_model_id}``; the coordinate and rotation conventions
of ``detections`` are those of ``services.vision_worker.detection``. It also uploads
``annotated.jpg``.
"""
from __future__ import annotations

import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.vision_worker import annotate, engines
from services.vision_worker.catalog import get_model
from services.vision_worker.model_files import ModelNotInstalled
from services.vision_worker.yolo import YoloLayoutError
from shared.config import Config
from shared.handler import JobIO, PermanentError
from shared.image_check import ImageRejected, check_image, limits_from_config
from shared.kinds.vision import catalog
from shared.kinds.vision.params import read_params

LOGGER = logging.getLogger(__name__)

TOP_CLASSES = 5
STEPS = 4
DECODABLE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
# The classifier runs on this thread while the detector runs on the job's: both spend their time in
# native code (TFLite, OpenCV, numpy) that lets go of the GIL, so on two cores a job takes about
# the longer of the two instead of their sum. One thread: the interpreter is never used twice at once.
_CLASSIFIER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vision-classify")


def load_rgb(path: Path, max_pixels: int) -> np.ndarray:
    """Decode an image file to an upright RGB array; transparent areas become white."""
    try:
        with Image.open(path, formats=DECODABLE_FORMATS) as image:
            # Checked again on the decoder's own reading of the header, before any pixel is decoded.
            if image.width * image.height > max_pixels:
                raise PermanentError(f"Image has too many pixels: {image.width}x{image.height}")
            upright = ImageOps.exif_transpose(image)
            if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
                rgba = upright.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                upright = Image.alpha_composite(white, rgba)
            # An RGB image is taken as it is: convert() would copy it once more.
            return np.asarray(upright if upright.mode == "RGB" else upright.convert("RGB"))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
            ValueError) as exc:
        raise PermanentError(f"Could not decode the image: {exc}") from exc


def _model(model_id: int, kind: str) -> catalog.ModelInfo:
    try:
        return get_model(model_id, kind)
    except catalog.UnknownModel as exc:
        raise PermanentError(str(exc)) from exc


def _engine(model: catalog.ModelInfo) -> Any:
    try:
        return engines.engine_for(model)
    except ModelNotInstalled as exc:
        raise PermanentError(f"Model {model.id} ({model.name}) is not installed on this worker: "
                             f"{exc}") from exc


def process(job: dict[str, Any], io: JobIO) -> dict[str, Any]:
    """Run one vision job: detections, top-5 classes and an annotated image."""
    params = read_params(job.get("params"))
    detector_info = _model(params["detection_model_id"], catalog.DETECTION)
    classifier_info = _model(params["classification_model_id"], catalog.CLASSIFICATION)
    max_pixels, max_bytes = limits_from_config(Config())

    path = io.input_path()
    try:
        info = check_image(path, max_pixels=max_pixels, max_bytes=max_bytes)
    except ImageRejected as exc:
        raise PermanentError(str(exc)) from exc
    rgb = load_rgb(path, max_pixels)
    height, width = rgb.shape[:2]
    LOGGER.info("job %s: %s %dx%d, detector %s, classifier %s", io.job_id, info.format, width,
                height, detector_info.name, classifier_info.name)
    io.progress(1, STEPS, "steps")

    detector, classifier = _engine(detector_info), _engine(classifier_info)
    classifying = _CLASSIFIER_THREAD.submit(classifier.classify, rgb, TOP_CLASSES)
    try:
        detections = detector.detect(rgb, params["score_threshold"], params["max_detections"])
    except YoloLayoutError as exc:
        raise PermanentError(f"Model {detector_info.id} ({detector_info.name}): {exc}") from exc
    finally:
        # The classifier never runs on past its job, even a failed one.
        wait([classifying])
    classes = classifying.result()
    io.log(f"{detector_info.name}: {len(detections)} detection(s)")
    io.progress(2, STEPS, "steps")

    image_class = classes[0][0] if classes else None
    io.log(f"{classifier_info.name}: {image_class}")
    io.progress(3, STEPS, "steps")

    with tempfile.TemporaryDirectory(prefix="vision-") as workdir:
        annotated = annotate.write_jpeg(annotate.draw(rgb, detections, image_class),
                                        Path(workdir) / "annotated.jpg")
        io.add_artifact("annotated.jpg", annotated, "image/jpeg")
    io.progress(4, STEPS, "steps")

    return {
        "image_class": image_class,
        "class_scores": [{"label": label, "score": round(score, 6)} for label, score in classes],
        "detections": [d.to_result(width, height) for d in detections],
        "width": width,
        "height": height,
        "detection_model_id": detector_info.id,
        "classification_model_id": classifier_info.id,
    }
