"""Seed 003 (lazy-lecture) answered under /compat/lecture, line by line from its API.md and its code."""
from __future__ import annotations

import io
import random
import re
import string

import docx
import pytest

from services.api.compat import lecture
from shared.db import db as handle
from shared.models import Job, User
from tests.conftest import wait_for
from tests.media import word_error_rate

pytest_plugins = ("tests.compat.asr_support",)
pytestmark = pytest.mark.usefixtures("asr_registered")

PREFIX = "/compat/lecture"
PASSWORD = "Sturdy_pass_2026!"
SEED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
USER_KEYS = {"id", "username", "active", "can_interact", "role", "create_date", "update_date"}
TOKEN_KEYS = {"access_token", "refresh_token", "token_type"}
TRANSCRIPTION_KEYS = {"id", "creator_id", "audio_len_secs", "chunk_size_secs", "current_state", "create_date",
                      "update_date", "description", "error_count"}
PAGE_KEYS = {"page", "size", "total", "pages", "transcriptions"}
CHUNK_KEYS = {"id", "chunk_order", "chunk_size_secs", "transcription"}
RESTRICTED = {"detail": "Access restricted. Either your role or can_interact is invalid for the action."}
NOT_FOUND = {"detail": "Transcription not found"}


def latin_name() -> str:
    return "lec" + "".join(random.choices(string.ascii_letters, k=12))


def register(auth_client, username: str, password: str = PASSWORD):
    return auth_client.post(f"{PREFIX}/auth/register", json={"username": username, "password": password})


def login(auth_client, username: str, password: str = PASSWORD):
    return auth_client.post(f"{PREFIX}/auth/login", json={"username": username, "password": password})


def patch(auth_client, app, user_id, body, token=None):
    secret = app.config["ADMIN_TOKEN"] if token is None else token
    return auth_client.patch(f"{PREFIX}/auth/patch?user_id={user_id}&secret_admin_token={secret}", json=body)


class LectureUser:
    def __init__(self, auth_client, app, can_interact: bool = True):
        self.username = latin_name()
        created = register(auth_client, self.username)
        assert created.status_code == 201, created.json
        self.id = created.json["id"]
        if can_interact:
            assert patch(auth_client, app, self.id, {"can_interact": True}).status_code == 200
        tokens = login(auth_client, self.username).json
        self.refresh_token = tokens["refresh_token"]
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def seed_user(auth_client, app):
    return LectureUser(auth_client, app)


@pytest.fixture
def intruder(auth_client, app):
    return LectureUser(auth_client, app)


def upload(client, user, audio: bytes, name: str = "lecture.mp3", content_type: str = "audio/mpeg"):
    return client.post(f"{PREFIX}/upload-audiofile", headers=user.headers, content_type="multipart/form-data",
                       data={"audiofile": (io.BytesIO(audio), name, content_type)})


def upload_id(client, user, audio: bytes) -> int:
    reply = upload(client, user, audio)
    assert reply.status_code == 200, reply.json
    return reply.json["task_id"]


def cancel(client, user, number):
    return client.post(f"{PREFIX}/transcript/cancel?transcript_id={number}", headers=user.headers)


def info(client, user, number):
    return client.get(f"{PREFIX}/transcript/info?transcript_id={number}", headers=user.headers)


def report(client, app, number, token=None, **body):
    secret = app.config["WORKER_TOKEN"] if token is None else token
    return client.post(f"{PREFIX}/worker/transcription_status?secret_worker_token={secret}",
                       json={"transcription_id": number, **body})


# Health


def test_health_says_api_and_database_are_up(client):
    reply = client.get(f"{PREFIX}/")
    assert reply.status_code == 200 and reply.json == {"api": True, "database": True}


# Accounts (auth service)


def test_register_is_201_with_the_user_and_no_interaction_yet(auth_client):
    name = latin_name()
    reply = register(auth_client, name)
    assert reply.status_code == 201
    body = reply.json
    assert set(body) == USER_KEYS
    assert isinstance(body["id"], int) and body["username"] == name
    assert body["active"] is True and body["can_interact"] is False and body["role"] == "user"
    assert SEED_TIME.match(body["create_date"]) and SEED_TIME.match(body["update_date"])


