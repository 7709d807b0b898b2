"""Draws detections (outline or box, label, score) and the image class onto a copy of the image."""
from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np

from services.vision_worker.detection import Detection

JPEG_QUALITY = 90


def _colour(label: str) -> tuple[int, int, int]:
    # A stable colour per label, bright enough to read on photos.
    seed = zlib.crc32(label.encode("utf-8"))
    hue = seed % 180
    hsv = np.uint8([[[hue, 200, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw(rgb: np.ndarray, detections: list[Detection],
         image_class: str | None = None) -> np.ndarray:
    """A BGR copy of an RGB image with every detection and the image class drawn on it."""
    canvas = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(height, width) / 400))
    font_scale = max(0.4, max(height, width) / 1200)
    for detection in detections:
        colour = _colour(detection.label)
        if detection.outline is not None:
            points = np.round(detection.outline).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [points], True, colour, thickness, cv2.LINE_AA)
        else:
            x1, y1, x2, y2 = (int(round(v)) for v in detection.box)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        name = detection.text if detection.text else detection.label
        caption = f"{name} {detection.score:.2f}"
        _caption(canvas, caption, (int(detection.box[0]), int(detection.box[1])), colour,
                 font_scale, thickness)
    if image_class:
        _caption(canvas, image_class, (0, height), (255, 255, 255), font_scale * 1.2, thickness)
    return canvas


def _caption(canvas: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int],
             font_scale: float, thickness: int) -> None:
    # The caption sits just above ``corner`` (its bottom edge there), kept inside the image.
    font = cv2.FONT_HERSHEY_SIMPLEX
    (text_w, text_h), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    x = min(max(corner[0], 0), max(canvas.shape[1] - text_w, 0))
    top = min(max(corner[1] - text_h - baseline, 0), max(canvas.shape[0] - text_h - baseline, 0))
    cv2.rectangle(canvas, (x, top), (x + text_w, top + text_h + baseline), (0, 0, 0), cv2.FILLED)
    cv2.putText(canvas, text, (x, top + text_h), font, font_scale, colour, thickness, cv2.LINE_AA)


def write_jpeg(bgr: np.ndarray, path: Path) -> Path:
    """Encode a BGR image as JPEG at ``path``."""
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"could not encode the annotated image for {path}")
    path.write_bytes(encoded.tobytes())
    return path
