"""The public jobs API: submit, list, get, cancel, delete, limits (no worker needed)."""
from __future__ import annotations

import io

import pytest

from services.api.kinds.base import forget_capabilities
from shared.db import db as handle
from shared.models import Job, OutboxMessage, WorkerRecord

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")



def translate(client, user, text="The cat is black.", **extra):
    body = {"text": text, "source_lang": "en", "target_lang": "es", **extra}
    return client.post("/api/v1/jobs/translate", headers=user.headers, json=body)


def test_submit_answers_at_once_with_the_queued_job(client, make_user, app):
    user = make_user()
    reply = translate(client, user)
    assert reply.status_code == 202
    job = reply.json
    assert reply.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["kind"] == "translate" and job["priority"] == "normal"
    assert isinstance(job["number"], int)
    assert job["progress"]["queue_position"] is None  # computed on GET, kept off the hot submit path
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).json["progress"]["queue_position"] >= 1
    assert set(job) == {"id", "number", "kind", "status", "priority", "progress", "params", "input", "artifacts",
                        "error", "attempts", "created_at", "started_at", "finished_at", "pipeline_id", "pipeline_step",
                        "expires_at"}
    assert job["pipeline_id"] is None and job["pipeline_step"] is None  # a job of its own, not a pipeline's step
    assert job["expires_at"] is None  # a job expires only once it has ended
    with app.app_context():
        outbox = handle.session.query(OutboxMessage).filter_by(job_id=job["id"]).one()
        assert outbox.payload["job_id"] == job["id"] and outbox.payload["attempt"] == 1


def test_job_numbers_increase(client, make_user):
    user = make_user()
    first, second = translate(client, user).json, translate(client, user).json
    assert second["number"] > first["number"]


def test_unsupported_pair_is_refused_at_submit_listing_the_pairs(client, make_user):
    reply = translate(client, make_user(), target_lang="de")
    assert reply.status_code == 400
    assert "en-es" in reply.json["message"] or "en->es" in reply.json["message"]


def test_pivot_pairs_are_accepted_and_codes_normalized(client, make_user):
    reply = translate(client, make_user(), source_lang="eng", target_lang="fra")
    assert reply.status_code == 202
    assert reply.json["params"]["source_lang"] == "en" and reply.json["params"]["target_lang"] == "fr"


@pytest.mark.parametrize("body, field", [
    ({"source_lang": "en", "target_lang": "es"}, "text"),
    ({"text": "hi", "source_lang": "en", "target_lang": "es", "status": "succeeded"}, "status"),
    ({"text": "hi", "source_lang": "en", "target_lang": "es", "owner": 1}, "owner"),
    ({"text": "hi", "source_lang": "en", "target_lang": "es", "result": {"x": 1}}, "result"),
    ({"text": "hi", "source_lang": "en", "target_lang": "es", "priority": "urgent"}, "priority"),
])
def test_bad_or_extra_fields_are_refused(client, make_user, body, field):
    """HARDENING S5: mass assignment of server-owned fields is refused, nothing is created."""
    user = make_user()
    reply = client.post("/api/v1/jobs/translate", headers=user.headers, json=body)
    assert reply.status_code == 422
    assert field in reply.json["errors"]["json"]
    assert client.get("/api/v1/jobs", headers=user.headers).json["total"] == 0


def test_unknown_kind_is_404_and_kinds_without_workers_are_503(client, make_user, app):
    user = make_user()
    assert client.post("/api/v1/jobs/ocr", headers=user.headers, json={}).status_code == 404
    with app.app_context():
        handle.session.query(WorkerRecord).filter_by(kind="vision").delete()
        handle.session.commit()
    forget_capabilities()
    reply = client.post("/api/v1/jobs/vision", headers=user.headers,
                        data={"file": (io.BytesIO(b"x"), "a.jpg")})
    assert reply.status_code == 503
    assert "vision" in reply.json["message"]


def test_text_over_the_limit_is_413(client, make_user):
    assert translate(client, make_user(), text="word " * 5000).status_code == 413