def test_register_makes_a_native_user(auth_client, auth_app):
    body = register(auth_client, latin_name()).json
    with auth_app.app_context():
        user = handle.session.get(User, body["id"])
        assert user.username == body["username"] and user.may_submit is False
        assert user.email.endswith("@lecture.invalid") and PASSWORD not in user.password_hash


def test_register_of_a_taken_username_is_409(auth_client):
    name = latin_name()
    register(auth_client, name)
    reply = register(auth_client, name)
    assert reply.status_code == 409 and reply.json == {"detail": f"User '{name}' already exists"}


@pytest.mark.parametrize("username", ["abcd", "user123", "a" * 65, "имя_пользователя"])
def test_register_with_a_username_outside_the_seeds_rule_is_422(auth_client, username):
    reply = register(auth_client, username)
    assert reply.status_code == 422
    [problem] = reply.json["detail"]
    assert problem["loc"] == ["body", "username"] and problem["type"] == "value_error"
    assert "Latin letters only and be between 5 and 64 characters" in problem["msg"]


@pytest.mark.parametrize("password", ["Sh1!a", "nouppercase_2026", "NOLOWER_2026", "No_digits_here",
                                      "NoSpecial2026abc"])
def test_register_with_a_password_outside_the_seeds_rule_is_422(auth_client, password):
    reply = register(auth_client, latin_name(), password)
    assert reply.status_code == 422
    [problem] = reply.json["detail"]
    assert problem["loc"] == ["body", "password"] and "at least one special character" in problem["msg"]


def test_register_with_a_password_too_short_for_the_native_rule_is_422(auth_client):
    reply = register(auth_client, latin_name(), "Ab_12345c")  # the seed's rule holds, 9 characters do not
    assert reply.status_code == 422
    assert "at least 10 characters" in reply.json["detail"][0]["msg"]


def test_register_without_fields_is_fastapis_422_list(auth_client):
    reply = auth_client.post(f"{PREFIX}/auth/register", json={})
    assert reply.status_code == 422
    assert [p["loc"] for p in reply.json["detail"]] == [["body", "username"], ["body", "password"]]
    assert all(set(p) >= {"loc", "msg", "type"} and p["type"] == "missing" for p in reply.json["detail"])
    not_json = auth_client.post(f"{PREFIX}/auth/register", data="username=x")
    assert not_json.status_code == 422 and not_json.json["detail"][0]["loc"] == ["body"]


def test_login_gives_an_access_and_a_refresh_token(auth_client, seed_user):
    reply = login(auth_client, seed_user.username)
    assert reply.status_code == 200
    assert set(reply.json) == TOKEN_KEYS and reply.json["token_type"] == "bearer"


def test_login_with_a_wrong_password_is_401_with_the_seeds_detail(auth_client, seed_user):
    reply = login(auth_client, seed_user.username, "Wrong_pass_2026!")
    assert reply.status_code == 401
    assert reply.json == {"detail": "Incorrect username or password"}
    assert reply.headers["WWW-Authenticate"] == "Bearer"


def test_login_without_a_password_is_422(auth_client):
    reply = auth_client.post(f"{PREFIX}/auth/login", json={"username": "someone"})
    assert reply.status_code == 422 and reply.json["detail"][0]["loc"] == ["body", "password"]


def test_a_native_account_logs_in_here_though_its_name_has_digits(auth_client, make_user):
    user = make_user()
    reply = login(auth_client, user.username, user.password)
    assert reply.status_code == 200
    me = auth_client.get(f"{PREFIX}/auth/info", headers={"Authorization": f"Bearer {reply.json['access_token']}"})
    assert me.json["id"] == user.id and me.json["can_interact"] is True


def test_refresh_gives_a_new_pair_and_the_old_refresh_token_dies(auth_client, seed_user):
    reply = auth_client.post(f"{PREFIX}/auth/refresh", json={"refresh_token": seed_user.refresh_token})
    assert reply.status_code == 200 and set(reply.json) == TOKEN_KEYS
    me = auth_client.get(f"{PREFIX}/auth/info", headers={"Authorization": f"Bearer {reply.json['access_token']}"})
    assert me.status_code == 200 and me.json["username"] == seed_user.username
    replay = auth_client.post(f"{PREFIX}/auth/refresh", json={"refresh_token": seed_user.refresh_token})
    assert replay.status_code == 401 and replay.json == {"detail": "Invalid or expired token"}


