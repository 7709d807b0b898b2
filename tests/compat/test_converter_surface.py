"""Seed 004 (Flask + Celery media converter) answered under /compat/converter, line by line from its README."""
from __future__ import annotations

import ast
import io
import uuid
from pathlib import Path

import pytest

from services.convert_worker.__main__ import capabilities
from services.convert_worker.convert import process
from shared.db import db as handle
from shared.jobflow import utcnow
from shared.media_probe import probe
from shared.models import Job, WorkerRecord
from tests.conftest import STRONG_PASSWORD, wait_for
from tests.unit.test_media_probe import TONE, make_media

PREFIX = "/compat/converter"
CELERY_STATES = {"PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """One second of H.264 + AAC in Matroska: converting it to mp4 is a quick remux."""
    return make_media(tmp_path_factory.mktemp("converter") / "holiday clip.mkv",
                      "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", *TONE, "-t", "1",
                      "-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac")


@pytest.fixture(autouse=True)
def registered_convert_worker(app):
    with app.app_context():
        handle.session.merge(WorkerRecord(id="convert-registered-in-test", kind="convert",
                                          capabilities=capabilities(), last_seen_at=utcnow()))
        handle.session.commit()


@pytest.fixture
def convert_worker(start_worker):
    return start_worker(handler=process, kind="convert", capabilities=capabilities)


def signup(auth_client, username=None, password1=STRONG_PASSWORD, password2=STRONG_PASSWORD, email=None):
    username = username or f"c{uuid.uuid4().hex[:12]}"
    return auth_client.post(f"{PREFIX}/api/auth/signup", json={
        "username": username, "password1": password1, "password2": password2,
        "email": email or f"{username}@example.com"})


class SeedUser:
    def __init__(self, auth_client):
        self.username = f"c{uuid.uuid4().hex[:12]}"
        reply = signup(auth_client, self.username)
        assert reply.status_code == 200, reply.json
        self.id = reply.json["id"]
        login = auth_client.post(f"{PREFIX}/api/auth/login",
                                 json={"username": self.username, "password": STRONG_PASSWORD})
        assert login.status_code == 200, login.json
        self.headers = {"Authorization": f"Bearer {login.json['token']}"}


@pytest.fixture
def seed_user(auth_client):
    return SeedUser(auth_client)


@pytest.fixture
def other_user(auth_client):
    return SeedUser(auth_client)


def create(client, user, clip: Path, conversion_type: str | None = "mp4"):
    form = {"file": (io.BytesIO(clip.read_bytes()), clip.name)}
    if conversion_type is not None:
        form["conversion_type"] = conversion_type
    return client.post(f"{PREFIX}/api/tasks", headers=user.headers, data=form)


def created(client, user, clip: Path, **kwargs) -> str:
    reply = create(client, user, clip, **kwargs)
    assert reply.status_code == 200, reply.json
    return reply.json["task_id"]


def state_of(client, user, task_id) -> str:
    return client.get(f"{PREFIX}/api/tasks/{task_id}", headers=user.headers).json["state"]


# 1. /api/auth/signup

def test_signup_creates_a_native_user(auth_client):
    username = f"c{uuid.uuid4().hex[:12]}"
    reply = signup(auth_client, username)
    assert reply.status_code == 200
    assert set(reply.json) == {"message", "id"}
    assert reply.json["message"] == "usuario creado exitosamente" and isinstance(reply.json["id"], int)
    native = auth_client.post("/auth/v1/login", json={"username": username, "password": STRONG_PASSWORD})
    assert native.status_code == 200


def test_signup_with_different_passwords_is_400(auth_client):
    reply = signup(auth_client, password2=STRONG_PASSWORD + "x")
    assert reply.status_code == 400
    assert reply.json == {"message": "Las contraseñas no coinciden"}


def test_signup_with_a_weak_password_is_400_with_the_native_rule(auth_client):
    reply = signup(auth_client, password1="short", password2="short")
    assert reply.status_code == 400
    assert set(reply.json) == {"message"} and "at least" in reply.json["message"]


def test_signup_with_missing_fields_is_400_naming_them(auth_client):
    reply = auth_client.post(f"{PREFIX}/api/auth/signup", json={"username": "someone"})
    assert reply.status_code == 400
    assert reply.json == {"message": "Faltan campos obligatorios: password1, password2, email"}


def test_signup_with_a_bad_email_is_400(auth_client):
    reply = signup(auth_client, email="not-an-email")
    assert reply.status_code == 400
    assert reply.json["message"].startswith("email:")


def test_signup_of_a_taken_username_is_409(auth_client, seed_user):
    reply = signup(auth_client, seed_user.username, email=f"another-{seed_user.username}@example.com")
    assert reply.status_code == 409
    assert set(reply.json) == {"message"} and "username" in reply.json["message"]


# 2. /api/auth/login

def test_login_gives_message_token_and_id(auth_client, client):
    username = f"c{uuid.uuid4().hex[:12]}"
    user_id = signup(auth_client, username).json["id"]
    reply = auth_client.post(f"{PREFIX}/api/auth/login", json={"username": username, "password": STRONG_PASSWORD})
    assert reply.status_code == 200
    assert set(reply.json) == {"message", "token", "id"}
    assert reply.json["message"] == "Inicio de sesión exitoso"
    assert reply.json["id"] == user_id
    listed = client.get(f"{PREFIX}/api/tasks", headers={"Authorization": f"Bearer {reply.json['token']}"})
    assert listed.status_code == 200


def test_login_with_a_wrong_password_is_401_with_a_message(auth_client, seed_user):
    reply = auth_client.post(f"{PREFIX}/api/auth/login", json={"username": seed_user.username,
                                                               "password": "wrong-pass-1"})
    assert reply.status_code == 401
    assert reply.json == {"message": "Usuario o contraseña incorrectos"}


def test_repeated_wrong_logins_are_throttled_like_native_ones(auth_client, seed_user):
    """HARDENING S4 on this surface: the compat login is no way around the native limits."""
    codes = [auth_client.post(f"{PREFIX}/api/auth/login", json={"username": seed_user.username,
                                                                "password": f"bad-{i}"}).status_code
             for i in range(9)]
    assert codes[:8] == [401] * 8 and codes[8] == 429


# 3. GET /api/tasks

def test_list_has_the_seeds_fields_for_the_callers_tasks_only(client, seed_user, other_user, clip):
    first, second = created(client, seed_user, clip), created(client, seed_user, clip, conversion_type="webm")
    foreign = created(client, other_user, clip)
    reply = client.get(f"{PREFIX}/api/tasks", headers=seed_user.headers)
    assert reply.status_code == 200 and set(reply.json) == {"tasks"}
    tasks = reply.json["tasks"]
    assert [task["task_id"] for task in tasks] == [first, second] and foreign not in {t["task_id"] for t in tasks}
    assert [task["conversion_type"] for task in tasks] == ["mp4", "webm"]
    for task in tasks:
        assert set(task) == {"task_id", "conversion_type", "status"}
        assert uuid.UUID(task["task_id"]) and task["status"] == "PENDING"


# 4. POST /api/tasks

def test_create_task_with_a_multipart_file_starts_a_conversion(client, seed_user, clip):
    reply = create(client, seed_user, clip)
    assert reply.status_code == 200
    assert set(reply.json) == {"message", "task_id"}
    assert reply.json["message"] == "Conversion started" and uuid.UUID(reply.json["task_id"])


def test_the_seeds_json_file_path_is_refused_with_a_clear_400(client, seed_user):
    reply = client.post(f"{PREFIX}/api/tasks", headers=seed_user.headers,
                        json={"file": "file_path", "conversion_type": "mp4"})
    assert reply.status_code == 400
    assert set(reply.json) == {"message"}
    assert "not its path" in reply.json["message"] and "multipart/form-data" in reply.json["message"]


def test_create_task_without_a_file_is_400(client, seed_user):
    reply = client.post(f"{PREFIX}/api/tasks", headers=seed_user.headers, data={"conversion_type": "mp4"})
    assert reply.status_code == 400
    assert reply.json == {"message": "The 'file' part is missing: send multipart/form-data with a 'file' part and "
                                     "a 'conversion_type' field."}


@pytest.mark.parametrize("conversion_type", [None, "doc"])
def test_a_missing_or_unknown_conversion_type_is_400_listing_the_targets(client, seed_user, clip, conversion_type):
    reply = create(client, seed_user, clip, conversion_type=conversion_type)
    assert reply.status_code == 400
    assert set(reply.json) == {"message"} and "mp4" in reply.json["message"] and "webm" in reply.json["message"]


def test_a_file_that_is_not_media_is_400(client, seed_user, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are notes, not a video")
    reply = create(client, seed_user, text)
    assert reply.status_code == 400 and set(reply.json) == {"message"}


# 5. GET /api/tasks/{id}

def test_a_queued_task_is_pending_with_a_null_result(client, seed_user, clip):
    task_id = created(client, seed_user, clip)
    reply = client.get(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.headers)
    assert reply.status_code == 200
    assert reply.json == {"state": "PENDING", "result": None}


def test_a_cancelled_task_is_revoked(client, seed_user, clip):
    task_id = created(client, seed_user, clip)
    native = client.post(f"/api/v1/jobs/{task_id}/cancel",
                         headers=seed_user.headers)
    assert native.status_code == 200
    assert client.get(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.headers).json == {
        "state": "REVOKED", "result": None}
    assert client.get(f"{PREFIX}/api/tasks", headers=seed_user.headers).json["tasks"][0]["status"] == "REVOKED"


def test_a_task_converts_and_downloads(client, seed_user, clip, relay, convert_worker, tmp_path):
    task_id = created(client, seed_user, clip)
    wait_for(lambda: state_of(client, seed_user, task_id) in ("SUCCESS", "FAILURE"), timeout=60,
             message="the conversion to finish")
    body = client.get(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.headers).json
    assert body["state"] == "SUCCESS" and isinstance(body["result"], str)
    assert ast.literal_eval(body["result"]) == {"status": "File saved to holiday_clip.mp4"}
    listed = client.get(f"{PREFIX}/api/tasks", headers=seed_user.headers).json["tasks"]
    assert listed == [{"task_id": task_id, "conversion_type": "mp4", "status": "SUCCESS"}]

    reply = client.get(f"{PREFIX}/api/download", query_string={"task_id": task_id}, headers=seed_user.headers)
    assert reply.status_code == 200 and reply.mimetype == "video/mp4"
    assert reply.headers["Content-Disposition"].startswith("attachment") and "holiday_clip.mp4" in \
        reply.headers["Content-Disposition"]
    saved = tmp_path / "downloaded.mp4"
    saved.write_bytes(reply.data)
    info = probe(saved)
    assert "mp4" in info.format_name and info.first("video") and info.first("audio")


# 6. DELETE /api/tasks/{id}

def test_delete_is_204_and_the_task_is_gone(client, seed_user, clip):
    task_id = created(client, seed_user, clip)
    reply = client.delete(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.headers)
    assert reply.status_code == 204 and reply.data == b""
    gone = client.get(f"{PREFIX}/api/tasks/{task_id}", headers=seed_user.headers)
    assert gone.status_code == 404 and gone.json == {"message": "Task not found."}


# 7. GET /api/download

def test_download_without_task_id_is_400(client, seed_user):
    reply = client.get(f"{PREFIX}/api/download", headers=seed_user.headers)
    assert reply.status_code == 400
    assert reply.json == {"message": "The 'task_id' query parameter is required."}


def test_download_before_the_conversion_is_409(client, seed_user, clip):
    task_id = created(client, seed_user, clip)
    reply = client.get(f"{PREFIX}/api/download", query_string={"task_id": task_id}, headers=seed_user.headers)
    assert reply.status_code == 409
    assert reply.json == {"message": "The task is PENDING; there is no converted file to download."}


# Every route needs the token; every id route answers another user's task as a missing one (HARDENING S1).

ROUTES = [("get", "/api/tasks", None), ("post", "/api/tasks", None), ("get", "/api/tasks/{id}", None),
          ("delete", "/api/tasks/{id}", None), ("get", "/api/download", "{id}")]


@pytest.mark.parametrize("method,route,task_query", ROUTES)
def test_every_route_without_a_token_is_401(client, method, route, task_query):
    task_id = str(uuid.uuid4())
    query = {"task_id": task_query.format(id=task_id)} if task_query else None
    reply = getattr(client, method)(PREFIX + route.format(id=task_id), query_string=query)
    assert reply.status_code == 401
    assert set(reply.json) == {"message"} and "Bearer" in reply.json["message"]


ID_ROUTES = [(method, route, task_query) for method, route, task_query in ROUTES
             if "{id}" in (route + (task_query or ""))]


@pytest.mark.parametrize("method,route,task_query", ID_ROUTES)
def test_another_users_task_is_404_like_a_missing_one(client, seed_user, other_user, clip, method, route, task_query):
    task_id = created(client, seed_user, clip)

    def call(some_id):
        query = {"task_id": task_query.format(id=some_id)} if task_query else None
        return getattr(client, method)(PREFIX + route.format(id=some_id), query_string=query,
                                       headers=other_user.headers)
    foreign, missing = call(task_id), call(str(uuid.uuid4()))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json == {"message": "Task not found."}
    assert state_of(client, seed_user, task_id) == "PENDING"


def test_a_job_of_another_kind_is_not_a_task_of_this_surface(client, seed_user, app):
    with app.app_context():
        job = Job(user_id=seed_user.id, kind="vision", params={})
        handle.session.add(job)
        handle.session.commit()
        job_id = str(job.id)
    reply = client.get(f"{PREFIX}/api/tasks/{job_id}", headers=seed_user.headers)
    assert reply.status_code == 404
    assert job_id not in {t["task_id"] for t in client.get(f"{PREFIX}/api/tasks", headers=seed_user.headers)
                          .json["tasks"]}
