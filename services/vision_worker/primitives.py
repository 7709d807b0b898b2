"""Geometric primitives by contour analysis: circle, ellipse, square, rectangle, triangle, polygon.

Foreground is whatever differs from the background colour (the median colour of the image border),
so shapes of any colour on a plain background are found, filled or outlined. Each outer contour is
classified by its polygon approximation and second moments:

* 3 corners: triangle; rotation is the direction from its centroid to the apex (the corner between
  its two most equal sides), reduced modulo 120 degrees when the triangle is equilateral.
* 4 corners filling their minimum-area rectangle: rectangle (long side's direction, mod 180) or
  square (mod 90) when the sides are within 8% of each other.
* otherwise, a contour that lies on the ellipse of its own second moments: ellipse (major axis,
  mod 180) or circle (rotation 0) when the axes are within 8%.
* anything else: polygon; regular ones are reduced modulo 360/n.

Probabilities are fit scores: the contour's area over the area of the ideal shape fitted to it.
The primitives surface calls a circle ``sphere`` and a square ``cube``; that renaming belongs to
the surface, not to the detector.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from services.vision_worker.detection import Detection, box_of_points, canonical_degrees, keep_best

LABELS = ("circle", "ellipse", "square", "rectangle", "triangle", "polygon")
ANALYSIS_MAX_SIDE = 1600  # contours of a larger image are found on a downscaled copy
MIN_AREA_FRACTION = 0.0005
MIN_AREA_PIXELS = 64
MAX_AREA_FRACTION = 0.95
EQUAL_SIDES = 0.92  # shorter/longer side above this: square, circle, equilateral, regular
ELLIPSE_MAX_DEVIATION = 0.025  # mean relative distance of the contour from its moment ellipse


def _direction_degrees(dx: float, dy: float) -> float:
    # Image y points down; negate it so angles turn counter-clockwise as a viewer sees them.
    return math.degrees(math.atan2(-dy, dx))


def _fit(actual: float, ideal: float) -> float:
    if actual <= 0 or ideal <= 0:
        return 0.0
    return min(actual / ideal, ideal / actual)


def foreground_mask(rgb: np.ndarray) -> np.ndarray:
    """255 where a pixel differs from the border's median colour, 0 elsewhere."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    background = np.median(border, axis=0)
    distance = np.abs(rgb.astype(np.int16) - background).max(axis=2).astype(np.uint8)
    otsu, _ = cv2.threshold(distance, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu splits any image in two; on a flat background a floor stops it from chasing noise.
    _, mask = cv2.threshold(distance, max(otsu, 40.0), 255, cv2.THRESH_BINARY)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _sides(corners: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)


def _triangle(corners: np.ndarray, area: float) -> tuple[str, float, float]:
    centroid = corners.mean(axis=0)
    sides = _sides(corners)  # side i joins corner i and corner i+1
    # The apex is the corner shared by the two most equal sides (sides i-1 and i meet at corner i).
    differences = [abs(sides[i - 1] - sides[i]) for i in range(3)]
    apex = corners[int(np.argmin(differences))]
    degrees = _direction_degrees(*(apex - centroid))
    period = 120.0 if sides.min() / sides.max() >= EQUAL_SIDES else 360.0
    return "triangle", canonical_degrees(degrees, period), _fit(area, cv2.contourArea(corners))


def _rectangle(contour: np.ndarray, area: float) -> tuple[str, float, float] | None:
    rect = cv2.minAreaRect(contour)
    (_cx, _cy), (w, h), _angle = rect
    if _fit(area, w * h) < 0.85:
        return None
    box = cv2.boxPoints(rect)
    sides = _sides(box)
    longest = int(np.argmax(sides))
    dx, dy = box[(longest + 1) % 4] - box[longest]
    degrees = _direction_degrees(dx, dy)
    if min(w, h) / max(w, h) >= EQUAL_SIDES:
        return "square", canonical_degrees(degrees, 90.0), _fit(area, w * h)
    return "rectangle", canonical_degrees(degrees, 180.0), _fit(area, w * h)


def _ellipse(contour: np.ndarray, area: float) -> tuple[str, float, float] | None:
    moments = cv2.moments(contour)
    if moments["m00"] <= 0:
        return None
    centre = np.array([moments["m10"], moments["m01"]]) / moments["m00"]
    cov = np.array([[moments["mu20"], moments["mu11"]], [moments["mu11"], moments["mu02"]]])
    cov /= moments["m00"]
    eigenvalues, eigenvectors = np.linalg.eigh(cov)  # ascending
    minor, major = eigenvalues
    if minor <= 0:
        return None
    # A uniform ellipse with semi-axes a, b has second moments a^2/4 and b^2/4.
    semi_major, semi_minor = 2 * math.sqrt(major), 2 * math.sqrt(minor)
    points = contour.reshape(-1, 2).astype(np.float64) - centre
    u = points @ eigenvectors[:, 1]
    v = points @ eigenvectors[:, 0]
    radial = np.sqrt((u / semi_major) ** 2 + (v / semi_minor) ** 2)
    if float(np.mean(np.abs(radial - 1.0))) > ELLIPSE_MAX_DEVIATION:
        return None
    fit = _fit(area, math.pi * semi_major * semi_minor)
    if semi_minor / semi_major >= EQUAL_SIDES:
        return "circle", 0.0, fit
    degrees = _direction_degrees(eigenvectors[0, 1], eigenvectors[1, 1])
    return "ellipse", canonical_degrees(degrees, 180.0), fit


def _polygon(contour: np.ndarray, corners: np.ndarray, area: float) -> tuple[str, float, float]:
    centroid = corners.mean(axis=0)
    offsets = corners - centroid
    sides = _sides(corners)
    regular = cv2.isContourConvex(corners.reshape(-1, 1, 2)) and \
        sides.min() / sides.max() >= EQUAL_SIDES
    far = offsets[int(np.argmax(np.linalg.norm(offsets, axis=1)))]
    period = 360.0 / len(corners) if regular else 360.0
    hull_area = cv2.contourArea(cv2.convexHull(contour))
    return "polygon", canonical_degrees(_direction_degrees(*far), period), _fit(area, hull_area)


def classify_contour(contour: np.ndarray) -> tuple[str, float, float]:
    """(label, rotation in degrees, fit score) of one outer contour."""
    area = cv2.contourArea(contour)
    perimeter = cv2.arcLength(contour, True)
    corners = cv2.approxPolyDP(contour, 0.02 * perimeter, True).reshape(-1, 2).astype(np.float32)
    if len(corners) == 3:
        return _triangle(corners, area)
    if len(corners) == 4:
        rectangle = _rectangle(contour, area)
        if rectangle:
            return rectangle
    if len(corners) >= 5:
        ellipse = _ellipse(contour, area)
        if ellipse:
            return ellipse
    return _polygon(contour, corners, area)


class PrimitiveDetector:
    """Contour-based primitive detector; it has no weights, so loading is free."""

    def detect(self, rgb: np.ndarray, score_threshold: float,
               max_detections: int) -> list[Detection]:
        """Primitives in an RGB image, each with its rotation and fit score."""
        height, width = rgb.shape[:2]
        scale = min(1.0, ANALYSIS_MAX_SIDE / max(height, width))
        small = rgb if scale == 1.0 else cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA)
        mask = foreground_mask(small)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        image_area = mask.shape[0] * mask.shape[1]
        min_area = max(MIN_AREA_PIXELS, MIN_AREA_FRACTION * image_area)
        found = []
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < min_area or area > MAX_AREA_FRACTION * image_area:
                continue
            label, degrees, fit = classify_contour(contour)
            outline = contour.reshape(-1, 2).astype(np.float32) / scale
            found.append(Detection(label, box_of_points(outline), fit, degrees, outline=outline))
        return keep_best(found, score_threshold, max_detections)


def load() -> PrimitiveDetector:
    """The detector (nothing to load)."""
    return PrimitiveDetector()