def test_refresh_with_an_access_token_is_401(auth_client, seed_user):
    access = seed_user.headers["Authorization"].split()[1]
    reply = auth_client.post(f"{PREFIX}/auth/refresh", json={"refresh_token": access})
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid or expired token"}


def test_info_is_the_callers_user(auth_client, seed_user):
    reply = auth_client.get(f"{PREFIX}/auth/info", headers=seed_user.headers)
    assert reply.status_code == 200
    assert set(reply.json) == USER_KEYS and reply.json["id"] == seed_user.id and reply.json["can_interact"] is True


@pytest.mark.parametrize("headers, detail", [
    ({}, "Invalid Authorization Header"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "Invalid Authorization Header"),
    ({"Authorization": "Bearer not-a-token"}, "Invalid or expired token"),
])
def test_info_without_a_good_bearer_token_is_401(auth_client, headers, detail):
    reply = auth_client.get(f"{PREFIX}/auth/info", headers=headers)
    assert reply.status_code == 401 and reply.json == {"detail": detail}


def test_patch_with_the_admin_secret_lets_a_user_interact(auth_client, app):
    user = LectureUser(auth_client, app, can_interact=False)
    reply = patch(auth_client, app, user.id, {"can_interact": True})
    assert reply.status_code == 200
    assert set(reply.json) == USER_KEYS and reply.json["can_interact"] is True


def test_patch_with_a_wrong_admin_secret_is_401_and_changes_nothing(auth_client, app):
    user = LectureUser(auth_client, app, can_interact=False)
    reply = patch(auth_client, app, user.id, {"can_interact": True}, token="guess")
    assert reply.status_code == 401 and reply.json == {"detail": "Wrong admin token"}
    assert auth_client.get(f"{PREFIX}/auth/info", headers=user.headers).json["can_interact"] is False


def test_patch_of_an_unknown_user_is_404(auth_client, app):
    reply = patch(auth_client, app, 2_000_000_000, {"can_interact": True})
    assert reply.status_code == 404 and reply.json == {"detail": "User not found"}


def test_patch_without_its_query_parameters_is_422(auth_client):
    reply = auth_client.patch(f"{PREFIX}/auth/patch", json={"can_interact": True})
    assert reply.status_code == 422
    assert [p["loc"] for p in reply.json["detail"]] == [["query", "user_id"], ["query", "secret_admin_token"]]
    bad = auth_client.patch(f"{PREFIX}/auth/patch?user_id=one&secret_admin_token=x", json={})
    assert bad.status_code == 422 and bad.json["detail"][0]["type"] == "int_parsing"


def test_patch_refuses_fields_outside_the_seeds_schema(auth_client, app, seed_user):
    """HARDENING S5: role and active are not the patch's to set."""
    reply = patch(auth_client, app, seed_user.id, {"role": "admin", "active": False})
    assert reply.status_code == 422
    assert {p["type"] for p in reply.json["detail"]} == {"extra_forbidden"}
    body = auth_client.get(f"{PREFIX}/auth/info", headers=seed_user.headers).json
    assert body["role"] == "user" and body["active"] is True


def test_patch_with_a_non_boolean_can_interact_is_422(auth_client, app, seed_user):
    reply = patch(auth_client, app, seed_user.id, {"can_interact": "yes"})
    assert reply.status_code == 422 and reply.json["detail"][0]["loc"] == ["body", "can_interact"]


def test_patch_of_the_password_voids_old_tokens_and_the_new_one_logs_in(auth_client, app, seed_user):
    reply = patch(auth_client, app, seed_user.id, {"password": "Newer_pass_2027?"})
    assert reply.status_code == 200
    assert auth_client.get(f"{PREFIX}/auth/info", headers=seed_user.headers).status_code == 401
    assert login(auth_client, seed_user.username).status_code == 401
    assert login(auth_client, seed_user.username, "Newer_pass_2027?").status_code == 200


