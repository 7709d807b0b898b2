"""Any YOLO (v5/v8-style) ONNX detector on onnxruntime, with a generic decoder and class-aware NMS.

Input: one NCHW RGB tensor scaled to [0, 1], letterboxed (grey 114 padding) to the model's fixed
input size, or 640x640 when the size is dynamic. Output: the first tensor, batch 1, either

* v8 layout ``[1, 4 + C, N]`` (or its transpose ``[1, N, 4 + C]``): cx, cy, w, h, C class scores;
* v5 layout ``[1, N, 5 + C]``: cx, cy, w, h, objectness, C class scores (score = obj * class).

Box values are in input pixels. When the class count is known (labels from the catalog) it picks
the layout; otherwise the layout follows Ultralytics' exports (channels-first means v8, rows mean
v5) and the 80-class case is named with the COCO labels.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from services.vision_worker.catalog import yolo_labels
from services.vision_worker.coco_labels import COCO80
from services.vision_worker.detection import Detection, keep_best
from services.vision_worker.nms import batched_nms

LOGGER = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = 640
IOU_THRESHOLD = 0.45
PAD_VALUE = 114


class YoloLayoutError(ValueError):
    """The model's output matches neither YOLO layout."""


def output_rows(output: np.ndarray, num_labels: int | None) -> tuple[np.ndarray, bool]:
    """The output as (N, K) rows of candidates, and whether column 4 is an objectness score."""
    table = np.asarray(output)
    while table.ndim > 2 and table.shape[0] == 1:
        table = table[0]
    if table.ndim != 2:
        raise YoloLayoutError(f"YOLO output must be [1, a, b]; got shape {np.shape(output)}")
    rows_count, cols_count = table.shape
    if num_labels is not None:
        if rows_count == 4 + num_labels:
            return table.T, False
        if cols_count == 4 + num_labels:
            return table, False
        if cols_count == 5 + num_labels:
            return table, True
        if rows_count == 5 + num_labels:
            return table.T, True
        raise YoloLayoutError(
            f"YOLO output {table.shape} fits neither layout for {num_labels} labels")
    if rows_count < cols_count:
        return table.T, False
    return table, True


def letterbox(rgb: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float, float, float]:
    """Resize keeping aspect ratio, pad to width x height; returns (image, ratio, pad_x, pad_y)."""
    src_h, src_w = rgb.shape[:2]
    ratio = min(width / src_w, height / src_h)
    new_w, new_h = max(1, round(src_w * ratio)), max(1, round(src_h * ratio))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (width - new_w) / 2, (height - new_h) / 2
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    padded = cv2.copyMakeBorder(resized, top, height - new_h - top, left, width - new_w - left,
                                cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return padded, ratio, float(left), float(top)


class YoloDetector:
    """One YOLO ONNX file."""

    def __init__(self, path: str, labels: list[str] | None = None):
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0]
        shape = self._input.shape
        self.height = shape[2] if isinstance(shape[2], int) else DEFAULT_INPUT_SIZE
        self.width = shape[3] if isinstance(shape[3], int) else DEFAULT_INPUT_SIZE
        self._dtype = np.float16 if self._input.type == "tensor(float16)" else np.float32
        self.labels = labels

    def forward(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """Raw first output for an RGB image, with the letterbox ratio and padding used."""
        padded, ratio, pad_x, pad_y = letterbox(rgb, self.width, self.height)
        batch = padded.transpose(2, 0, 1)[np.newaxis].astype(np.float32) / 255.0
        output = self.session.run(None, {self._input.name: batch.astype(self._dtype)})[0]
        return output, ratio, pad_x, pad_y

    def _label(self, class_id: int, count: int) -> str:
        if self.labels is not None and class_id < len(self.labels):
            return self.labels[class_id]
        if self.labels is None and count == len(COCO80):
            return COCO80[class_id]
        return f"class_{class_id}"

    def detect(self, rgb: np.ndarray, score_threshold: float,
               max_detections: int) -> list[Detection]:
        """Objects in an RGB image, boxes mapped back through the letterbox."""
        output, ratio, pad_x, pad_y = self.forward(rgb)
        rows, has_objectness = output_rows(output, len(self.labels) if self.labels else None)
        rows = rows.astype(np.float32)
        class_scores = rows[:, 5:] if has_objectness else rows[:, 4:]
        if class_scores.shape[1] == 0:
            raise YoloLayoutError("YOLO output has no class columns")
        class_ids = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), class_ids]
        if has_objectness:
            scores = scores * rows[:, 4]
        chosen = scores >= score_threshold
        rows, scores, class_ids = rows[chosen], scores[chosen], class_ids[chosen]
        cx, cy, w, h = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        boxes = (boxes - [pad_x, pad_y, pad_x, pad_y]) / ratio
        keep = batched_nms(boxes, scores, class_ids, IOU_THRESHOLD)
        found = [Detection(self._label(int(class_ids[i]), class_scores.shape[1]),
                           tuple(float(v) for v in boxes[i]), float(scores[i])) for i in keep]
        return keep_best(found, score_threshold, max_detections)


def load(path: str) -> YoloDetector:
    """Open a YOLO ONNX file with the labels the catalog finds for it."""
    LOGGER.info("loading YOLO model %s", path)
    return YoloDetector(path, yolo_labels(Path(path)))
