"""Seed 000 (Nevisa speech-to-text) answered under /compat/nevisa, line by line from its document."""
from __future__ import annotations

import io
import uuid

import pytest
import requests

from shared.db import db as handle
from shared.models import Job, User
from tests.conftest import wait_for
from tests.media import word_error_rate

pytest_plugins = ("tests.compat.asr_support",)
pytestmark = pytest.mark.usefixtures("asr_registered")

PREFIX = "/compat/nevisa"
USER_KEYS = {"id", "token", "username", "phone", "email", "is_staff", "is_telegram_user", "nevisa_service_account"}
PROGRESS_KEYS = {"pending", "current", "total", "percent"}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}


def seed_login(auth_client, name: str, password: str):
    return auth_client.post(f"{PREFIX}/account/login", json={"username_or_phone_or_email": name,
                                                             "password": password})


@pytest.fixture
def seed_user(auth_client, make_user):
    """A user with the seed's auth token (from its login) and an API key (from the native API)."""
    user = make_user()
    reply = seed_login(auth_client, user.username, user.password)
    assert reply.status_code == 200, reply.json
    user.auth_token = reply.json["user"]["token"]
    created = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "nevisa"})
    assert created.status_code == 201
    user.api_key, user.api_key_id = created.json["key"], created.json["id"]
    user.seed_headers = {"Authorization": f"Token {user.auth_token}"}
    return user


@pytest.fixture
def intruder(auth_client, make_user):
    """A second seed user, who must not see the first one's tasks."""
    user = make_user()
    user.auth_token = seed_login(auth_client, user.username, user.password).json["user"]["token"]
    user.api_key = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "x"}).json["key"]
    user.seed_headers = {"Authorization": f"Token {user.auth_token}"}
    return user


def recognize(client, user, audio: bytes, name: str = "speech.mp3", **overrides):
    form = {"auth_token": user.auth_token, "api_key": user.api_key, "file": (io.BytesIO(audio), name)}
    form.update(overrides)
    return client.post(f"{PREFIX}/recognize-file", data={k: v for k, v in form.items() if v is not None},
                       content_type="multipart/form-data")


def progress(client, task_id: str, headers=None):
    """The seed's progress request: no header, unless a test sends one."""
    return client.get(f"{PREFIX}/celery-progress/{task_id}/", headers=headers or {})


@pytest.fixture
def progress_needs_auth(app, monkeypatch):
    """The opt-in CONVEYOR_NEVISA_PROGRESS_NEEDS_AUTH: progress needs the owner's header."""
    monkeypatch.setitem(app.config, "NEVISA_PROGRESS_NEEDS_AUTH", True)


def terminate(client, user, task_id, headers=None, **fields):
    form = {"auth_token": user.auth_token, "api_key": user.api_key, "task_id": task_id, **fields}
    return client.post(f"{PREFIX}/file/terminate-task", data={k: v for k, v in form.items() if v is not None},
                       headers=user.seed_headers if headers is None else headers,
                       content_type="multipart/form-data")


# Login


def test_login_answers_the_seeds_message_and_user_object(auth_client, app, make_user):
    user = make_user()
    reply = seed_login(auth_client, user.username, user.password)
    assert reply.status_code == 200
    assert reply.json["message"] == "Successfully logged in."
    body = reply.json["user"]
    assert set(body) == USER_KEYS
    with app.app_context():
        public_id = handle.session.get(User, user.id).public_id
    assert body["id"] == str(public_id)
    assert body["username"] == user.username and body["email"] == f"{user.username}@example.com"
    assert body["phone"] is None
    assert body["is_staff"] is False and body["is_telegram_user"] is False
    account = body["nevisa_service_account"]
    assert account["id"] == str(public_id) and account["can_submit"] is True and account["api_keys"] == 0
    assert isinstance(account["max_active_tasks"], int) and isinstance(account["max_upload_bytes"], int)


def test_the_token_changes_every_login_and_each_one_works(auth_client, client, make_user):
    user = make_user()
    first = seed_login(auth_client, user.username, user.password).json["user"]["token"]
    second = seed_login(auth_client, user.username, user.password).json["user"]["token"]
    assert first != second
    for token in (first, second):
        reply = client.post(f"{PREFIX}/file/terminate-task", data={"task_id": str(uuid.uuid4())},
                            headers={"Authorization": f"Token {token}"}, content_type="multipart/form-data")
        # Authenticated: the answer is about the task, not the token.
        assert reply.status_code == 401 and reply.json == {"detail": "This task does not belong to you."}