def test_patch_with_a_weak_password_is_422(auth_client, app, seed_user):
    reply = patch(auth_client, app, seed_user.id, {"password": "weak"})
    assert reply.status_code == 422 and reply.json["detail"][0]["loc"] == ["body", "password"]


# Upload


def test_upload_answers_the_message_and_an_integer_task_id(client, app, seed_user, speech_mp3):
    reply = upload(client, seed_user, speech_mp3)
    assert reply.status_code == 200
    assert set(reply.json) == {"message", "task_id", "file"}
    assert reply.json["message"] == "File uploaded successfully"
    assert isinstance(reply.json["task_id"], int) and reply.json["file"] == "lecture.mp3"
    with app.app_context():
        job = handle.session.query(Job).filter_by(number=reply.json["task_id"]).one()
        assert job.kind == "asr" and job.user_id == seed_user.id
        assert job.params["chunk_seconds"] == 900 and 12 < job.params["duration"] < 13


def test_upload_by_a_user_who_may_not_interact_is_403(client, auth_client, app, speech_mp3):
    user = LectureUser(auth_client, app, can_interact=False)
    reply = upload(client, user, speech_mp3)
    assert reply.status_code == 403 and reply.json == RESTRICTED


def test_upload_without_a_token_is_401(client, speech_mp3):
    reply = client.post(f"{PREFIX}/upload-audiofile", content_type="multipart/form-data",
                        data={"audiofile": (io.BytesIO(speech_mp3), "a.mp3", "audio/mpeg")})
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid Authorization Header"}


def test_upload_without_the_audiofile_part_is_422(client, seed_user):
    reply = client.post(f"{PREFIX}/upload-audiofile", headers=seed_user.headers, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"x"), "a.mp3")})
    assert reply.status_code == 422
    assert reply.json["detail"][0]["loc"] == ["body", "audiofile"] and reply.json["detail"][0]["type"] == "missing"


@pytest.mark.parametrize("name, content_type", [("lecture.mp3", "audio/mpeg"), ("lecture.wav", "audio/wav")])
def test_upload_of_audio_that_is_not_mp3_is_400(client, seed_user, speech_wav, name, content_type):
    reply = upload(client, seed_user, speech_wav, name, content_type)
    assert reply.status_code == 400 and reply.json == {"detail": "Invalid audio file"}


def test_upload_of_mp3_declared_as_something_else_is_400(client, seed_user, speech_mp3):
    reply = upload(client, seed_user, speech_mp3, "lecture.png", "image/png")
    assert reply.status_code == 400 and reply.json == {"detail": "Invalid audio file"}


def test_upload_of_audio_shorter_than_10_seconds_is_422_with_the_seeds_message(client, seed_user, short_mp3):
    reply = upload(client, seed_user, short_mp3)
    assert reply.status_code == 422
    [problem] = reply.json["detail"]
    assert problem["loc"] == ["body", "audiofile"]
    assert re.search(r"Audio duration must be between 10 and 7200 seconds\. Provided file is \d\.\d\d seconds long",
                     problem["msg"])


def test_upload_of_audio_longer_than_the_limit_is_422(client, seed_user, speech_mp3, monkeypatch):
    # Two hours of MP3 would not fit the tests' 1 MB upload limit: the bound is lowered instead.
    monkeypatch.setattr(lecture, "MAX_SECONDS", 11)
    reply = upload(client, seed_user, speech_mp3)
    assert reply.status_code == 422 and "between 10 and 11 seconds" in reply.json["detail"][0]["msg"]


def test_a_second_upload_while_one_is_active_is_409_until_it_is_cancelled(client, seed_user, speech_mp3):
    first = upload_id(client, seed_user, speech_mp3)
    reply = upload(client, seed_user, speech_mp3)
    assert reply.status_code == 409
    assert reply.json == {"detail": f"Transcription {first} is queued. Please cancel the job or wait before its "
                                    "completion to start a new one."}
    assert cancel(client, seed_user, first).status_code == 200
    assert upload(client, seed_user, speech_mp3).status_code == 200


# Transcriptions, transcript, info


