"""Seed 001 (image tasks with primitives) answered under /compat/primitives, line by line from its document."""
from __future__ import annotations

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from services.vision_worker.analyze import process
from shared.db import db as handle
from shared.jobflow import utcnow
from shared.kinds.vision import catalog
from shared.models import Job, WorkerRecord
from tests.conftest import wait_for

PREFIX = "/compat/primitives"
SEED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
PRIMITIVE_KEYS = {"primitive_class", "x", "y", "width", "height", "rotation", "probability"}
MODELS = [model.as_dict() for model in catalog.BUILTIN_MODELS]
SEED_IDS = {"detection_model_id": catalog.PRIMITIVES_ID, "classification_model_id": catalog.EFFICIENTNET_ID}


def vision_capabilities():
    return {"models": MODELS}


def shapes_jpeg() -> bytes:
    """A red circle on the left and a blue square on the right, on white."""
    rgb = np.full((240, 320, 3), 255, np.uint8)
    cv2.circle(rgb, (80, 120), 50, (200, 0, 0), -1, cv2.LINE_AA)
    cv2.rectangle(rgb, (190, 80), (270, 160), (30, 60, 200), -1)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=90)
    return out.getvalue()


def truncated_png() -> bytes:
    """A PNG whose header is sound (it passes the submit check) but whose pixels end early."""
    rgb = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()[:2000]


@pytest.fixture(autouse=True)
def registered_vision_worker(app):
    with app.app_context():
        handle.session.merge(WorkerRecord(id="vision-registered-in-test", kind="vision",
                                          capabilities=vision_capabilities(), last_seen_at=utcnow()))
        handle.session.commit()


@pytest.fixture
def vision_worker(start_worker):
    return start_worker(handler=process, kind="vision", capabilities=vision_capabilities)


def seed_login(auth_client, user) -> dict[str, str]:
    """Log in with the seed's own form body; the headers the seed's other requests send."""
    reply = auth_client.post(f"{PREFIX}/oauth/login", data={
        "grant_type": "password", "username": user.username, "password": user.password,
        "scope": "", "client_id": "", "client_secret": ""})
    assert reply.status_code == 200, reply.json
    return {"Authorization": f"Bearer {reply.json['access_token']}"}


@pytest.fixture
def seed_user(auth_client, make_user):
    user = make_user()
    user.seed_headers = seed_login(auth_client, user)
    return user


@pytest.fixture
def other_user(auth_client, make_user):
    user = make_user()
    user.seed_headers = seed_login(auth_client, user)
    return user


def create(client, user, body: bytes | None = None, content_type: str = "application/json", **query):
    """POST api/tasks as the seed shows it: the image as the raw body, declared as application/json."""
    return client.post(f"{PREFIX}/api/tasks", query_string={**SEED_IDS, **query}, data=body or shapes_jpeg(),
                       headers={**user.seed_headers, "Content-Type": content_type})


def created(client, user, **kwargs) -> int:
    reply = create(client, user, **kwargs)
    assert reply.status_code == 200, reply.json
    return reply.json["id"]


def status_of(client, user, task_id) -> str:
    return client.get(f"{PREFIX}/api/tasks/{task_id}/status", headers=user.seed_headers).json["status"]


# 1. /oauth/login

def test_login_with_the_seeds_form_gives_a_bearer_token(auth_client, client, make_user):
    user = make_user()
    reply = auth_client.post(f"{PREFIX}/oauth/login", data={
        "grant_type": "password", "username": user.username, "password": user.password,
        "scope": "", "client_id": "", "client_secret": ""})
    assert reply.status_code == 200
    assert set(reply.json) == {"access_token", "token_type"}
    assert reply.json["token_type"] == "Bearer" and isinstance(reply.json["access_token"], str)
    listed = client.get(f"{PREFIX}/api/tasks", headers={"Authorization": f"Bearer {reply.json['access_token']}"})
    assert listed.status_code == 200


def test_login_also_takes_the_seeds_json_body(auth_client, make_user):
    user = make_user()
    reply = auth_client.post(f"{PREFIX}/oauth/login", json={
        "grant_type": "password", "username": user.username, "password": user.password,
        "scope": "", "client_id": "", "client_secret": ""})
    assert reply.status_code == 200 and reply.json["token_type"] == "Bearer"


def test_login_with_a_wrong_password_is_422_with_the_seeds_detail(auth_client, make_user):
    user = make_user()
    reply = auth_client.post(f"{PREFIX}/oauth/login", data={"username": user.username, "password": "wrong-pass-1"})
    assert reply.status_code == 422
    assert reply.json == {"detail": "Incorrect username or password"}


