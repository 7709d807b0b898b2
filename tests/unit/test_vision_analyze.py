"""process(job, io) end to end with FakeJobIO: result shape, artifact, progress, and refusals."""
from __future__ import annotations

import io as bytes_io
import struct
import zlib

import pytest

pytest.importorskip("cv2")
Image = pytest.importorskip("PIL.Image")
skimage_data = pytest.importorskip("skimage.data")

from services.vision_worker.analyze import process  # noqa: E402
from shared.handler import JobCancelled, PermanentError  # noqa: E402
from shared.kinds.vision import catalog  # noqa: E402
from shared.kinds.vision.params import read_params  # noqa: E402
from tests.fakes import FakeJobIO  # noqa: E402
from tests.unit import vision_drawing as draw  # noqa: E402


def _job(**params):
    return {"id": "job-1", "kind": "vision", "number": 1, "params": params,
            "input": {"filename": "x", "content_type": "image/jpeg", "size": 1}, "attempt": 1}


def _run(tmp_path, image_path, **params):
    fake = FakeJobIO(input_file=image_path, workdir=tmp_path)
    return process(_job(**params), fake), fake


@pytest.fixture(scope="module")
def cat_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "chelsea.jpg"
    Image.fromarray(skimage_data.chelsea()).save(path, quality=92)
    return path


def test_cat_photo_gives_documented_result_and_annotated_jpeg(tmp_path, cat_jpeg):
    result, fake = _run(tmp_path, cat_jpeg)
    assert set(result) == {"image_class", "class_scores", "detections", "width", "height",
                           "detection_model_id", "classification_model_id"}
    assert (result["width"], result["height"]) == (451, 300)
    assert result["detection_model_id"] == catalog.SSD_ID
    assert result["classification_model_id"] == catalog.EFFICIENTNET_ID
    assert len(result["class_scores"]) == 5
    assert result["image_class"] == result["class_scores"][0]["label"]
    assert result["detections"][0]["label"] == "cat"
    for detection in result["detections"]:
        assert set(detection) >= {"label", "x", "y", "width", "height", "rotation", "probability"}
        for key in ("x", "y", "width", "height", "rotation", "probability"):
            assert 0.0 <= detection[key] <= 1.0
    annotated_path, content_type = fake.artifacts["annotated.jpg"]
    assert content_type == "image/jpeg"
    with Image.open(annotated_path) as annotated:
        assert (annotated.format, annotated.size) == ("JPEG", (451, 300))
    assert fake.progress_events[-1] == (4, 4, "steps")


def test_threshold_and_max_detections_are_applied(tmp_path, cat_jpeg):
    loose, _ = _run(tmp_path, cat_jpeg, score_threshold=0.01, max_detections=3)
    strict, _ = _run(tmp_path, cat_jpeg, score_threshold=0.99)
    assert len(loose["detections"]) == 3
    assert all(d["probability"] >= 0.99 for d in strict["detections"])
    assert len(strict["detections"]) < len(loose["detections"])


def test_drawn_shapes_through_process_keep_rotation_in_unit_range(tmp_path):
    rgb = draw.blank()
    draw.rotated_rectangle(rgb, (320, 240), (260, 120), 30)
    path = tmp_path / "shape.webp"
    Image.fromarray(rgb).save(path, lossless=True)
    result, _ = _run(tmp_path, path, detection_model_id=catalog.PRIMITIVES_ID)
    (rectangle,) = result["detections"]
    assert rectangle["label"] == "rectangle"
    assert abs(rectangle["rotation"] * 360 - 30) <= 5
    assert rectangle["x"] == pytest.approx(0.5, abs=0.01)
    assert rectangle["y"] == pytest.approx(0.5, abs=0.01)


def test_exif_rotated_photo_is_analysed_upright(tmp_path):
    rgb = draw.blank(300, 200)
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(rgb).save(path, exif=exif)
    result, _ = _run(tmp_path, path, detection_model_id=catalog.PRIMITIVES_ID)
    assert (result["width"], result["height"]) == (200, 300)


def test_text_file_named_jpg_fails_permanently(tmp_path):
    fake_jpg = tmp_path / "photo.jpg"
    fake_jpg.write_text("hello, I am text")
    with pytest.raises(PermanentError, match="Not an image"):
        _run(tmp_path, fake_jpg)


def test_truncated_image_fails_permanently(tmp_path, cat_jpeg):
    broken = tmp_path / "broken.png"
    buffer = bytes_io.BytesIO()
    Image.open(cat_jpeg).save(buffer, format="PNG")
    broken.write_bytes(buffer.getvalue()[:2000])
    with pytest.raises(PermanentError, match="decode"):
        _run(tmp_path, broken)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # A valid 1-bit PNG header for 40000x40000 pixels and no pixel data at all: a decoder would
    # fail with "Could not decode", so "too many pixels" shows the header alone refused it.
    ihdr = struct.pack(">IIBBBBB", 40_000, 40_000, 1, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(data)
    with pytest.raises(PermanentError, match="too many pixels"):
        _run(tmp_path, bomb)


def test_pixel_limit_comes_from_the_environment(tmp_path, cat_jpeg, monkeypatch):
    monkeypatch.setenv("CONVEYOR_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(PermanentError, match="too many pixels"):
        _run(tmp_path, cat_jpeg)


@pytest.mark.parametrize("params,message", [
    ({"detection_model_id": 99}, "Model id was not correct"),
    ({"detection_model_id": catalog.EFFICIENTNET_ID}, "Model id was not correct"),
    ({"classification_model_id": catalog.SSD_ID}, "Model id was not correct"),
    ({"score_threshold": 1.5}, "score_threshold"),
    ({"score_threshold": "high"}, "score_threshold"),
    ({"max_detections": 0}, "max_detections"),
    ({"detection_model_id": "two"}, "detection_model_id"),
    ({"detection_model_id": True}, "detection_model_id"),
])
def test_bad_params_fail_permanently_before_touching_the_input(params, message):
    fake = FakeJobIO()  # no input file: reading it would raise AssertionError
    with pytest.raises(PermanentError, match=message):
        process(_job(**params), fake)


def test_params_default_and_accept_numeric_strings():
    assert read_params(None) == {"detection_model_id": catalog.SSD_ID,
                                 "classification_model_id": catalog.EFFICIENTNET_ID,
                                 "score_threshold": 0.3, "max_detections": 100}
    assert read_params({"detection_model_id": "4"})["detection_model_id"] == 4


def test_cancellation_stops_the_job(tmp_path, cat_jpeg):
    fake = FakeJobIO(input_file=cat_jpeg, workdir=tmp_path, cancel_after_events=1)
    with pytest.raises(JobCancelled):
        process(_job(), fake)
    assert "annotated.jpg" not in fake.artifacts