def test_transcriptions_are_the_callers_newest_first_in_pages(client, seed_user, intruder, speech_mp3):
    numbers = []
    for _ in range(3):
        numbers.append(upload_id(client, seed_user, speech_mp3))
        cancel(client, seed_user, numbers[-1])
    upload_id(client, intruder, speech_mp3)
    first = client.get(f"{PREFIX}/transcriptions?page=1&size=2", headers=seed_user.headers)
    assert first.status_code == 200
    assert set(first.json) == PAGE_KEYS
    assert {k: first.json[k] for k in ("page", "size", "total", "pages")} == {"page": 1, "size": 2, "total": 3,
                                                                             "pages": 2}
    second = client.get(f"{PREFIX}/transcriptions?page=2&size=2", headers=seed_user.headers).json
    listed = [t["id"] for t in first.json["transcriptions"] + second["transcriptions"]]
    assert listed == numbers[::-1]
    row = first.json["transcriptions"][0]
    assert set(row) == TRANSCRIPTION_KEYS
    assert row["creator_id"] == seed_user.id and row["current_state"] == "cancelled" and row["error_count"] == 0
    assert isinstance(row["audio_len_secs"], float) and row["chunk_size_secs"] == 900.0
    assert row["description"] == "" and SEED_TIME.match(row["create_date"]) and SEED_TIME.match(row["update_date"])


def test_transcriptions_default_to_page_1_of_50(client, seed_user):
    body = client.get(f"{PREFIX}/transcriptions", headers=seed_user.headers).json
    assert body == {"page": 1, "size": 50, "total": 0, "pages": 0, "transcriptions": []}


@pytest.mark.parametrize("query, kind", [("page=0", "greater_than_equal"), ("size=0", "greater_than_equal"),
                                         ("page=x", "int_parsing")])
def test_transcriptions_with_a_bad_page_is_422(client, seed_user, query, kind):
    reply = client.get(f"{PREFIX}/transcriptions?{query}", headers=seed_user.headers)
    assert reply.status_code == 422 and reply.json["detail"][0]["type"] == kind


def test_transcriptions_without_a_token_is_401(client):
    reply = client.get(f"{PREFIX}/transcriptions")
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid Authorization Header"}