def test_upload_over_the_limit_is_413_before_anything_is_stored(client, make_user, config):
    """HARDENING S7 (the test limit is 1 MB)."""
    user = make_user()
    big = io.BytesIO(b"\0" * (1024 * 1024 + 1))
    reply = client.post("/api/v1/jobs/asr", headers=user.headers, data={"file": (big, "big.wav")})
    assert reply.status_code == 413
    assert reply.json["code"] == 413
    assert not list(config.STORAGE_DIR.rglob("big.wav"))


def test_active_job_limit_is_429_with_a_clear_message(client, make_user):
    user = make_user()
    codes = [translate(client, user).status_code for _ in range(6)]
    assert codes == [202] * 5 + [429]
    reply = translate(client, user)
    assert "5 active jobs" in reply.json["message"]


def test_list_is_newest_first_paginated_and_filtered(client, make_user):
    user = make_user()
    ids = [translate(client, user, text=f"text {i}").json["id"] for i in range(3)]
    page = client.get("/api/v1/jobs?per_page=2", headers=user.headers).json
    assert page["total"] == 3 and [j["id"] for j in page["items"]] == ids[::-1][:2]
    second = client.get("/api/v1/jobs?per_page=2&page=2", headers=user.headers).json
    assert [j["id"] for j in second["items"]] == ids[:1]
    client.post(f"/api/v1/jobs/{ids[0]}/cancel", headers=user.headers)
    cancelled = client.get("/api/v1/jobs?status=cancelled&kind=translate", headers=user.headers).json
    assert [j["id"] for j in cancelled["items"]] == [ids[0]]
    assert client.get("/api/v1/jobs?status=nonsense", headers=user.headers).status_code == 422


def test_cancel_a_queued_job_and_cancel_again_is_409(client, make_user):
    user = make_user()
    job = translate(client, user).json
    reply = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user.headers)
    assert reply.status_code == 200 and reply.json["status"] == "cancelled"
    assert reply.json["finished_at"] is not None
    again = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user.headers)
    assert again.status_code == 409


def test_result_of_an_unfinished_job_is_409(client, make_user):
    user = make_user()
    job = translate(client, user).json
    reply = client.get(f"/api/v1/jobs/{job['id']}/result", headers=user.headers)
    assert reply.status_code == 409 and "queued" in reply.json["message"]


def test_delete_removes_the_job(client, make_user, app):
    user = make_user()
    job = translate(client, user).json
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=user.headers).status_code == 204
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).status_code == 404
    with app.app_context():
        assert handle.session.get(Job, job["id"]) is None


def test_admin_lists_every_users_jobs_with_filters(client, two_users, admin):
    alice, bob = two_users
    a = translate(client, alice).json
    translate(client, bob)
    page = client.get(f"/api/v1/admin/jobs?user_id={alice.id}", headers=admin.headers).json
    assert [j["id"] for j in page["items"]] == [a["id"]]
    assert page["items"][0]["user_id"] == alice.id


def test_languages_lists_the_registered_pairs(client):
    reply = client.get("/api/v1/languages").json
    en_fr = next(pair for pair in reply["pairs"] if (pair["source"], pair["target"]) == ("en", "fr"))
    assert en_fr["via"] == ["es"] and en_fr["engines"] == ["apertium"]
    assert en_fr["route"] == [{"source": "en", "target": "es", "engine": "apertium"},
                              {"source": "es", "target": "fr", "engine": "apertium"}]
    assert {"en", "es", "fr"} <= set(reply["languages"])


def test_errors_share_one_envelope(client, make_user):
    user = make_user()
    for reply in (client.get("/api/v1/jobs/not-a-uuid", headers=user.headers),
                  client.get("/api/v1/jobs"),
                  client.post("/api/v1/jobs/translate", headers=user.headers, data="not json",
                              content_type="application/json")):
        assert set(reply.json) >= {"code", "status", "message"}
        assert reply.json["code"] == reply.status_code


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


