"""The vision kind in the API: parameters, the image and model-id checks, exports."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Optional

from flask import current_app
from marshmallow import fields, validate

from services.api.kinds.base import KindSpec, SubmitCommonSchema, SubmitRefused, live_models, require_workers
from shared.image_check import ImageRejected, check_image, limits_from_config
from shared.kinds.vision import catalog
from shared.kinds.vision.params import DEFAULT_MAX_DETECTIONS, DEFAULT_SCORE_THRESHOLD, MAX_DETECTIONS_LIMIT

RESULT_DOC = (
    "Submit the image as multipart/form-data ('file': JPEG, PNG, WebP or BMP, sniffed from its "
    "bytes; too many pixels or bytes is refused with 413) and these fields. The result is "
    "{image_class, class_scores: [{label, score}] (top 5), detections: [{label, x, y, width, "
    "height, rotation, probability, text?}], width, height, detection_model_id, "
    "classification_model_id}, with an annotated.jpg artifact. Detection coordinates: x, y are "
    "the CENTRE of the axis-aligned bounding box, width and height its extent; x and width are "
    "divided by the image width, y and height by the image height, so all lie in [0, 1]. "
    "rotation is degrees counter-clockwise / 360 in [0, 1), reduced by the shape's symmetry "
    "(0 for upright-box detectors); probability lies in [0, 1]. width/height of the result are "
    "the image size in pixels. Model ids: GET /api/v1/models.")


def _model_ids(kind: str) -> str:
    """The built-in models of ``kind`` by id, for the document (a worker may add YOLO files: 1, 100, 101...)."""
    return ", ".join(f"{m.id} {m.name}" for m in catalog.BUILTIN_MODELS if m.kind == kind)


class VisionParamsSchema(SubmitCommonSchema):
    class Meta:
        description = RESULT_DOC

    detection_model_id = fields.Integer(
        load_default=catalog.DEFAULT_DETECTION_MODEL_ID,
        metadata={"description": "A detection model id from GET /api/v1/models; built in: "
                                 f"{_model_ids(catalog.DETECTION)}; YOLO files a worker found: 1, 100, 101, ..."})
    classification_model_id = fields.Integer(
        load_default=catalog.DEFAULT_CLASSIFICATION_MODEL_ID,
        metadata={"description": "A classification model id from GET /api/v1/models; built in: "
                                 f"{_model_ids(catalog.CLASSIFICATION)}"})
    score_threshold = fields.Float(
        load_default=DEFAULT_SCORE_THRESHOLD, validate=validate.Range(0.0, 1.0),
        metadata={"description": "Detections below this probability are dropped"})
    max_detections = fields.Integer(
        load_default=DEFAULT_MAX_DETECTIONS, validate=validate.Range(1, MAX_DETECTIONS_LIMIT),
        metadata={"description": "At most this many detections, the most probable first"})


def offered_models() -> list[catalog.ModelInfo]:
    """The models live vision workers offer (503 when none has registered), in id order."""
    require_workers("vision")
    return sorted((catalog.ModelInfo.from_dict(entry) for entry in live_models("vision")),
                  key=lambda model: model.id)


def check(params: dict[str, Any], upload: Optional[Path]) -> dict[str, Any]:
    """503 without a worker; then refuse a bad upload from its header alone, then unknown ids."""
    models = offered_models()
    if upload is None:
        raise SubmitRefused("A vision job needs an image: send it as the 'file' part.")
    max_pixels, max_bytes = limits_from_config(current_app.config)
    try:
        check_image(upload, max_pixels=max_pixels, max_bytes=max_bytes)
    except ImageRejected as exc:
        raise SubmitRefused(str(exc), exc.http_status) from exc
    try:
        catalog.find_model(models, params["detection_model_id"], catalog.DETECTION)
        catalog.find_model(models, params["classification_model_id"], catalog.CLASSIFICATION)
    except catalog.UnknownModel as exc:
        raise SubmitRefused(str(exc)) from exc
    return params


def _export_json(result: dict[str, Any]) -> tuple[bytes, str, str]:
    return json.dumps(result, ensure_ascii=False, indent=2).encode(), "application/json", "json"


def _export_csv(result: dict[str, Any]) -> tuple[bytes, str, str]:
    columns = ["label", "x", "y", "width", "height", "rotation", "probability", "text"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(result.get("detections", []))
    return out.getvalue().encode(), "text/csv; charset=utf-8", "csv"


SPEC = KindSpec("vision", VisionParamsSchema, needs_file=True, check=check,
                exporters={"json": _export_json, "csv": _export_csv})
