"""Result normalisation and non-maximum suppression shared by every detector."""
from __future__ import annotations

import numpy as np
import pytest

from services.vision_worker.detection import Detection, box_of_points, canonical_degrees, keep_best
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


def test_a_result_is_rounded_to_six_places_and_a_negative_angle_turns_forward():
    result = Detection("cup", (0, 0, 1, 2), -0.5, -90.0).to_result(width=3, height=3)
    assert result == {"label": "cup", "x": 0.166667, "y": 0.333333, "width": 0.333333, "height": 0.666667,
                      "rotation": 0.75, "probability": 0.0}


def test_a_box_given_corner_last_is_put_in_order_and_clipped_on_each_axis():
    result = Detection("x", (390, 120, -10, 20), 0.5).to_result(width=400, height=100)
    assert (result["x"], result["y"], result["width"], result["height"]) == (0.4875, 0.6, 0.975, 0.8)


def test_the_box_of_points_spans_them():
    points = np.array([[5, 7], [1, 9], [3, 2]])
    assert box_of_points(points) == (1.0, 2.0, 5.0, 9.0)
    assert box_of_points([2, 3, 4, 1]) == (2.0, 1.0, 4.0, 3.0)  # flat x, y pairs


def test_keep_best_keeps_a_score_equal_to_the_threshold_best_first():
    found = [Detection(str(s), (0, 0, 1, 1), s) for s in (0.4, 0.3, 0.6)]
    assert [d.score for d in keep_best(found, 0.4, 5)] == [0.6, 0.4]
    assert keep_best(found, 0.4, 0) == []


def test_canonical_degrees_keeps_an_angle_just_inside_the_period():
    assert canonical_degrees(119.99, 120) == pytest.approx(119.99)
    assert canonical_degrees(-1e-9, 90) == 0.0
    assert canonical_degrees(30, -5) == 0.0


def test_nms_of_nothing_is_an_empty_index_array():
    kept = nms(np.empty((0, 4)), np.empty(0), 0.5)
    assert kept.dtype == np.int64 and kept.tolist() == []
    assert batched_nms(np.empty((0, 4)), np.empty(0), np.empty(0), 0.5).tolist() == []
    assert nms([[0, 0, 1, 1]], [0.3], 0.5).dtype == np.int64


def test_nms_orders_by_score_and_keeps_the_first_of_equal_scores():
    boxes = [[0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 10, 10], [200, 0, 210, 10]]
    assert nms(boxes, [0.5, 0.7, 0.5, 0.9], 0.5).tolist() == [3, 1, 0]


def test_boxes_that_only_touch_or_have_no_area_do_not_overlap():
    touching = [[0, 0, 10, 10], [10, 0, 20, 10]]
    assert nms(touching, [0.9, 0.8], 0.0).tolist() == [0, 1]
    flat = [[0, 0, 10, 0], [0, 0, 10, 0]]  # zero area: no overlap to measure, both kept
    assert nms(flat, [0.9, 0.8], 0.0).tolist() == [0, 1]
    inverted = [[10, 10, 0, 0], [0, 0, 10, 10]]  # corners swapped: an empty box, overlapping nothing
    assert nms(inverted, [0.9, 0.8], 0.0).tolist() == [0, 1]


def test_iou_is_the_intersection_over_the_union_of_both_areas():
    # 5x10 of intersection, union 100 + 100 - 50 = 150: IoU 1/3 (over the smaller box it would be 1/2).
    boxes = [[0, 0, 10, 10], [5, 0, 15, 10]]
    assert nms(boxes, [0.9, 0.8], 0.34).tolist() == [0, 1]
    assert nms(boxes, [0.9, 0.8], 0.33).tolist() == [0]
    # Overlap in y as well: 5x5 = 25 over 175 = 0.1429.
    corner = [[0, 0, 10, 10], [5, 5, 15, 15]]
    assert nms(corner, [0.9, 0.8], 0.142).tolist() == [0]
    assert nms(corner, [0.9, 0.8], 0.143).tolist() == [0, 1]


def test_a_suppressed_box_suppresses_nothing_further():
    # b overlaps a and c (IoU 40/160 each); a suppresses b, so c (which only b overlapped) stays.
    boxes = [[0, 0, 10, 10], [6, 0, 16, 10], [12, 0, 22, 10]]
    assert nms(boxes, [0.9, 0.8, 0.7], 0.2).tolist() == [0, 2]
    assert nms(boxes, [0.9, 0.8, 0.7], 0.25).tolist() == [0, 1, 2]


def test_batched_nms_shifts_classes_apart_however_large_the_boxes():
    boxes = np.array([[0, 0, 500, 500], [400, 400, 900, 900], [0, 0, 500, 500]], dtype=float)
    kept = batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 1]), 0.1)
    assert kept.tolist() == [0, 1, 2]
    kept = batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([1, 1, 1]), 0.1)
    assert kept.tolist() == [0, 1]