def test_login_with_an_unknown_user_is_the_same_422(auth_client):
    reply = auth_client.post(f"{PREFIX}/oauth/login", data={"username": "nobody-here", "password": "x1"})
    assert reply.status_code == 422
    assert reply.json == {"detail": "Incorrect username or password"}


def test_login_without_fields_is_fastapis_422_list(auth_client):
    reply = auth_client.post(f"{PREFIX}/oauth/login", data={"grant_type": "password"})
    assert reply.status_code == 422
    assert [item["loc"] for item in reply.json["detail"]] == [["body", "username"], ["body", "password"]]
    assert all(item["msg"] == "Field required" for item in reply.json["detail"])


def test_repeated_wrong_logins_are_throttled_like_native_ones(auth_client, make_user):
    """HARDENING S4 on this surface: the compat login is no way around the native limits."""
    user = make_user()
    codes = [auth_client.post(f"{PREFIX}/oauth/login", data={"username": user.username, "password": f"bad-{i}"})
             .status_code for i in range(9)]
    assert codes[:8] == [422] * 8 and codes[8] == 429


# 2. POST api/tasks

@pytest.mark.parametrize("content_type", ["application/json", "image/jpeg", "application/x-www-form-urlencoded"])
def test_create_task_from_a_raw_jpeg_body_gives_the_integer_job_number(client, seed_user, app, content_type):
    reply = create(client, seed_user, content_type=content_type)
    assert reply.status_code == 200
    assert set(reply.json) == {"id"} and isinstance(reply.json["id"], int)
    with app.app_context():
        job = handle.session.query(Job).filter_by(number=reply.json["id"]).one()
        assert (job.kind, job.user_id, job.input_content_type) == ("vision", seed_user.id, "image/jpeg")
        assert job.params["detection_model_id"] == catalog.PRIMITIVES_ID
        assert job.params["classification_model_id"] == catalog.EFFICIENTNET_ID


def test_create_task_accepts_a_multipart_upload_too(client, seed_user):
    reply = client.post(f"{PREFIX}/api/tasks", query_string=SEED_IDS, headers=seed_user.seed_headers,
                        data={"file": (io.BytesIO(shapes_jpeg()), "scene.jpg")})
    assert reply.status_code == 200 and isinstance(reply.json["id"], int)


def test_create_task_without_a_token_is_401_not_authenticated(client):
    reply = client.post(f"{PREFIX}/api/tasks", query_string=SEED_IDS, data=shapes_jpeg())
    assert reply.status_code == 401
    assert reply.json == NOT_AUTHENTICATED


def test_create_task_with_a_bad_token_is_401_not_authenticated(client):
    reply = client.post(f"{PREFIX}/api/tasks", query_string=SEED_IDS, data=shapes_jpeg(),
                        headers={"Authorization": "Bearer not.a.token"})
    assert reply.status_code == 401
    assert reply.json == NOT_AUTHENTICATED


@pytest.mark.parametrize("query", [{"detection_model_id": 999},
                                   {"detection_model_id": catalog.EFFICIENTNET_ID},
                                   {"classification_model_id": catalog.SSD_ID}])
def test_a_wrong_model_id_is_400_listing_the_live_catalog(client, seed_user, query):
    reply = create(client, seed_user, **query)
    assert reply.status_code == 400
    detail = reply.json["detail"]
    assert set(reply.json) == {"detail"}
    assert detail.startswith("Model id was not correct. Choose from (id, name, type) [") and detail.endswith("].")
    assert "(2, 'SSD', 'detection_model')" in detail
    assert "(3, 'EfficientNet-Lite3', 'classification_model')" in detail
    assert detail.count("_model')") == len(MODELS)


def test_a_non_integer_model_id_is_fastapis_422(client, seed_user):
    reply = create(client, seed_user, detection_model_id="yolo")
    assert reply.status_code == 422
    (problem,) = reply.json["detail"]
    assert problem["loc"] == ["query", "detection_model_id"] and problem["input"] == "yolo"


def test_a_body_over_the_upload_limit_is_413_with_a_detail(client, seed_user):
    reply = create(client, seed_user, body=shapes_jpeg() + bytes(1024 * 1024))
    assert reply.status_code == 413
    assert set(reply.json) == {"detail"} and isinstance(reply.json["detail"], str)


