"""The vision job's parameters: their defaults, their limits and their validation.

Needs only the standard library, so the API's submit schema can share the defaults and limits
with the worker without the engines installed.
"""
from __future__ import annotations

from typing import Any

from shared.handler import PermanentError
from shared.kinds.vision import catalog

DEFAULT_SCORE_THRESHOLD = 0.3
DEFAULT_MAX_DETECTIONS = 100
MAX_DETECTIONS_LIMIT = 1000


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PermanentError(f"{name} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError as exc:
        raise PermanentError(f"{name} must be an integer, got {value!r}") from exc


def read_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validated job params with defaults filled in; PermanentError on a bad value."""
    params = params or {}
    threshold = params.get("score_threshold", DEFAULT_SCORE_THRESHOLD)
    try:
        threshold = float(DEFAULT_SCORE_THRESHOLD if threshold is None else threshold)
    except (TypeError, ValueError) as exc:
        raise PermanentError(f"score_threshold must be a number, got {threshold!r}") from exc
    if not 0.0 <= threshold <= 1.0:
        raise PermanentError(f"score_threshold must lie in [0, 1], got {threshold}")
    max_detections = _int_param(params, "max_detections", DEFAULT_MAX_DETECTIONS)
    if not 1 <= max_detections <= MAX_DETECTIONS_LIMIT:
        raise PermanentError(f"max_detections must lie in [1, {MAX_DETECTIONS_LIMIT}], "
                             f"got {max_detections}")
    return {
        "detection_model_id": _int_param(params, "detection_model_id",
                                         catalog.DEFAULT_DETECTION_MODEL_ID),
        "classification_model_id": _int_param(params, "classification_model_id",
                                              catalog.DEFAULT_CLASSIFICATION_MODEL_ID),
        "score_threshold": threshold,
        "max_detections": max_detections,
    }
