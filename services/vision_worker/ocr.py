"""Text regions and the text read in each, with PP-OCRv4 (rapidocr-onnxruntime) on onnxruntime.

rapidocr-onnxruntime declares a dependency on the non-headless ``opencv-python``, which would
shadow the pinned headless build, so it is installed with ``--no-deps`` and its other
dependencies are listed in requirements-vision.txt.
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from services.vision_worker.detection import Detection, box_of_points, canonical_degrees, keep_best

LOGGER = logging.getLogger(__name__)


def _text_rotation(quad: np.ndarray) -> float:
    """Reading direction of a text quad (top-left -> top-right edge), counter-clockwise, mod 180."""
    (x0, y0), (x1, y1) = quad[0], quad[1]
    # Image y points down; negate it so positive angles turn counter-clockwise as seen.
    return canonical_degrees(np.degrees(np.arctan2(-(y1 - y0), x1 - x0)), 180.0)


class TextDetector:
    """PP-OCRv4 detection + direction classifier + recognition."""

    def __init__(self):
        from rapidocr_onnxruntime import RapidOCR  # imported here: it configures its own logger
        self.engine = RapidOCR()

    def read(self, rgb: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
        """(quad of 4 pixel points, text, confidence) for each text line found in an RGB image."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        lines, _elapsed = self.engine(bgr)
        return [(np.asarray(quad, dtype=np.float32), str(text), float(score))
                for quad, text, score in (lines or [])]

    def detect(self, rgb: np.ndarray, score_threshold: float,
               max_detections: int) -> list[Detection]:
        """Text lines in an RGB image as ``text`` detections carrying what was read."""
        found = [Detection("text", box_of_points(quad), score, _text_rotation(quad),
                           outline=quad, text=text)
                 for quad, text, score in self.read(rgb)]
        return keep_best(found, score_threshold, max_detections)


def load() -> TextDetector:
    """Load the three PP-OCR networks shipped in the package."""
    return TextDetector()
