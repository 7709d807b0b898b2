"""One detected object and how it is written into a job result.

Conventions shared by every detector of the vision worker:

* ``x``, ``y`` are the CENTRE of the object's axis-aligned bounding box, and ``width``, ``height``
  that box's extent; x and width are divided by the image width, y and height by the image height,
  so all four lie in [0, 1] whatever the image size. The box never leaves the image.
* ``rotation`` is the object's orientation in degrees divided by 360, so it lies in [0, 1).
  Degrees are counter-clockwise as a viewer sees the image (the image y axis points down), and are
  first reduced modulo the shape's rotational symmetry: a circle is always 0, an ellipse or a
  rectangle lies in [0, 180) (its long axis), a square in [0, 90), an equilateral triangle in
  [0, 120) (direction from its centre to a corner), a regular n-gon in [0, 360/n). Detectors that
  only see upright boxes (SSD, YOLO, faces) report 0.
* ``probability`` is the detector's confidence in [0, 1]; for geometric primitives it is how well
  the contour fits the ideal shape (area ratio).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Detection:
    """A detection in pixel coordinates of the analysed image."""

    label: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels, axis-aligned
    score: float
    rotation_degrees: float = 0.0  # already reduced modulo the shape's symmetry
    outline: np.ndarray | None = field(default=None, repr=False)  # pixel polygon, for drawing only
    text: str | None = None  # what OCR read inside a text region

    def to_result(self, width: int, height: int) -> dict[str, Any]:
        """The JSON form documented in this module, normalised by the image size."""
        x1, y1, x2, y2 = _clip_box(self.box, width, height)
        result: dict[str, Any] = {
            "label": self.label,
            "x": round((x1 + x2) / 2 / width, 6),
            "y": round((y1 + y2) / 2 / height, 6),
            "width": round((x2 - x1) / width, 6),
            "height": round((y2 - y1) / height, 6),
            "rotation": round((self.rotation_degrees % 360.0) / 360.0, 6),
            "probability": round(min(max(float(self.score), 0.0), 1.0), 6),
        }
        if self.text is not None:
            result["text"] = self.text
        return result


def _clip_box(box: tuple[float, float, float, float], width: int,
              height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    return x1, y1, x2, y2


def canonical_degrees(degrees: float, period: float) -> float:
    """Reduce an angle modulo a symmetry period into [0, period); values next to period become 0."""
    if period <= 0:
        return 0.0
    reduced = float(degrees) % period
    return 0.0 if period - reduced < 1e-6 else reduced


def box_of_points(points: np.ndarray) -> tuple[float, float, float, float]:
    """Axis-aligned x1, y1, x2, y2 of an (N, 2) array of pixel points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (float(pts[:, 0].min()), float(pts[:, 1].min()),
            float(pts[:, 0].max()), float(pts[:, 1].max()))


def keep_best(detections: list[Detection], score_threshold: float,
              max_detections: int) -> list[Detection]:
    """Drop detections under the threshold and keep the highest-scoring ``max_detections``."""
    kept = [d for d in detections if d.score >= score_threshold]
    kept.sort(key=lambda d: d.score, reverse=True)
    return kept[:max_detections]
