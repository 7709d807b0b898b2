"""Vision jobs through the real API, outbox relay, RabbitMQ and a vision worker with real models."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from skimage import data as skimage_data

from services.vision_worker.__main__ import warm_capabilities
from services.vision_worker.analyze import process
from tests.integration.test_pipeline import wait_status

BOMB_SIDE = 40_000


@pytest.fixture(scope="module")
def capabilities():
    """What a vision worker reports after loading and warming every model it can run here."""
    return warm_capabilities()


@pytest.fixture
def vision_worker(start_worker, capabilities, app):
    """A real vision worker, running in a thread, once its registration reached the API."""
    return start_worker(handler=process, kind="vision", capabilities=lambda: capabilities)


def cat_jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(skimage_data.chelsea()).save(out, "JPEG", quality=90)
    return out.getvalue()


def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A real 1-bit greyscale PNG of side x side black pixels: ~200 KB that inflates to ~200 MB."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    deflate = zlib.compressobj(9)
    block = row * 1000
    body = b"".join(deflate.compress(block) for _ in range(side // 1000)) + deflate.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def submit(client, user, content: bytes, filename: str = "cat.jpg", **fields):
    form = {"file": (io.BytesIO(content), filename), **fields}
    return client.post("/api/v1/jobs/vision", headers=user.headers,
                       content_type="multipart/form-data", data=form)


def vision_total(client, user) -> int:
    return client.get("/api/v1/jobs?kind=vision", headers=user.headers).json["total"]


def test_the_cat_is_found_classified_and_drawn(client, make_user, relay, vision_worker):
    user = make_user()
    image = cat_jpeg()
    reply = submit(client, user, image, score_threshold="0.5", max_detections="5")
    assert reply.status_code == 202, reply.json
    # Form strings arrive as numbers in the stored params.
    params = reply.json["params"]
    assert params["score_threshold"] == 0.5 and params["max_detections"] == 5
    job = wait_status(client, user, reply.json["id"])
    assert job["status"] == "succeeded", job["error"]

    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers).json["result"]
    assert result["image_class"] and result["image_class"] == result["class_scores"][0]["label"]
    assert (result["width"], result["height"]) == Image.open(io.BytesIO(image)).size
    assert result["detection_model_id"] == 2, "SSD is the default detection model"
    assert 0 < len(result["detections"]) <= 5
    cats = [d for d in result["detections"] if d["label"] == "cat"]
    assert cats, result["detections"]
    for detection in result["detections"]:
        assert all(0.0 <= detection[k] <= 1.0 for k in ("x", "y", "width", "height"))
        assert 0.5 <= detection["probability"] <= 1.0

    artifact = client.get(f"/api/v1/jobs/{job['id']}/artifacts/annotated.jpg", headers=user.headers)
    assert artifact.status_code == 200 and artifact.mimetype == "image/jpeg"
    drawn = Image.open(io.BytesIO(artifact.data))
    assert drawn.format == "JPEG" and drawn.size == (result["width"], result["height"])

    export = client.get(f"/api/v1/jobs/{job['id']}/export?format=json", headers=user.headers)
    assert export.status_code == 200 and export.json == result


def test_a_text_file_named_jpg_is_refused_at_submit_and_not_queued(client, make_user,
                                                                   vision_worker):
    user = make_user()
    before = vision_total(client, user)
    reply = submit(client, user, b"just some words, not pixels\n" * 20, filename="holiday.jpg")
    assert reply.status_code == 400
    assert "Not an image" in reply.json["message"]
    assert vision_total(client, user) == before


def test_a_png_bomb_is_refused_from_its_header_without_decoding(client, make_user, vision_worker,
                                                              monkeypatch):
    decoded = []
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: decoded.append(args))
    bomb = png_bomb()
    user = make_user()
    before = vision_total(client, user)
    reply = submit(client, user, bomb, filename="bomb.png")
    assert reply.status_code == 413
    message = reply.json["message"]
    assert "too many pixels" in message and f"{BOMB_SIDE}x{BOMB_SIDE}" in message
    assert decoded == []
    assert vision_total(client, user) == before


# How the primitives surface lists each bundled model in its "wrong id" message, written out here so
# that a change to the catalog's ids, names or the message's shape is seen.
CHOICE_TEXT = {2: "(2, 'SSD', 'detection_model')", 3: "(3, 'EfficientNet-Lite3', 'classification_model')",
               4: "(4, 'MTCNN', 'detection_model')", 5: "(5, 'PP-OCRv4', 'detection_model')",
               6: "(6, 'Primitives', 'detection_model')"}


def test_a_wrong_model_id_is_refused_listing_the_live_catalog(client, make_user, vision_worker,
                                                             capabilities):
    offered = [entry["id"] for entry in capabilities["models"]]
    assert set(offered) <= set(CHOICE_TEXT), f"a model this test does not know: {offered}"
    user = make_user()
    reply = submit(client, user, cat_jpeg(), detection_model_id="999")
    assert reply.status_code == 400
    assert reply.json["message"] == ("Model id was not correct. Choose from (id, name, type) ["
                                     + ", ".join(CHOICE_TEXT[model_id] for model_id in offered) + "].")
    # A classification model's id (EfficientNet's, 3) is not a detection model's.
    classifier = submit(client, user, cat_jpeg(), detection_model_id="3")
    assert classifier.status_code == 400 and classifier.json["message"] == reply.json["message"]


def test_the_models_endpoint_lists_the_vision_catalog(client, vision_worker, capabilities):
    listed = client.get("/api/v1/models").json["vision"]
    assert listed == capabilities["models"]
    assert {m["kind"] for m in listed} == {"detection", "classification"}
    assert all(isinstance(m["id"], int) and m["engine"] for m in listed)


def test_the_openapi_doc_states_the_coordinate_convention(client):
    schema = client.get("/openapi.json").json["components"]["schemas"]["VisionParams"]
    assert "CENTRE" in schema["description"]
    assert {"detection_model_id", "classification_model_id", "score_threshold",
            "max_detections"} <= set(schema["properties"])


def test_s1_another_users_vision_input_and_artifact_are_not_found(client, two_users, relay,
                                                                   vision_worker):
    owner, stranger = two_users
    image = cat_jpeg()
    reply = submit(client, owner, image)
    assert reply.status_code == 202, reply.json
    job_id = reply.json["id"]
    assert wait_status(client, owner, job_id)["status"] == "succeeded"
    paths = [f"/api/v1/jobs/{job_id}/input", f"/api/v1/jobs/{job_id}/artifacts/annotated.jpg",
             f"/api/v1/jobs/{job_id}/result"]
    for path in paths:
        assert client.get(path, headers=owner.headers).status_code == 200
        assert client.get(path, headers=stranger.headers).status_code == 404
    assert client.get(paths[0], headers=owner.headers).data == image
