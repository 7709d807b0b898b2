"""Result normalisation and non-maximum suppression shared by every detector."""
from __future__ import annotations

import numpy as np
import pytest

from services.vision_worker.detection import Detection, canonical_degrees, keep_best
from services.vision_worker.nms import batched_nms, nms


def test_result_uses_centre_and_image_relative_extent():
    result = Detection("cat", (100, 50, 300, 150), 0.8, 45.0).to_result(width=400, height=200)
    assert result == {"label": "cat", "x": 0.5, "y": 0.5, "width": 0.5, "height": 0.5,
                      "rotation": 0.125, "probability": 0.8}


def test_boxes_leaving_the_image_are_clipped_and_scores_bounded():
    result = Detection("x", (-50, -10, 450, 90), 1.7).to_result(width=400, height=100)
    assert (result["x"], result["width"], result["y"], result["height"]) == (0.5, 1.0, 0.45, 0.9)
    assert result["probability"] == 1.0
    assert all(0 <= result[k] <= 1 for k in ("x", "y", "width", "height", "rotation"))


def test_text_is_carried_only_when_read():
    assert "text" not in Detection("face", (0, 0, 1, 1), 0.9).to_result(10, 10)
    assert Detection("text", (0, 0, 1, 1), 0.9, text="HI").to_result(10, 10)["text"] == "HI"


@pytest.mark.parametrize("degrees,period,expected", [(370, 360, 10), (200, 180, 20), (-30, 90, 60),
                                                     (119.9999999, 120, 0), (45, 0, 0)])
def test_canonical_degrees_reduces_by_symmetry(degrees, period, expected):
    assert canonical_degrees(degrees, period) == pytest.approx(expected)


def test_keep_best_orders_thresholds_and_caps():
    found = [Detection(str(s), (0, 0, 1, 1), s) for s in (0.2, 0.9, 0.5, 0.7)]
    assert [d.score for d in keep_best(found, 0.4, 2)] == [0.9, 0.7]


def test_nms_suppresses_overlaps_and_keeps_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert nms(boxes, scores, 0.9).tolist() == [0, 1, 2]


def test_nms_keeps_a_box_whose_overlap_equals_the_threshold():
    """As torchvision's nms: only an overlap above the threshold suppresses. Both are exact in binary."""
    # Intersection 100, union 100 + 200 - 100 = 200: IoU exactly 0.5.
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 20]], dtype=float)
    scores = np.array([0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, 0.49).tolist() == [0]
    # Over the smaller box: intersection 50 of 100, exactly 0.5 again.
    shifted = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], dtype=float)
    assert nms(shifted, scores, 0.5, mode="min").tolist() == [0, 1]
    assert nms(shifted, scores, 0.49, mode="min").tolist() == [0]


def test_min_mode_suppresses_a_box_inside_another():
    boxes = np.array([[0, 0, 100, 100], [10, 10, 30, 30]], dtype=float)
    scores = np.array([0.9, 0.95])
    assert nms(boxes, scores, 0.7).tolist() == [1, 0]
    assert nms(boxes, scores, 0.7, mode="min").tolist() == [1]


def test_batched_nms_keeps_overlapping_boxes_of_different_classes():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    assert sorted(batched_nms(boxes, np.array([0.9, 0.8]), np.array([0, 1]), 0.5)) == [0, 1]
    assert batched_nms(boxes, np.array([0.9, 0.8]), np.array([1, 1]), 0.5).tolist() == [0]
