"""Test images drawn with OpenCV for the vision tests: shapes at known angles and printed text.

Angles are in degrees, counter-clockwise as a viewer sees the image, matching the vision worker's
convention; OpenCV's own angles turn clockwise on screen, hence the sign flips below.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

WHITE = (255, 255, 255)


def blank(width: int = 640, height: int = 480, colour=WHITE) -> np.ndarray:
    """A plain RGB canvas."""
    return np.full((height, width, 3), colour, dtype=np.uint8)


def rotated_rectangle(rgb, centre, size, degrees, colour=(30, 60, 200)) -> None:
    """A filled rectangle whose first side (``size[0]``) points at ``degrees``."""
    corners = cv2.boxPoints((centre, size, -degrees))
    cv2.fillPoly(rgb, [np.round(corners).astype(np.int32)], colour, cv2.LINE_AA)


def triangle(rgb, centre, radius, degrees, colour=(0, 150, 0)) -> None:
    """A filled equilateral triangle with one corner in direction ``90 + degrees``."""
    corners = []
    for k in range(3):
        angle = math.radians(90 + degrees + 120 * k)
        corners.append((centre[0] + radius * math.cos(angle), centre[1] - radius * math.sin(angle)))
    cv2.fillPoly(rgb, [np.round(corners).astype(np.int32)], colour, cv2.LINE_AA)


def regular_polygon(rgb, centre, radius, sides, colour=(120, 0, 120)) -> None:
    """A filled regular polygon."""
    corners = [(centre[0] + radius * math.cos(2 * math.pi * k / sides),
                centre[1] - radius * math.sin(2 * math.pi * k / sides)) for k in range(sides)]
    cv2.fillPoly(rgb, [np.round(corners).astype(np.int32)], colour, cv2.LINE_AA)


def ellipse(rgb, centre, axes, degrees, colour=(90, 0, 90)) -> None:
    """A filled ellipse whose first axis points at ``degrees``."""
    cv2.ellipse(rgb, centre, axes, -degrees, 0, 360, colour, -1, cv2.LINE_AA)


def circle(rgb, centre, radius, colour=(200, 0, 0)) -> None:
    """A filled circle."""
    cv2.circle(rgb, centre, radius, colour, -1, cv2.LINE_AA)


def printed_text(text: str, scale: float = 3.0, thickness: int = 8) -> tuple[np.ndarray, tuple]:
    """Black text on white; returns the image and the text's x1, y1, x2, y2 in pixels."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (text_w, text_h), baseline = cv2.getTextSize(text, font, scale, thickness)
    margin = 60
    rgb = blank(text_w + 2 * margin, text_h + baseline + 2 * margin)
    origin = (margin, margin + text_h)
    cv2.putText(rgb, text, origin, font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return rgb, (margin, margin, margin + text_w, margin + text_h + baseline)


def angle_difference(a: float, b: float, period: float) -> float:
    """Smallest distance between two angles that repeat every ``period`` degrees."""
    d = (a - b) % period
    return min(d, period - d)