def test_info_is_the_transcription_with_its_description(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    long_text = "word " * 80
    report(client, app, number, current_state="in_progress", new_chunk={"text": long_text, "chunk_no": 0})
    reply = info(client, seed_user, number)
    assert reply.status_code == 200 and set(reply.json) == TRANSCRIPTION_KEYS
    assert reply.json["id"] == number and reply.json["current_state"] == "in_progress"
    assert reply.json["description"] == long_text[:256]


def test_transcript_lists_the_chunks_in_order_in_pages(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    with app.app_context():
        job = handle.session.query(Job).filter_by(number=number).one()
        job.params = {**job.params, "chunk_seconds": 5.0}  # three chunks of a 12 s file
        handle.session.commit()
    for seq in (2, 0, 1):
        assert report(client, app, number, new_chunk={"text": f"part {seq}", "chunk_no": seq}).status_code == 200
    reply = client.get(f"{PREFIX}/transcript?task_id={number}&size=2", headers=seed_user.headers)
    assert reply.status_code == 200 and set(reply.json) == PAGE_KEYS
    assert {k: reply.json[k] for k in ("page", "size", "total", "pages")} == {"page": 1, "size": 2, "total": 3,
                                                                             "pages": 2}
    chunks = reply.json["transcriptions"]
    assert [set(c) for c in chunks] == [CHUNK_KEYS] * 2
    assert [(c["chunk_order"], c["transcription"], c["chunk_size_secs"]) for c in chunks] == [
        (0, "part 0", 5), (1, "part 1", 5)]
    rest = client.get(f"{PREFIX}/transcript?task_id={number}&page=2&size=2", headers=seed_user.headers).json
    assert [c["chunk_order"] for c in rest["transcriptions"]] == [2]
    ids = [c["id"] for c in chunks + rest["transcriptions"]]
    assert len(set(ids)) == 3 and all(isinstance(i, int) for i in ids)


def test_transcript_without_task_id_is_422(client, seed_user):
    reply = client.get(f"{PREFIX}/transcript", headers=seed_user.headers)
    assert reply.status_code == 422 and reply.json["detail"][0]["loc"] == ["query", "task_id"]


# Export


def test_export_before_any_chunk_is_409(client, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=txt", headers=seed_user.headers)
    assert reply.status_code == 409
    assert reply.json == {"detail": "No transcription chunks for this transcription is available right now. "
                                    "Try again later."}


def test_export_renders_the_chunks_as_txt_and_doc(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    report(client, app, number, new_chunk={"text": "Hello lecture world.", "chunk_no": 0})
    txt = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=txt", headers=seed_user.headers)
    assert txt.status_code == 200 and txt.mimetype == "text/plain"
    assert txt.get_data(as_text=True).strip() == "Hello lecture world."
    assert txt.headers["Content-Disposition"] == f'attachment; filename="{number}.txt"'
    doc = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=doc", headers=seed_user.headers)
    assert doc.status_code == 200 and doc.headers["Content-Disposition"].endswith('.docx"')
    paragraphs = [p.text for p in docx.Document(io.BytesIO(doc.data)).paragraphs]
    assert any("Hello lecture world." in p for p in paragraphs)


def test_export_in_another_format_is_422(client, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=pdf", headers=seed_user.headers)
    assert reply.status_code == 422
    assert reply.json["detail"][0]["type"] == "literal_error" and reply.json["detail"][0]["loc"] == ["query", "format"]


# Cancel


def test_cancel_answers_ok_and_a_second_cancel_is_409(client, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = cancel(client, seed_user, number)
    assert reply.status_code == 200 and reply.mimetype == "text/plain" and reply.get_data(as_text=True) == "OK"
    assert info(client, seed_user, number).json["current_state"] == "cancelled"
    again = cancel(client, seed_user, number)
    assert again.status_code == 409 and again.json == {"detail": "You can't cancel a finished job"}


def test_cancel_with_chunks_kept_is_completed_partially(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    report(client, app, number, current_state="in_progress", new_chunk={"text": "kept", "chunk_no": 0})
    assert cancel(client, seed_user, number).status_code == 200
    assert info(client, seed_user, number).json["current_state"] == "completed_partially"
    txt = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=txt", headers=seed_user.headers)
    assert txt.status_code == 200 and "kept" in txt.get_data(as_text=True)


# The worker callback


def test_worker_drives_a_transcription_to_completed(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    started = report(client, app, number, current_state="in_progress")
    assert started.status_code == 200 and set(started.json) == {"transcription"}
    assert started.json["transcription"]["current_state"] == "in_progress"
    done = report(client, app, number, current_state="completed", new_chunk={"text": "All of it.", "chunk_no": 0})
    assert done.status_code == 200 and done.json["transcription"]["current_state"] == "completed"
    assert done.json["transcription"]["description"] == "All of it."
    txt = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=txt", headers=seed_user.headers)
    assert txt.get_data(as_text=True).strip() == "All of it."
    with app.app_context():
        job = handle.session.query(Job).filter_by(number=number).one()
        assert job.status == "succeeded" and job.result["text"] == "All of it." and job.worker_id == "lecture-callback"


def test_three_processing_errors_make_processing_fail(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    seen = []
    for _ in range(3):
        body = report(client, app, number, current_state="processing_error").json["transcription"]
        seen.append((body["current_state"], body["error_count"]))
    assert seen == [("processing_error", 1), ("processing_error", 2), ("processing_fail", 3)]
    late = report(client, app, number, current_state="in_progress")
    assert late.status_code == 409


def test_a_worker_cancel_keeps_chunks_as_completed_partially(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    body = report(client, app, number, current_state="cancelled",
                  new_chunk={"text": "half", "chunk_no": 0}).json["transcription"]
    assert body["current_state"] == "completed_partially"
    other = upload_id(client, seed_user, speech_mp3)
    assert report(client, app, other, current_state="cancelled").json["transcription"]["current_state"] == "cancelled"


def test_a_chunk_past_the_end_of_the_audio_is_400(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = report(client, app, number, new_chunk={"text": "too far", "chunk_no": 1})
    assert reply.status_code == 400 and reply.json == {"detail": "Chunk no is bigger than max chunk no 1 > 0"}


def test_a_running_transcription_cannot_go_back_to_queued(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    report(client, app, number, current_state="in_progress")
    reply = report(client, app, number, current_state="queued")
    assert reply.status_code == 409 and "cannot go back to queued" in reply.json["detail"]


def test_the_worker_callback_with_a_wrong_secret_is_401(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = report(client, app, number, token="guess", current_state="completed")
    assert reply.status_code == 401 and reply.json == {"detail": "Wrong worker token"}
    assert info(client, seed_user, number).json["current_state"] == "queued"


def test_the_worker_callback_with_a_users_token_is_not_enough(client, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = client.post(f"{PREFIX}/worker/transcription_status", headers=seed_user.headers,
                        json={"transcription_id": number, "current_state": "completed"})
    assert reply.status_code == 422 and reply.json["detail"][0]["loc"] == ["query", "secret_worker_token"]


def test_the_worker_callback_for_an_unknown_transcription_is_404(client, app):
    reply = report(client, app, 9_000_000_000, current_state="in_progress")
    assert reply.status_code == 404 and reply.json == {"detail": "Transcription does not exist"}


def test_the_worker_callback_with_an_unknown_state_is_422(client, app, seed_user, speech_mp3):
    number = upload_id(client, seed_user, speech_mp3)
    reply = report(client, app, number, current_state="done")
    assert reply.status_code == 422 and reply.json["detail"][0]["loc"] == ["body", "current_state"]


# BOLA (HARDENING S1): another user's transcription answers exactly as a missing one

ID_ROUTES = [("GET", "/transcript?task_id={id}"), ("POST", "/transcript/export?task_id={id}&format=txt"),
             ("POST", "/transcript/export?task_id={id}&format=doc"), ("POST", "/transcript/cancel?transcript_id={id}"),
             ("GET", "/transcript/info?transcript_id={id}")]


@pytest.mark.parametrize("method, route", ID_ROUTES)
def test_another_users_transcription_is_404_like_a_missing_one(client, app, seed_user, intruder, speech_mp3,
                                                                method, route):
    number = upload_id(client, seed_user, speech_mp3)
    report(client, app, number, new_chunk={"text": "private words", "chunk_no": 0})
    before = info(client, seed_user, number).json
    foreign = client.open(PREFIX + route.format(id=number), method=method, headers=intruder.headers)
    missing = client.open(PREFIX + route.format(id=9_000_000_000), method=method, headers=intruder.headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json == NOT_FOUND
    assert "private words" not in foreign.get_data(as_text=True)
    assert info(client, seed_user, number).json == before


@pytest.mark.parametrize("method, route", ID_ROUTES + [("GET", "/transcriptions"), ("POST", "/upload-audiofile")])
def test_every_user_route_without_a_token_is_401(client, method, route):
    reply = client.open(PREFIX + route.format(id=1), method=method)
    assert reply.status_code == 401 and reply.json == {"detail": "Invalid Authorization Header"}


# A real transcription, start to finish


def test_an_upload_is_transcribed_by_a_real_worker(client, seed_user, speech_mp3, spoken_text, relay, asr_worker):
    number = upload_id(client, seed_user, speech_mp3)

    def completed():
        body = info(client, seed_user, number).json
        assert body["current_state"] in ("queued", "in_progress", "completed")
        return body if body["current_state"] == "completed" else None
    body = wait_for(completed, timeout=90, interval=0.2, message="the transcription to complete")
    assert body["error_count"] == 0 and 12 < body["audio_len_secs"] < 13
    assert word_error_rate(spoken_text, body["description"]) < 0.35
    chunks = client.get(f"{PREFIX}/transcript?task_id={number}", headers=seed_user.headers).json
    assert chunks["total"] == 1 and chunks["transcriptions"][0]["chunk_size_secs"] == 900
    text = client.post(f"{PREFIX}/transcript/export?task_id={number}&format=txt", headers=seed_user.headers)
    assert word_error_rate(spoken_text, text.get_data(as_text=True)) < 0.35
    listed = client.get(f"{PREFIX}/transcriptions", headers=seed_user.headers).json["transcriptions"]
    assert [(t["id"], t["current_state"]) for t in listed] == [(number, "completed")]