def test_a_body_that_is_not_an_image_is_400_with_a_detail(client, seed_user):
    reply = create(client, seed_user, body=b'{"image": "not really"}')
    assert reply.status_code == 400
    assert set(reply.json) == {"detail"} and "image" in reply.json["detail"].lower()


# 3. GET api/tasks

def test_list_has_the_seeds_fields_for_the_callers_tasks_only(client, seed_user, other_user):
    first, second = created(client, seed_user), created(client, seed_user)
    foreign = created(client, other_user)
    reply = client.get(f"{PREFIX}/api/tasks", headers=seed_user.seed_headers)
    assert reply.status_code == 200 and set(reply.json) == {"tasks"}
    tasks = reply.json["tasks"]
    assert [task["id"] for task in tasks] == [first, second]
    assert foreign not in [task["id"] for task in tasks]
    for task in tasks:
        assert set(task) == {"id", "status", "created_at", "input_path"}
        assert task["status"] == "queued"
        assert SEED_TIME.match(task["created_at"])
        assert task["input_path"] == f"img_{task['id']}.jpeg"


def test_list_without_a_token_is_401(client):
    reply = client.get(f"{PREFIX}/api/tasks")
    assert reply.status_code == 401 and reply.json == NOT_AUTHENTICATED


# 4. GET api/tasks/{id}/status

def test_status_is_id_and_status(client, seed_user):
    task_id = created(client, seed_user)
    reply = client.get(f"{PREFIX}/api/tasks/{task_id}/status", headers=seed_user.seed_headers)
    assert reply.status_code == 200
    assert reply.json == {"id": task_id, "status": "queued"}


@pytest.mark.parametrize("task_id", [987654321, 10**30])
def test_status_of_a_missing_task_is_404_with_its_id(client, seed_user, task_id):
    reply = client.get(f"{PREFIX}/api/tasks/{task_id}/status", headers=seed_user.seed_headers)
    assert reply.status_code == 404
    assert reply.json == {"detail": f"Task with id {task_id} does not exist."}


def test_a_cancelled_task_reads_failed(client, seed_user):
    task_id = created(client, seed_user)
    job_id = client.get("/api/v1/jobs?kind=vision", headers=seed_user.headers).json["items"][0]["id"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=seed_user.headers).status_code == 200
    assert status_of(client, seed_user, task_id) == "failed"
    result = client.get(f"{PREFIX}/api/tasks/{task_id}/result", headers=seed_user.seed_headers).json
    assert result == {"id": task_id, "status": "failed", "result": "None"}


# 5. GET api/tasks/{id}/input

def test_input_is_the_jpeg_that_was_sent(client, seed_user):
    image = shapes_jpeg()
    task_id = created(client, seed_user, body=image)
    reply = client.get(f"{PREFIX}/api/tasks/{task_id}/input", headers=seed_user.seed_headers)
    assert reply.status_code == 200
    assert reply.mimetype == "image/jpeg" and reply.data == image


# 6. GET tasks/{id}/result (and api/tasks/{id}/result)

@pytest.mark.parametrize("path", ["/api/tasks/{id}/result", "/tasks/{id}/result"])
def test_result_while_queued_is_the_string_none(client, seed_user, path):
    task_id = created(client, seed_user)
    reply = client.get(PREFIX + path.format(id=task_id), headers=seed_user.seed_headers)
    assert reply.status_code == 200
    assert reply.json == {"id": task_id, "status": "queued", "result": "None"}


def test_a_task_runs_to_done_with_sphere_and_cube(client, seed_user, relay, vision_worker):
    task_id = created(client, seed_user)
    wait_for(lambda: status_of(client, seed_user, task_id) == "done", timeout=60, message="the task to be done")
    reply = client.get(f"{PREFIX}/tasks/{task_id}/result", headers=seed_user.seed_headers)
    assert reply.status_code == 200
    body = reply.json
    assert set(body) == {"id", "status", "result"} and (body["id"], body["status"]) == (task_id, "done")
    assert set(body["result"]) == {"image_class", "primitives"} and isinstance(body["result"]["image_class"], str)
    primitives = {p["primitive_class"]: p for p in body["result"]["primitives"]}
    assert set(primitives) == {"sphere", "cube"}
    for primitive in primitives.values():
        assert set(primitive) == PRIMITIVE_KEYS
        assert all(0.0 <= primitive[key] <= 1.0 for key in PRIMITIVE_KEYS - {"primitive_class"})
    assert primitives["sphere"]["x"] == pytest.approx(80 / 320, abs=0.02)
    assert primitives["cube"]["x"] == pytest.approx(230 / 320, abs=0.02)
    assert client.get(f"{PREFIX}/api/tasks/{task_id}/result", headers=seed_user.seed_headers).json == body
    listed = client.get(f"{PREFIX}/api/tasks", headers=seed_user.seed_headers).json["tasks"]
    assert [t["status"] for t in listed if t["id"] == task_id] == ["done"]


