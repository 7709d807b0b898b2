"""Seed 002 (translation REST API) answered under /compat/translate, line by line from its document."""
from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")

PREFIX = "/compat/translate"
DRF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SEED_TEXT = "Hello I am Sumisha PS from Kerala but currently I am in Bangalore"


@pytest.fixture
def seed_user(auth_client, make_user):
    """A user with a token pair from the seed's own token endpoint."""
    user = make_user()
    reply = auth_client.post(f"{PREFIX}/api/token/", json={"username": user.username, "password": user.password})
    assert reply.status_code == 200
    assert set(reply.json) == {"access", "refresh"}
    user.seed_headers = {"Authorization": f"Bearer {reply.json['access']}"}
    user.seed_refresh = reply.json["refresh"]
    return user


def submit(client, user, **overrides):
    body = {"source_text": SEED_TEXT, "source_lang": "en", "target_lang": "es", "priority": "normal", **overrides}
    return client.post(f"{PREFIX}/api/v1/translate/", headers=user.seed_headers, json=body)


def test_token_with_wrong_credentials_is_401_with_detail(auth_client, make_user):
    user = make_user()
    reply = auth_client.post(f"{PREFIX}/api/token/", json={"username": user.username, "password": "nope-nope-1"})
    assert reply.status_code == 401
    assert reply.json == {"detail": "No active account found with the given credentials"}


def test_token_without_fields_is_400_per_field(auth_client):
    reply = auth_client.post(f"{PREFIX}/api/token/", json={})
    assert reply.status_code == 400
    assert reply.json == {"username": ["This field is required."], "password": ["This field is required."]}


def test_refresh_gives_a_new_access_token_and_rotates(auth_client, client, seed_user):
    reply = auth_client.post(f"{PREFIX}/api/token/refresh/", json={"refresh": seed_user.seed_refresh})
    assert reply.status_code == 200 and set(reply.json) == {"access", "refresh"}
    assert client.get(f"{PREFIX}/api/v1/translate/{uuid.uuid4()}/status/",
                      headers={"Authorization": f"Bearer {reply.json['access']}"}).status_code == 404
    replay = auth_client.post(f"{PREFIX}/api/token/refresh/", json={"refresh": seed_user.seed_refresh})
    assert replay.status_code == 401 and replay.json["code"] == "token_not_valid"


def test_submit_is_201_with_the_job_echo(client, seed_user):
    reply = submit(client, seed_user)
    assert reply.status_code == 201
    body = reply.json
    assert set(body) == {"id", "source_text", "source_lang", "target_lang", "priority"}
    assert uuid.UUID(body["id"])
    assert body["source_text"] == SEED_TEXT and body["priority"] == "normal"


def test_status_has_the_seeds_fields(client, seed_user):
    job_id = submit(client, seed_user).json["id"]
    reply = client.get(f"{PREFIX}/api/v1/translate/{job_id}/status/", headers=seed_user.seed_headers)
    assert reply.status_code == 200
    body = reply.json
    assert set(body) == {"id", "status", "priority", "created_at", "started_at", "completed_at", "word_count"}
    assert body["status"] == "pending" and body["word_count"] == 13
    assert DRF_TIME.match(body["created_at"]) and body["started_at"] is None and body["completed_at"] is None


def test_result_before_completion_has_null_text(client, seed_user):
    job_id = submit(client, seed_user).json["id"]
    body = client.get(f"{PREFIX}/api/v1/translate/{job_id}/result/", headers=seed_user.seed_headers).json
    assert body == {"id": job_id, "status": "pending", "translated_text": None, "error_message": None}


def test_unsupported_language_is_refused_at_submit(client, seed_user):
    reply = submit(client, seed_user, target_lang="hi")
    assert reply.status_code == 400
    assert "target_lang" in reply.json


def test_missing_fields_and_bad_priority_are_400(client, seed_user):
    reply = client.post(f"{PREFIX}/api/v1/translate/", headers=seed_user.seed_headers, json={"priority": "urgent"})
    assert reply.status_code == 400
    assert {"source_text", "source_lang", "target_lang", "priority"} <= set(reply.json)


def test_no_token_is_401_with_drf_detail(client):
    reply = client.post(f"{PREFIX}/api/v1/translate/", json={"source_text": "x", "source_lang": "en",
                                                             "target_lang": "es"})
    assert reply.status_code == 401
    assert reply.json == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("route", ["status", "result"])
def test_another_users_job_is_404(client, seed_user, make_user, auth_client, route):
    """HARDENING S1 on this surface."""
    job_id = submit(client, seed_user).json["id"]
    other = make_user()
    reply = client.get(f"{PREFIX}/api/v1/translate/{job_id}/{route}/", headers=other.headers)
    assert reply.status_code == 404 and reply.json == {"detail": "Not found."}
    missing = client.get(f"{PREFIX}/api/v1/translate/{uuid.uuid4()}/{route}/", headers=other.headers)
    assert missing.json == reply.json


def test_list_all_is_admin_only_with_every_field(client, seed_user, admin):
    job_id = submit(client, seed_user).json["id"]
    assert client.get(f"{PREFIX}/api/v1/translate/all/", headers=seed_user.seed_headers).status_code == 403
    rows = client.get(f"{PREFIX}/api/v1/translate/all/", headers=admin.headers).json
    row = next(r for r in rows if r["id"] == job_id)
    assert set(row) == {"id", "user", "source_text", "translated_text", "source_lang", "target_lang", "status",
                        "priority", "word_count", "error_message", "created_at", "started_at", "completed_at"}
    assert row["user"] == seed_user.id and isinstance(row["user"], int)


def test_a_job_completes_with_real_spanish(client, seed_user, relay, translate_worker):
    job_id = submit(client, seed_user, source_text="The cat is black.").json["id"]

    def completed():
        body = client.get(f"{PREFIX}/api/v1/translate/{job_id}/status/", headers=seed_user.seed_headers).json
        return body if body["status"] == "completed" else None
    status = wait_for(completed, message="the compat job to complete")
    assert DRF_TIME.match(status["started_at"]) and DRF_TIME.match(status["completed_at"])
    result = client.get(f"{PREFIX}/api/v1/translate/{job_id}/result/", headers=seed_user.seed_headers).json
    assert "gato" in result["translated_text"].lower() and result["error_message"] is None


def test_high_priority_overtakes_normal_with_a_busy_worker(client, seed_user, make_user, relay, start_worker):
    from tests.integration.slow_worker import slow_handler
    start_worker(slow_handler)
    other = make_user()
    other.seed_headers = other.headers
    blocker = submit(client, seed_user).json["id"]
    wait_for(lambda: client.get(f"{PREFIX}/api/v1/translate/{blocker}/status/",
                                headers=seed_user.seed_headers).json["status"] == "processing")
    normal = [submit(client, seed_user, source_text=f"normal {i}").json["id"] for i in range(3)]
    high = submit(client, other, source_text="urgent", priority="high").json["id"]
    wait_for(lambda: client.get(f"{PREFIX}/api/v1/translate/{high}/status/", headers=other.headers
                                ).json["status"] == "completed", timeout=60)
    first_normal = client.get(f"{PREFIX}/api/v1/translate/{normal[0]}/status/", headers=seed_user.seed_headers).json
    assert first_normal["status"] in ("pending", "processing")
