"""The packaged models on real images: scikit-image's photos and text drawn with OpenCV."""
from __future__ import annotations

import pytest

pytest.importorskip("cv2")
skimage_data = pytest.importorskip("skimage.data")

from services.vision_worker import engines  # noqa: E402
from services.vision_worker.catalog import get_model  # noqa: E402
from shared.kinds.vision import catalog  # noqa: E402
from tests.unit import vision_drawing as draw  # noqa: E402

CAT_BREEDS = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat", "lynx"}


def _engine(model_id, kind=catalog.DETECTION):
    return engines.engine_for(get_model(model_id, kind))


def _classifier():
    return _engine(catalog.EFFICIENTNET_ID, catalog.CLASSIFICATION)


def test_ssd_finds_the_cat_as_a_coco_cat():
    cat = skimage_data.chelsea()
    found = _engine(catalog.SSD_ID).detect(cat, 0.3, 100)
    best = found[0]
    assert best.label == "cat" and best.score > 0.5
    # The cat fills most of the photo.
    x1, y1, x2, y2 = best.box
    assert (x2 - x1) * (y2 - y1) > 0.5 * cat.shape[0] * cat.shape[1]


def test_ssd_finds_the_motorcycle():
    left_view, _right_view, _disparity = skimage_data.stereo_motorcycle()
    labels = {d.label for d in _engine(catalog.SSD_ID).detect(left_view, 0.3, 100)}
    assert "motorcycle" in labels


def test_efficientnet_classifies_the_cat_as_a_cat_breed():
    classes = _classifier().classify(skimage_data.chelsea(), 5)
    assert len(classes) == 5
    assert classes[0][0] in CAT_BREEDS
    scores = [score for _label, score in classes]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_efficientnet_tells_coffee_from_a_cat():
    classes = _classifier().classify(skimage_data.coffee(), 5)
    assert classes[0][0] not in CAT_BREEDS
    assert {"espresso", "cup", "coffee mug"} & {label for label, _ in classes[:2]}


def test_efficientnet_sees_the_rocket_as_a_rocket_like_thing():
    classes = _classifier().classify(skimage_data.rocket(), 5)
    assert classes[0][0] in {"missile", "projectile", "space shuttle"}


def test_mtcnn_finds_the_astronauts_face():
    astronaut = skimage_data.astronaut()  # 512x512; her face is left of centre in the upper third
    faces = _engine(catalog.FACES_ID).detect(astronaut, 0.5, 10)
    assert len(faces) == 1 and faces[0].score > 0.9
    x1, y1, x2, y2 = faces[0].box
    cx, cy = (x1 + x2) / 2 / 512, (y1 + y2) / 2 / 512
    assert 0.3 < cx < 0.55 and 0.1 < cy < 0.35
    assert 0.1 < (x2 - x1) / 512 < 0.3


def test_mtcnn_finds_no_face_in_coffee():
    assert _engine(catalog.FACES_ID).detect(skimage_data.coffee(), 0.5, 10) == []


def test_ocr_finds_and_reads_drawn_text():
    rgb, (tx1, ty1, tx2, ty2) = draw.printed_text("CONVEYOR 2026")
    found = _engine(catalog.TEXT_ID).detect(rgb, 0.3, 10)
    # PP-OCR may split the line at the wide space; read left to right, it is the drawn text.
    regions = sorted(found, key=lambda d: d.box[0])
    assert {d.label for d in regions} == {"text"}
    assert "".join(d.text for d in regions).replace(" ", "") == "CONVEYOR2026"
    x1, y1 = min(d.box[0] for d in regions), min(d.box[1] for d in regions)
    x2, y2 = max(d.box[2] for d in regions), max(d.box[3] for d in regions)
    # Together the regions cover the drawn text (OCR boxes pad a little).
    assert x1 <= tx1 + 10 and y1 <= ty1 + 10 and x2 >= tx2 - 10 and y2 >= ty2 - 10
    assert all(draw.angle_difference(d.rotation_degrees, 0, 180) <= 5 for d in regions)


def test_models_load_once_per_process():
    first = _engine(catalog.SSD_ID)
    count = engines.loaded_count()
    assert _engine(catalog.SSD_ID) is first
    assert engines.loaded_count() == count