def test_login_takes_the_email_or_the_phone_too(auth_client, auth_app, make_user):
    user = make_user()
    with auth_app.app_context():
        handle.session.get(User, user.id).phone = "989123456789"
        handle.session.commit()
    by_email = seed_login(auth_client, f"{user.username}@example.com", user.password)
    by_phone = seed_login(auth_client, "989123456789", user.password)
    assert by_email.status_code == 200 and by_phone.status_code == 200
    assert by_phone.json["user"]["phone"] == "989123456789"
    assert by_email.json["user"]["username"] == user.username


def test_login_as_an_administrator_says_is_staff(auth_client, admin):
    body = seed_login(auth_client, admin.username, admin.password).json
    assert body["user"]["is_staff"] is True


def test_login_counts_the_live_api_keys_in_the_service_account(auth_client, seed_user):
    body = seed_login(auth_client, seed_user.username, seed_user.password).json
    assert body["user"]["nevisa_service_account"]["api_keys"] == 1
    assert seed_user.api_key not in str(body)


def test_login_with_a_wrong_password_is_401_with_a_detail(auth_client, make_user):
    user = make_user()
    reply = seed_login(auth_client, user.username, "Wrong-pass-2026")
    assert reply.status_code == 401
    assert reply.json == {"detail": "Unable to log in with provided credentials."}


def test_login_takes_a_form_body_as_well(auth_client, make_user):
    user = make_user()
    reply = auth_client.post(f"{PREFIX}/account/login", data={"username_or_phone_or_email": user.username,
                                                              "password": user.password})
    assert reply.status_code == 200 and reply.json["user"]["username"] == user.username


def test_login_without_fields_is_400_per_field(auth_client):
    reply = auth_client.post(f"{PREFIX}/account/login", json={})
    assert reply.status_code == 400
    assert reply.json == {"username_or_phone_or_email": ["This field is required."],
                          "password": ["This field is required."]}


def test_repeated_wrong_logins_are_throttled_like_native_ones(auth_client, make_user):
    user = make_user()
    codes = [seed_login(auth_client, user.username, "Wrong-pass-2026").status_code for _ in range(9)]
    assert codes[:8] == [401] * 8 and codes[8] == 429


# File recognition


def test_recognize_file_answers_the_progress_url_and_task_id(client, app, seed_user, speech_mp3):
    reply = recognize(client, seed_user, speech_mp3)
    assert reply.status_code == 200, reply.json
    assert set(reply.json) == {"progress_url", "task_id"}
    task_id = reply.json["task_id"]
    assert reply.json["progress_url"] == f"/celery-progress/{task_id}/"
    with app.app_context():
        job = handle.session.get(Job, uuid.UUID(task_id))
        assert job.kind == "asr" and job.user_id == seed_user.id and job.input_filename == "speech.mp3"


@pytest.mark.parametrize("missing", ["auth_token", "api_key"])
def test_recognize_file_needs_both_the_auth_token_and_the_api_key(client, seed_user, speech_mp3, missing):
    reply = recognize(client, seed_user, speech_mp3, **{missing: None})
    assert reply.status_code == 401
    assert reply.json == {"detail": "Authentication credentials were not provided: send auth_token and api_key."}


def test_recognize_file_with_a_bad_auth_token_is_401(client, seed_user, speech_mp3):
    reply = recognize(client, seed_user, speech_mp3, auth_token="not.a.token")
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid token."}


def test_recognize_file_with_an_api_key_in_place_of_the_token_is_401(client, seed_user, speech_mp3):
    reply = recognize(client, seed_user, speech_mp3, auth_token=seed_user.api_key)
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid token."}


def test_recognize_file_with_a_bad_api_key_is_401(client, seed_user, speech_mp3):
    reply = recognize(client, seed_user, speech_mp3, api_key="cvk_" + "x" * 40)
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid API key."}


def test_recognize_file_with_a_revoked_api_key_is_401(client, auth_client, seed_user, speech_mp3):
    assert auth_client.delete(f"/auth/v1/api-keys/{seed_user.api_key_id}", headers=seed_user.headers).status_code == 204
    reply = recognize(client, seed_user, speech_mp3)
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid API key."}


def test_recognize_file_with_a_logged_out_token_is_401(client, auth_client, seed_user, speech_mp3):
    assert auth_client.post("/auth/v1/logout", headers={"Authorization": f"Bearer {seed_user.auth_token}"}
                            ).status_code == 204
    reply = recognize(client, seed_user, speech_mp3)
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid token."}


def test_recognize_file_with_one_users_token_and_anothers_key_is_401(client, seed_user, intruder, speech_mp3):
    reply = recognize(client, seed_user, speech_mp3, api_key=intruder.api_key)
    assert reply.status_code == 401
    assert reply.json == {"detail": "The credentials sent belong to different accounts."}


