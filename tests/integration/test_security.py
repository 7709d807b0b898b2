"""HARDENING S1, S2, S3, S11, S12 against the real services."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.test_jobs_api import translate

pytestmark = pytest.mark.usefixtures("translate_pairs_registered")

ID_ROUTES = [
    ("GET", "/api/v1/jobs/{id}"),
    ("GET", "/api/v1/jobs/{id}/progress"),
    ("GET", "/api/v1/jobs/{id}/events"),
    ("GET", "/api/v1/jobs/{id}/result"),
    ("GET", "/api/v1/jobs/{id}/chunks"),
    ("GET", "/api/v1/jobs/{id}/logs"),
    ("GET", "/api/v1/jobs/{id}/input"),
    ("GET", "/api/v1/jobs/{id}/artifacts/output.txt"),
    ("GET", "/api/v1/jobs/{id}/export?format=txt"),
    ("GET", "/api/v1/jobs/{id}/webhooks"),
    ("POST", "/api/v1/jobs/{id}/webhooks/{delivery}/redeliver"),
    ("POST", "/api/v1/jobs/{id}/cancel"),
    ("DELETE", "/api/v1/jobs/{id}"),
]


@pytest.fixture
def job_with_a_delivery(client, app, monkeypatch):
    """Submit a job with a callback URL and queue one webhook delivery of it; returns (job id, delivery id)."""
    from shared import webhooks
    from shared.db import db as handle
    from shared.models import Job, WebhookDelivery

    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ["127.0.0.1"])

    def make(user) -> tuple[str, str]:
        job_id = translate(client, user, callback_url="http://127.0.0.1:9/hooks").json["id"]
        with app.app_context():
            webhooks.job_event(handle.session.get(Job, uuid.UUID(job_id)), "job.queued")
            handle.session.commit()
            delivery = handle.session.query(WebhookDelivery).filter_by(job_id=uuid.UUID(job_id)).one()
            handle.session.remove()
        return job_id, str(delivery.id)
    return make


@pytest.mark.parametrize("method, route", ID_ROUTES)
def test_another_users_job_is_a_404_like_a_missing_one(client, two_users, job_with_a_delivery, method, route):
    """S1: Bob can neither see nor touch Alice's job, and cannot tell it exists."""
    alice, bob = two_users
    job_id, delivery_id = job_with_a_delivery(alice)
    log_before = client.get(f"/api/v1/jobs/{job_id}/webhooks", headers=alice.headers).json
    theirs = client.open(route.format(id=job_id, delivery=delivery_id), method=method, headers=bob.headers)
    missing = client.open(route.format(id=uuid.uuid4(), delivery=delivery_id), method=method, headers=bob.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json["message"] == missing.json["message"]
    assert client.get(f"/api/v1/jobs/{job_id}", headers=alice.headers).json["status"] == "queued"
    assert client.get(f"/api/v1/jobs/{job_id}/webhooks", headers=alice.headers).json == log_before


def test_a_delivery_cannot_be_redelivered_through_another_job(client, two_users, job_with_a_delivery):
    """Bob names his own job and Alice's delivery: the delivery must belong to the job named."""
    alice, bob = two_users
    _, alices_delivery = job_with_a_delivery(alice)
    bobs_job, bobs_delivery = job_with_a_delivery(bob)
    crossed = client.post(f"/api/v1/jobs/{bobs_job}/webhooks/{alices_delivery}/redeliver", headers=bob.headers)
    assert crossed.status_code == 404 and crossed.json["message"] == "No such delivery."
    own = client.post(f"/api/v1/jobs/{bobs_job}/webhooks/{bobs_delivery}/redeliver", headers=bob.headers)
    assert own.status_code == 202 and own.json["id"] == bobs_delivery


def _token(private_key, **claims) -> str:
    now = int(time.time())
    payload = {"sub": "1", "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4()),
               "type": "access", "iss": "conveyor", "sid": str(uuid.uuid4()), **claims}
    return pyjwt.encode(payload, private_key, algorithm="RS256")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _real_session_claims(user) -> dict:
    claims = pyjwt.decode(user.token, options={"verify_signature": False})
    return {"sub": claims["sub"], "sid": claims["sid"]}


@pytest.mark.parametrize("case", ["none", "expired", "foreign_key", "alg_none", "hs256_with_public_key",
                                  "refresh_as_access", "garbage"])
def test_bad_tokens_are_401(client, make_user, config, case):
    """S2."""
    user = make_user()
    own_key = config.JWT_PRIVATE_KEY_FILE.read_text()
    claims = _real_session_claims(user)
    headers = {}
    if case == "expired":
        headers = {"Authorization": "Bearer " + _token(own_key, **claims, exp=int(time.time()) - 10)}
    elif case == "foreign_key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        headers = {"Authorization": "Bearer " + _token(other, **claims)}
    elif case == "alg_none":
        unsigned = pyjwt.encode({**pyjwt.decode(user.token, options={"verify_signature": False})}, None,
                                algorithm="none")
        headers = {"Authorization": "Bearer " + unsigned}
    elif case == "hs256_with_public_key":
        # Algorithm confusion: an HMAC "signed" with the public key must not pass as RS256.
        body = pyjwt.decode(user.token, options={"verify_signature": False})
        signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(body).encode())}"
        mac = hmac.new(config.JWT_PUBLIC_KEY_FILE.read_bytes(), signing_input.encode(), hashlib.sha256).digest()
        headers = {"Authorization": f"Bearer {signing_input}.{_b64(mac)}"}
    elif case == "refresh_as_access":
        headers = {"Authorization": "Bearer " + user.tokens["refresh_token"]}
    elif case == "garbage":
        headers = {"Authorization": "Bearer not.a.token"}
    reply = client.get("/api/v1/jobs", headers=headers)
    assert reply.status_code == 401
    assert reply.json["code"] == 401