def test_openapi_document_describes_the_routes(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.0.")  # the bundled Swagger UI 4 renders nothing else
    assert "/api/v1/jobs/asr" in spec["paths"] and "/api/v1/jobs/{job_id}/events" in spec["paths"]
    assert "Job" in spec["components"]["schemas"]
    page = client.get("/docs")
    assert page.status_code == 200 and b"/docs/assets/swagger-ui-bundle.js" in page.data
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_idempotency_key_returns_the_same_job_for_the_same_request(client, make_user):
    user = make_user()
    headers = {**user.headers, "Idempotency-Key": "order-42"}
    body = {"text": "The cat is black.", "source_lang": "en", "target_lang": "es"}
    first = client.post("/api/v1/jobs/translate", headers=headers, json=body)
    again = client.post("/api/v1/jobs/translate", headers=headers, json=body)
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/v1/jobs", headers=user.headers).json["total"] == 1
    different = client.post("/api/v1/jobs/translate", headers=headers, json={**body, "text": "Another text."})
    assert different.status_code == 409
    other_user = make_user()
    theirs = client.post("/api/v1/jobs/translate", headers={**other_user.headers, "Idempotency-Key": "order-42"},
                         json=body)
    assert theirs.status_code == 202 and theirs.json["id"] != first.json["id"], "keys are per user"


def test_idempotency_key_covers_the_uploaded_bytes(client, make_user, app):
    """A different file under the same key is a different request (checked on a kind with uploads)."""
    from services.api import idempotency
    one = idempotency.request_hash("asr", {"language": "en"}, io.BytesIO(b"first file"))
    two = idempotency.request_hash("asr", {"language": "en"}, io.BytesIO(b"second file"))
    assert one != two and one == idempotency.request_hash("asr", {"language": "en"}, io.BytesIO(b"first file"))


def test_a_page_number_beyond_any_offset_is_refused_not_a_crash(client, auth_client, admin):
    """Found by fuzzing (S14): such a page once overflowed PostgreSQL's bigint offset (500)."""
    assert client.get("/api/v1/jobs?page=3074457345534372319", headers=admin.headers).status_code == 422
    assert auth_client.get("/auth/v1/users?page=3074457345534372319", headers=admin.headers).status_code == 422


def test_a_short_sse_max_seconds_ends_the_event_stream(client, make_user, app, monkeypatch):
    # No worker runs the job, so only SSE_MAX_SECONDS (CONVEYOR_SSE_MAX_SECONDS) can end the stream.
    import time
    monkeypatch.setitem(app.config, "SSE_MAX_SECONDS", 0.5)
    user = make_user()
    job = translate(client, user).json
    started = time.monotonic()
    reply = client.get(f"/api/v1/jobs/{job['id']}/events", headers=user.headers, buffered=False)
    parts = []
    # Read piece by piece so a stream that ignores the limit fails here (at the first keep-alive,
    # 15 s) instead of hanging for the default hour.
    for part in reply.response:
        parts.append(part.decode() if isinstance(part, bytes) else part)
        assert time.monotonic() - started < 10, "the stream outlived SSE_MAX_SECONDS"
    reply.close()
    body = "".join(parts)
    assert "event: status" in body and '"queued"' in body
    assert "event: end" not in body  # cut by the time limit, not finished: clients reconnect


def test_sse_max_seconds_comes_from_the_documented_variable(monkeypatch):
    from shared.config import Config
    monkeypatch.delenv("CONVEYOR_SSE_MAX_SECONDS", raising=False)
    assert Config().SSE_MAX_SECONDS == 3600
    monkeypatch.setenv("CONVEYOR_SSE_MAX_SECONDS", "2.5")
    assert Config().SSE_MAX_SECONDS == 2.5


def test_a_form_part_without_a_readable_name_is_refused_not_a_crash(client, make_user):
    # Found by the fuzz once each kind's form was documented: werkzeug names such a part None.
    body = (b'--b\r\nContent-Disposition: form-data; name="\\"\r\n\r\nnull\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nx\r\n--b--\r\n')
    reply = client.post("/api/v1/jobs/vision", data=body, headers=make_user().headers,
                        content_type="multipart/form-data; boundary=b")
    assert reply.status_code == 400 and "name" in reply.json["message"]
