"""Geometric primitives drawn at known angles come back with the right class and rotation."""
from __future__ import annotations

import pytest

pytest.importorskip("cv2")

from services.vision_worker import primitives  # noqa: E402
from tests.unit import vision_drawing as draw  # noqa: E402

DETECTOR = primitives.load()


def _only(rgb):
    found = DETECTOR.detect(rgb, score_threshold=0.3, max_detections=10)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("degrees", [0, 30, 75, 150])
def test_rotated_rectangle_is_a_rectangle_with_its_angle(degrees):
    rgb = draw.blank()
    draw.rotated_rectangle(rgb, (320, 240), (260, 120), degrees)
    found = _only(rgb)
    assert found.label == "rectangle"
    assert draw.angle_difference(found.rotation_degrees, degrees, 180) <= 5
    assert 0 <= found.rotation_degrees < 180


@pytest.mark.parametrize("degrees", [10, 25, 60])
def test_square_rotation_is_reduced_modulo_90(degrees):
    rgb = draw.blank()
    draw.rotated_rectangle(rgb, (320, 240), (180, 180), degrees, colour=(120, 120, 0))
    found = _only(rgb)
    assert found.label == "square"
    assert draw.angle_difference(found.rotation_degrees, degrees, 90) <= 5
    assert 0 <= found.rotation_degrees < 90


@pytest.mark.parametrize("degrees", [0, 20, 100])
def test_equilateral_triangle_rotation_is_reduced_modulo_120(degrees):
    rgb = draw.blank()
    draw.triangle(rgb, (320, 240), 150, degrees)
    found = _only(rgb)
    assert found.label == "triangle"
    assert draw.angle_difference(found.rotation_degrees, 90 + degrees, 120) <= 5


def test_circle_has_rotation_zero_and_a_tight_box():
    rgb = draw.blank()
    draw.circle(rgb, (300, 200), 110)
    found = _only(rgb)
    assert found.label == "circle"
    assert found.rotation_degrees == 0
    x1, y1, x2, y2 = found.box
    assert abs(x1 - 190) <= 3 and abs(x2 - 410) <= 3 and abs(y1 - 90) <= 3 and abs(y2 - 310) <= 3


@pytest.mark.parametrize("degrees", [15, 40, 120])
def test_ellipse_reports_its_major_axis(degrees):
    rgb = draw.blank()
    draw.ellipse(rgb, (320, 240), (170, 70), degrees)
    found = _only(rgb)
    assert found.label == "ellipse"
    assert draw.angle_difference(found.rotation_degrees, degrees, 180) <= 5


def test_hexagon_is_a_polygon_not_a_circle():
    rgb = draw.blank()
    draw.regular_polygon(rgb, (320, 240), 150, 6)
    assert _only(rgb).label == "polygon"


def test_shapes_on_a_dark_background_and_several_at_once_are_all_found():
    rgb = draw.blank(colour=(20, 20, 20))
    draw.circle(rgb, (120, 120), 80, colour=(250, 250, 0))
    draw.rotated_rectangle(rgb, (420, 130), (220, 100), 30, colour=(0, 200, 250))
    draw.triangle(rgb, (300, 360), 100, 0, colour=(250, 80, 80))
    labels = sorted(d.label for d in DETECTOR.detect(rgb, 0.3, 10))
    assert labels == ["circle", "rectangle", "triangle"]


def test_max_detections_and_threshold_limit_the_output():
    rgb = draw.blank()
    for k in range(4):
        draw.circle(rgb, (80 + 150 * k, 240), 50)
    assert len(DETECTOR.detect(rgb, 0.3, 2)) == 2
    assert DETECTOR.detect(rgb, 1.01, 10) == []


def test_plain_image_has_no_primitives():
    assert DETECTOR.detect(draw.blank(), 0.0, 10) == []