def test_logout_voids_both_tokens(client, auth_client, make_user):
    """S3."""
    user = make_user()
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 200
    assert auth_client.post("/auth/v1/logout", headers=user.headers).status_code == 204
    assert client.get("/api/v1/jobs", headers=user.headers).status_code == 401
    refresh = auth_client.post("/auth/v1/refresh",
                               headers={"Authorization": f"Bearer {user.tokens['refresh_token']}"})
    assert refresh.status_code == 401


def test_password_change_voids_every_older_token(client, auth_client, make_user):
    """S3."""
    user = make_user()
    second_login = auth_client.post("/auth/v1/login", json={"username": user.username,
                                                            "password": user.password}).json
    reply = auth_client.post("/auth/v1/password", headers=user.headers,
                             json={"current_password": user.password, "new_password": "Another-pass-4242"})
    assert reply.status_code == 204
    for token in (user.token, second_login["access_token"]):
        assert client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    for token in (user.tokens["refresh_token"], second_login["refresh_token"]):
        assert auth_client.post("/auth/v1/refresh", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = auth_client.post("/auth/v1/login", json={"username": user.username, "password": "Another-pass-4242"})
    assert client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {fresh.json['access_token']}"}
                      ).status_code == 200


@pytest.mark.parametrize("method, route, which", [
    ("GET", "/api/v1/admin/jobs", "api"), ("GET", "/auth/v1/users", "auth"), ("PATCH", "/auth/v1/users/1", "auth"),
])
def test_admin_routes_are_403_for_plain_users(client, auth_client, make_user, method, route, which):
    """S12."""
    user = make_user()
    target = client if which == "api" else auth_client
    reply = target.open(route, method=method, headers=user.headers,
                        json={"role": "admin"} if method == "PATCH" else None)
    assert reply.status_code == 403


def test_internal_api_refuses_user_tokens_and_wrong_secrets(client, make_user, config):
    """S11: 401 for a user's JWT and for a wrong worker secret."""
    user = make_user()
    job_id = translate(client, user).json["id"]
    url = f"/internal/v1/jobs/{job_id}/claim"
    assert client.post(url, headers=user.headers, json={"worker_id": "w"}).status_code == 401
    assert client.post(url, headers={"X-Worker-Token": config.WORKER_TOKEN + "x"},
                       json={"worker_id": "w"}).status_code == 401
    assert client.post(url, headers={"X-Worker-Token": config.WORKER_TOKEN},
                       json={"worker_id": "w"}).status_code == 200


def test_no_response_leaks_secrets_or_paths(client, make_user, config):
    """S6 (partly): a job's view holds no storage path, claim id or worker secret."""
    user = make_user()
    job = translate(client, user).json
    text = client.get(f"/api/v1/jobs/{job['id']}", headers=user.headers).get_data(as_text=True)
    for secret in (str(config.STORAGE_DIR), config.WORKER_TOKEN, "claim_id", "password"):
        assert secret not in text


# What every LogRecord has; anything else on a record is a structured field a handler may print.
STANDARD_RECORD_FIELDS = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {
    "message", "asctime", "job_id"}


def everything_logged(records) -> str:
    """Each record's message, its arguments, its structured extra fields and its JSON line, as text."""
    from shared.logging_setup import JsonFormatter
    formatter = JsonFormatter()
    parts = []
    for record in records:
        extra = {name: value for name, value in vars(record).items() if name not in STANDARD_RECORD_FIELDS}
        parts += [record.getMessage(), repr(record.args), repr(extra), formatter.format(record)]
    return "\n".join(parts)


def test_logs_hold_no_passwords_tokens_or_secrets(client, auth_client, make_user, config, caplog):
    """S6: a register, login, API-key use, submit and worker callback leave no credential in any log
    record: not in the message, its arguments or any structured extra field."""
    caplog.set_level(logging.DEBUG)
    user = make_user()
    key = auth_client.post("/auth/v1/api-keys", headers=user.headers, json={"name": "k"}).json["key"]
    assert client.get("/api/v1/jobs", headers={"X-API-Key": key}).status_code == 200
    job = client.post("/api/v1/jobs/translate", headers={"Authorization": f"Bearer {key}"}, json={
        "text": "The cat is black.", "source_lang": "en", "target_lang": "es"}).json
    assert job["status"] == "queued", job
    assert auth_client.post("/auth/v1/login", json={"username": user.username, "password": "Wrong-pass-2026"}
                            ).status_code == 401
    client.post(f"/internal/v1/jobs/{job['id']}/claim", headers={"X-Worker-Token": config.WORKER_TOKEN},
                json={"worker_id": "w"})
    text = everything_logged(caplog.records)
    assert "submitted by user" in text, "the flow was logged at all"
    for secret in (user.password, "Wrong-pass-2026", user.token, user.tokens["refresh_token"], key,
                   config.WORKER_TOKEN):
        assert secret not in text


def test_metrics_in_production_need_a_token_even_if_none_is_set(client, app, monkeypatch):
    # Production cannot start without one (Config.check_production); the route fails closed all the same.
    monkeypatch.setitem(app.config, "ENV", "production")
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "m" * 32)
    assert client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).status_code == 200