def test_an_undecodable_image_ends_failed_without_a_result(client, seed_user, relay, vision_worker):
    task_id = created(client, seed_user, body=truncated_png())
    wait_for(lambda: status_of(client, seed_user, task_id) == "failed", timeout=60, message="the task to fail")
    body = client.get(f"{PREFIX}/api/tasks/{task_id}/result", headers=seed_user.seed_headers).json
    assert body == {"id": task_id, "status": "failed", "result": "None"}


# 7. GET api/models

def test_models_lists_the_live_catalog_by_kind(client, seed_user):
    reply = client.get(f"{PREFIX}/api/models", headers=seed_user.seed_headers)
    assert reply.status_code == 200
    assert set(reply.json) == {"detection_models", "classification_models"}
    detection = {m["model_id"]: m["model_name"] for m in reply.json["detection_models"]}
    classification = {m["model_id"]: m["model_name"] for m in reply.json["classification_models"]}
    assert all(set(m) == {"model_name", "model_id"} for m in reply.json["detection_models"])
    assert detection[catalog.SSD_ID] == "SSD" and detection[catalog.PRIMITIVES_ID] == "Primitives"
    assert classification == {catalog.EFFICIENTNET_ID: "EfficientNet-Lite3"}


def test_models_without_a_token_is_401(client):
    reply = client.get(f"{PREFIX}/api/models")
    assert reply.status_code == 401 and reply.json == NOT_AUTHENTICATED


# 8. DELETE api/tasks/{id}

def test_delete_returns_the_id_and_the_task_is_gone(client, seed_user):
    task_id = created(client, seed_user)
    reply = client.delete(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.seed_headers)
    assert reply.status_code == 200 and reply.json == {"id": task_id}
    gone = client.get(f"{PREFIX}/api/tasks/{task_id}/status", headers=seed_user.seed_headers)
    assert gone.status_code == 404 and gone.json == {"detail": f"Task with id {task_id} does not exist."}
    again = client.delete(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.seed_headers)
    assert again.status_code == 404


# Every id route: no token is 401; another user's task is 404 exactly like a missing one (HARDENING S1).

ID_ROUTES = [("get", "/api/tasks/{id}/status"), ("get", "/api/tasks/{id}/input"),
             ("get", "/api/tasks/{id}/result"), ("get", "/tasks/{id}/result"), ("delete", "/api/tasks/{id}")]


@pytest.mark.parametrize("method,route", ID_ROUTES)
def test_id_routes_without_a_token_are_401(client, seed_user, method, route):
    task_id = created(client, seed_user)
    reply = getattr(client, method)(PREFIX + route.format(id=task_id))
    assert reply.status_code == 401 and reply.json == NOT_AUTHENTICATED


@pytest.mark.parametrize("method,route", ID_ROUTES)
def test_another_users_task_is_404_like_a_missing_one(client, seed_user, other_user, method, route):
    task_id = created(client, seed_user)
    reply = getattr(client, method)(PREFIX + route.format(id=task_id), headers=other_user.seed_headers)
    assert reply.status_code == 404
    assert reply.json == {"detail": f"Task with id {task_id} does not exist."}
    missing = getattr(client, method)(PREFIX + route.format(id=task_id + 10**9), headers=other_user.seed_headers)
    assert missing.status_code == 404 and missing.json["detail"] == f"Task with id {task_id + 10**9} does not exist."
    assert status_of(client, seed_user, task_id) == "queued"


def test_a_job_of_another_kind_is_not_a_task_of_this_surface(client, seed_user, app):
    with app.app_context():
        job = Job(user_id=seed_user.id, kind="convert", params={"target": "mp4"})
        handle.session.add(job)
        handle.session.commit()
        number = job.number
    reply = client.get(f"{PREFIX}/api/tasks/{number}/status", headers=seed_user.seed_headers)
    assert reply.status_code == 404 and reply.json == {"detail": f"Task with id {number} does not exist."}
    listed = client.get(f"{PREFIX}/api/tasks", headers=seed_user.seed_headers).json["tasks"]
    assert number not in [task["id"] for task in listed]