def test_recognize_file_checks_an_authorization_header_when_one_is_sent(client, seed_user, intruder, speech_mp3):
    form = {"auth_token": seed_user.auth_token, "api_key": seed_user.api_key, "file": (io.BytesIO(speech_mp3), "a.mp3")}
    reply = client.post(f"{PREFIX}/recognize-file", data=form, headers=intruder.seed_headers,
                        content_type="multipart/form-data")
    assert reply.status_code == 401 and reply.json["detail"].startswith("The credentials sent belong")


def test_recognize_file_without_a_file_is_400(client, seed_user):
    reply = client.post(f"{PREFIX}/recognize-file", data={"auth_token": seed_user.auth_token,
                                                           "api_key": seed_user.api_key},
                        content_type="multipart/form-data")
    assert reply.status_code == 400 and reply.json == {"file": ["No file was submitted."]}


def test_recognize_file_of_something_that_is_not_audio_is_400_with_a_reason(client, seed_user):
    reply = recognize(client, seed_user, b"%PDF-1.4 not audio at all" * 50, name="talk.mp3")
    assert reply.status_code == 400
    assert set(reply.json) == {"detail"} and "cannot be transcribed" in reply.json["detail"]


def test_recognize_file_takes_other_audio_formats(client, seed_user, speech_wav):
    reply = recognize(client, seed_user, speech_wav, name="speech.wav")
    assert reply.status_code == 200 and reply.json["progress_url"].startswith("/celery-progress/")


def test_recognize_file_by_an_account_that_may_not_submit_is_403(client, app, seed_user, speech_mp3):
    with app.app_context():
        handle.session.get(User, seed_user.id).may_submit = False
        handle.session.commit()
    reply = recognize(client, seed_user, speech_mp3)
    assert reply.status_code == 403 and "may not submit" in reply.json["detail"]


# Task progress


