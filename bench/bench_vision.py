"""Vision throughput: images/s through process() against the bare model call, per detection model.

``bare`` times only the engine's network call(s) on an already-decoded RGB array (the detector
plus the classifier, since every job runs both); ``process`` times the whole job through
FakeJobIO: header check, decode, both models, drawing and JPEG encoding of the annotated image.
The ratio bare/process throughput says how much the job plumbing costs. Prints only.

    python -m bench.bench_vision [--iterations 10]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from skimage import data as skimage_data

from services.vision_worker import engines
from services.vision_worker.analyze import process
from services.vision_worker.catalog import get_model, list_models
from shared.kinds.vision import catalog
from tests.fakes import FakeJobIO
from tests.unit import vision_drawing as draw


def _shapes() -> np.ndarray:
    rgb = draw.blank(800, 600)
    draw.circle(rgb, (150, 150), 90)
    draw.rotated_rectangle(rgb, (450, 150), (220, 110), 30)
    draw.triangle(rgb, (650, 420), 110, 20)
    draw.ellipse(rgb, (350, 430), (120, 50), 40)
    return rgb


def _timed(call: Callable[[], object], iterations: int) -> list[float]:
    call()  # warm-up: first calls allocate and tune
    seconds = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def _summary(seconds: list[float]) -> tuple[float, float, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return len(seconds) / sum(seconds), statistics.median(ordered) * 1000, p95 * 1000


def _bare_call(model_id: int, engine, rgb: np.ndarray) -> Callable[[], object]:
    if model_id == catalog.SSD_ID:
        return lambda: engine.forward(rgb)
    if model_id == catalog.FACES_ID:
        return lambda: engine.raw_boxes(rgb)
    if model_id == catalog.TEXT_ID:
        return lambda: engine.read(rgb)
    if model_id == catalog.YOLO_ID:
        return lambda: engine.forward(rgb)
    return lambda: engine.detect(rgb, 0.3, 100)  # primitives have no network: the call is the work


def main() -> None:
    """Run every detection model on a fitting image and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()

    cases = [(catalog.SSD_ID, "chelsea", skimage_data.chelsea()),
             (catalog.FACES_ID, "astronaut", skimage_data.astronaut()),
             (catalog.TEXT_ID, "drawn text", draw.printed_text("CONVEYOR 2026")[0]),
             (catalog.PRIMITIVES_ID, "drawn shapes", _shapes())]
    if any(m.id == catalog.YOLO_ID for m in list_models()):
        cases.append((catalog.YOLO_ID, "chelsea", skimage_data.chelsea()))

    classifier_info = get_model(catalog.DEFAULT_CLASSIFICATION_MODEL_ID,
                                        catalog.CLASSIFICATION)
    classifier = engines.engine_for(classifier_info)
    print(f"iterations per figure: {args.iterations} (after one warm-up call)")
    print(f"{'model':<12} {'image':<13} {'bare img/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'job img/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'bare/job':>9}")
    with tempfile.TemporaryDirectory(prefix="bench-vision-") as workdir:
        for model_id, image_name, rgb in cases:
            info = get_model(model_id, catalog.DETECTION)
            engine = engines.engine_for(info)
            detect_only = _bare_call(model_id, engine, rgb)
            batch = classifier.preprocess(rgb)

            def bare(detect_only=detect_only, batch=batch):
                detect_only()
                classifier.scores(batch)

            path = Path(workdir) / f"input-{model_id}.png"
            Image.fromarray(rgb).save(path)
            fake = FakeJobIO(input_file=path, workdir=Path(workdir))
            job = {"id": "bench", "params": {"detection_model_id": model_id}}
            bare_rate, bare_p50, bare_p95 = _summary(_timed(bare, args.iterations))
            job_seconds = _timed(lambda job=job, fake=fake: process(job, fake), args.iterations)
            job_rate, job_p50, job_p95 = _summary(job_seconds)
            print(f"{info.name:<12} {image_name:<13} {bare_rate:>10.2f} {bare_p50:>8.1f} "
                  f"{bare_p95:>8.1f} {job_rate:>10.2f} {job_p50:>8.1f} {job_p95:>8.1f} "
                  f"{bare_rate / job_rate:>9.2f}")


if __name__ == "__main__":
    main()