def test_progress_of_a_queued_task_is_pending(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = progress(client, task_id)
    assert reply.status_code == 200
    assert reply.json == {"state": "PENDING", "complete": False, "success": None,
                          "progress": {"pending": True, "current": 0, "total": 100, "percent": 0}}


def test_a_client_written_from_the_seed_follows_its_task_with_plain_requests(live_api, seed_user, speech_mp3):
    """The seed's client: recognize-file with the form fields, then GET progress_url with no header."""
    base = f"{live_api}{PREFIX}"
    reply = requests.post(f"{base}/recognize-file", data={"auth_token": seed_user.auth_token,
                                                           "api_key": seed_user.api_key},
                          files={"file": ("speech.mp3", speech_mp3, "audio/mpeg")}, timeout=30)
    assert reply.status_code == 200, reply.text
    polled = requests.get(base + reply.json()["progress_url"], timeout=10)
    assert "Authorization" not in polled.request.headers
    assert polled.status_code == 200 and polled.json()["state"] == "PENDING"
    assert polled.json()["progress"] == {"pending": True, "current": 0, "total": 100, "percent": 0}


def test_the_task_id_is_a_random_uuid(client, seed_user, speech_mp3):
    ids = [uuid.UUID(recognize(client, seed_user, speech_mp3).json["task_id"]) for _ in range(2)]
    assert all(task_id.version == 4 for task_id in ids) and ids[0] != ids[1]


@pytest.mark.parametrize("unknown_id", [lambda: str(uuid.uuid4()), lambda: str(uuid.uuid1()), lambda: "not-a-uuid",
                                        lambda: "12", lambda: "1"])
def test_progress_of_an_unknown_or_malformed_task_id_is_404(client, unknown_id):
    reply = progress(client, unknown_id())
    assert reply.status_code == 404 and reply.json == {"detail": "Not found."}


def test_progress_does_not_consult_a_header_that_is_sent(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = progress(client, task_id, headers={"Authorization": "Token nonsense"})
    assert reply.status_code == 200 and reply.json["state"] == "PENDING"


# The opt-in CONVEYOR_NEVISA_PROGRESS_NEEDS_AUTH


@pytest.mark.usefixtures("progress_needs_auth")
def test_with_the_setting_progress_without_a_header_is_401(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = progress(client, task_id)
    assert reply.status_code == 401 and reply.json == NOT_PROVIDED


@pytest.mark.usefixtures("progress_needs_auth")
@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_with_the_setting_progress_takes_the_auth_token_in_the_header(client, seed_user, speech_mp3, scheme):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = progress(client, task_id, headers={"Authorization": f"{scheme} {seed_user.auth_token}"})
    assert reply.status_code == 200 and reply.json["state"] == "PENDING"


@pytest.mark.usefixtures("progress_needs_auth")
def test_with_the_setting_progress_takes_the_api_key_in_the_header(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = progress(client, task_id, headers={"Authorization": f"Token {seed_user.api_key}"})
    assert reply.status_code == 200 and reply.json["state"] == "PENDING"


@pytest.mark.usefixtures("progress_needs_auth")
def test_with_the_setting_progress_with_a_bad_token_is_401(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = progress(client, task_id, headers={"Authorization": "Token nonsense"})
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid token."}


# Terminate task


def test_terminate_task_is_200_and_the_task_reads_revoked(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = terminate(client, seed_user, task_id)
    assert reply.status_code == 200
    assert reply.json == {"message": "Task terminated.", "task_id": task_id, "state": "REVOKED"}
    assert progress(client, task_id).json == {
        "state": "REVOKED", "complete": True, "success": False,
        "progress": {"pending": False, "current": 100, "total": 100, "percent": 100}, "result": "Task terminated"}
    again = terminate(client, seed_user, task_id)
    assert again.status_code == 200 and again.json["message"] == "The task had already finished."


def test_terminate_task_needs_the_authorization_header(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = terminate(client, seed_user, task_id, headers={})
    assert reply.status_code == 401 and reply.json == NOT_PROVIDED
    assert progress(client, task_id).json["state"] == "PENDING"


def test_terminate_task_with_the_header_alone_works(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = terminate(client, seed_user, task_id, auth_token=None, api_key=None)
    assert reply.status_code == 200 and reply.json["state"] == "REVOKED"


def test_terminate_task_with_a_bad_api_key_field_is_401(client, seed_user, speech_mp3):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    reply = terminate(client, seed_user, task_id, api_key="cvk_wrong")
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid API key."}


def test_terminate_task_without_task_id_is_400(client, seed_user):
    reply = terminate(client, seed_user, None)
    assert reply.status_code == 400 and reply.json == {"task_id": ["This field is required."]}


# BOLA (HARDENING S1): another user's task answers exactly as a missing one


@pytest.mark.usefixtures("progress_needs_auth")
@pytest.mark.parametrize("missing_id", [lambda: str(uuid.uuid4()), lambda: "not-a-uuid", lambda: "12"])
def test_with_the_setting_another_users_task_is_404_like_a_missing_one(client, seed_user, intruder, speech_mp3,
                                                                       missing_id):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    foreign = progress(client, task_id, headers=intruder.seed_headers)
    missing = progress(client, missing_id(), headers=intruder.seed_headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json == {"detail": "Not found."}


@pytest.mark.parametrize("missing_id", [lambda: str(uuid.uuid4()), lambda: "not-a-uuid"])
def test_terminating_another_users_task_is_401_like_a_missing_one(client, seed_user, intruder, speech_mp3,
                                                                   missing_id):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    foreign = terminate(client, intruder, task_id)
    missing = terminate(client, intruder, missing_id())
    assert foreign.status_code == missing.status_code == 401
    assert foreign.json == missing.json == {"detail": "This task does not belong to you."}
    assert progress(client, task_id).json["state"] == "PENDING"


def test_a_job_of_another_kind_is_not_a_task_of_this_surface(client, app, seed_user):
    with app.app_context():
        from shared import jobflow
        job = jobflow.create_job(seed_user.id, "translate", {"text": "hi", "source_lang": "en", "target_lang": "es"})
        handle.session.commit()
        job_id = str(job.id)
    assert progress(client, job_id).status_code == 404
    assert terminate(client, seed_user, job_id).status_code == 401


# A real transcription, start to finish


def test_a_task_runs_to_success_with_words_and_text(client, seed_user, speech_mp3, spoken_text, relay, asr_worker):
    task_id = recognize(client, seed_user, speech_mp3).json["task_id"]
    seen = set()

    def finished():
        body = progress(client, task_id).json
        seen.add(body["state"])
        if body["state"] == "PROGRESS":
            assert set(body["progress"]) == PROGRESS_KEYS and 0 <= body["progress"]["current"] < 100
        return body if body["complete"] else None
    body = wait_for(finished, timeout=90, interval=0.2, message="the transcription to finish")
    assert set(body) == {"state", "complete", "success", "progress", "result"}
    assert body["state"] == "SUCCESS" and body["success"] is True
    assert body["progress"] == {"pending": False, "current": 100, "total": 100, "percent": 100}
    assert set(body["result"]) == {"transcription", "final"} and body["result"]["final"] is True
    transcription = body["result"]["transcription"]
    assert set(transcription) == {"result", "text"}
    assert word_error_rate(spoken_text, transcription["text"]) < 0.35
    words = transcription["result"]
    assert len(words) >= 20
    for word in words:
        assert set(word) == {"conf", "end", "start", "word"}
        assert isinstance(word["conf"], float) and 0.0 <= word["conf"] <= 1.0
        assert isinstance(word["start"], float | int) and word["end"] >= word["start"]
        assert word["word"] == word["word"].strip() and word["word"]
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert seen <= {"PENDING", "PROGRESS", "SUCCESS"}
    done = terminate(client, seed_user, task_id)
    assert done.status_code == 200 and done.json["state"] == "SUCCESS"
